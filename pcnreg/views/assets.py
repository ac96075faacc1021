"""Serves the pinned front-end assets (installed by npm) from this app: no CDN.

/assets/<file>          the NHS.UK frontend (config ASSETS_PATH)
/assets/leaflet/<file>  Leaflet for the maps (config LEAFLET_PATH, default node_modules/leaflet/dist)

In an installed wheel both come from the copies the build puts in the package (``pcnreg.resources``).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

from ..resources import LEAFLET

bp = Blueprint("assets", __name__)

LEAFLET_DEFAULT = LEAFLET         # node_modules/leaflet/dist, or its copy in an installed wheel
# The built files only: not the unminified sources, ES modules or source maps of the package.
LEAFLET_FILES = {"leaflet.js", "leaflet.css"}
LEAFLET_IMAGES = {"layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"}


# nhsuk-frontend's stylesheet loads the Frutiger web fonts from assets.nhs.uk. They are
# licensed and not in the npm package, and pages must make no request to another host
# (offline NHS networks): the @font-face rules are dropped and the stylesheet's own fallback,
# Arial, is used.
_REMOTE_FONT_FACE = re.compile(r"@font-face\{[^}]*https?://[^}]*\}")


@lru_cache(maxsize=2)
def _local_stylesheet(path: str, mtime: float) -> bytes:
    css = Path(path).read_text(encoding="utf-8")
    return _REMOTE_FONT_FACE.sub("", css).encode("utf-8")


@bp.get("/assets/<path:filename>")
def asset(filename: str):
    root = Path(current_app.config["ASSETS_PATH"])
    if not root.is_dir():
        abort(404)
    # Only the built files and assets/ are served, never sources or maps of the package.
    allowed = filename.startswith(("assets/", "images/")) or filename in {
        "nhsuk-frontend.min.css", "nhsuk-frontend.min.js", "manifest.json"}
    if not allowed:
        abort(404)
    if filename.startswith("images/") or filename == "manifest.json":
        filename = "assets/" + filename
    if filename == "nhsuk-frontend.min.css":
        path = root / filename
        response = Response(_local_stylesheet(str(path), path.stat().st_mtime), mimetype="text/css")
        response.cache_control.max_age = 3600
        return response
    return send_from_directory(root, filename, max_age=3600)


@bp.get("/assets/leaflet/<path:filename>")
def leaflet(filename: str):
    root = Path(current_app.config.get("LEAFLET_PATH") or LEAFLET_DEFAULT)
    if not root.is_dir():
        abort(404)
    allowed = filename in LEAFLET_FILES or (
        filename.startswith("images/") and filename.removeprefix("images/") in LEAFLET_IMAGES)
    if not allowed:
        abort(404)
    return send_from_directory(root, filename, max_age=3600)
