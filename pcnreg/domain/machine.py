"""One small state-machine engine for every workflow of the domain (plain Python).

A ``Machine`` is a declarative table of ``Transition``\\ s — (name, title, from-states, to-state,
policy action, checks) — over the states of one kind of object (a registration, an election,
a membership change). Each check reads the workflow's facts (any object with a ``state``) and
returns the reason it fails, or None. ``refusals`` lists every reason a transition cannot
happen now; ``perform`` returns the new state or raises ``Refused`` with those reasons. The
services gather the facts, ask the machine, and write.

A machine may read its current state from the facts in more than one way (``current``): an
election's clock can put it in a later state than the one recorded (voting closes itself at
its closing time), and a transition may start from either; the first is the one people read.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[Any], "str | None"]


class Refused(Exception):
    """A transition that may not happen now; ``reasons`` say why, for the user."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Transition:
    name: str
    title: str
    sources: frozenset[str]
    target: str
    action: str | None = None             # policy action the performer needs (None: the service decides)
    checks: tuple[Check, ...] = ()


def _recorded(facts: Any) -> tuple[str, ...]:
    return (facts.state,)


@dataclass(frozen=True, eq=False)
class Machine:
    noun: str                                       # "registration", "election": for messages
    states: tuple[str, ...]
    titles: dict[str, str]
    transitions: tuple[Transition, ...]
    current: Callable[[Any], tuple[str, ...]] = _recorded
    by_name: dict[str, Transition] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [t.name for t in self.transitions]
        if len(set(names)) != len(names):
            raise ValueError(f"A {self.noun} transition is named twice")
        for t in self.transitions:
            unknown = (t.sources | {t.target}) - set(self.states)
            if unknown:
                raise ValueError(f"{self.noun} transition {t.name!r} names unknown states {sorted(unknown)}")
        missing = set(self.states) - set(self.titles)
        if missing:
            raise ValueError(f"{self.noun} states without a title: {sorted(missing)}")
        object.__setattr__(self, "by_name", {t.name: t for t in self.transitions})

    def title(self, state: str) -> str:
        return self.titles.get(state, state)

    def transition(self, name: str) -> Transition:
        try:
            return self.by_name[name]
        except KeyError:
            raise Refused([f"There is no step called {name!r}"]) from None

    def refusals(self, name: str, facts: Any) -> list[str]:
        """Every reason why ``name`` cannot be performed on these facts (empty: it can)."""
        t = self.by_name.get(name)
        if t is None:
            return [f"There is no step called {name!r}"]
        states = self.current(facts)
        if not any(s in t.sources for s in states):
            return [f"A {self.noun} that is {self.title(states[0]).lower()} cannot be taken through "
                    f"“{t.title.lower()}” (only from "
                    f"{' or '.join(self.title(s).lower() for s in sorted(t.sources))})"]
        return [reason for check in t.checks if (reason := check(facts))]

    def perform(self, name: str, facts: Any) -> str:
        """The state after ``name``, or ``Refused``."""
        reasons = self.refusals(name, facts)
        if reasons:
            raise Refused(reasons)
        return self.by_name[name].target

    def available(self, state: str) -> list[Transition]:
        """The transitions that start from ``state`` (whether their checks hold or not)."""
        return [t for t in self.transitions if state in t.sources]

    def targets(self, states: Iterable[str]) -> frozenset[str]:
        """Every state some transition from ``states`` leads to."""
        wanted = set(states)
        return frozenset(t.target for t in self.transitions if t.sources & wanted)
