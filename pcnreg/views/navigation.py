"""The header's account links (the ``account`` parameter of the NHS.UK header macro).

The round menu (``nav_items``) is views/main.py's, beside the pages it links to.
"""
from __future__ import annotations

from flask import Flask, url_for
from flask_login import current_user


def account_nav() -> dict:
    """Who is signed in, their account's links (Users for who may manage them), or Sign in."""
    if current_user.is_authenticated:
        items = [{"text": current_user.name, "icon": True}]
        if current_user.may_manage_users:
            items.append({"href": url_for("auth.users"), "text": "Users"})
        items += [{"href": url_for("auth.password"), "text": "Change password"},
                  {"href": url_for("auth.sign_out"), "text": "Sign out"}]
    else:
        items = [{"href": url_for("auth.sign_in"), "text": "Sign in"}]
    return {"items": items}


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"account_nav": account_nav})
