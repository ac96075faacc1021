"""Browser-test fixtures: Playwright driving Debian's Chromium against the app on 127.0.0.1.

- ``browser``: one headless Chromium per test session, launched from /usr/bin/chromium
  (Debian's ``chromium`` package; ``bash .ci/chromium-up`` installs it, ``make test`` runs that).
  Playwright never downloads a browser. Without Chromium the tests are skipped, except when
  ``CI=true``: then they fail.
- ``live_server``: the test's ``app`` (migrated, empty database) served on 127.0.0.1 on a free
  port in a background thread; its base URL. CSRF is switched ON for it: journeys post real
  forms with real tokens.
- ``page``: a fresh browser context (``base_url`` = the live server, so ``page.goto("/about")``
  works) and page, signed in as a system administrator (harness.BROWSER_ADMIN) through the
  sign-in form; ``open_page(**context_options)`` opens more, e.g.
  ``open_page(java_script_enabled=False)``, and ``open_page(signed_in=False)`` one nobody is
  signed in to. Every page is guarded (harness.guard): requests to
  any host but 127.0.0.1/localhost are aborted and fail the test with the offending URLs, and so
  does an uncaught JavaScript exception. After the test, pass or fail, a full-page screenshot
  of each page goes to ``test-artifacts/screenshots/<test name>.png`` (``-2``, ``-3``... for
  further pages; ``<test name>.postgresql.png`` on the PostgreSQL run).
- ``screenshot(page, label)``: an extra screenshot, ``<test name>-<label>.png`` (of a page, or of
  an element: pass a locator).
- ``demo_round`` / ``demo_geo_round``: the demo loaded without / with ../shared/geodata (and its
  areas installed); the round id.

The database is shared between the test's thread (its app context and session) and the
server's threads (an app context and session per request): data the fixtures load is committed
before the browser looks; call ``db.session.expire_all()`` before reading what the browser changed.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import GEODATA, content_fixture

from .harness import (
    BROWSER_ADMIN,
    CHROMIUM,
    SCREENSHOTS,
    TAKE_SCREENSHOTS,
    TIMEOUT_MS,
    ensure_user,
    guard,
    launch,
    load_demo_round,
    report,
    screenshot_path,
    serve,
    sign_in,
)


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        message = (f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium "
                   "(`bash .ci/chromium-up` installs it as root; `make test` runs that)")
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = launch(playwright)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app on http://127.0.0.1:<free port>, CSRF protection on."""
    app.config["WTF_CSRF_ENABLED"] = True
    with serve(app) as url:
        yield url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test itself (not only its teardown) when a page left localhost or threw."""
    result = yield
    message = report(record for _page, record in getattr(item, "_browser_pages", []))
    if message:
        pytest.fail(message, pytrace=False)
    return result


@pytest.fixture
def open_page(browser, live_server, request) -> Iterator[Callable[..., object]]:
    """``open_page(**context_options)``: a guarded page in a new browser context."""
    from playwright.sync_api import Error as PlaywrightError

    opened: list[tuple[object, object]] = []
    request.node._browser_pages = opened

    def _open(signed_in: bool = True, **context_options):
        options = {"base_url": live_server, "viewport": {"width": 1280, "height": 900},
                   "service_workers": "block", **context_options}
        context = browser.new_context(**options)
        record = guard(context)
        page = context.new_page()
        opened.append((page, record))
        if signed_in:
            ensure_user(*BROWSER_ADMIN, [("system_admin", "all", None)])
            sign_in(page, *BROWSER_ADMIN)
        return page

    yield _open

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for number, (page, _record) in enumerate(opened if TAKE_SCREENSHOTS else [], start=1):
        path = screenshot_path(request.node.name, None if number == 1 else str(number))
        try:
            page.screenshot(path=path, full_page=True, timeout=TIMEOUT_MS)
        except PlaywrightError as exc:  # a crashed or closed page: nothing to show
            print(f"no screenshot {path.name}: {exc}")
    message = report(record for _page, record in opened)  # anything after the test body
    for page, _record in opened:
        page.context.close()
    if message:
        pytest.fail(message, pytrace=False)


@pytest.fixture
def page(open_page):
    """A guarded page on the live server, JavaScript on."""
    return open_page()


@pytest.fixture
def screenshot(request) -> Callable[[object, str], Path]:
    """``screenshot(page_or_locator, "label")`` saves test-artifacts/screenshots/<test name>-<label>.png
    (the whole page, or just the element)."""

    def _shot(target, label: str) -> Path:
        path = screenshot_path(request.node.name, label)
        if TAKE_SCREENSHOTS:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            target.screenshot(path=path, **({"full_page": True} if hasattr(target, "goto") else {}))
        return path

    return _shot


@pytest.fixture
def demo_round(app) -> int:
    """The demo round without geodata; its id."""
    return load_demo_round(None)


@pytest.fixture
def demo_geo_round(geodata, app) -> int:
    """The demo round joined to ../shared/geodata, with the geodata's areas installed; its id.
    Loaded once per session (``load_demo_round(GEODATA)``) and copied for each test, as the
    conftest's demo fixtures are (declared below with ``content_fixture``)."""
    from sqlalchemy import select

    from pcnreg.extensions import db as _db
    from pcnreg.models import RegistrationRound

    round_id = _db.session.scalar(select(RegistrationRound.id).order_by(RegistrationRound.id.desc()))
    _db.session.remove()
    return round_id


content_fixture("demo_geo_round", "browser-demo-geodata", lambda: load_demo_round(GEODATA))
