"""Read the ONS organisation lookups of both eras (pure: no Flask, no database).

Two layouts, recognised by their column names (the year suffix varies: CCG19CD, SICBL22CD,
SICBL24CD...; a UTF-8 byte order mark does not matter; other columns are ignored):

- **CCG era** (to June 2022): ``CCGyyCD`` (ONS E38 code), ``CCGyyCDH`` (ODS code, e.g. 04K),
  ``CCGyyNM`` and the system ``STPyyCD`` (E54) / ``STPyyNM`` (``STPyyCDH`` when present), e.g.
  ONS's "CCG to STP (April 2019)" lookup.
- **ICB era**: ``SICBLyyCD`` / ``SICBLyyCDH`` / ``SICBLyyNM`` (sub-ICB locations) and
  ``ICByyCD`` / ``ICByyCDH`` / ``ICByyNM``, e.g. "Sub-ICB location to ICB to NHS England region
  (July 2022)", or the LSOA (2021) to sub-ICB to ICB to LAD (2024) lookup.

``read_organisations`` gives the systems and commissioners of such a file. ``read_areas`` reads an
LSOA lookup (``LSOAyyCD`` + the commissioner columns above + ``LADyyCD``/``LADyyNM``) into how
many LSOAs of each local authority belong to each commissioner, and the LSOA -> commissioner map.
A file of neither layout is refused naming the columns it lacks; a commissioner given two systems,
or two names, is refused naming both rows.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..domain.codes import COMMISSIONER_CODE, SYSTEM_ODS_CODE, SYSTEM_ONS_CODE
from .csvio import ImportFailed, ImportProblem, read_rows
from .memo import by_content

#: era -> (commissioner prefix, system prefix); the kinds stored for each.
ERAS = {"ccg": ("CCG", "STP"), "sub_icb": ("SICBL", "ICB")}
SYSTEM_KIND = {"ccg": "stp", "sub_icb": "icb"}
ERA_TITLE = {"ccg": "CCG era (CCGs in STPs/ICSs, to June 2022)",
             "sub_icb": "ICB era (sub-ICB locations in ICBs, from July 2022)"}
ONS_COMMISSIONER = re.compile(r"^E38[0-9]{6}$")
LSOA_CODE = re.compile(r"^[EW]01[0-9]{6}$")
LAD_CODE = re.compile(r"^[EW]0[6-9][0-9]{6}$")


@dataclass(frozen=True)
class SystemRecord:
    code: str                  # ONS code, E54...
    name: str
    kind: str                  # "stp" | "icb"
    ods_code: str | None = None


@dataclass(frozen=True)
class CommissionerRecord:
    code: str                  # ODS code, 04K / D9Y0V
    name: str
    kind: str                  # "ccg" | "sub_icb"
    ons_code: str
    system: str                # ONS code of its system


@dataclass
class Organisations:
    era: str
    systems: dict[str, SystemRecord] = field(default_factory=dict)
    commissioners: dict[str, CommissionerRecord] = field(default_factory=dict)
    vintage: str = ""                # the commissioner columns' name and year ("CCG19", "SICBL22"): its date
    rows: dict[str, int] = field(default_factory=dict)         # commissioner -> its (first) row
    code_column: str = ""            # the header of the commissioner ODS code column ("CCG19CDH")

    def commissioners_of(self, system_code: str) -> list[CommissionerRecord]:
        return sorted((c for c in self.commissioners.values() if c.system == system_code), key=lambda c: c.code)

    def find_system(self, code: str) -> SystemRecord | None:
        """A system by its ONS code (E54000015) or ODS code (QK1), ignoring case."""
        code = code.strip().upper()
        return self.systems.get(code) or next((s for s in self.systems.values() if s.ods_code == code), None)


@dataclass
class Areas:
    """An LSOA lookup: LSOAs per (commissioner ODS code, local authority), names of the local
    authorities, and each LSOA's commissioner and local authority."""

    era: str
    vintage: str                                   # "11" or "21": the LSOA census year
    lsoas: dict[str, tuple[str, str]] = field(default_factory=dict)    # LSOA -> (commissioner, LAD)
    local_authorities: dict[str, str] = field(default_factory=dict)    # LAD code -> name

    def overlaps(self) -> Counter[tuple[str, str]]:
        return Counter(self.lsoas.values())


def _columns(header: list[str]) -> dict[str, str]:
    """Canonical name (e.g. "CCGCD", "LADNM") -> the header's column, dropping the year digits."""
    out: dict[str, str] = {}
    for name in header:
        match = re.fullmatch(r"(CCG|STP|SICBL|ICB|LAD|LSOA)(\d{2})(CDH|CD|NM)", name.strip().upper())
        if match:
            out.setdefault(match.group(1) + match.group(3), name.strip())
    return out


def _header(text: str, problems: list[ImportProblem]):
    rows = read_rows(text.lstrip("\ufeff"), problems)
    header_row, header = next(rows, (1, []))
    return rows, header_row, [h.strip().lstrip("\ufeff") for h in header]


def _era(columns: dict[str, str], header_row: int, what: str, *, system: bool = False,
         extra: tuple[str, ...] = ()) -> str:
    """The era whose columns are all present (the commissioner's code, ODS code and name; the
    system's code and name with ``system``; ``extra``), or ``ImportFailed`` naming what lacks."""
    lacking = {}
    for era, (comm, sys_prefix) in ERAS.items():
        want = [comm + "CD", comm + "CDH", comm + "NM"] + ([sys_prefix + "CD", sys_prefix + "NM"] if system else [])
        missing = [w for w in (*want, *extra) if w not in columns]
        if not missing:
            return era
        lacking[era] = missing

    def show(names: list[str]) -> str:
        return ", ".join(re.sub(r"^(CCG|STP|SICBL|ICB|LAD|LSOA)", r"\1yy", n) for n in names)
    raise ImportFailed([ImportProblem(header_row, None, (
        f"this is not {what} of either layout: for the CCG era it lacks {show(lacking['ccg'])}; "
        f"for the ICB era it lacks {show(lacking['sub_icb'])} (yy: any two-digit year)"))])


@by_content
def read_organisations(text: str) -> Organisations:
    """Systems and commissioners of an ONS lookup of either era (see the module docstring)."""
    problems: list[ImportProblem] = []
    rows, header_row, header = _header(text, problems)
    columns = _columns(header)
    era = _era(columns, header_row, "an organisation lookup (commissioner to system)", system=True)
    comm, system = ERAS[era]
    index = {k: header.index(v) for k, v in columns.items()}
    out = Organisations(era, vintage=columns[comm + "CD"].upper()[:-2], code_column=columns[comm + "CDH"])
    first = out.rows
    for row, values in rows:
        if len(values) != len(header):
            problems.append(ImportProblem(row, "columns", f"has {len(values)} columns; the header has {len(header)}"))
            continue
        get = lambda key, values=values: values[index[key]].strip() if key in index else ""  # noqa: E731
        ods, ons, name = get(comm + "CDH").upper(), get(comm + "CD").upper(), get(comm + "NM")
        s_ons, s_name, s_ods = get(system + "CD").upper(), get(system + "NM"), get(system + "CDH").upper() or None
        before = len(problems)
        if not COMMISSIONER_CODE.match(ods):
            problems.append(ImportProblem(row, columns[comm + "CDH"], f"{ods[:40]!r} is not a commissioner ODS code"))
        if not ONS_COMMISSIONER.match(ons):
            problems.append(ImportProblem(row, columns[comm + "CD"], f"{ons[:40]!r} is not an ONS commissioner code (E38...)"))
        if not SYSTEM_ONS_CODE.match(s_ons):
            problems.append(ImportProblem(row, columns[system + "CD"], f"{s_ons[:40]!r} is not an ONS system code (E54...)"))
        if s_ods is not None and not SYSTEM_ODS_CODE.match(s_ods):
            problems.append(ImportProblem(row, columns[system + "CDH"], f"{s_ods[:40]!r} is not a system ODS code (Q..)"))
        for key, value in ((comm + "NM", name), (system + "NM", s_name)):
            if not value:
                problems.append(ImportProblem(row, columns[key], "is empty"))
        if len(problems) > before:
            continue
        record = CommissionerRecord(ods, name, era, ons, s_ons)
        known = out.commissioners.get(ods)
        if known is None:
            out.commissioners[ods] = record
            first[ods] = row
        elif known != record:
            what = "system" if known.system != s_ons else "name or ONS code"
            problems.append(ImportProblem(row, columns[comm + "CDH"], (
                f"{ods} has another {what} here ({s_ons if what == 'system' else name}) than on row "
                f"{first[ods]} ({known.system if what == 'system' else known.name}): a commissioner is in one "
                "system at a time")))
            continue
        system_record = SystemRecord(s_ons, s_name, SYSTEM_KIND[era], s_ods)
        other = out.systems.setdefault(s_ons, system_record)
        if other != system_record:
            problems.append(ImportProblem(row, columns[system + "NM"], (
                f"{s_ons} is named {s_name!r} here but {other.name!r} on an earlier row")))
    if not out.commissioners and not problems:
        problems.append(ImportProblem(None, None, "the file has a header but no data rows"))
    if problems:
        raise ImportFailed(problems)
    return out


@by_content
def read_areas(text: str) -> Areas:
    """An LSOA lookup: each LSOA's commissioner (ODS code) and local authority."""
    problems: list[ImportProblem] = []
    rows, header_row, header = _header(text, problems)
    columns = _columns(header)
    era = _era(columns, header_row, "an LSOA lookup (LSOA to commissioner to local authority)",
               extra=("LSOACD", "LADCD", "LADNM"))
    comm = ERAS[era][0]
    vintage = re.fullmatch(r"LSOA(\d{2})CD", columns["LSOACD"].upper()).group(1)  # type: ignore[union-attr]
    index = {k: header.index(v) for k, v in columns.items()}
    out = Areas(era, vintage)
    for row, values in rows:
        if len(values) != len(header):
            problems.append(ImportProblem(row, "columns", f"has {len(values)} columns; the header has {len(header)}"))
            continue
        lsoa = values[index["LSOACD"]].strip().upper()
        ods = values[index[comm + "CDH"]].strip().upper()
        lad, lad_name = values[index["LADCD"]].strip().upper(), values[index["LADNM"]].strip()
        before = len(problems)
        if not LSOA_CODE.match(lsoa):
            problems.append(ImportProblem(row, columns["LSOACD"], f"{lsoa[:40]!r} is not an LSOA code"))
        elif lsoa in out.lsoas:
            problems.append(ImportProblem(row, columns["LSOACD"], f"{lsoa} is listed twice"))
        if not COMMISSIONER_CODE.match(ods):
            problems.append(ImportProblem(row, columns[comm + "CDH"], f"{ods[:40]!r} is not a commissioner ODS code"))
        if not LAD_CODE.match(lad):
            problems.append(ImportProblem(row, columns["LADCD"], f"{lad[:40]!r} is not a local authority code"))
        if len(problems) > before:
            continue
        out.lsoas[lsoa] = (ods, lad)
        out.local_authorities.setdefault(lad, lad_name)
    if not out.lsoas and not problems:
        problems.append(ImportProblem(None, None, "the file has a header but no data rows"))
    if problems:
        raise ImportFailed(problems)
    return out
