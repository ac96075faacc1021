"""The demo: the 2019 Nottingham and Nottinghamshire round, from the published facts.

Sources (committed in ``pcnreg/demo_data``): the ICS Board paper's configuration (practice
names and list sizes exactly as published), the crosswalk of its practice names to ODS codes,
and ``notts-round-2019.json`` (system, places, local authorities, CCGs, dates, band).
When geodata is available, practices are joined by ODS code to the official Dec 2019 practice
file for postcode, location, status and local authority. Idempotent: a second run changes
nothing.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from ..domain.codes import is_practice_code
from ..domain.versioning import ConfigState
from ..extensions import db
from ..models import (
    Commissioner,
    Committee,
    FundingRate,
    ListSize,
    LocalAuthority,
    Pcn,
    Place,
    Practice,
    RegistrationRound,
    System,
)
from . import audit
from .configuration import _save
from .transactions import one_transaction

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data"
PRACTICES_FILE = "nottinghamshire-practices.csv"


@dataclass
class DemoReport:
    loaded: bool
    round: str
    practices: int = 0
    pcns: int = 0
    patients: int = 0
    without_code: list[str] = field(default_factory=list)
    enriched: int = 0
    geodata: str | None = None
    later_status: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if not self.loaded:
            return [f"The demo round {self.round!r} is already loaded; nothing changed."]
        out = [f"Loaded {self.round}: {self.practices} practices in {self.pcns} PCNs, "
               f"{self.patients:,} registered patients."]
        out.append(f"Joined {self.enriched} practices to {self.geodata} (postcode, location, status, "
                   "local authority)." if self.geodata else
                   "No geodata folder: practices have the crosswalk's postcodes only, no locations.")
        if self.later_status:
            out.append("Not active in the Dec 2019 ODS file, but listed with patients in May 2019 and so open "
                       "in this round: " + ", ".join(self.later_status))
        out.append("Practices without an ODS code: " + (", ".join(self.without_code) or "none"))
        return out


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DEMO_DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _date(value: str) -> dt.date | None:
    return dt.datetime.strptime(value, "%Y%m%d").date() if value else None


def load_demo(geodata: Path | None) -> DemoReport:
    """Load the demo round in one transaction (or nothing, if it is already there)."""
    spec = json.loads((DEMO_DATA / "notts-round-2019.json").read_text(encoding="utf-8"))
    round_spec = spec["round"]
    if db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == round_spec["name"])):
        return DemoReport(False, round_spec["name"])
    return _load(spec, geodata)


def _get_or_add(model, lookup: dict, **values):
    obj = db.session.scalar(select(model).filter_by(**lookup))
    if obj is None:
        obj = model(**lookup, **values)
        db.session.add(obj)
        db.session.flush()
    return obj


@one_transaction()
def _load(spec: dict, geodata: Path | None) -> DemoReport:
    round_spec = spec["round"]
    system = _get_or_add(System, {"code": spec["system"]["code"]}, name=spec["system"]["name"])
    places = {name: _get_or_add(Place, {"system_id": system.id, "name": name}) for name in spec["places"]}
    las = {la["code"]: _get_or_add(LocalAuthority, {"code": la["code"]}, name=la["name"])
           for la in spec["local_authorities"]}
    for la in spec["local_authorities"]:
        place = places.get(la["place"])
        if place is not None and place not in las[la["code"]].places:
            las[la["code"]].places.append(place)
    ccgs = {c["paper_name"]: _get_or_add(Commissioner, {"code": c["code"]}, name=c["name"], system_id=system.id,
                                         place=places[c["place"]]) for c in spec["commissioners"]}
    rnd = RegistrationRound(
        name=round_spec["name"], system=system, contract_year=round_spec.get("contract_year"),
        reference_date=dt.date.fromisoformat(round_spec["reference_date"]),
        band_min=round_spec["band_min"], band_max=round_spec["band_max"],
        **{k: dt.date.fromisoformat(round_spec[k]) for k in
           ("opens", "submission_deadline", "committee_date", "confirmation_date", "go_live",
            "schedule1_deadline")})
    db.session.add(rnd)
    _get_or_add(Committee, {"system_id": system.id, "name": spec["committee"]})
    for rate in spec["funding_rates"]:
        _get_or_add(FundingRate, {"kind": rate["kind"], "valid_from": dt.date.fromisoformat(rate["valid_from"])},
                    title=rate["title"], amount=Decimal(rate["amount"]), basis=rate["basis"],
                    valid_to=dt.date.fromisoformat(rate["valid_to"]), source=rate["source"])
    db.session.flush()

    official: dict[str, dict[str, str]] = {}
    geo_file = geodata / PRACTICES_FILE if geodata else None
    if geo_file and geo_file.is_file():
        with open(geo_file, newline="", encoding="utf-8") as fh:
            official = {row["practice_code"]: row for row in csv.DictReader(fh)}

    sizes = spec["list_sizes"]
    as_of = dt.date.fromisoformat(sizes["as_of"])
    crosswalk = {(r["ccg"], r["pcn_label"], r["practice_seq"]): r for r in _read_csv("notts-practice-crosswalk-2019.csv")}
    pcn_names = {(r["ccg"], r["pcn_label"]): r["board_paper_name"] for r in _read_csv("notts-pcn-crosswalk-2019.csv")}
    prefixes = spec.get("pcn_name_prefix", {})
    report = DemoReport(True, rnd.name, geodata=str(geo_file) if official else None)

    existing = {p.code: p for p in db.session.scalars(select(Practice))}
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    stated_totals: dict[tuple[str, str], int] = {}
    for row in _read_csv("notts-pcn-config-2019.csv"):
        key = (row["ccg"], row["pcn_label"])
        cross = crosswalk[(row["ccg"], row["pcn_label"], row["practice_seq"])]
        codes = [c for c in cross["ods_codes"].split(";") if c]
        if row["pcn_total_stated"]:
            stated_totals[key] = int(row["pcn_total_stated"])
        if not codes or not is_practice_code(codes[0]):
            report.without_code.append(f"{row['practice_name']} ({row['ccg']} {row['pcn_label']}/{row['practice_seq']})")
            continue
        code = codes[0]
        ccg = ccgs[row["ccg"]]
        practice = existing.get(code)
        if practice is None:
            practice = existing[code] = Practice(code=code, name=row["practice_name"], commissioner=ccg,
                                                 postcode=cross["postcode"] or None, status="open")
            db.session.add(practice)
        practice.other_codes = ";".join(codes[1:]) or None
        off = official.get(code)
        if off:
            report.enriched += 1
            practice.postcode = off["postcode"] or practice.postcode
            practice.latitude = float(off["latitude"]) if off["latitude"] else None
            practice.longitude = float(off["longitude"]) if off["longitude"] else None
            practice.ods_status_code = off["status_code"]
            practice.open_date, practice.close_date = _date(off["open_date"]), _date(off["close_date"])
            # The Dec 2019 file is seven months after the paper: a practice the paper lists with
            # its patients was open then unless the file dates its closure before the paper.
            closed = practice.close_date is not None and practice.close_date < as_of
            practice.status = "closed" if closed else "open"
            if off["status_code"] not in ("A", "P") and not closed:
                report.later_status.append(f"{code} ({off['status']})")
            if off["lad19cd"]:
                la = las.get(off["lad19cd"]) or _get_or_add(LocalAuthority, {"code": off["lad19cd"]},
                                                            name=off["lad19nm"])
                las[la.code] = la
                practice.local_authority = la
        if not any(s.as_of == as_of for s in practice.list_sizes):
            practice.list_sizes.append(ListSize(as_of=as_of, size=int(row["list_size"]), source=sizes["source"]))
        members[key].append(code)
        report.practices += 1
        report.patients += int(row["list_size"])

    totals = defaultdict(int)
    for row in _read_csv("notts-pcn-config-2019.csv"):
        totals[(row["ccg"], row["pcn_label"])] += int(row["list_size"])
    for key, stated in stated_totals.items():
        if totals[key] != stated:  # the paper's own arithmetic, checked on every load
            raise ValueError(f"{key}: practices sum to {totals[key]} but the paper states {stated}")

    pcns = {key: Pcn(round_id=rnd.id, name=prefixes.get(key[0], "") + pcn_names[key], place=ccgs[key[0]].place,
                     lead_commissioner=ccgs[key[0]], active=False) for key in members}
    db.session.add_all(pcns.values())
    db.session.flush()
    state_pcns = {str(pcn.id): pcn.name for pcn in pcns.values()}
    assignments = {code: str(pcns[key].id) for key, codes in members.items() for code in codes}
    audit.record(action="demo.load", object_type="round", object_id=str(rnd.id), round_id=rnd.id,
                 after={"round": rnd.name, "practices": report.practices, "pcns": len(state_pcns)})
    _save(rnd, ConfigState(state_pcns, assignments), kind="import", author="pcnreg demo",
          reason="2019 configuration from the ICS Board paper of 9 May 2019 (Paper H, Appendix 1)")
    report.pcns = len(state_pcns)
    return report
