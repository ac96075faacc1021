"""Parse NHS England's "Patients Registered at a GP Practice" by LSOA (pure: no database).

The file (``gp-reg-pat-prac-lsoa-all.csv``; England-wide about 30 MB) has a header row:

    PUBLICATION, EXTRACT_DATE, PRACTICE_CODE, PRACTICE_NAME, LSOA_CODE, SEX, NUMBER_OF_PATIENTS

Columns read (by name; others are ignored): EXTRACT_DATE, PRACTICE_CODE, LSOA_CODE, SEX and
NUMBER_OF_PATIENTS. Only ``SEX=ALL`` rows count (others are checked and counted).

The file is **streamed**: ``parse_lsoa_registrations`` takes an iterable of text lines (an open
file) and keeps only what a round needs: the patients of the round's practices by English LSOA,
and for every English LSOA the patients registered at any practice of the file (the denominator
of an LSOA's shares). Never the whole file: memory grows with the number of LSOAs, not of rows.

``LSOA_CODE`` values that are not English LSOAs are **special values**, counted (patients of the
round's practices) and reported, not errors: ``CLOSED``, ``EMPTY…`` (no postcode), Welsh
``W01…``, Scottish ``S01…``, Northern Irish ``N…`` codes and pseudo-codes such as ``L99999999``.

Every problem is collected as an ``ImportProblem`` (row = line number in the file, field = column
name) and one ``ImportFailed`` is raised at the end; ``MAX_PROBLEMS`` are kept, the rest counted.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
import sys
from collections import Counter
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from ..domain.codes import PRACTICE_CODE
from .csvio import FORMULA_START, ImportFailed, ImportProblem, parse_extract_date

REQUIRED_COLUMNS: tuple[str, ...] = ("EXTRACT_DATE", "PRACTICE_CODE", "LSOA_CODE", "SEX", "NUMBER_OF_PATIENTS")
ENGLISH_LSOA = re.compile(r"^E01[0-9]{6}$")
MAX_PATIENTS = 1_000_000           # in one practice x LSOA row
MAX_PROBLEMS = 200                 # kept; further problems are counted

SPECIAL_KINDS = {
    "closed": "CLOSED (patients of a closed practice record)",
    "empty": "EMPTY (no LSOA for the patient's postcode)",
    "wales": "Welsh LSOAs (W01…)",
    "scotland": "Scottish data zones (S01…)",
    "northern_ireland": "Northern Irish areas (N…)",
    "other": "other codes (e.g. L99999999, M99999999)",
}


def special_kind(code: str) -> str | None:
    """None for an English LSOA code, else the kind of special value (a key of SPECIAL_KINDS)."""
    if ENGLISH_LSOA.match(code):
        return None
    upper = code.upper()
    if upper == "CLOSED":
        return "closed"
    if upper.startswith("EMPTY"):
        return "empty"
    if upper.startswith("W01"):
        return "wales"
    if upper.startswith("S01"):
        return "scotland"
    if upper.startswith("N"):
        return "northern_ireland"
    return "other"


@dataclass
class LsoaRegistrations:
    """What a round keeps of the file."""

    extract_date: dt.date | None = None
    rows: int = 0                                               # data rows read
    counts: dict[str, dict[str, int]] = field(default_factory=dict)   # practice -> English LSOA -> patients
    lsoa_totals: dict[str, int] = field(default_factory=dict)   # English LSOA -> patients at any practice of the file
    special: Counter = field(default_factory=Counter)           # kind -> patients of the round's practices
    special_values: Counter = field(default_factory=Counter)    # raw value -> rows (of every practice)
    other_practices: int = 0                                    # practices of the file not of the round
    other_sex_rows: int = 0                                     # rows with SEX other than ALL

    @property
    def practices(self) -> set[str]:
        return set(self.counts)

    @property
    def patients(self) -> int:
        """Patients of the round's practices living in English LSOAs."""
        return sum(sum(by_lsoa.values()) for by_lsoa in self.counts.values())


class _Problems(list):
    """At most MAX_PROBLEMS problems; the others are counted."""

    def __init__(self):
        super().__init__()
        self.omitted = 0

    def append(self, problem: ImportProblem) -> None:     # type: ignore[override]
        if len(self) < MAX_PROBLEMS:
            super().append(problem)
        else:
            self.omitted += 1

    def final(self) -> list[ImportProblem]:
        extra = [ImportProblem(None, None, f"{self.omitted:,} more problems not listed")] if self.omitted else []
        return list(self) + extra


def parse_lsoa_registrations(lines: Iterable[str], practices: Container[str]) -> LsoaRegistrations:
    """Read the file (an iterable of text lines, e.g. a file opened with ``newline=""``), keeping
    the rows of ``practices`` (the round's practice codes). ``ImportFailed`` listing every problem."""
    problems = _Problems()
    out = LsoaRegistrations()
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportFailed([ImportProblem(1, None, f"the header cannot be read ({_reason(exc)})")]) from None
    if not header:
        raise ImportFailed([ImportProblem(None, None, "the file is empty")])
    names = [name.strip().lstrip("\ufeff") for name in header]
    for name in REQUIRED_COLUMNS:
        if name not in names:
            problems.append(ImportProblem(1, name, "column is missing from the header (needed: "
                                          + ", ".join(REQUIRED_COLUMNS) + ")"))
        elif names.count(name) > 1:
            problems.append(ImportProblem(1, name, "column appears more than once"))
    if problems:
        raise ImportFailed(problems.final())
    i_date, i_practice, i_lsoa, i_sex, i_n = (names.index(n) for n in REQUIRED_COLUMNS)
    width = len(names)
    dates: dict[str, int] = {}                     # extract date text -> first row
    others: set[str] = set()
    intern = sys.intern
    counts, totals = out.counts, out.lsoa_totals
    while True:
        row = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(ImportProblem(reader.line_num or row, None, f"not valid CSV ({exc}); reading stopped here"))
            break
        except UnicodeDecodeError as exc:
            problems.append(ImportProblem(reader.line_num + 1, None, f"{_reason(exc)}; reading stopped here"))
            break
        row = reader.line_num
        if not values or not any(v.strip() for v in values):
            continue
        out.rows += 1
        if len(values) != width:
            problems.append(ImportProblem(row, "columns", f"has {len(values)} columns; the header has {width}"))
            continue
        date_text = values[i_date].strip()
        if date_text not in dates:
            dates[date_text] = row
            date = parse_extract_date(date_text, row, "EXTRACT_DATE", problems)
            if len(dates) == 1:
                out.extract_date = date
            elif date is not None:
                first = next(iter(dates))
                problems.append(ImportProblem(row, "EXTRACT_DATE", (
                    f"{date_text!r} differs from {first!r} on row {dates[first]}: one extract at a time")))
        code = values[i_practice].strip()
        if not PRACTICE_CODE.match(code):
            problems.append(ImportProblem(row, "PRACTICE_CODE", f"{code[:40]!r} is not a valid GP practice code "
                                                                "(like C84001)"))
            continue
        lsoa = values[i_lsoa].strip()
        if not lsoa:
            problems.append(ImportProblem(row, "LSOA_CODE", "is empty"))
            continue
        if len(lsoa) > 20 or lsoa.startswith(FORMULA_START) or not lsoa.isprintable():
            problems.append(ImportProblem(row, "LSOA_CODE", f"{lsoa[:40]!r} is not an LSOA code or a special value"))
            continue
        number = values[i_n].strip()
        if not number.isascii() or not number.isdigit():
            problems.append(ImportProblem(row, "NUMBER_OF_PATIENTS", (
                f"{number[:40]!r} is negative" if re.fullmatch(r"-\d+", number) else
                "is empty; a whole number is needed" if not number else
                f"{number[:40]!r} is not a whole number")))
            continue
        patients = int(number)
        if patients > MAX_PATIENTS:
            problems.append(ImportProblem(row, "NUMBER_OF_PATIENTS",
                                          f"{patients:,} is not a plausible count (at most {MAX_PATIENTS:,})"))
            continue
        if values[i_sex].strip().upper() != "ALL":
            out.other_sex_rows += 1
            continue
        kind = special_kind(lsoa)
        ours = code in practices
        if kind is not None:
            out.special_values[lsoa if kind != "empty" else "EMPTY"] += 1
            if ours:
                out.special[kind] += patients
            continue
        lsoa = intern(lsoa)
        totals[lsoa] = totals.get(lsoa, 0) + patients
        if ours:
            by_lsoa = counts.setdefault(code, {})
            if lsoa in by_lsoa:
                problems.append(ImportProblem(row, "LSOA_CODE", f"{code} and {lsoa} are on an earlier row too"))
                continue
            by_lsoa[lsoa] = patients
        elif code not in others:
            others.add(code)
    out.other_practices = len(others)
    if not out.rows and not problems:
        problems.append(ImportProblem(None, None, "the file has a header but no data rows"))
    elif out.rows and out.rows == out.other_sex_rows and not problems:
        problems.append(ImportProblem(None, "SEX", "no row has SEX=ALL: use the all-persons file"))
    if problems:
        raise ImportFailed(problems.final())
    return out


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"byte 0x{exc.object[exc.start]:02X} is not UTF-8; save the file as CSV UTF-8"
    return str(exc)


# --- LSOA vintages ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LsoaLookup:
    """What pcnreg keeps of the ONS LSOA 2011 -> 2021 lookup (``lsoa11-lsoa21-lad22-lookup-ew.csv``):
    the codes of one vintage only, and the pairs of codes that changed (a code kept as it is needs
    no translation). Small: a few thousand codes of some 35,000."""

    only11: frozenset[str]
    only21: frozenset[str]
    pairs: tuple[tuple[str, str], ...]          # (LSOA11CD, LSOA21CD) of changed LSOAs

    def mapping(self, source: str) -> dict[str, list[str]]:
        """Code of the ``source`` vintage ('lsoa11' or 'lsoa21') -> codes of the other vintage."""
        out: dict[str, list[str]] = {}
        for a, b in self.pairs:
            if source == "lsoa11":
                out.setdefault(a, []).append(b)
            else:
                out.setdefault(b, []).append(a)
        return {k: sorted(set(v)) for k, v in out.items()}


def read_lsoa_lookup(lines: Iterable[str]) -> LsoaLookup:
    """The lookup's changes (see ``LsoaLookup``), or ImportFailed naming a missing column."""
    reader = csv.reader(lines)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    missing = [c for c in ("LSOA11CD", "LSOA21CD") if c not in header]
    if missing:
        raise ImportFailed([ImportProblem(1, c, "column is missing from the LSOA 2011 -> 2021 lookup") for c in missing])
    a, b = header.index("LSOA11CD"), header.index("LSOA21CD")
    pairs = [(r[a].strip(), r[b].strip()) for r in reader if len(r) > max(a, b)]
    n11, n21 = Counter(x for x, _ in pairs), Counter(y for _, y in pairs)
    codes11, codes21 = set(n11), set(n21)
    changed = tuple(p for p in pairs if p[0] != p[1] or n11[p[0]] > 1 or n21[p[1]] > 1)
    return LsoaLookup(frozenset(codes11 - codes21), frozenset(codes21 - codes11), changed)


def vintage_of(codes: Iterable[str], lookup: LsoaLookup) -> str | None:
    """'lsoa11' or 'lsoa21': the vintage whose own codes (not in the other) are more numerous
    among ``codes``; None when no code tells them apart, or when both vintages' own codes are
    there in numbers (more than 5% of the other's: a mixed file is not translated)."""
    n11 = sum(1 for c in codes if c in lookup.only11)
    n21 = sum(1 for c in codes if c in lookup.only21)
    if n11 == n21 or min(n11, n21) > 0.05 * max(n11, n21):
        return None
    return "lsoa11" if n11 > n21 else "lsoa21"


def translate(regs: LsoaRegistrations, mapping: Mapping[str, list[str]]) -> int:
    """Translate the LSOA codes of ``regs`` in place with ``mapping`` (code -> codes of the other
    vintage): merged LSOAs add up; the patients of a split LSOA are shared equally among its
    successors (the remainder to the first codes in order). Returns how many codes were split."""
    split = set()

    def move(values: dict[str, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for code, n in values.items():
            targets = mapping.get(code) or [code]
            if len(targets) > 1:
                split.add(code)
            share, rest = divmod(n, len(targets))
            for i, target in enumerate(targets):
                out[target] = out.get(target, 0) + share + (1 if i < rest else 0)
        return out

    regs.counts = {p: move(v) for p, v in regs.counts.items()}
    regs.lsoa_totals = move(regs.lsoa_totals)
    return len(split)
