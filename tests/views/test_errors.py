"""The error pages: NHS.UK style, the request id on the page, no traceback; JSON under /api/."""
from __future__ import annotations

import io
import logging

import pytest
from flask import abort


def _public(monkeypatch, *endpoints: str) -> None:
    """Give test-only endpoints an access rule (the guard refuses endpoints without one)."""
    try:
        from pcnreg.views import guard
    except ImportError:      # no guard: nothing to do
        return
    for endpoint in endpoints:
        monkeypatch.setitem(guard.ROUTE_RULES, endpoint, guard.PUBLIC)


@pytest.fixture
def boom_client(app, request, monkeypatch):
    """A client of an app with test-only routes that fail (added before the first request)."""

    def boom():
        raise RuntimeError("secret detail: password=hunter2 in /srv/pcnreg/views.py")

    def forbidden():
        abort(403)

    app.add_url_rule("/test-only/boom", "test_boom", boom)
    app.add_url_rule("/api/test-only/boom", "test_api_boom", boom)
    app.add_url_rule("/test-only/forbidden", "test_forbidden", forbidden)
    _public(monkeypatch, "test_boom", "test_api_boom", "test_forbidden")
    app.config["PROPAGATE_EXCEPTIONS"] = False      # as in production: the 500 handler answers
    return request.getfixturevalue("client")


def test_a_crash_gives_the_500_page_with_the_request_id_and_no_traceback(boom_client, caplog):
    with caplog.at_level(logging.ERROR, logger="pcnreg.errors"):
        response = boom_client.get("/test-only/boom", headers={"X-Request-Id": "crash-1"})
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Sorry, there is a problem with the service" in page
    assert "Request id: <code>crash-1</code>" in page and response.headers["X-Request-Id"] == "crash-1"
    assert 'class="nhsuk-header' in page                      # the NHS.UK layout
    for leak in ("Traceback", "RuntimeError", "secret detail", "hunter2", "views.py"):
        assert leak not in page
    # The exception is logged once, with the request id.
    records = [r for r in caplog.records if r.name == "pcnreg.errors"]
    assert len(records) == 1 and records[0].exc_info and records[0].fields["request_id"] == "crash-1"
    assert "crash-1" in records[0].getMessage()


def test_a_crash_under_api_is_json(boom_client):
    response = boom_client.get("/api/test-only/boom", headers={"X-Request-Id": "crash-2"})
    assert response.status_code == 500 and response.is_json
    assert response.get_json() == {"error": {"status": 500, "message": response.get_json()["error"]["message"],
                                             "request_id": "crash-2"}}
    assert "secret" not in response.get_data(as_text=True)


def test_403_page(boom_client):
    response = boom_client.get("/test-only/forbidden")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "You do not have permission to see this page" in page
    assert f"Request id: <code>{response.headers['X-Request-Id']}</code>" in page


def test_404_page_keeps_its_message_and_shows_the_request_id(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page and "check you copied all of it" in page
    assert f"Request id: <code>{response.headers['X-Request-Id']}</code>" in page


def test_404_outside_the_api_blueprint_but_under_api_is_json(client):
    response = client.get("/api/nothing-here", headers={"X-Request-Id": "api-404"})
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]["status"] == 404
    assert response.get_json()["error"]["request_id"] == "api-404"


def test_413_upload_too_large(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    data = {"kind": "practices", "file": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "epraccur.csv")}
    response = client.post("/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The file is too large: the limit is 1 MB" in page
    assert "Request id: <code>" in page


def test_405_keeps_allow(client):
    response = client.delete("/about")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert "That action is not allowed here" in response.get_data(as_text=True)


def test_csrf_failure_keeps_its_message(client, app):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/import", data={})
    assert response.status_code == 400
    assert "security token was missing or had expired" in response.get_data(as_text=True)


def test_an_error_of_the_documented_api_keeps_its_schema(client, app, demo_round):
    response = client.get("/api/v1/rounds/987654", headers={"X-Request-Id": "api-v1-404"})
    assert response.status_code == 404 and response.is_json
    assert set(response.get_json()["error"]) == {"status", "message"}
    assert response.headers["X-Request-Id"] == "api-v1-404"


def test_nul_characters_are_refused_before_any_view(client, app, demo_round):
    """PostgreSQL cannot store NUL: such input is a 400 naming the field, on every route."""

    response = client.post("/rounds/1/pcns/1/exception", data={"reason": "a\x00b", "recorded_by": "x"})
    assert response.status_code == 400 and b"reason" in response.data and b"NUL" in response.data
    api = client.get("/api/v1/practices", query_string={"q": "C84\x00"})
    assert api.status_code == 400
