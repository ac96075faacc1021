"""Measure the foundation's costs in one run and report them as ratios.

- demo load (migrations excluded) and `validate` on the demo (22 PCNs, 135 practices);
- the registration status of every PCN of the demo (what `pcnreg round status` computes);
- the rules on a synthetic England-sized configuration (7,000 practices, 1,250 PCNs),
  against the demo: does the rule engine scale linearly with practices?
- the national epraccur import (14,357 rows) and list-size import (6,601 rows), when
  ../shared/geodata is present;
- the geography benchmarks of ``benchmarks/geography.py`` (install, PCN areas, maps), likewise;
- the onboarding benchmarks of ``benchmarks/onboarding.py`` (one system and all England against
  pandas reading the same files, validating the largest system, the /rounds national overview).
- the page and round-state benchmarks of ``benchmarks/pages.py`` (main pages against a static
  asset, derive after one move against derive_all, a national-size round's pages).

``python -m benchmarks pages`` runs only the page and round-state benchmarks (quicker);
``python -m benchmarks lsoa-import`` only the streamed import of a national-size LSOA
registrations file (``benchmarks/lsoa_import.py``: time and peak memory).

Runs on a temporary SQLite database (or PCNREG_DATABASE_URL if set). Timings are medians of
several repetitions; only the ratios are meant to be compared between machines.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from .timing import median_time


def synthetic(n_practices: int, n_pcns: int):
    from pcnreg.domain.types import Configuration, Pcn, Practice, RoundSpec

    rng = random.Random(2019)
    practices = {f"A{i:05d}": Practice(f"A{i:05d}", f"Practice {i}", f"{i % 100:03d}", f"Place {i % 40}",
                                       "open", rng.randint(2_000, 20_000), dt.date(2019, 1, 1))
                 for i in range(n_practices)}
    codes = sorted(practices)
    members: dict[int, list[str]] = {k: [] for k in range(n_pcns)}
    for i, code in enumerate(codes[: int(n_practices * 0.99)]):   # 1% unassigned
        members[i % n_pcns].append(code)
    pcns = tuple(Pcn(str(k), f"PCN {k}", place=f"Place {k % 40}", lead_commissioner=f"{k % 100:03d}",
                     members=tuple(v)) for k, v in members.items())
    return Configuration(RoundSpec("England", dt.date(2019, 1, 1)), practices, pcns)


def _print(title: str, rows) -> None:
    print(f"\n{title:45} {'seconds':>10} {'floor s':>9} {'x floor':>8}  note")
    for name, seconds, floor, note in rows:
        print(f"{name:45} {seconds:10.4f} {floor:9.4f} {seconds / floor:8.1f}  {note}")


def pages_only() -> int:
    """The page and round-state benchmarks alone, on the demo without geodata."""
    import logging

    tmp = Path(tempfile.mkdtemp(prefix="pcnreg-bench-"))
    os.environ.setdefault("PCNREG_INSTANCE", str(tmp))
    os.environ.setdefault("PCNREG_SECRET_KEY", "benchmark")
    from flask_migrate import upgrade

    from pcnreg import create_app
    from pcnreg.services.demo import load_demo

    from .geography import signed_in_client
    from .pages import run_demo, run_demo_geography, run_national

    app = create_app({"WTF_CSRF_ENABLED": False})
    logging.getLogger("pcnreg.request").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        load_demo(None)
        client = signed_in_client(app)
    rows = run_demo(app, client) + run_national(app, client)
    geodata = app.config["GEODATA_PATH"]
    if geodata and Path(geodata, "lsoa11-nottinghamshire.geojson").is_file():
        rows += run_demo_geography(app, client, Path(geodata))
    _print("pages and round state (floor: static asset, derive_all)", rows)
    return 0


def main() -> int:
    if sys.argv[1:] == ["pages"]:
        return pages_only()
    if sys.argv[1:] == ["lsoa-import"]:
        from .lsoa_import import run as run_lsoa_import

        os.environ.setdefault("PCNREG_SECRET_KEY", "benchmark")
        os.environ.setdefault("PCNREG_INSTANCE", tempfile.mkdtemp(prefix="pcnreg-bench-"))
        from pcnreg.config import default_geodata

        geodata = default_geodata(os.environ)
        return run_lsoa_import(Path(geodata)) if geodata else 1
    tmp = Path(tempfile.mkdtemp(prefix="pcnreg-bench-"))
    os.environ.setdefault("PCNREG_INSTANCE", str(tmp))
    os.environ.setdefault("PCNREG_SECRET_KEY", "benchmark")
    from flask_migrate import upgrade

    from pcnreg import create_app
    from pcnreg.domain.rules import evaluate
    from pcnreg.domain.summary import summarise
    from pcnreg.extensions import db
    from pcnreg.services import rounds
    from pcnreg.services.demo import load_demo

    app = create_app({"WTF_CSRF_ENABLED": False})
    import logging

    logging.getLogger("pcnreg.request").setLevel(logging.WARNING)     # one JSON line per request otherwise
    geodata = app.config["GEODATA_PATH"]
    results: dict[str, float] = {}
    with app.app_context():
        upgrade()
        start = time.perf_counter()
        load_demo(None)
        results["demo load"] = time.perf_counter() - start
        results["validate demo (DB + rules)"] = median_time(lambda: rounds.validate(None))
        from pcnreg.services import registration

        demo_round = rounds.get_round()
        results["round status (22 PCNs: state, deadline, missing)"] = median_time(
            lambda: registration.round_status(demo_round))
        demo_config = rounds.build_configuration(rounds.get_round()).config
        results["rules on demo (135 practices)"] = median_time(lambda: summarise(demo_config, evaluate(demo_config)))
        england = synthetic(7_000, 1_250)
        results["rules on England-size (7,000 practices)"] = median_time(
            lambda: summarise(england, evaluate(england)), repeat=3)
        if geodata and Path(geodata, "epraccur-2019-12.csv").is_file():
            from pcnreg.services.imports import import_list_sizes, import_practices

            data = Path(geodata, "epraccur-2019-12.csv").read_bytes()
            start = time.perf_counter()
            import_practices(data, source="epraccur-2019-12.csv")
            results["epraccur import (14,357 rows, first)"] = time.perf_counter() - start
            results["epraccur re-import (no change)"] = median_time(
                lambda: import_practices(data, source="epraccur-2019-12.csv"), repeat=3)
            sizes = Path(geodata, "gp-reg-pat-prac-all-2021-06.csv").read_bytes()
            results["list-size import (6,601 rows)"] = median_time(
                lambda: import_list_sizes(sizes, source="gp-reg-pat-prac-all-2021-06.csv"), repeat=3)
        from .geography import signed_in_client
        from .pages import run_demo

        page_rows = run_demo(app, signed_in_client(app))
        db.session.remove()

    geo_rows = []
    if geodata and Path(geodata, "lsoa11-nottinghamshire.geojson").is_file():
        from .geography import run as run_geography

        geo_rows = run_geography(app, Path(geodata))
        from .pages import run_demo_geography

        page_rows += run_demo_geography(app, signed_in_client_in(app), Path(geodata), install=False)

    onboard_rows = []
    if geodata and Path(geodata, "ePCN-2019-12.xlsx").is_file():
        from .onboarding import run as run_onboarding

        onboard_rows = run_onboarding(Path(geodata))

    base = results["rules on demo (135 practices)"]
    print(f"{'measure':45} {'seconds':>10} {'x rules-on-demo':>16}")
    for name, seconds in results.items():
        print(f"{name:45} {seconds:10.4f} {seconds / base:16.1f}")
    scale = results["rules on England-size (7,000 practices)"] / base
    print(f"\nEngland-size rules / demo rules = {scale:.1f} for {7000 / 135:.1f}x the practices: "
          f"{scale / (7000 / 135):.2f}x the cost per practice")
    if geo_rows:
        _print("geography", geo_rows)
    else:
        print("\nNo geodata (PCNREG_GEODATA): geography benchmarks skipped.")
    if onboard_rows:
        print(f"\n{'onboarding':45} {'seconds':>10} {'floor s':>9} {'x floor':>8}  floor")
        for name, seconds, floor, note in onboard_rows:
            print(f"{name:45} {seconds:10.4f} {floor:9.4f} {seconds / floor:8.1f}  {note}")
    from .pages import run_national

    _print("pages and round state (floor: static asset, derive_all)", page_rows + run_national(app, signed_in_client_in(app)))
    return 0


def signed_in_client_in(app):
    from .geography import signed_in_client

    with app.app_context():
        return signed_in_client(app)


if __name__ == "__main__":
    sys.exit(main())
