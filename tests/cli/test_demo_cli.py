"""The demo and `pcnreg validate` on it, checked against the published paper's own figures."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select

from pcnreg.models import ConfigVersion, ListSize, Pcn, Practice
from pcnreg.services.demo import DEMO_DATA, load_demo


def paper_totals() -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with open(DEMO_DATA / "notts-pcn-config-2019.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            totals[(row["ccg"], row["pcn_label"])] += int(row["list_size"])
    return totals


def test_demo_loads_the_paper_and_is_idempotent(runner, db):
    result = runner.invoke(args=["demo", "--no-upgrade"])
    assert result.exit_code == 0, result.output
    assert "135 practices in 22 PCNs, 1,092,110 registered patients" in result.output
    assert "Practices without an ODS code: none" in result.output
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (Practice, Pcn, ListSize, ConfigVersion)]
    again = runner.invoke(args=["demo", "--no-upgrade"])
    assert again.exit_code == 0 and "already loaded" in again.output
    # the 2019/20 round and the current round rolled forward from it (its PCNs and version 1)
    assert [db.session.scalar(select(func.count()).select_from(m)) for m in (Practice, Pcn, ListSize, ConfigVersion)] \
        == counts == [135, 44, 135, 2]


def test_demo_keeps_published_names_and_sizes(app, db):
    load_demo(None)
    p = db.session.scalar(select(Practice).where(Practice.code == "C84067"))
    assert p.name == "Ashfield House" and p.list_sizes[0].size == 5982
    bilborough = db.session.scalar(select(Practice).where(Practice.code == "Y06356"))
    assert bilborough.other_codes == "C84688"


def test_demo_joins_official_practice_file(app, db, geodata):
    report = load_demo(geodata)
    assert report.enriched == 135
    p = db.session.scalar(select(Practice).where(Practice.code == "C82040"))   # Orchard Surgery, Kegworth
    assert p.postcode == "DE74 2EL" and p.latitude is not None
    assert p.local_authority.code == "E07000134" and p.local_authority.places == []   # outside the ICS: shown
    assert "C84712" in " ".join(report.later_status)


def test_validate_json_lists_every_pcn_outside_the_band_with_its_total(runner, app):
    load_demo(None)
    result = runner.invoke(args=["validate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"round", "summary", "findings"}
    band = {f["subject"]["name"]: f["figures"]["total"] for f in report["findings"] if f["rule"] == "list_size_band"}
    outside = sorted(t for t in paper_totals().values() if not 30_000 <= t <= 50_000)
    assert sorted(band.values()) == outside and len(outside) == 9
    assert band["Newark"] == 75_817
    assert report["summary"]["system"]["patients_covered"] == 1_092_110


def test_validate_fail_on_error(runner, app):
    load_demo(None)
    assert runner.invoke(args=["validate", "--fail-on", "error"]).exit_code == 0    # warnings only
    assert runner.invoke(args=["validate", "--fail-on", "warning"]).exit_code == 1
    from pcnreg.services import configuration, rounds

    rnd = rounds.get_round()
    configuration.move_practices(rnd, ["C84067"], None, author="T", reason="leave")
    result = runner.invoke(args=["validate", "--fail-on", "error", "--json"])
    assert result.exit_code == 1
    assert any(f["rule"] == "coverage" and f["subject"]["code"] == "C84067" for f in json.loads(result.output)["findings"])


def test_validate_unknown_round_is_a_clear_error(runner, app):
    result = runner.invoke(args=["validate", "--round", "Nope"])
    assert result.exit_code != 0 and "No registration round 'Nope'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_export_configuration_cli(runner, app, tmp_path: Path):
    load_demo(None)
    out = tmp_path / "config.csv"
    assert runner.invoke(args=["export", "configuration", "-o", str(out)]).exit_code == 0
    assert out.read_text().splitlines()[0] == "practice_code,pcn_name,place,pcn_code,practice_name,list_size"
