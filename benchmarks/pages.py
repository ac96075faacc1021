"""Page and round-state benchmarks (issue #11): each against a stated floor, as a ratio.

Page times are the least of several requests (static asset and pages alike): the machine is
shared, and the least disturbed request is the comparable one. Each page is timed in turns with
the static asset (a static request, then the page, and again), and compared with the least
static request of its own turns: a load that comes and goes during the run moves both.

- every main page of the demo (dashboard, PCN page, practice list of 50 rows, findings, map page,
  registrations, rounds),
  server time through the test client, against a static asset of the same app (``/static/pcnreg.css``):
  warm (the round's state cached), cold (the state computed from scratch, as every request
  did before #11) and warm with the NHS.UK table macro called per cell as before (the cost of
  the macro on the hot pages); target: warm pages <= 10x the static asset;
- the round's state after one move: ``derive`` against ``derive_all``, on the demo and on a
  national-size round (7,000 practices, 1,250 PCNs), in the domain and through the service
  (a saved move, then the next read of the state); target: incremental <= 5% of full;
- a national-size round in the database (synthetic: one system, 100 commissioners, 40 places):
  its dashboard and a PCN page, warm and cold, against the static asset (target: <= 30x);
  its practice list likewise (no target).

``benchmarks/load.py`` serves the same pages through gunicorn to one and to 50 users.
"""
from __future__ import annotations

import datetime as dt
import random
import time

from .timing import best_time, median_time

STATIC = "/static/pcnreg.css"
TARGET_PAGE = 10.0
TARGET_NATIONAL = 30.0        # the national round's dashboard and PCN page
TARGET_DERIVE = 0.05


def _get(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status)


def _pages(app, client, rnd, repeat: int = 15) -> tuple[dict[str, str], float]:
    from pcnreg.services import rounds

    newark = rounds.get_pcn(rnd, "Newark") if rnd.name.startswith("Nottingham") else None
    key = newark.id if newark else next(iter(rounds.build_configuration(rnd).state.pcn_by_key))
    urls = {"dashboard": f"/rounds/{rnd.id}", "PCN page": f"/rounds/{rnd.id}/pcns/{key}",
            "practice list (50 rows)": f"/rounds/{rnd.id}/practices", "findings": f"/rounds/{rnd.id}/findings",
            "map page": f"/rounds/{rnd.id}/map", "registrations": f"/rounds/{rnd.id}/registrations",
            "rounds": "/rounds"}
    for url in [STATIC, *urls.values()]:
        _get(client, url)
    return urls, best_time(lambda: _get(client, STATIC), repeat=repeat * 4)


def _paired(client, url: str, repeat: int) -> tuple[float, float]:
    """(least seconds of the page, least seconds of the static asset), requested in turns."""
    page, static = [], []
    for _ in range(repeat):
        for out, target in ((static, STATIC), (page, url)):
            start = time.perf_counter()
            _get(client, target)
            out.append(time.perf_counter() - start)
    return min(page), min(static)


def _cold(client, url: str, repeat: int) -> float:
    from pcnreg.services import round_state

    def once():
        round_state.clear()
        _get(client, url)
    return best_time(once, repeat=repeat)


def run_demo(app, client) -> list[tuple[str, float, float, str]]:
    """Rows of (measure, seconds, floor seconds, note) for the demo round."""
    from pcnreg.services import rounds

    rows: list[tuple[str, float, float, str]] = []
    with app.app_context():
        rnd = rounds.get_round()
        urls, static = _pages(app, client, rnd)
        for name, url in urls.items():
            warm, static = _paired(client, url, 15)
            rows.append((f"demo {name}, warm", warm, static,
                         f"target <= {TARGET_PAGE:.0f}x static: {'met' if warm <= TARGET_PAGE * static else 'NOT met'}"))
            rows.append((f"demo {name}, cold", _cold(client, url, 5), static, "state computed from scratch"))
        # The NHS.UK macros alone, per cell, as before #11 (state cached: rendering only).
        app.config["NHS_MACROS_PER_CELL"] = True
        try:
            for name in ("dashboard", "PCN page", "practice list (50 rows)"):
                url = urls[name]
                _get(client, url)
                rows.append((f"demo {name}, NHS.UK macro per cell", best_time(lambda url=url: _get(client, url), repeat=10),
                             static, "the table rendering before #11"))
        finally:
            app.config["NHS_MACROS_PER_CELL"] = False
        rows += _derive_rows("demo", rnd)
    return rows


def run_demo_geography(app, client, geodata, install: bool = True) -> list[tuple[str, float, float, str]]:
    """The demo's main pages and derivation with its geography installed (the geographic rules are
    recomputed in full by every derivation)."""
    from pcnreg.services import rounds
    from pcnreg.services.geodata import install as install_geodata

    rows: list[tuple[str, float, float, str]] = []
    with app.app_context():
        rnd = next(r for r in rounds.list_rounds() if r.name.startswith("Nottingham"))
        if install:
            install_geodata(geodata, system_code=rnd.system.code)
        urls, static = _pages(app, client, rnd)
        for name in ("dashboard", "PCN page", "practice list (50 rows)", "map page"):
            url = urls[name]
            warm, static = _paired(client, url, 15)
            rows.append((f"demo+geo {name}, warm", warm, static,
                         f"target <= {TARGET_PAGE:.0f}x static: {'met' if warm <= TARGET_PAGE * static else 'NOT met'}"))
            rows.append((f"demo+geo {name}, cold", _cold(client, url, 3), static, "state (and geography) from scratch"))
        rows += _derive_rows("demo+geo", rnd)
    return rows


def _derive_rows(label: str, rnd) -> list[tuple[str, float, float, str]]:
    """derive after one move against derive_all, in the domain and through the service."""
    from pcnreg.domain import state as state_mod
    from pcnreg.services import configuration as config_svc
    from pcnreg.services import round_state, rounds

    rows = []
    head = round_state.entry(rnd).state
    config = head.config
    full = median_time(lambda: state_mod.derive_all(config, head.system_name), repeat=3)
    source = max(config.pcns, key=lambda p: len(p.members))
    target = next(p for p in config.pcns if p.key != source.key)
    delta = state_mod.move(head, [source.members[0]], target.key)
    one = median_time(lambda: state_mod.derive(head, delta), repeat=9)
    def verdict(part: float, whole: float) -> str:
        if label != "national":
            return "the target is for the national round"
        return f"target <= {TARGET_DERIVE:.0%}: {'met' if part <= TARGET_DERIVE * whole else 'NOT met'}"
    rows.append((f"{label}: derive after one move (domain)", one, full,
                 f"floor: derive_all ({len(config.practices):,} practices, {len(config.pcns):,} PCNs); "
                 + verdict(one, full)))
    # Through the service: save a move, then read the state (derived from the cached version).
    start = time.perf_counter()
    round_state.full(rnd, round_state.key_of(rnd))
    service_full = time.perf_counter() - start
    config_svc.move_practices(rnd, [source.members[0]], target.key, author="Benchmark", reason="one move")
    rnd = rounds.get_round(rnd.id)
    start = time.perf_counter()
    made = round_state.entry(rnd)
    service_one = time.perf_counter() - start
    rows.append((f"{label}: state after a saved move (service)", service_one, service_full,
                 f"{made.how}; floor: the state from scratch (queries + derive_all); " + verdict(service_one, service_full)))
    return rows


def national_round(n_practices: int = 7_000, n_pcns: int = 1_250):
    """A synthetic national-size round: one system of 100 commissioners and 40 places, practices
    with list sizes, PCNs of about 5-6 practices (1% of practices in none) saved as version 1."""
    from pcnreg.extensions import db
    from pcnreg.models import (
        Commissioner,
        ListSize,
        Place,
        Practice,
        RegistrationRound,
        System,
    )
    from pcnreg.services import configuration as config_svc

    rng = random.Random(2019)
    system = System(code="E99999999", name="England (synthetic)", kind="stp")
    db.session.add(system)
    db.session.flush()
    places = [Place(system_id=system.id, name=f"Place {i:02d}") for i in range(40)]
    db.session.add_all(places)
    db.session.flush()
    commissioners = [Commissioner(code=f"Z{i:03d}", name=f"Commissioner {i:03d}", system_id=system.id,
                                  place_id=places[i % 40].id) for i in range(100)]
    db.session.add_all(commissioners)
    db.session.flush()
    practices = [Practice(code=f"Z{i:05d}", name=f"Practice {i}", postcode=f"NG{i % 30} {i % 9}AA",
                          commissioner_id=commissioners[i % 100].id, status="open") for i in range(n_practices)]
    db.session.add_all(practices)
    db.session.flush()
    db.session.add_all(ListSize(practice_id=p.id, as_of=dt.date(2019, 1, 1), size=rng.randint(2_000, 14_000),
                                source="synthetic") for p in practices)
    rnd = RegistrationRound(name="England 2019/20 (synthetic)", system_id=system.id,
                            reference_date=dt.date(2019, 1, 1), band_min=30_000, band_max=50_000)
    db.session.add(rnd)
    db.session.commit()
    members: dict[int, list[str]] = {k: [] for k in range(n_pcns)}
    for i, p in enumerate(practices[: int(n_practices * 0.99)]):
        members[i % n_pcns].append(p.code)
    wanted = [config_svc.WantedPcn(f"PCN {k:04d}", m, None, None, places[(k % 100) % 40]) for k, m in members.items()]
    config_svc.save_grouping(rnd, wanted, author="Benchmark", reason="synthetic national round", source="synthetic")
    return rnd


def run_national(app, client) -> list[tuple[str, float, float, str]]:
    from pcnreg.services import rounds

    rows: list[tuple[str, float, float, str]] = []
    with app.app_context():
        start = time.perf_counter()
        rnd = national_round()
        built = time.perf_counter() - start
        rnd = rounds.get_round(rnd.id)
        urls, static = _pages(app, client, rnd, repeat=5)
        rows.append(("national round set-up (7,000 practices)", built, static, "synthetic, one transaction per step"))
        for name in ("dashboard", "PCN page", "practice list (50 rows)"):
            url = urls[name]
            warm, static = _paired(client, url, 7)
            target = TARGET_NATIONAL if name in ("dashboard", "PCN page") else None
            rows.append((f"national {name}, warm", warm, static,
                         f"target <= {target:.0f}x static: {'met' if warm <= target * static else 'NOT met'}"
                         if target else "no target"))
            rows.append((f"national {name}, cold", _cold(client, url, 3), static, "state computed from scratch"))
        rows += _derive_rows("national", rounds.get_round(rnd.id))
    return rows
