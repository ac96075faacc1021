"""Parse the NHS ODS ``epraccur.csv`` national file of GP practices (pure: no database).

The file is headerless with 27 quoted columns per row (0-based, from the ODS specification):

    0 organisation code       1 name                     2 national grouping
    3 high level health geography                        4-8 address lines 1-5
    9 postcode               10 open date (YYYYMMDD)    11 close date (YYYYMMDD or empty)
   12 status code (A active, C closed, D dormant, P proposed)
   13 organisation sub-type code                         14 commissioner (CCG ODS code)
   15 join provider/purchaser date                       16 left provider/purchaser date
   17 contact telephone number   18-20 null   21 amended record indicator   22 null
   23 provider/purchaser     24 null                    25 prescribing setting (4 = GP practice)
   26 null

Columns read: 0, 1, 9, 10, 11, 12, 14, 15 and 25. Every row must have 27 columns, a code and a
numeric prescribing setting. Only rows with prescribing setting 4 (GP practices) are checked
field by field: the file also lists prescribing cost centres (out-of-hours services, Channel
Islands codes such as JER001, etc.) whose other fields do not follow the GP practice rules.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ..domain.codes import COMMISSIONER_CODE, PRACTICE_CODE
from .csvio import (
    ImportFailed,
    ImportProblem,
    check_code,
    check_text,
    parse_yyyymmdd,
    read_rows,
)
from .memo import by_content

COLUMNS: tuple[str, ...] = (
    "organisation code", "name", "national grouping", "high level health geography",
    "address line 1", "address line 2", "address line 3", "address line 4", "address line 5",
    "postcode", "open date", "close date", "status code", "organisation sub-type code",
    "commissioner", "join provider/purchaser date", "left provider/purchaser date",
    "contact telephone number", "null (19)", "null (20)", "null (21)",
    "amended record indicator", "null (23)", "provider/purchaser", "null (25)",
    "prescribing setting", "null (27)",
)
CODE, NAME, POSTCODE, OPEN_DATE, CLOSE_DATE, STATUS_CODE, COMMISSIONER, JOINED, SETTING = (
    0, 1, 9, 10, 11, 12, 14, 15, 25)
GP_PRACTICE_SETTING = 4

#: ODS status code -> Practice.status. Dormant practices do not provide services.
STATUS = {"A": "open", "P": "open", "C": "closed", "D": "closed"}

# A UK postcode as ODS writes it (outward code, space, inward code).
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$")


def field(index: int) -> str:
    """The name of column ``index`` as used in problems, e.g. 'name (column 2)'."""
    return f"{COLUMNS[index]} (column {index + 1})"


#: The field names of all columns, as used in problems.
FIELDS: tuple[str, ...] = tuple(field(i) for i in range(len(COLUMNS)))


@dataclass(frozen=True)
class PracticeRecord:
    """One row of epraccur. Rows that are not GP practices are only checked for structure, so
    their ``status``, ``open_date`` and ``close_date`` are None and other fields are raw."""

    row: int
    code: str
    name: str
    postcode: str | None
    commissioner_code: str
    status: str | None
    ods_status_code: str
    open_date: dt.date | None
    close_date: dt.date | None
    prescribing_setting: int
    joined: dt.date | None = None        # the date it joined its commissioner (column 16)

    @property
    def is_gp_practice(self) -> bool:
        return self.prescribing_setting == GP_PRACTICE_SETTING


@by_content
def parse_epraccur(text: str) -> list[PracticeRecord]:
    """Every row of an epraccur file as a ``PracticeRecord``, or ``ImportFailed`` listing every
    problem (wrong column count, invalid or duplicate codes, impossible dates, ...)."""
    problems: list[ImportProblem] = []
    records: list[PracticeRecord] = []
    first_row: dict[str, int] = {}
    for row, values in read_rows(text, problems):
        if len(values) != len(COLUMNS):
            problems.append(ImportProblem(row, "columns", (
                f"has {len(values)} columns; epraccur rows have {len(COLUMNS)} (is this the "
                "headerless epraccur.csv file?)")))
            continue
        code = values[CODE].strip()
        if not code:
            problems.append(ImportProblem(row, field(CODE), "is empty"))
        elif code in first_row:
            problems.append(ImportProblem(
                row, field(CODE), f"{code} is a duplicate: it is also on row {first_row[code]}"))
        else:
            first_row[code] = row
        setting_text = values[SETTING].strip()
        if not setting_text.isascii() or not setting_text.isdigit():
            problems.append(ImportProblem(
                row, field(SETTING), f"{setting_text[:40]!r} is not a number"))
            continue
        setting = int(setting_text)
        if setting != GP_PRACTICE_SETTING:
            records.append(PracticeRecord(
                row, code, values[NAME].strip(), values[POSTCODE].strip() or None,
                values[COMMISSIONER].strip(), None, values[STATUS_CODE].strip(), None, None,
                setting))
            continue
        records.append(_gp_practice(row, values, problems))
    if problems:
        raise ImportFailed(problems)
    return records


def _gp_practice(row: int, values: list[str], problems: list[ImportProblem]) -> PracticeRecord:
    """A GP practice row checked field by field (problems are appended to ``problems``)."""
    code = check_code(values[CODE], PRACTICE_CODE, "GP practice code (like C84001)",
                      row, field(CODE), problems)
    name = check_text(values[NAME], row, field(NAME), problems)
    postcode = values[POSTCODE].strip()
    if postcode and not POSTCODE_RE.match(postcode):
        problems.append(ImportProblem(row, field(POSTCODE), f"{postcode[:40]!r} is not a postcode"))
    commissioner = check_code(values[COMMISSIONER], COMMISSIONER_CODE,
                              "commissioner code (like 04K)", row, field(COMMISSIONER), problems)
    ods_status = values[STATUS_CODE].strip()
    if ods_status not in STATUS:
        problems.append(ImportProblem(
            row, field(STATUS_CODE), f"{ods_status[:40]!r} is not a status code (A, C, D or P)"))
    open_date = parse_yyyymmdd(values[OPEN_DATE], row, field(OPEN_DATE), problems, required=True)
    close_date = parse_yyyymmdd(values[CLOSE_DATE], row, field(CLOSE_DATE), problems)
    if open_date and close_date and close_date < open_date:
        problems.append(ImportProblem(row, field(CLOSE_DATE), (
            f"{close_date:%Y%m%d} is before the open date {open_date:%Y%m%d}")))
    joined = parse_yyyymmdd(values[JOINED], row, field(JOINED), problems)
    return PracticeRecord(row, code, name, postcode or None, commissioner, STATUS.get(ods_status),
                          ods_status, open_date, close_date, GP_PRACTICE_SETTING, joined)
