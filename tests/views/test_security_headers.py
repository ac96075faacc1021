"""Security headers on every kind of response, the CSP nonce on the page's inline script, the
request id and the structured request log."""
from __future__ import annotations

import json
import logging
import re

import pytest
from conftest import TEST_ADMIN

from pcnreg.security import JsonFormatter, page_csp
from pcnreg.services import maps as maps_svc
from pcnreg.services import rounds
from pcnreg.services.accounts import find_user

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture
def rnd(app, db, demo_round):
    return rounds.get_round()


def assert_common(response) -> None:
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, name
    policy = response.headers["Permissions-Policy"]
    assert all(f"{feature}=()" in policy for feature in ("camera", "microphone", "geolocation"))
    assert "Strict-Transport-Security" not in response.headers      # plain http
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


def directives(policy: str) -> dict[str, str]:
    return {d.strip().split(" ", 1)[0]: d.strip().partition(" ")[2] for d in policy.split(";") if d.strip()}


def test_a_page_has_the_headers_and_its_inline_script_the_nonce(client, rnd):
    response = client.get(f"/rounds/{rnd.id}")
    assert response.status_code == 200
    assert_common(response)
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-src"] == "'self'" and policy["img-src"] == "'self' data:"
    nonce = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9_-]{16,})'", policy["script-src"]).group(1)
    page = response.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert inline, "the NHS.UK template's inline script"
    assert all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert "style=" not in page and "<style" not in page          # style-src 'self' would block them
    # A new nonce for every request.
    again = directives(client.get(f"/rounds/{rnd.id}").headers["Content-Security-Policy"])["script-src"]
    assert nonce not in again


def test_the_map_page_has_no_inline_styles(client, rnd):
    page = client.get(f"/rounds/{rnd.id}/map").get_data(as_text=True)
    assert "style=" not in page and 'class="pcnreg-swatch"' in page
    pcn = next(iter(rounds.build_configuration(rnd).pcns))
    page = client.get(f"/rounds/{rnd.id}/pcns/{pcn}/map").get_data(as_text=True)
    assert "style=" not in page


def test_an_api_response_has_the_headers(client, rnd):
    response = client.get("/api/v1/rounds")
    assert response.status_code == 200 and response.is_json
    assert_common(response)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_map_document_keeps_its_own_policy(client, rnd, monkeypatch):
    """The folium documents have inline scripts: their view sets a policy allowing them, which
    the app-wide headers must not replace."""
    monkeypatch.setattr(maps_svc, "configuration_map_with_key",
                        lambda r: ("<!DOCTYPE html><html><script>var map = 1;</script></html>", "k1"))
    response = client.get(f"/rounds/{rnd.id}/map.html")
    assert response.status_code == 200
    assert_common(response)
    assert response.headers["Content-Security-Policy"] == maps_svc.map_response_csp()
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]


def test_an_asset_has_the_headers(client, app):
    response = client.get("/static/pcnreg.css")
    assert response.status_code == 200
    assert_common(response)
    assert response.headers["Content-Type"].startswith("text/css")


def test_an_asset_is_logged_without_reading_the_user(client, app, db, caplog):
    """A stylesheet's log line has no user: finding out who is signed in would cost a query."""
    from sqlalchemy import event

    client.get("/about")                                          # signed in
    queries = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    with caplog.at_level(logging.INFO, logger="pcnreg.request"):
        assert client.get("/static/pcnreg.css").status_code == 200
    [record] = [r for r in caplog.records if r.name == "pcnreg.request" and r.fields["path"] == "/static/pcnreg.css"]
    assert record.fields["endpoint"] == "static" and "user_id" not in record.fields
    assert queries == []


def test_hsts_only_over_https(client, rnd):
    assert "Strict-Transport-Security" not in client.get("/about").headers
    secure = client.get("/about", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(client, app):
    assert client.get("/about", headers={"X-Request-Id": "lb-1234.abc_Z"}).headers["X-Request-Id"] == "lb-1234.abc_Z"
    for bad in ("a b", "x" * 65, "<script>", "id;Set-Cookie: x=1", ""):
        rid = client.get("/about", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid), bad


def test_one_log_line_per_request_without_the_query_string(client, rnd, caplog):
    with caplog.at_level(logging.INFO, logger="pcnreg.request"):
        response = client.get(f"/rounds/{rnd.id}/practices?q=Jane+Smith+NG1&x=1",
                              headers={"X-Request-Id": "req-42"})
    records = [r for r in caplog.records if r.name == "pcnreg.request"]
    assert len(records) == 1
    fields = records[0].fields
    assert fields["request_id"] == "req-42" == response.headers["X-Request-Id"]
    assert fields["method"] == "GET" and fields["path"] == f"/rounds/{rnd.id}/practices"
    assert fields["endpoint"] == "main.practices" and fields["status"] == response.status_code
    assert isinstance(fields["duration_ms"], float)
    assert fields["user_id"] == str(find_user(TEST_ADMIN).id)   # the guard read who is signed in
    line = JsonFormatter().format(records[0])
    parsed = json.loads(line)
    assert parsed["request_id"] == "req-42" and parsed["logger"] == "pcnreg.request"
    assert "Jane" not in line and "q=" not in line and "@" not in line


def test_page_policy_allows_no_other_host():
    policy = page_csp("abc")
    assert "http" not in policy and "*" not in policy and "unsafe" not in policy
