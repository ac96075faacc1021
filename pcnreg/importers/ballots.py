"""The ballot file of a Clinical Director election counted by the LMC (``pcnreg election count``).

The file (UTF-8, a byte order mark accepted) has a header row and one row per ballot:
``pref1``…``prefN`` hold candidate names in preference order (blanks allowed after the last
preference, not between two), and an optional ``weight`` column (a positive whole number, the
practice's registered list size; 1 when there is no such column). No other column is accepted.
Rows are line numbers in the file (the header is row 1), as a spreadsheet shows them.

Like every importer, ``parse_ballots`` reports EVERY problem it finds (row, field, message) in one
``ImportFailed``: the header's problems (then the rows are not read: their columns are unknown), or
every row's. Nothing is counted unless the whole file is sound.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..domain.counting import Ballot
from .csvio import ImportFailed, ImportProblem, decode

MAX_BYTES = 20 * 1024 * 1024
PREF_COLUMN = re.compile(r"pref([1-9][0-9]*)")
WHOLE_NUMBER = re.compile(r"[0-9]+")
HEADER_HINT = "the header must be pref1, pref2, … and optionally weight"


@dataclass(frozen=True)
class BallotFile:
    """The ballots read from a file, with the row number of each (header = row 1)."""

    ballots: list[Ballot]
    rows: list[int]
    names: list[str]            # every name in the file, in order of first appearance
    weighted: bool


@dataclass(frozen=True)
class _Columns:
    count: int
    prefs: list[int]            # the index of pref1, pref2, … in a row
    weight: int | None


def _header(header: list[str], problems: list[ImportProblem]) -> _Columns | None:
    if not any(h.strip() for h in header):
        problems.append(ImportProblem(1, None, "blank; the first row must be the header (pref1, pref2, …)"))
        return None
    weight: int | None = None
    prefs: dict[int, int] = {}
    before = len(problems)
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        label = f"column {i + 1}"
        if not name:
            problems.append(ImportProblem(1, label, f"no column name ({HEADER_HINT})"))
        elif name == "weight":
            if weight is not None:
                problems.append(ImportProblem(1, label, "a second 'weight' column"))
            weight = i
        elif (m := PREF_COLUMN.fullmatch(name)):
            n = int(m.group(1))
            if n in prefs:
                problems.append(ImportProblem(1, label, f"a second 'pref{n}' column"))
            else:
                prefs[n] = i
        else:
            problems.append(ImportProblem(1, label, f"{raw.strip()[:40]!r} is not a ballot column ({HEADER_HINT})"))
    if not prefs:
        problems.append(ImportProblem(1, None, f"no pref1 column ({HEADER_HINT})"))
    else:
        gaps = [n for n in range(1, max(prefs) + 1) if n not in prefs]
        if gaps:
            problems.append(ImportProblem(1, None, f"there is pref{max(prefs)} but no pref{gaps[0]}"))
    if len(problems) > before:
        return None
    return _Columns(len(header), [prefs[n] for n in sorted(prefs)], weight)


def _weight(raw: str, row: int, problems: list[ImportProblem]) -> int:
    if not raw:
        problems.append(ImportProblem(row, "weight", "blank (give the practice's list size)"))
    elif not WHOLE_NUMBER.fullmatch(raw) or int(raw) == 0:
        problems.append(ImportProblem(row, "weight", f"{raw[:40]!r} is not a positive whole number"))
    else:
        return int(raw)
    return 1


def _ballot(cells: list[str], row: int, columns: _Columns, known: Sequence[str] | None,
            problems: list[ImportProblem]) -> list[str]:
    """The row's preferences, in order; problems for gaps, repeats and unknown candidates."""
    prefs: list[str] = []
    first_blank: int | None = None
    seen: dict[str, int] = {}
    for n, col in enumerate(columns.prefs, start=1):
        value = cells[col]
        if not value:
            if first_blank is None:
                first_blank = n
            continue
        if first_blank is not None:
            problems.append(ImportProblem(row, f"pref{n}", f"pref{first_blank} is blank but pref{n} is not"))
            first_blank = None
        if value in seen:
            problems.append(ImportProblem(row, f"pref{n}", f"{value[:40]!r} again (already pref{seen[value]})"))
            continue
        if known is not None and value not in known:
            problems.append(ImportProblem(row, f"pref{n}", f"{value[:40]!r} is not a candidate "
                                                           f"(candidates: {', '.join(known)})"))
        seen[value] = n
        prefs.append(value)
    if not prefs:
        problems.append(ImportProblem(row, "pref1", "blank (an empty ballot)"))
    return prefs


def parse_ballots(data: bytes, candidates: Sequence[str] | None = None) -> BallotFile:
    """Every ballot of the file, or ``ImportFailed`` listing every problem.

    With ``candidates``, a ballot naming anyone else (e.g. a withdrawn candidate) is a problem.
    """
    text = decode(data, MAX_BYTES, header=True)
    problems: list[ImportProblem] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    ballots: list[Ballot] = []
    rows: list[int] = []
    names: list[str] = []
    try:
        columns = _header(next(reader), problems)
        if columns is None:
            raise ImportFailed(problems)
        for record in reader:
            row = reader.line_num
            if not record:                       # an empty line, not a ballot
                continue
            if len(record) > columns.count and any(v.strip() for v in record[columns.count:]):
                problems.append(ImportProblem(row, None, f"{len(record)} values but the header has "
                                                         f"{columns.count} columns"))
                continue
            cells = [v.strip() for v in record[:columns.count]] + [""] * max(0, columns.count - len(record))
            weight = _weight(cells[columns.weight], row, problems) if columns.weight is not None else 1
            prefs = _ballot(cells, row, columns, candidates, problems)
            if prefs:
                ballots.append(Ballot(tuple(prefs), weight))
                rows.append(row)
                names.extend(name for name in prefs if name not in names)
    except csv.Error as exc:
        problems.append(ImportProblem(reader.line_num, None, f"not valid CSV ({exc}); reading stopped here"))
    if not ballots and not problems:
        problems.append(ImportProblem(None, None, "no ballots (only the header row)"))
    if problems:
        raise ImportFailed(problems)
    return BallotFile(ballots, rows, names, columns.weight is not None)
