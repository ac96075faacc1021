"""Shared, database-free helpers for reading and writing CSV files.

Importers collect every problem they find as an ``ImportProblem`` (row = 1-based line number in
the file, field = column name) and raise one ``ImportFailed`` at the end, so a user sees all that
is wrong with a file at once and nothing is written.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

#: How many problems ``ImportFailed`` lists before saying "and N more".
MAX_REPORTED = 50

#: Characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_UTF8_BOM = "\ufeff"


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an import file. ``row`` is the 1-based line number in the file."""

    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ImportFailed(Exception):
    """An import was refused; ``problems`` lists every problem found (nothing was written)."""

    def __init__(self, problems: Sequence[ImportProblem], *, source: str | None = None) -> None:
        self.problems: list[ImportProblem] = list(problems)
        self.source = source
        super().__init__(str(self))

    def lines(self, limit: int = MAX_REPORTED) -> list[str]:
        count = len(self.problems)
        head = (f"{self.source}: " if self.source else "") + (
            f"not imported, nothing was changed ({count} problem{'s' if count != 1 else ''}):")
        out = [head] + [f"  {problem}" for problem in self.problems[:limit]]
        if count > limit:
            out.append(f"  ... and {count - limit} more")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def fail(row: int | None, field: str | None, message: str) -> ImportFailed:
    """An ``ImportFailed`` with a single problem."""
    return ImportFailed([ImportProblem(row, field, message)])


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check_size(size: int, max_bytes: int) -> None:
    """Raise ``ImportFailed`` for an empty file or one larger than ``max_bytes``."""
    if size == 0:
        raise fail(None, None, "the file is empty")
    if size > max_bytes:
        raise fail(None, None, f"the file is {_megabytes(size)} ({size:,} bytes); "
                               f"the limit is {_megabytes(max_bytes)} ({max_bytes:,} bytes)")


def _locate(data: bytes, pos: int, columns: Sequence[str] | None,
            header: bool) -> tuple[int, str, int]:
    """(line number, field name, byte offset in the line) of byte ``pos`` of a CSV file."""
    line_no = data.count(b"\n", 0, pos) + 1
    start = data.rfind(b"\n", 0, pos) + 1
    prefix = data[start:pos].decode("utf-8", "replace")
    index, quoted = 0, False
    for char in prefix:  # count the separators outside quotes before the byte
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            index += 1
    names = list(columns or ())
    if not names and header and line_no > 1:
        first = data.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip(_UTF8_BOM)
        names = next(csv.reader([first.rstrip("\r")]), [])
    name = names[index].strip() if index < len(names) else ""
    if not name or not name.isprintable() or "\ufffd" in name or len(name) > 60:
        name = f"column {index + 1}"
    return line_no, name, pos - start + 1


def decode(data: bytes, max_bytes: int, *, columns: Sequence[str] | None = None,
           header: bool = False) -> str:
    """The text of an uploaded CSV file, or ``ImportFailed``.

    Refuses an empty file, a file over ``max_bytes``, a binary file (NUL bytes) and bytes that
    are not UTF-8 (naming the line, the field and the byte offset of the first bad byte; the
    field name comes from ``columns`` or, with ``header=True``, from the file's first line).
    Strips a UTF-8 byte order mark; CRLF line ends are left to the csv module, which accepts them.
    """
    check_size(len(data), max_bytes)
    nul = data.find(b"\x00")
    if nul >= 0:
        line, field, col = _locate(data, nul, columns, header)
        raise fail(line, field, f"the file is binary, not CSV text (NUL byte at position {col} "
                                f"of the line, file offset {nul})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, field, col = _locate(data, exc.start, columns, header)
        raise fail(line, field, (
            f"byte 0x{data[exc.start]:02X} at position {col} of the line (file offset "
            f"{exc.start}) is not UTF-8; save the file as CSV UTF-8")) from None
    text = text.removeprefix(_UTF8_BOM)
    if not text.strip():
        raise fail(None, None, "the file is empty")
    return text


def read_rows(text: str, problems: list[ImportProblem]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank record of ``text``.

    A malformed record (csv.Error) is added to ``problems`` and ends the reading.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(ImportProblem(reader.line_num or line, None,
                                          f"not valid CSV ({exc}); reading stopped here"))
            return
        if fields and any(value.strip() for value in fields):
            yield line, fields


def check_text(value: str, row: int | None, field: str, problems: list[ImportProblem], *,
               max_length: int = 200, required: bool = True) -> str:
    """``value`` stripped; problems for empty (if required), too long, or formula injection."""
    value = value.strip()
    if not value:
        if required:
            problems.append(ImportProblem(row, field, "is empty"))
        return value
    if value.startswith(FORMULA_START):
        problems.append(ImportProblem(
            row, field, f"{value[:40]!r} starts with {value[0]!r}, which a spreadsheet would "
                        "run as a formula"))
    if len(value) > max_length:
        problems.append(ImportProblem(
            row, field, f"is {len(value)} characters long; at most {max_length} are allowed"))
    return value


def check_code(value: str, pattern: re.Pattern[str], what: str, row: int | None, field: str,
               problems: list[ImportProblem]) -> str:
    """``value`` stripped; a problem if it does not match ``pattern`` (e.g. a practice code)."""
    value = value.strip()
    if not pattern.match(value):
        problems.append(ImportProblem(row, field, f"{value[:40]!r} is not a valid {what}"))
    return value


def parse_whole_number(value: str, row: int | None, field: str,
                       problems: list[ImportProblem]) -> int | None:
    """A non-negative whole number (digits only), else a problem and None."""
    value = value.strip()
    if not value:
        problems.append(ImportProblem(row, field, "is empty; a whole number is needed"))
        return None
    if not value.isascii() or not value.isdigit():
        if re.fullmatch(r"-\d+", value):
            problems.append(ImportProblem(row, field, f"{value!r} is negative"))
        else:
            problems.append(ImportProblem(row, field, f"{value[:40]!r} is not a whole number"))
        return None
    return int(value)


def parse_yyyymmdd(value: str, row: int | None, field: str, problems: list[ImportProblem], *,
                   required: bool = False) -> dt.date | None:
    """A date written YYYYMMDD (e.g. 19740401); impossible dates (20190231) are problems."""
    value = value.strip()
    if not value:
        if required:
            problems.append(ImportProblem(row, field, "is empty; a date YYYYMMDD is needed"))
        return None
    if not re.fullmatch(r"\d{8}", value):
        problems.append(ImportProblem(row, field, f"{value[:40]!r} is not a date YYYYMMDD"))
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        problems.append(ImportProblem(row, field, f"{value!r} is not a real date"))
        return None


_MONTHS = {name: number for number, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}


def parse_extract_date(value: str, row: int | None, field: str,
                       problems: list[ImportProblem]) -> dt.date | None:
    """A date written like ``01Jun2021`` (NHS Digital extract dates until 2024) or ``2026-04-01``
    (ISO, the later releases); locale independent."""
    value = value.strip()
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
    if iso:
        try:
            return dt.date(*map(int, iso.groups()))
        except ValueError:
            problems.append(ImportProblem(row, field, f"{value!r} is not a real date"))
            return None
    match = re.fullmatch(r"(\d{1,2})([A-Za-z]{3})(\d{4})", value)
    if not match or match.group(2).lower() not in _MONTHS:
        problems.append(ImportProblem(
            row, field, f"{value[:40]!r} is not a date like 01Jun2021" if value
            else "is empty; a date like 01Jun2021 is needed"))
        return None
    try:
        return dt.date(int(match.group(3)), _MONTHS[match.group(2).lower()], int(match.group(1)))
    except ValueError:
        problems.append(ImportProblem(row, field, f"{value!r} is not a real date"))
        return None


def neutralise(value: str) -> str:
    """A cell value safe to open in a spreadsheet: a value starting with = + - @ tab or CR gets
    a leading ``'`` (OWASP CSV injection guidance). Other values are returned unchanged."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return neutralise(str(value))


def write_csv(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """CSV text (CRLF line ends, minimal quoting) of ``header`` and ``rows``.

    Every text cell is neutralised against formula injection; None is written empty, and numbers
    are written as they are (a number such as -5 cannot carry a formula).
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(str(name)) for name in header])
    for row in rows:
        writer.writerow([_cell(cell) for cell in row])
    return out.getvalue()
