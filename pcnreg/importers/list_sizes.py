"""Parse NHS Digital "Patients Registered at a GP Practice" files (pure: no database).

The all-persons file ``gp-reg-pat-prac-all.csv`` has a header row:

    PUBLICATION, EXTRACT_DATE, TYPE, CCG_CODE, ONS_CCG_CODE, CODE, POSTCODE, SEX, AGE,
    NUMBER_OF_PATIENTS

Columns read: EXTRACT_DATE (written like 01Jun2021), TYPE, CODE (practice ODS code), SEX, AGE
and NUMBER_OF_PATIENTS. They must all be in the header (other columns are allowed and ignored).
Rows other than practice totals (TYPE=GP, SEX=ALL, AGE=ALL) are only checked for structure and
are returned with ``skip_reason`` set.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..domain.codes import PRACTICE_CODE
from .csvio import (
    ImportFailed,
    ImportProblem,
    check_code,
    parse_extract_date,
    parse_whole_number,
    read_rows,
)
from .memo import by_content

REQUIRED_COLUMNS: tuple[str, ...] = (
    "EXTRACT_DATE", "TYPE", "CODE", "SEX", "AGE", "NUMBER_OF_PATIENTS")
MAX_SIZE = 1_000_000  # the largest practices have about 100,000 patients
NOT_A_PRACTICE_TOTAL = "not a practice total (TYPE=GP, SEX=ALL, AGE=ALL)"


@dataclass(frozen=True)
class ListSizeRecord:
    """One row: the registered list ``size`` of practice ``code`` on ``as_of``.

    For skipped rows (``skip_reason`` set) ``as_of`` and ``size`` are None."""

    row: int
    code: str
    as_of: dt.date | None
    size: int | None
    skip_reason: str | None = None


@by_content
def parse_list_sizes(text: str) -> list[ListSizeRecord]:
    """Every data row as a ``ListSizeRecord``, or ``ImportFailed`` listing every problem
    (missing columns, invalid or duplicate practice codes, bad dates, bad sizes, ...)."""
    problems: list[ImportProblem] = []
    records: list[ListSizeRecord] = []
    rows = read_rows(text, problems)
    header_row, header = next(rows, (1, []))
    names = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    for name in missing:
        problems.append(ImportProblem(header_row, name, (
            "column is missing from the header (needed: " + ", ".join(REQUIRED_COLUMNS) + ")")))
    for name in REQUIRED_COLUMNS:
        if names.count(name) > 1:
            problems.append(ImportProblem(header_row, name, "column appears more than once"))
    if problems:
        raise ImportFailed(problems)
    index = {name: names.index(name) for name in REQUIRED_COLUMNS}

    first_row: dict[tuple[str, dt.date], int] = {}
    for row, values in rows:
        if len(values) != len(names):
            problems.append(ImportProblem(row, "columns", (
                f"has {len(values)} columns; the header has {len(names)}")))
            continue
        value = {name: values[i].strip() for name, i in index.items()}
        if (value["TYPE"], value["SEX"], value["AGE"]) != ("GP", "ALL", "ALL"):
            records.append(ListSizeRecord(row, value["CODE"], None, None, NOT_A_PRACTICE_TOTAL))
            continue
        code = check_code(value["CODE"], PRACTICE_CODE, "GP practice code (like C84001)",
                          row, "CODE", problems)
        as_of = parse_extract_date(value["EXTRACT_DATE"], row, "EXTRACT_DATE", problems)
        size = parse_whole_number(value["NUMBER_OF_PATIENTS"], row, "NUMBER_OF_PATIENTS",
                                  problems)
        if size is not None and size > MAX_SIZE:
            problems.append(ImportProblem(row, "NUMBER_OF_PATIENTS", (
                f"{size:,} is not a plausible list size (at most {MAX_SIZE:,})")))
        if as_of is not None:
            if (code, as_of) in first_row:
                problems.append(ImportProblem(row, "CODE", (
                    f"{code} on {as_of:%d%b%Y} is a duplicate: it is also on row "
                    f"{first_row[code, as_of]}")))
            else:
                first_row[code, as_of] = row
        records.append(ListSizeRecord(row, code, as_of, size))
    if not records and not problems:
        problems.append(ImportProblem(None, None, "the file has a header but no data rows"))
    if problems:
        raise ImportFailed(problems)
    return records
