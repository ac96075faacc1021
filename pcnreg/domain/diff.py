"""What happened to the PCNs between two configurations: renamed, merged, split, new, dissolved.

Versions compare practices by PCN key, but a PCN can carry on under another key (an ePCN import
creates a new row for a PCN whose name and code the round did not know), and a merge or split
moves whole groups of practices. This module classifies the change of each PCN by its members:

- old PCN ``o`` *goes mostly to* new PCN ``n`` when more than half of ``o``'s members are in ``n``;
- new PCN ``n`` *comes mostly from* old PCN ``o`` when more than half of ``n``'s members were in ``o``.

Then: **merged** — two or more old PCNs each go mostly to the same new PCN; **split** — two or
more new PCNs each come mostly from the same old PCN; **unchanged**, **continued** (same name,
practices moved in or out) or **renamed** — an old and a new PCN that go mostly to / come
mostly from each other, and are in no merge or split (failing that, the same key on both sides,
e.g. a PCN without members); **new** and **dissolved** — the PCNs left over. Practices whose
move these PCN-level changes do not explain (say, one practice changing PCN) are listed as moved.

Plain Python: no Flask, no database.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .versioning import ConfigState, Move

Kind = Literal["unchanged", "continued", "renamed", "merged", "split", "new", "dissolved"]
KINDS: tuple[Kind, ...] = ("merged", "split", "renamed", "continued", "new", "dissolved", "unchanged")


@dataclass(frozen=True)
class PcnChange:
    """One PCN-level change: the PCNs before (keys and names) and after."""

    kind: Kind
    before: tuple[str, ...]
    after: tuple[str, ...]
    before_names: tuple[str, ...]
    after_names: tuple[str, ...]


@dataclass(frozen=True)
class PcnDiff:
    changes: list[PcnChange]          # ordered as KINDS, then by name
    moved: list[Move]                 # practices whose move no PCN-level change explains
    before_pcns: Mapping[str, str] = field(default_factory=dict)     # key -> name, to name the moves
    after_pcns: Mapping[str, str] = field(default_factory=dict)

    def count(self, kind: Kind) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in KINDS}

    @property
    def empty(self) -> bool:
        return not self.moved and all(c.kind == "unchanged" for c in self.changes)


def _members(state: ConfigState) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {key: set() for key in state.pcns}
    for code, key in state.assignments.items():
        out.setdefault(key, set()).add(code)
    return out


def _mostly(members: dict[str, set[str]], other: ConfigState) -> dict[str, str]:
    """key -> the PCN of ``other`` that holds more than half of its members (when there is one)."""
    out = {}
    for key, codes in members.items():
        if codes:
            target, n = Counter(other.assignments.get(c) for c in codes).most_common(1)[0]
            if target is not None and n * 2 > len(codes):
                out[key] = target
    return out


def classify(before: ConfigState, after: ConfigState) -> PcnDiff:
    """The PCN-level changes from ``before`` to ``after`` (see the module docstring)."""
    old_members, new_members = _members(before), _members(after)
    goes_to = _mostly(old_members, after)          # old key -> new key
    comes_from = _mostly(new_members, before)      # new key -> old key
    into: dict[str, list[str]] = defaultdict(list)
    out_of: dict[str, list[str]] = defaultdict(list)
    for o, n in goes_to.items():
        into[n].append(o)
    for n, o in comes_from.items():
        out_of[o].append(n)

    changes: list[tuple[Kind, list[str], list[str]]] = []
    done_old: set[str] = set()
    done_new: set[str] = set()
    for n, olds in into.items():
        if len(olds) >= 2:
            changes.append(("merged", olds, [n]))
            done_old.update(olds)
            done_new.add(n)
    for o, news in out_of.items():
        if len(news) >= 2:
            changes.append(("split", [o], news))
            done_old.add(o)
            done_new.update(news)
    pairs = [(o, n) for o, n in goes_to.items() if comes_from.get(n) == o]
    pairs += [(k, k) for k in sorted(old_members.keys() & new_members.keys())]   # same key: the fallback
    for o, n in pairs:
        if o in done_old or n in done_new or o not in old_members or n not in new_members:
            continue
        if before.pcns.get(o) != after.pcns.get(n):
            kind: Kind = "renamed"
        else:
            kind = "unchanged" if old_members[o] == new_members[n] else "continued"
        changes.append((kind, [o], [n]))
        done_old.add(o)
        done_new.add(n)
    changes += [("dissolved", [o], []) for o in old_members if o not in done_old]
    changes += [("new", [], [n]) for n in new_members if n not in done_new]

    successors = {(o, n) for _, olds, news in changes for o in olds for n in news}
    moved = [Move(code, before.assignments.get(code), after.assignments.get(code))
             for code in sorted(before.assignments.keys() | after.assignments.keys())
             if before.assignments.get(code) != after.assignments.get(code)
             and (before.assignments.get(code), after.assignments.get(code)) not in successors]

    def name_list(keys: list[str], state: ConfigState) -> tuple[str, ...]:
        return tuple(state.pcns.get(k, k) for k in keys)

    result = []
    for kind, olds, news in changes:
        olds = sorted(olds, key=lambda k: (before.pcns.get(k, "").casefold(), k))
        news = sorted(news, key=lambda k: (after.pcns.get(k, "").casefold(), k))
        result.append(PcnChange(kind, tuple(olds), tuple(news), name_list(olds, before), name_list(news, after)))
    result.sort(key=lambda c: (KINDS.index(c.kind), [n.casefold() for n in c.after_names + c.before_names]))
    return PcnDiff(result, moved, dict(before.pcns), dict(after.pcns))
