"""Edits of a configuration state: each returns the desired new state or raises EditError.

The service stores ``versioning.changes_between(current, desired)`` as a new version.
PCN keys of new PCNs are allocated by the caller (the service uses database ids).
"""
from __future__ import annotations

from collections.abc import Iterable

from .versioning import ConfigState


class EditError(ValueError):
    """An edit that cannot be made, with a message for the person who asked for it."""


def _check_name(state: ConfigState, name: str, ignore_key: str | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise EditError("Enter a name for the PCN")
    if len(name) > 200:
        raise EditError("PCN name must be 200 characters or fewer")
    if name[0] in "=+-@":
        raise EditError("PCN name must not start with =, +, - or @")
    for key, other in state.pcns.items():
        if key != ignore_key and other.casefold() == name.casefold():
            raise EditError(f"A PCN called {other} already exists in this round")
    return name


def _require_pcn(state: ConfigState, key: str) -> None:
    if key not in state.pcns:
        raise EditError("That PCN does not exist in the current configuration")


def create(state: ConfigState, key: str, name: str) -> ConfigState:
    name = _check_name(state, name)
    return ConfigState({**state.pcns, key: name}, state.assignments)


def rename(state: ConfigState, key: str, name: str) -> ConfigState:
    _require_pcn(state, key)
    name = _check_name(state, name, ignore_key=key)
    if state.pcns[key] == name:
        raise EditError("The new name is the same as the current name")
    return ConfigState({**state.pcns, key: name}, state.assignments)


def move(state: ConfigState, practice_codes: Iterable[str], to_key: str | None) -> ConfigState:
    """Move practices into ``to_key`` (None: take them out of any PCN)."""
    codes = list(dict.fromkeys(practice_codes))
    if not codes:
        raise EditError("Choose at least one practice to move")
    if to_key is not None:
        _require_pcn(state, to_key)
    if all(state.assignments.get(c) == to_key for c in codes):
        raise EditError("The practices are already there")
    assignments = dict(state.assignments)
    for code in codes:
        if to_key is None:
            assignments.pop(code, None)
        else:
            assignments[code] = to_key
    return ConfigState(state.pcns, assignments)


def merge(state: ConfigState, keys: Iterable[str], into_key: str, name: str | None = None) -> ConfigState:
    """Merge PCNs ``keys`` into ``into_key`` (one of them); the others are retired."""
    keys = list(dict.fromkeys(keys))
    if into_key not in keys:
        keys.append(into_key)
    if len(keys) < 2:
        raise EditError("Choose at least two PCNs to merge")
    for key in keys:
        _require_pcn(state, key)
    pcns = {k: v for k, v in state.pcns.items() if k == into_key or k not in keys}
    if name:
        pcns[into_key] = _check_name(ConfigState(pcns, {}), name, ignore_key=into_key)
    assignments = {code: (into_key if key in keys else key) for code, key in state.assignments.items()}
    return ConfigState(pcns, assignments)


def split(state: ConfigState, key: str, practice_codes: Iterable[str], new_key: str, new_name: str) -> ConfigState:
    """Move some members of ``key`` into a new PCN ``new_key``; each side keeps a member."""
    _require_pcn(state, key)
    codes = set(practice_codes)
    members = set(state.members(key))
    if not codes:
        raise EditError("Choose the practices that form the new PCN")
    if not codes <= members:
        raise EditError("Only members of the PCN being split can form the new PCN")
    if codes == members:
        raise EditError("Leave at least one practice in the PCN being split")
    name = _check_name(state, new_name)
    assignments = {**state.assignments, **{c: new_key for c in codes}}
    return ConfigState({**state.pcns, new_key: name}, assignments)
