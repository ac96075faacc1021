"""Serves the pinned NHS.UK frontend assets (installed by npm) from this app: no CDN."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__)


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
    return send_from_directory(root, filename, max_age=3600)
