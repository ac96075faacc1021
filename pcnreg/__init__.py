"""pcnreg: Primary Care Network registration rounds."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from jinja2 import ChainableUndefined, ChoiceLoader, FileSystemLoader, PackageLoader

from .config import build_config, default_instance_path
from .extensions import csrf, db, migrate
from .resources import TEMPLATES

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def create_app(test_config: dict | None = None) -> Flask:
    instance_path = default_instance_path()
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(TEMPLATES),
    )
    app.config.from_mapping(build_config(instance_path))
    if test_config:
        app.config.update(test_config)

    app.jinja_options = {
        "undefined": ChainableUndefined,
        "loader": ChoiceLoader([
            FileSystemLoader(str(TEMPLATES)),
            PackageLoader("nhsuk_frontend_jinja"),
        ]),
        "autoescape": True,
        # The NHS.UK macros emit mostly whitespace: trimming it shrinks pages several-fold.
        "trim_blocks": True,
        "lstrip_blocks": True,
    }

    db.init_app(app)
    from .security import init_app as init_security  # request ids, security headers, request log
    init_security(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    from .views import guard, navigation
    guard.init_app(app)                  # sign-in and the policy on every request: before the CSRF check
    csrf.init_app(app)
    navigation.init_app(app)             # the header's account links

    from . import models  # noqa: F401  (register the tables)
    from .services import round_state  # noqa: F401  (its session listener keeps the state keys true)
    from .views.converters import install as install_converters
    install_converters(app)              # bounded <int:...> ids, before any route is added
    from .views import register_blueprints

    register_blueprints(app)
    from .views import formatting, fragments, labels, nhs_table

    nhs_table.init_app(app)              # one call per table
    fragments.init_app(app)              # parts of pages rendered once per round state
    formatting.init_app(app)             # dates, times, numbers
    labels.init_app(app)                 # state titles, tag colours

    from .cli import register as register_commands

    register_commands(app.cli)

    if not Path(app.config["ASSETS_PATH"]).is_dir():
        logging.getLogger(__name__).warning(
            "NHS.UK frontend assets not found at %s: run `npm ci` (pages will be unstyled)",
            app.config["ASSETS_PATH"])
    return app
