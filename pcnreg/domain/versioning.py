"""Configuration versions: a version stores its change; the state is derived by replay.

Every edit (move, merge, split, create, rename, import, undo) is expressed the same way: build
the desired state from the current one, then store ``changes_between(current, desired)``.
``replay`` folds the changes of a chain of versions back into a state. ``compare`` says what
differs between two states (practices moved, PCN totals before and after).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

ChangeKind = Literal["assign", "pcn_create", "pcn_retire", "pcn_rename"]


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    practice_code: str | None = None
    from_pcn: str | None = None
    to_pcn: str | None = None
    pcn: str | None = None
    old_name: str | None = None
    new_name: str | None = None


@dataclass(frozen=True)
class ConfigState:
    """PCNs that exist (key -> name) and practice -> PCN key assignments."""

    pcns: Mapping[str, str] = field(default_factory=dict)
    assignments: Mapping[str, str] = field(default_factory=dict)

    def members(self, pcn_key: str) -> list[str]:
        return sorted(code for code, key in self.assignments.items() if key == pcn_key)


class InconsistentChange(ValueError):
    """A change that does not apply to the state it is replayed on (a corrupted history)."""


def apply(state: ConfigState, changes: Iterable[Change]) -> ConfigState:
    pcns = dict(state.pcns)
    assignments = dict(state.assignments)
    for c in changes:
        if c.kind == "pcn_create":
            if c.pcn in pcns:
                raise InconsistentChange(f"PCN {c.pcn} created twice")
            pcns[c.pcn] = c.new_name or ""
        elif c.kind == "pcn_rename":
            if c.pcn not in pcns:
                raise InconsistentChange(f"rename of absent PCN {c.pcn}")
            pcns[c.pcn] = c.new_name or ""
        elif c.kind == "pcn_retire":
            if c.pcn not in pcns or any(v == c.pcn for v in assignments.values()):
                raise InconsistentChange(f"retire of absent or non-empty PCN {c.pcn}")
            del pcns[c.pcn]
        elif c.kind == "assign":
            if assignments.get(c.practice_code) != c.from_pcn:
                raise InconsistentChange(f"{c.practice_code} is not in {c.from_pcn}")
            if c.to_pcn is None:
                assignments.pop(c.practice_code, None)
            else:
                if c.to_pcn not in pcns:
                    raise InconsistentChange(f"assign to absent PCN {c.to_pcn}")
                assignments[c.practice_code] = c.to_pcn
        else:  # pragma: no cover - guarded by the database check constraint
            raise InconsistentChange(f"unknown change kind {c.kind}")
    return ConfigState(pcns, assignments)


def replay(chain: Iterable[Iterable[Change]]) -> ConfigState:
    """The state after applying each version's changes in order (root first)."""
    state = ConfigState()
    for changes in chain:
        state = apply(state, changes)
    return state


def changes_between(current: ConfigState, desired: ConfigState) -> list[Change]:
    """The changes that turn ``current`` into ``desired``, in an order that applies cleanly:
    create PCNs, rename, move practices, then retire PCNs that are gone."""
    out: list[Change] = []
    for key in sorted(desired.pcns.keys() - current.pcns.keys()):
        out.append(Change("pcn_create", pcn=key, new_name=desired.pcns[key]))
    for key in sorted(desired.pcns.keys() & current.pcns.keys()):
        if desired.pcns[key] != current.pcns[key]:
            out.append(Change("pcn_rename", pcn=key, old_name=current.pcns[key], new_name=desired.pcns[key]))
    for code in sorted(current.assignments.keys() | desired.assignments.keys()):
        before, after = current.assignments.get(code), desired.assignments.get(code)
        if before != after:
            out.append(Change("assign", practice_code=code, from_pcn=before, to_pcn=after))
    for key in sorted(current.pcns.keys() - desired.pcns.keys()):
        out.append(Change("pcn_retire", pcn=key, old_name=current.pcns[key]))
    return out


@dataclass(frozen=True)
class Move:
    practice_code: str
    from_pcn: str | None
    to_pcn: str | None


@dataclass(frozen=True)
class PcnDelta:
    key: str
    name_before: str | None
    name_after: str | None
    total_before: int
    total_after: int
    members_before: int
    members_after: int


@dataclass(frozen=True)
class Comparison:
    moves: list[Move]
    pcns: list[PcnDelta]          # only PCNs whose name, members or total differ

    @property
    def empty(self) -> bool:
        return not self.moves and not self.pcns


def compare(a: ConfigState, b: ConfigState, sizes: Mapping[str, int | None]) -> Comparison:
    """What differs from state ``a`` to state ``b``; ``sizes`` gives practice list sizes."""
    moves = [Move(code, a.assignments.get(code), b.assignments.get(code))
             for code in sorted(a.assignments.keys() | b.assignments.keys())
             if a.assignments.get(code) != b.assignments.get(code)]

    def totals(state: ConfigState) -> tuple[dict[str, int], dict[str, int]]:
        total: dict[str, int] = {k: 0 for k in state.pcns}
        count: dict[str, int] = {k: 0 for k in state.pcns}
        for code, key in state.assignments.items():
            total[key] = total.get(key, 0) + (sizes.get(code) or 0)
            count[key] = count.get(key, 0) + 1
        return total, count

    total_a, count_a = totals(a)
    total_b, count_b = totals(b)
    touched = {m.from_pcn for m in moves} | {m.to_pcn for m in moves}
    deltas = []
    for key in sorted(a.pcns.keys() | b.pcns.keys(), key=lambda k: (b.pcns.get(k) or a.pcns.get(k) or "", k)):
        name_a, name_b = a.pcns.get(key), b.pcns.get(key)
        if key in touched or name_a != name_b:
            deltas.append(PcnDelta(key, name_a, name_b, total_a.get(key, 0), total_b.get(key, 0),
                                   count_a.get(key, 0), count_b.get(key, 0)))
    return Comparison(moves, deltas)
