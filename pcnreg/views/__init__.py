"""Blueprints. Views are thin: parse a form, call one service function, render."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from .. import api
    from . import assets, audit, auth, errors, imports_view, main, maps

    for module in (assets, errors, main, auth, imports_view, maps, audit, api):
        app.register_blueprint(module.bp)
    from .epcn import bp as epcn_bp
    app.register_blueprint(epcn_bp)
    from .registration import bp as registration_bp
    app.register_blueprint(registration_bp)
    from .committee import bp as committee_bp
    app.register_blueprint(committee_bp)
    from .elections import bp as elections_bp
    app.register_blueprint(elections_bp)
    from .rounds import bp as rounds_bp
    app.register_blueprint(rounds_bp)
    from .onboarding import bp as onboarding_bp
    app.register_blueprint(onboarding_bp)
    from .neighbourhoods import bp as neighbourhoods_bp
    app.register_blueprint(neighbourhoods_bp)
    from .changes import bp as changes_bp
    app.register_blueprint(changes_bp)
    from .payment import bp as payment_bp
    app.register_blueprint(payment_bp)
    from .cycle import bp as cycle_bp
    app.register_blueprint(cycle_bp)
