"""Blueprints. Views are thin: parse a form, call one service function, render."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import assets

    app.register_blueprint(assets.bp)
    for name in ("main", "api", "imports_view"):
        try:
            module = __import__(f"pcnreg.views.{name}", fromlist=["bp"])
        except ModuleNotFoundError as exc:  # pragma: no cover - only while a blueprint is being written
            if exc.name != f"pcnreg.views.{name}":
                raise
            continue
        app.register_blueprint(module.bp)
