"""Counting the votes of a Clinical Director election run by the LMC.

Pure Python (standard library only). Three methods:

``plurality``
    One practice, one vote: each ballot's first preference counts 1, whatever its weight.
    The candidate with the most votes wins.
``weighted``
    Plurality in which each ballot's first preference counts its ``weight`` (the practice's
    registered list size).
``irv``
    The alternative vote (instant run-off). Each round, every continuing ballot counts (with
    its ``weight``, 1 unless given) for its highest preference among the continuing
    candidates; a ballot with no continuing preference left is *exhausted* and counted as such
    in that round. A candidate with more than half of the continuing (non-exhausted) votes
    wins; otherwise the candidate with the fewest votes is eliminated (one per round) and the
    count goes on. For an unweighted alternative vote leave every weight at 1.

Ties (for first place in plurality/weighted, among the lowest in an IRV round, including two
candidates left with equal votes) are broken by a rule fixed when the election is set up,
never by an implicit order such as the order of the names in the file:

``DrawOfLots(order, performed_by, witness)``
    Before the count, the returning officer draws lots in front of a witness for the order of
    ALL the candidates; ``order`` records it, first drawn first. Among tied candidates, the
    one earliest in ``order`` wins a tie for first place and the one latest in ``order`` is
    eliminated in a tie for last place.
``SeededDraw(seed)``
    A seed published before the count. In round ``r`` (1-based; plurality has one round) the
    tied candidates are ranked by the key
    ``hashlib.sha256(f"{seed}:{r}:{name}".encode("utf-8")).hexdigest()``, ascending (the
    name itself breaks the impossible case of equal keys). The first in that ranking wins a
    tie for first place; the last is eliminated in a tie for last place. Anyone can reproduce
    a decision with those two lines of Python; each decision records the keys.

Each tie decision is recorded on its round (:class:`TieDecision`). With no rule
(``tie_break=None``) a tie raises :class:`TieBreakNeeded`: nothing is decided by accident.

Numbers: tallies are ``int`` when every weight is an ``int``; ``Decimal`` weights give
``Decimal`` tallies (floats are refused: an exact count is wanted). ``Result.as_dict`` gives
integral numbers as ``int`` and any other as ``float`` (JSON has no decimal type).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Number = int | Decimal
METHODS = ("plurality", "weighted", "irv")
METHOD_TITLES = {
    "plurality": "plurality (one practice, one vote)",
    "weighted": "weighted plurality (votes weighted by registered list size)",
    "irv": "alternative vote (instant run-off)",
}


class BallotError(ValueError):
    """A ballot that cannot be counted; ``index`` is its position in the ballots (0-based),
    or None for a fault of the whole set (e.g. no ballots)."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.message = message
        self.index = index

    def __str__(self) -> str:
        return self.message if self.index is None else f"ballot {self.index + 1}: {self.message}"


class TieBreakNeeded(ValueError):
    """A tie occurred and no tie-break rule was fixed before the count."""

    def __init__(self, round_no: int, tied: Sequence[str], decides: str):
        self.round = round_no
        self.tied = tuple(tied)
        self.decides = decides
        what = "for first place" if decides == "winner" else "for elimination"
        super().__init__(f"round {round_no}: a tie {what} between {', '.join(self.tied)} needs a "
                         "tie-break rule (a draw of lots or a published seed) fixed before the count")


@dataclass(frozen=True)
class Ballot:
    """A ballot: candidate names in preference order (first preference first)."""

    preferences: tuple[str, ...]
    weight: Number = 1

    def __post_init__(self) -> None:
        if not isinstance(self.preferences, tuple):
            object.__setattr__(self, "preferences", tuple(self.preferences))


@dataclass(frozen=True)
class DrawOfLots:
    """The order of all the candidates drawn by lot by ``performed_by`` before ``witness``."""

    order: tuple[str, ...]
    performed_by: str
    witness: str

    method = "draw_of_lots"

    def __post_init__(self) -> None:
        if not isinstance(self.order, tuple):
            object.__setattr__(self, "order", tuple(self.order))
        if not self.order:
            raise ValueError("a draw of lots needs the order of the candidates drawn")
        if len(set(self.order)) != len(self.order):
            raise ValueError("the order of a draw of lots names a candidate twice")
        for who, value in (("performed_by", self.performed_by), ("witness", self.witness)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"a draw of lots needs {who.replace('_', ' ')} named")
        if self.performed_by.strip().casefold() == self.witness.strip().casefold():
            raise ValueError("the witness of a draw of lots must be someone other than who drew the lots")

    def check(self, candidates: Sequence[str]) -> None:
        missing = [c for c in candidates if c not in self.order]
        extra = [c for c in self.order if c not in candidates]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if extra:
                parts.append("not candidates: " + ", ".join(extra))
            raise ValueError("the order of the draw of lots must name every candidate once ("
                             + "; ".join(parts) + ")")

    def rank(self, tied: Sequence[str], round_no: int) -> tuple[tuple[str, ...], dict]:
        ranking = tuple(sorted(tied, key=self.order.index))
        return ranking, {"order": list(self.order), "performed_by": self.performed_by,
                         "witness": self.witness}

    def describe(self) -> str:
        return (f"draw of lots, order {', '.join(self.order)} (drawn by {self.performed_by}, "
                f"witnessed by {self.witness})")


@dataclass(frozen=True)
class SeededDraw:
    """A seed published before the count (see the module docstring for the rule)."""

    seed: str

    method = "seeded_draw"

    def __post_init__(self) -> None:
        if not isinstance(self.seed, str) or not self.seed.strip():
            raise ValueError("a seeded draw needs a non-empty seed")

    def check(self, candidates: Sequence[str]) -> None:
        return None

    def key(self, round_no: int, name: str) -> str:
        return hashlib.sha256(f"{self.seed}:{round_no}:{name}".encode()).hexdigest()

    def rank(self, tied: Sequence[str], round_no: int) -> tuple[tuple[str, ...], dict]:
        keys = {name: self.key(round_no, name) for name in tied}
        ranking = tuple(sorted(tied, key=lambda n: (keys[n], n)))
        return ranking, {"seed": self.seed, "keys": {n: keys[n] for n in ranking}}

    def describe(self) -> str:
        return f"seeded draw, seed {self.seed!r}"


TieBreak = DrawOfLots | SeededDraw


@dataclass(frozen=True)
class TieDecision:
    """How one tie was broken: in ``round``, among ``tied``, by ``method``; ``decides`` is
    'winner' (a tie for first place) or 'elimination'; ``outcome`` the candidate who wins or is
    eliminated; ``ranking`` the tied candidates best first under the rule."""

    round: int
    tied: tuple[str, ...]
    method: str
    decides: Literal["winner", "elimination"]
    outcome: str
    ranking: tuple[str, ...]
    detail: dict = field(default_factory=dict, compare=False, hash=False)

    def as_dict(self) -> dict:
        return {"round": self.round, "tied": list(self.tied), "method": self.method,
                "decides": self.decides, "outcome": self.outcome, "ranking": list(self.ranking),
                **self.detail}


@dataclass(frozen=True)
class RoundResult:
    tallies: dict[str, Number]          # every continuing candidate, zeros included
    eliminated: str | None
    tie_break: TieDecision | None
    exhausted: Number

    @property
    def continuing_total(self) -> Number:
        return sum(self.tallies.values())

    def ordered(self) -> list[tuple[str, Number]]:
        """The tallies, most votes first (equal votes by name)."""
        return sorted(self.tallies.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Result:
    method: str
    rounds: list[RoundResult]
    winner: str

    @property
    def exhausted(self) -> Number:
        return self.rounds[-1].exhausted

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "rounds": [{"tallies": {c: as_json_number(v) for c, v in r.ordered()},
                        "eliminated": r.eliminated,
                        "tie_break": r.tie_break.as_dict() if r.tie_break else None}
                       for r in self.rounds],
            "winner": self.winner,
            "exhausted": as_json_number(self.exhausted),
        }


def as_json_number(value: Number) -> int | float:
    if isinstance(value, int):
        return value
    return int(value) if value == value.to_integral_value() else float(value)


# --- validation ---------------------------------------------------------------------------

def _check_candidates(candidates: Iterable[str]) -> tuple[str, ...]:
    names = tuple(candidates)
    if not names:
        raise ValueError("an election needs at least one candidate")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a candidate's name must be a non-empty text, not {name!r}")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"candidate {name!r} is named twice")
        seen.add(name)
    return names


def validate(ballots: Sequence[Ballot], candidates: Sequence[str]) -> None:
    """Raise :class:`BallotError` for the first ballot that cannot be counted."""
    known = set(candidates)
    if not ballots:
        raise BallotError("there are no ballots to count")
    for i, ballot in enumerate(ballots):
        if not isinstance(ballot, Ballot):
            raise BallotError(f"not a Ballot: {ballot!r}", i)
        weight = ballot.weight
        if isinstance(weight, bool) or not isinstance(weight, (int, Decimal)):
            raise BallotError(f"the weight must be a whole number or a Decimal, not {weight!r}", i)
        if isinstance(weight, Decimal) and not weight.is_finite():
            raise BallotError(f"the weight {weight} is not a finite number", i)
        if weight <= 0:
            raise BallotError(f"the weight must be positive, not {weight}", i)
        if not ballot.preferences:
            raise BallotError("an empty ballot (no first preference)", i)
        seen: dict[str, int] = {}
        for position, name in enumerate(ballot.preferences, start=1):
            if not isinstance(name, str):
                raise BallotError(f"preference {position} is not a candidate's name (text): {name!r}", i)
            if not name.strip():
                raise BallotError(f"preference {position} is blank", i)
            if name not in known:
                raise BallotError(f"preference {position} names {name!r}, not a candidate", i)
            if name in seen:
                raise BallotError(f"preference {position} repeats {name!r} (already preference "
                                  f"{seen[name]})", i)
            seen[name] = position


# --- counting -----------------------------------------------------------------------------

def _decide(tie_break: TieBreak | None, tied: list[str], round_no: int,
            decides: Literal["winner", "elimination"]) -> TieDecision:
    tied_sorted = tuple(sorted(tied))
    if tie_break is None:
        raise TieBreakNeeded(round_no, tied_sorted, decides)
    ranking, detail = tie_break.rank(tied_sorted, round_no)
    outcome = ranking[0] if decides == "winner" else ranking[-1]
    return TieDecision(round=round_no, tied=tied_sorted, method=tie_break.method, decides=decides,
                       outcome=outcome, ranking=ranking, detail=detail)


def _plurality(ballots: Sequence[Ballot], candidates: tuple[str, ...], weighted: bool,
               tie_break: TieBreak | None, method: str) -> Result:
    tallies: dict[str, Number] = {c: 0 for c in candidates}
    for ballot in ballots:
        tallies[ballot.preferences[0]] += ballot.weight if weighted else 1
    top = max(tallies.values())
    leaders = [c for c in candidates if tallies[c] == top]
    decision = None
    if len(leaders) > 1:
        decision = _decide(tie_break, leaders, 1, "winner")
        winner = decision.outcome
    else:
        winner = leaders[0]
    return Result(method=method, rounds=[RoundResult(tallies, None, decision, 0)], winner=winner)


def _irv(ballots: Sequence[Ballot], candidates: tuple[str, ...],
         tie_break: TieBreak | None) -> Result:
    continuing = list(candidates)
    rounds: list[RoundResult] = []
    round_no = 0
    while True:
        round_no += 1
        live = set(continuing)
        tallies: dict[str, Number] = {c: 0 for c in continuing}
        exhausted: Number = 0
        for ballot in ballots:
            choice = next((p for p in ballot.preferences if p in live), None)
            if choice is None:
                exhausted += ballot.weight
            else:
                tallies[choice] += ballot.weight
        total = sum(tallies.values())
        top = max(tallies.values())
        if 2 * top > total:
            winner = next(c for c in continuing if tallies[c] == top)
            rounds.append(RoundResult(tallies, None, None, exhausted))
            return Result(method="irv", rounds=rounds, winner=winner)
        low = min(tallies.values())
        lowest = [c for c in continuing if tallies[c] == low]
        decision = None
        if len(lowest) > 1:
            decision = _decide(tie_break, lowest, round_no, "elimination")
            loser = decision.outcome
        else:
            loser = lowest[0]
        rounds.append(RoundResult(tallies, loser, decision, exhausted))
        continuing.remove(loser)


def count(ballots: Iterable[Ballot], candidates: Iterable[str], method: str,
          tie_break: TieBreak | None = None) -> Result:
    """Count ``ballots`` for ``candidates`` by ``method`` ('plurality', 'weighted', 'irv').

    Raises :class:`BallotError` (nothing counted) for a ballot that cannot be counted,
    ``ValueError`` for a bad method, candidate list or draw of lots, and
    :class:`TieBreakNeeded` when a tie occurs with no ``tie_break``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown counting method {method!r} (one of {', '.join(METHODS)})")
    names = _check_candidates(candidates)
    ballots = list(ballots)
    validate(ballots, names)
    if tie_break is not None:
        if not isinstance(tie_break, (DrawOfLots, SeededDraw)):
            raise ValueError(f"not a tie-break rule: {tie_break!r}")
        tie_break.check(names)
    if method == "irv":
        return _irv(ballots, names, tie_break)
    return _plurality(ballots, names, method == "weighted", tie_break, method)
