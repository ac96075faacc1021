"""The browser-test machinery behind the fixtures in conftest.py (importable by tests).

- ``launch(playwright)``: Debian's Chromium (/usr/bin/chromium), headless, with no calls home.
- ``serve(app)``: the app on 127.0.0.1 on a free port in a background thread.
- ``guard(context)``: records every request of a browser context, aborts the ones that would
  leave the machine and collects uncaught JavaScript exceptions, in a ``PageRecord``.
- ``load_demo_round(geodata)``: the demo round (and the geodata's areas), committed.
- ``screenshot_path(test_name, label)``: where a test's screenshot goes.
- ``ensure_user(email, password, grants)`` and ``sign_in(page, email, password)``: an account
  (committed) and signing a page in through the real sign-in form; ``BROWSER_ADMIN`` is the
  system administrator the ``page`` fixture signs in as.
- ``map_frame(page, document_path)`` and ``leaflet_layers(frame)``: the iframe of a folium map
  once Leaflet has drawn, and what it drew (features by kind with their ids, circle markers).

``PCNREG_CHROMIUM`` overrides the browser's path (as it does for .ci/chromium-up).
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from werkzeug.serving import make_server

from pcnreg.extensions import db as _db
from pcnreg.models import RegistrationRound

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
# Screenshots are for people to look at, not assertions. PCNREG_TEST_SCREENSHOTS=0 takes none: `make
# test` sets it for its PostgreSQL run, whose pages are the SQLite run's (Chromium draws and encodes
# a whole page for each, about a tenth of the browser tests' processor time).
TAKE_SCREENSHOTS = os.environ.get("PCNREG_TEST_SCREENSHOTS", "1") != "0"
CHROMIUM = Path(os.environ.get("PCNREG_CHROMIUM") or "/usr/bin/chromium")

# --no-sandbox: CI runs as root in a container. The background-networking, component-update and
# sync switches stop Chromium's own calls home (refused on a closed network, and not ours to make).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a 64 MB /dev/shm
    # One renderer process for every page: each browser context otherwise starts renderers of its
    # own (164 for the 34 journeys, 80 with this), and Chromium's processor time for the browser
    # tests fell by a fifth (renderers 83 -> 71 s, browser process 60 -> 49 s; measured per process).
    # Contexts stay apart (cookies, storage); only their pages share a process.
    "--renderer-process-limit=1",
]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_MS = 10_000


def launch(playwright):
    """Headless Chromium from Debian's package (Playwright downloads nothing)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Serve ``app`` on http://127.0.0.1:<free port> (a thread per request) until the block ends.

    Each request runs in its own app context and so gets its own SQLAlchemy session
    (Flask-SQLAlchemy scopes sessions by app context), removed when the request ends.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine: 127.0.0.1/localhost, data:, about:, local blob:."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "about"):
        return True
    if parts.scheme == "blob":
        return is_local(url[len("blob:"):])
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


@dataclass
class PageRecord:
    """What one browser context did: every request URL, uncaught exceptions, console errors."""

    requests: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)

    def offsite(self) -> list[str]:
        """The URLs (each once, in order) of requests to anywhere but this machine."""
        return list(dict.fromkeys(u for u in self.requests if not is_local(u)))

    def problems(self) -> list[str]:
        """Off-site requests and uncaught exceptions not reported yet (each is reported once)."""
        found = [f"request left localhost: {u}" for u in self.offsite()]
        found += [f"uncaught JavaScript exception: {e}" for e in self.page_errors]
        new = [p for p in found if p not in self.reported]
        self.reported.update(new)
        return new

    def watch(self, page) -> None:
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)


def guard(context) -> PageRecord:
    """Record every request of ``context``; abort those that would leave the machine.

    Pages opened afterwards in the context are watched for uncaught JavaScript exceptions.
    """
    record = PageRecord()
    context.set_default_timeout(TIMEOUT_MS)
    context.on("request", lambda req: record.requests.append(req.url))
    context.on("requestfailed", lambda req: record.failed.__setitem__(req.url, req.failure or ""))
    context.on("page", record.watch)
    context.route(lambda url: not is_local(url), lambda route: route.abort("blockedbyclient"))
    return record


def report(records) -> str | None:
    """One message for the new problems of ``records`` (with the console errors), or None."""
    lines = []
    for record in records:
        problems = record.problems()
        if problems:
            lines += [f"  {p}" for p in problems]
            # The aborted requests' own "Failed to load resource" lines add nothing.
            console = [c for c in dict.fromkeys(record.console_errors) if "ERR_BLOCKED_BY_CLIENT" not in c]
            if console:
                lines += ["  console errors:"] + [f"    {c}" for c in console]
    return ("The browser did what it must not:\n" + "\n".join(lines)) if lines else None


def screenshot_path(test_name: str, label: str | None = None) -> Path:
    """test-artifacts/screenshots/<test name>[-<label>][.postgresql].png (on the PostgreSQL run
    the name says so: both runs of `make test` keep their screenshots)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
    if label:
        stem += "-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")
    if os.environ.get("PCNREG_TEST_DATABASE_URL"):
        stem += ".postgresql"
    return SCREENSHOTS / f"{stem}.png"


def load_demo_round(geodata: Path | None = None) -> int:
    """Load the demo (joined to ``geodata`` and with its areas installed, if given); its round id.

    Commits, then closes the test thread's session, so that the server's threads see everything
    and the test holds no connection (nor SQLite lock) while the browser works.
    """
    from pcnreg.services.demo import load_demo

    load_demo(geodata)
    if geodata is not None:
        from pcnreg.services import geodata as geodata_svc

        geodata_svc.install(geodata)
    _db.session.commit()
    round_id = _db.session.scalar(select(RegistrationRound.id).order_by(RegistrationRound.id.desc()))
    _db.session.remove()
    return round_id


# --- accounts ------------------------------------------------------------------------------------------------

BROWSER_ADMIN = ("browser-admin@pcnreg.test", "Browser tests sign in 42")


def ensure_user(email: str, password: str, grants: list[tuple[str, str, int | None]]) -> None:
    """A user with ``password`` and ``grants`` (role, scope type, scope id), committed; the test
    thread's session is closed afterwards (as in ``load_demo_round``)."""
    from pcnreg.models import RoleAssignment, User
    from pcnreg.services.accounts import hash_password

    if _db.session.scalar(select(User).where(User.email == email)) is None:
        user = User(email=email, name="Browser Test Administrator", active=True, failed_sign_ins=0,
                    password_hash=hash_password(password))
        user.roles = [RoleAssignment(role=r, scope_type=t, scope_id=i) for r, t, i in grants]
        _db.session.add(user)
        _db.session.commit()
    _db.session.remove()


def sign_in(page, email: str, password: str, next_path: str = "/about") -> None:
    """Sign ``page``'s browser context in through the sign-in form (CSRF token and all)."""
    page.goto(f"/sign-in?next={next_path}")
    form = page.locator("form[action='/sign-in']")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("button").click()
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


# --- Leaflet maps (folium) ---------------------------------------------------------------------------------

LEAFLET_DRAWN = ("() => document.readyState === 'complete' && typeof L !== 'undefined'"
                 " && document.querySelectorAll('path.leaflet-interactive').length > 0")

# What the Leaflet maps of a document draw. Every L.Map among the window's globals (folium names
# them map_<hash>) is walked with eachLayer, which visits the layers on the map, those inside
# feature groups and GeoJSON layers included. A layer counts when it is drawn: its SVG path is in
# the document and not empty (Leaflet writes "M0 0" for a shape outside the view). Features are
# grouped by ``properties.kind`` (a GeoJSON MultiPolygon is one L.Polygon) and listed by their
# GeoJSON id; circle markers are counted.
_LEAFLET_LAYERS_JS = """() => {
  const maps = [];
  for (const key of Object.keys(window)) {
    let value = null;
    try { value = window[key] } catch (e) { continue }
    if (value instanceof L.Map) maps.push(value);
  }
  const drawn = layer => {
    const path = layer._path, d = path && path.getAttribute('d');
    return !!(path && path.isConnected && d && d !== 'M0 0');
  };
  const out = {maps: maps.length, features: {}, markers: 0, undrawn: 0, leaflet: L.version};
  const seen = new Set();
  for (const map of maps) map.eachLayer(layer => {
    if (seen.has(layer)) return;
    seen.add(layer);
    if (layer instanceof L.CircleMarker) {
      if (drawn(layer)) out.markers += 1; else out.undrawn += 1;
    } else if (layer instanceof L.Polyline && layer.feature) {
      const kind = (layer.feature.properties || {}).kind || 'unknown';
      if (drawn(layer)) (out.features[kind] = out.features[kind] || []).push(String(layer.feature.id));
      else out.undrawn += 1;
    }
  });
  return out;
}"""


def map_frame(page, document_path: str):
    """The frame showing the map document ``document_path`` (e.g. "/rounds/1/map.html"), once
    Leaflet has drawn in it."""
    pattern = re.compile(re.escape(document_path) + r"$")
    iframe = page.locator(f'iframe[src$="{document_path}"]')
    iframe.scroll_into_view_if_needed()   # the page loads it lazily
    frame = None
    for _ in range(TIMEOUT_MS // 50):
        frame = page.frame(url=pattern)
        if frame is not None:
            break
        page.wait_for_timeout(50)
    assert frame is not None, f"no frame shows {document_path}"
    frame.wait_for_function(LEAFLET_DRAWN)
    return frame


def leaflet_layers(frame) -> dict:
    """What the Leaflet maps of ``frame`` (a Page or Frame) draw:
    ``{"maps": n, "features": {kind: [GeoJSON ids]}, "markers": n, "undrawn": n, "leaflet": version}``."""
    frame.wait_for_function(LEAFLET_DRAWN)
    return frame.evaluate(_LEAFLET_LAYERS_JS)


# What a Leaflet map draws for each GeoJSON feature of one kind: its id, the fill colour it was
# styled with (the SVG path's own ``fill`` attribute, which Leaflet writes from the style) and the
# feature's properties (a state map carries each PCN's state in them).
_LEAFLET_FEATURES_JS = """kind => {
  const out = {};
  for (const key of Object.keys(window)) {
    let map = null;
    try { map = window[key] } catch (e) { continue }
    if (!(map instanceof L.Map)) continue;
    map.eachLayer(layer => {
      const f = layer.feature, path = layer._path;
      if (!f || !path || ((f.properties || {}).kind || 'unknown') !== kind) return;
      out[String(f.id)] = {fill: path.getAttribute('fill'), properties: f.properties || {}};
    });
  }
  return out;
}"""


def leaflet_features(frame, kind: str) -> dict[str, dict]:
    """The drawn features of ``kind`` in ``frame``'s Leaflet maps, by GeoJSON id:
    ``{id: {"fill": "#rrggbb", "properties": {...}}}``."""
    frame.wait_for_function(LEAFLET_DRAWN)
    return frame.evaluate(_LEAFLET_FEATURES_JS, kind)


# --- accessibility (axe-core, the npm package, from the local copy) ------------------------------------------

AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SERIOUS = {"serious", "critical"}


@functools.cache
def _axe_script() -> str:
    return AXE_JS.read_text(encoding="utf-8") + "\n;true"


def axe_violations(page, impacts=frozenset(SERIOUS)) -> list[str]:
    """Run axe-core on ``page`` (WCAG 2.2 A and AA rules) and describe each violation of the given
    impacts: "rule (impact): help – selectors". The script is evaluated through the DevTools
    protocol, which the page's Content-Security-Policy does not govern (it allows no inline script)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_script())
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags},"
                           " resultTypes: ['violations']})", AXE_TAGS)
    out = []
    for v in result["violations"]:
        if v.get("impact") in impacts:
            targets = ", ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:5])
            out.append(f"{v['id']} ({v['impact']}): {v['help']} – {targets}")
    return out
