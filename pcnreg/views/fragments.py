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
MAX_PER_STATE = 256           # fragments kept per state (more are rendered every time)


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
            kept = _FRAGMENTS.setdefault(state, {})
            if len(kept) < MAX_PER_STATE:
                kept[key] = found
    return found


def state_fragment(state, key, render: Callable, *args, **kwargs) -> Markup:
    """For templates: ``render(*args, **kwargs)`` (a macro) kept beside ``state`` by ``key`` (a
    tuple of what else the markup depends on, e.g. the page number and sort order), or rendered
    every time when ``key`` is None (e.g. a search's own results)."""
    if key is None:
        return Markup(render(*args, **kwargs))
    return per_state(state, key, lambda: render(*args, **kwargs))


def init_app(app) -> None:
    app.jinja_env.globals["state_fragment"] = state_fragment
