"""Reading NHS Digital's ePCN workbook (ePCN.xlsx) into plain rows.

The workbook has two sheets: "PCN Details" ("PCNDetails" in the ICB-era releases; one row per PCN: PCN Code, PCN Name, the CCG,
dates, address) and "PCN Core Partner Details" (one row per practice: Partner Organisation
Code, the PCN Code it belongs to, dates). The December 2019 release has its header on row 1;
later releases and hand-made copies may have title rows above it, so each sheet's header row is
found by its column names (in the first ``HEADER_SEARCH_ROWS`` rows), and columns are found by
name (ignoring case, spacing and line breaks), in any order; the ICB-era names (sub-ICB location
columns, see ``ALIASES``) stand for the CCG ones. Other columns are ignored.

Every problem is collected as an ``ImportProblem`` whose row is the worksheet's row number and
whose field names the column and the sheet; one ``ImportFailed`` lists them all.

The workbook is read with openpyxl in read-only, values-only mode (no formulas are evaluated,
cells are streamed). Before openpyxl sees it, the zip's declared uncompressed size is checked
(``MAX_UNCOMPRESSED``) against zip bombs; rows and columns read per sheet are capped too.
No Flask, no database.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from ..domain.codes import is_pcn_code, is_practice_code
from .csvio import FORMULA_START, ImportFailed, ImportProblem, check_size
from .memo import by_content

DETAILS = "PCN Details"
PARTNERS = "PCN Core Partner Details"
#: Other names of the details sheet: the ICB-era releases (2022 on) call it "PCNDetails".
DETAILS_SHEETS = (DETAILS, "PCNDetails")

#: ICB-era column names (sub-ICB locations instead of CCGs; header cells with line breaks,
#: which ``_key`` folds to spaces) -> the December 2019 name the reader uses.
ALIASES = {
    "Current Sub ICB Loc Code": "Current Clinical Commissioning Group Code",
    "Sub ICB Location": "Clinical Commissioning Group Name",
    "Open Date": "Open Date (YYYYMMDD)",
    "Practice Parent Sub ICB Loc Code": "Practice Parent CCG Code",
    "Practice Parent Sub ICB Loc Name": "Practice Parent CCG Name",
    "PCN Parent Sub ICB Loc Code": "PCN Parent CCG Code",
    "PCN Parent Sub ICB Loc Name": "PCN Parent CCG Name",
    "Practice Sub ICB Loc and PCN Sub ICB Loc Match": "Practice CCG and PCN CCG match?",
}

#: The column headers of the December 2019 release, in order (the export writes them too).
DETAILS_COLUMNS = [
    "PCN Code", "PCN Name", "Current Clinical Commissioning Group Code", "Clinical Commissioning Group Name",
    "Open Date (YYYYMMDD)", "Close Date", "Address Line 1", "Address Line 2", "Address Line 3",
    "Address Line 4", "Address Line 5", "Postcode"]
PARTNER_COLUMNS = [
    "Partner Organisation Code", "Partner Name", "Practice Parent CCG Code", "Practice Parent CCG Name",
    "PCN Code", "PCN Name", "PCN Parent CCG Code", "PCN Parent CCG Name",
    "Practice to PCN Relationship Start Date", "Practice to PCN Relationship End Date",
    "Practice CCG and PCN CCG match?"]
#: The columns an import cannot do without.
REQUIRED = {DETAILS: ["PCN Code", "PCN Name"], PARTNERS: ["Partner Organisation Code", "PCN Code"]}

HEADER_SEARCH_ROWS = 20
MAX_ROWS = 100_000                      # the national file has ~7,000 partner rows
MAX_COLUMNS = 60
MAX_UNCOMPRESSED = 200 * 1024 * 1024    # the national file unpacks to ~5 MB


@dataclass(frozen=True)
class PcnRow:
    row: int
    code: str                   # U + 5 digits; may be empty in a hand-made workbook (then the name links)
    name: str
    commissioner_code: str
    commissioner_name: str
    open_date: dt.date | None
    close_date: dt.date | None

    @property
    def ref(self) -> str:
        return pcn_ref(self.code, self.name)


@dataclass(frozen=True)
class PartnerRow:
    row: int
    practice_code: str
    practice_name: str
    practice_commissioner_code: str
    pcn_code: str
    pcn_name: str
    start_date: dt.date | None
    end_date: dt.date | None
    pcn: str                    # the ``ref`` of its row on the details sheet

    @property
    def current(self) -> bool:
        """Whether the practice is still a partner (the relationship has no end date)."""
        return self.end_date is None


@dataclass(frozen=True)
class Workbook:
    pcns: tuple[PcnRow, ...]
    partners: tuple[PartnerRow, ...]    # every valid row, ended relationships included
    era: str = "ccg"                    # "ccg" (CCG columns, to 2022) or "sub_icb" (sub-ICB columns)


def pcn_ref(code: str, name: str) -> str:
    """How the workbook names a PCN: its PCN Code, or its name when the code is empty (a
    workbook exported from a round whose PCNs have no codes yet)."""
    return code if code else "name:" + " ".join(name.split()).casefold()


def _key(header: object) -> str:
    return " ".join(str(header or "").split()).casefold()


_ALIAS_KEYS = {_key(alias): _key(name) for alias, name in ALIASES.items()}
SUB_ICB_MARK = "\x00sub-icb"     # in a sheet's columns: its header used the ICB-era names


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def field_name(sheet: str, column: str) -> str:
    """The ``ImportProblem`` field of a cell: its column and its sheet."""
    return f"{column} (sheet {sheet})"


def _date(value: object, row: int, field: str, problems: list[ImportProblem]) -> dt.date | None:
    """A date cell: a date, or YYYYMMDD as a number or text (the ePCN writes 20191001)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if len(text) == 8 and text.isascii() and text.isdigit():
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            pass
    problems.append(ImportProblem(row, field, f"{text[:40]!r} is not a date (YYYYMMDD)"))
    return None


def _check_zip(data: bytes) -> None:
    """Refuse what is not a zip, and a zip that would unpack too large (a zip bomb)."""
    if not data.startswith(b"PK\x03\x04"):
        raise ImportFailed([ImportProblem(None, None, "the file is not an Excel workbook (.xlsx); "
                                                      "save it as Excel Workbook and try again")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ImportFailed([ImportProblem(None, None, f"the file is not a readable .xlsx workbook ({exc})")]) \
            from None
    if total > MAX_UNCOMPRESSED:
        raise ImportFailed([ImportProblem(None, None, f"the workbook unpacks to {total:,} bytes; at most "
                                                      f"{MAX_UNCOMPRESSED:,} are allowed")])


def _rows(sheet) -> Iterator[tuple[int, tuple]]:
    for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
        if number > MAX_ROWS:
            raise ImportFailed([ImportProblem(number, None, f"sheet {sheet.title!r} has more than "
                                                            f"{MAX_ROWS:,} rows")])
        yield number, values


def _header(name: str, rows: Iterator[tuple[int, tuple]]) -> dict[str, int]:
    """Column index by header key, from the first row that has every required column."""
    required = [_key(c) for c in REQUIRED[name]]
    best: tuple[int, list[str]] = (0, [])
    for number, values in rows:
        keys = [_ALIAS_KEYS.get(_key(v), _key(v)) for v in values]
        found = [c for c in required if c in keys]
        if len(found) == len(required):
            columns = {k: i for i, k in reversed(list(enumerate(keys))) if k}
            if any(_key(v) in _ALIAS_KEYS for v in values):
                columns[SUB_ICB_MARK] = -1
            return columns
        if len(found) > len(best[1]):
            best = (number, found)
        if number >= HEADER_SEARCH_ROWS:
            break
    missing = [c for c in REQUIRED[name] if _key(c) not in best[1]]
    where = f"row {best[0]} has some of the columns" if best[0] else \
        f"no header row in the first {HEADER_SEARCH_ROWS} rows"
    raise ImportFailed([ImportProblem(best[0] or None, field_name(name, c), f"required column is missing ({where})")
                        for c in missing])


def _cells(values: tuple, columns: dict[str, int]) -> dict[str, object]:
    return {k: (values[i] if 0 <= i < len(values) else None) for k, i in columns.items()}


def _name(value: object, row: int, field: str, problems: list[ImportProblem]) -> str:
    """A PCN name: not empty, not a formula, at most 200 characters."""
    text = _text(value)
    if not text:
        problems.append(ImportProblem(row, field, "is empty"))
    elif text.startswith(FORMULA_START):
        problems.append(ImportProblem(row, field, f"{text[:40]!r} starts with {text[0]!r}, which a "
                                                  "spreadsheet would run as a formula"))
    elif len(text) > 200:
        problems.append(ImportProblem(row, field, f"is {len(text)} characters long; at most 200 are allowed"))
    return text


def _read_details(sheet, problems: list[ImportProblem], eras: list[str]) -> list[PcnRow]:
    rows = _rows(sheet)
    columns = _header(DETAILS, rows)
    eras.append("sub_icb" if SUB_ICB_MARK in columns else "ccg")
    field = {c: field_name(DETAILS, c) for c in DETAILS_COLUMNS}
    out, seen = [], {}
    for number, values in rows:
        cells = _cells(values, columns)
        if not any(_text(v) for v in cells.values()):
            continue
        before = len(problems)
        code = _text(cells.get(_key("PCN Code"))).upper()
        name = _name(cells.get(_key("PCN Name")), number, field["PCN Name"], problems)
        if code and not is_pcn_code(code):
            problems.append(ImportProblem(number, field["PCN Code"],
                                          f"{code[:40]!r} is not a PCN ODS code (U and 5 digits)"))
        ref = pcn_ref(code, name)
        if ref in seen:
            problems.append(ImportProblem(number, field["PCN Code"] if code else field["PCN Name"],
                                          f"{code or name!r} is listed twice (also row {seen[ref]})"))
        open_date = _date(cells.get(_key("Open Date (YYYYMMDD)")), number, field["Open Date (YYYYMMDD)"], problems)
        close_date = _date(cells.get(_key("Close Date")), number, field["Close Date"], problems)
        if len(problems) == before:
            seen[ref] = number
            out.append(PcnRow(number, code, name,
                              _text(cells.get(_key("Current Clinical Commissioning Group Code"))).upper(),
                              _text(cells.get(_key("Clinical Commissioning Group Name"))), open_date, close_date))
    return out


def _read_partners(sheet, pcns: list[PcnRow], problems: list[ImportProblem], eras: list[str]) -> list[PartnerRow]:
    rows = _rows(sheet)
    columns = _header(PARTNERS, rows)
    eras.append("sub_icb" if SUB_ICB_MARK in columns else "ccg")
    field = {c: field_name(PARTNERS, c) for c in PARTNER_COLUMNS}
    refs = {p.ref: p.ref for p in pcns}
    names = Counter(pcn_ref("", p.name) for p in pcns)
    refs.update({pcn_ref("", p.name): p.ref for p in pcns if names[pcn_ref("", p.name)] == 1})  # by name alone
    out, seen = [], {}
    for number, values in rows:
        cells = _cells(values, columns)
        if not any(_text(v) for v in cells.values()):
            continue
        before = len(problems)
        code = _text(cells.get(_key("Partner Organisation Code"))).upper()
        pcn_code = _text(cells.get(_key("PCN Code"))).upper()
        pcn_name = _text(cells.get(_key("PCN Name")))
        if not is_practice_code(code):
            problems.append(ImportProblem(number, field["Partner Organisation Code"],
                                          f"{code[:40]!r} is not a practice ODS code (a letter and 5 digits)"
                                          if code else "is empty"))
        if not pcn_code and not pcn_name:
            problems.append(ImportProblem(number, field["PCN Code"], "is empty"))
        elif pcn_ref(pcn_code, pcn_name) not in refs:
            hint = " (several PCNs have this name: give the PCN Code)" if names[pcn_ref("", pcn_name)] > 1 else ""
            problems.append(ImportProblem(
                number, field["PCN Code"] if pcn_code else field["PCN Name"],
                f"{pcn_code or pcn_name!r} is not a PCN on sheet {DETAILS!r}{hint}"))
        start = _date(cells.get(_key("Practice to PCN Relationship Start Date")), number,
                      field["Practice to PCN Relationship Start Date"], problems)
        end = _date(cells.get(_key("Practice to PCN Relationship End Date")), number,
                    field["Practice to PCN Relationship End Date"], problems)
        if end is None and code in seen:
            problems.append(ImportProblem(number, field["Partner Organisation Code"],
                                          f"{code} is a partner of two PCNs (also row {seen[code]})"))
        if len(problems) == before:
            if end is None:
                seen[code] = number
            out.append(PartnerRow(number, code, _text(cells.get(_key("Partner Name"))),
                                  _text(cells.get(_key("Practice Parent CCG Code"))).upper(),
                                  pcn_code, pcn_name, start, end, refs[pcn_ref(pcn_code, pcn_name)]))
    return out


def read_workbook(data: bytes, max_bytes: int) -> Workbook:
    """The PCNs and core partners of an ePCN workbook, or ``ImportFailed`` listing every problem
    (not a workbook, a sheet or column missing, a bad code, a partner of an unknown PCN, a
    practice in two PCNs). Partner rows with an end date are kept (``current`` is False) and may
    repeat a practice. The same content read again within the process is not parsed again
    (``memo.by_content``: the national workbook is read again and again, and openpyxl takes about
    a second over it; a Workbook is immutable, rows in tuples, so one is handed to every reader)."""
    check_size(len(data), max_bytes)
    return _parse_workbook(data)


@by_content
def _parse_workbook(data: bytes) -> Workbook:
    from openpyxl import load_workbook

    _check_zip(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except ImportFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise ImportFailed([ImportProblem(None, None, f"the file is not a readable .xlsx workbook "
                                                      f"({type(exc).__name__})")]) from None
    try:
        details = next((s for s in DETAILS_SHEETS if s in book.sheetnames), None)
        missing = [s for s, there in ((DETAILS, details), (PARTNERS, PARTNERS in book.sheetnames)) if not there]
        if missing:
            raise ImportFailed([ImportProblem(None, None, f"the workbook has no sheet {s!r} (its sheets: "
                                                          f"{', '.join(book.sheetnames) or 'none'})")
                                for s in missing])
        problems: list[ImportProblem] = []
        eras: list[str] = []
        pcns = _read_details(book[details], problems, eras)
        partners = _read_partners(book[PARTNERS], pcns, problems, eras)
    except ImportFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet fails while it is streamed
        raise ImportFailed([ImportProblem(None, None, f"the workbook could not be read ({type(exc).__name__})")]) \
            from None
    finally:
        book.close()
    if problems:
        raise ImportFailed(problems)
    if not any(p.current for p in partners):
        raise ImportFailed([ImportProblem(None, None, f"sheet {PARTNERS!r} lists no practices")])
    return Workbook(tuple(pcns), tuple(partners), "sub_icb" if "sub_icb" in eras else "ccg")
