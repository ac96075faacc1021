"""The harness itself: what counts as local, and the guard that aborts and reports requests
that would leave the machine and uncaught JavaScript exceptions."""
from __future__ import annotations

import pytest

from .harness import guard, is_local

OFFSITE = "https://tile.openstreetmap.org/0/0/0.png"


@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:5000/rounds/1", True),
    ("http://localhost:8000/assets/leaflet/leaflet.js", True),
    ("http://[::1]:8000/", True),
    ("ws://127.0.0.1:9000/socket", True),
    ("data:image/png;base64,iVBORw0KGgo=", True),
    ("about:blank", True),
    ("blob:http://127.0.0.1:5000/6f1c1c52-1b8e-4c1e-9a59-8d3f1c7a1b2e", True),
    ("https://assets.nhs.uk/fonts/FrutigerLTW01-55Roman.woff2", False),
    ("https://unpkg.com/leaflet@1.9.4/dist/leaflet.js", False),
    ("http://127.0.0.1.nip.io/", False),
    ("http://localhost.example.org/", False),
    ("blob:https://cdn.example.org/x", False),
    ("chrome-extension://abc/x.js", False),
])
def test_what_is_local(url, local):
    assert is_local(url) is local


def test_the_guard_aborts_offsite_requests_and_records_them_and_exceptions(browser, live_server):
    # The app's Content-Security-Policy would block the offsite image first: bypass it here so
    # that this test checks the harness's own guard, the second line of defence.
    context = browser.new_context(base_url=live_server, bypass_csp=True)
    try:
        record = guard(context)
        page = context.new_page()
        page.goto("/api/v1/openapi.json")     # a page with no subresources of its own
        with page.expect_event("requestfailed") as failed:
            page.evaluate("url => { const img = new Image(); img.src = url; document.body.append(img) }", OFFSITE)
        assert failed.value.url == OFFSITE
        assert failed.value.failure.startswith("net::ERR_BLOCKED_BY_CLIENT")   # never sent
        with page.expect_event("pageerror"):
            page.evaluate("() => { setTimeout(() => { throw new Error('boom') }, 0) }")

        assert f"{live_server}/api/v1/openapi.json" in record.requests
        assert record.offsite() == [OFFSITE]
        problems = record.problems()
        assert problems == [f"request left localhost: {OFFSITE}", "uncaught JavaScript exception: boom"]
        assert record.problems() == []        # each problem is reported once
    finally:
        context.close()
