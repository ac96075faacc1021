"""Parts of a page rendered once per round state and read by every request that shows them.

A round's state (``services.round_state``) is an immutable value, one per key (version, list
sizes, geodata, exceptions, settings, rules): what is rendered from it alone (and the round's
id) is the same for every request and user until the state is replaced. ``per_state`` keeps such
fragments beside the state (weakly: they go with it) by name and script root (the links in
them). The benchmarks' ``NHS_MACROS_PER_CELL`` (rendering as before #11) renders every time.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from flask import current_app, request
from markupsafe import Markup

_FRAGMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def per_state(state, name: str, render: Callable[[], str]) -> Markup:
    """The fragment ``name`` of ``state``, rendered by ``render`` on first use."""
    if current_app.config.get("NHS_MACROS_PER_CELL"):
        return Markup(render())
    key = (name, request.script_root)
    with _LOCK:
        found = _FRAGMENTS.get(state, {}).get(key)
    if found is None:
        found = Markup(render())
        with _LOCK:
            _FRAGMENTS.setdefault(state, {})[key] = found
    return found
