"""Onboarding benchmarks (issue "any system, any year"), as ratios measured in one run:

- `pcnreg onboard` of one system (Leicester, Leicestershire and Rutland, 2019/20) and of all 42
  systems of England, each against reading the same five files with pandas (the floor: a tool
  that only reads the files); goal <= 10x;
- validating the largest system's round (rules on its configuration);
- the /rounds page (the national overview of 42 rounds), cold and warm, against a static asset
  served by the same app (the test client: no network).

Each run onboards into a fresh SQLite database of its own (or the migrated one given).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .timing import median_time

FILES = {"organisations": "ccg19-stp19-lookup-england.csv", "areas": "lsoa11-ccg19-lad19-lookup-england.csv",
         "practices": "epraccur-2019-12.csv", "list_sizes": "gp-reg-pat-prac-all-2021-06.csv",
         "configuration": "ePCN-2019-12.xlsx"}


def read_with_pandas(geodata: Path) -> None:
    import pandas as pd

    pd.read_csv(geodata / FILES["organisations"], dtype=str)
    pd.read_csv(geodata / FILES["areas"], dtype=str)
    pd.read_csv(geodata / FILES["practices"], dtype=str, header=None)
    pd.read_csv(geodata / FILES["list_sizes"], dtype=str)
    pd.read_excel(geodata / FILES["configuration"], sheet_name=None, dtype=str)


def _fresh_app():
    from flask_migrate import upgrade

    from pcnreg import create_app

    folder = Path(tempfile.mkdtemp(prefix="pcnreg-bench-onboard-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'db.sqlite'}", "WTF_CSRF_ENABLED": False,
                      "GEODATA_PATH": None})
    with app.app_context():
        upgrade()
    return app


def _onboard(app, geodata: Path, codes: list[str], pattern: str) -> float:
    from pcnreg.services.onboarding import Files, onboard

    files = Files(*(geodata / FILES[k] for k in ("organisations", "areas", "practices", "list_sizes", "configuration")))
    with app.app_context():
        start = time.perf_counter()
        onboard(codes, year="2019/20", round_pattern=pattern, files=files)
        return time.perf_counter() - start


def _sign_in(app, client, user_id: int) -> None:
    """Put a signed-in session in the test client's cookie, as a real sign-in would."""
    from flask_login.utils import _create_identifier

    from pcnreg.extensions import db
    from pcnreg.models import User
    from pcnreg.services import accounts
    from pcnreg.views.guard import SEEN_KEY, STAMP_KEY, STARTED_KEY, _epoch

    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    with app.app_context():
        stamp = accounts.session_stamp(db.session.get(User, user_id))
    with client.session_transaction() as session:
        session.update({"_user_id": str(user_id), "_fresh": True, "_id": identifier, STAMP_KEY: stamp})
        session[STARTED_KEY] = session[SEEN_KEY] = _epoch()


def run(geodata: Path) -> list[tuple[str, float, float, str]]:
    """(measure, seconds, floor seconds, what the floor is)."""
    os.environ.setdefault("PCNREG_SECRET_KEY", "benchmark")
    floor = median_time(lambda: read_with_pandas(geodata), repeat=3)
    rows = [("onboard one system (LLR, 2019/20)", _onboard(_fresh_app(), geodata, ["E54000015"], "LLR"), floor,
             "pandas reads the 5 files")]
    app = _fresh_app()
    rows.append(("onboard all England (42 systems)", _onboard(app, geodata, ["all"], "{system} 2019/20"), floor,
                 "pandas reads the 5 files"))
    from sqlalchemy import func, select

    from pcnreg.extensions import db
    from pcnreg.models import Membership, RegistrationRound
    from pcnreg.services import round_state, rounds

    with app.app_context():
        largest = db.session.scalar(select(Membership.round_id).group_by(Membership.round_id)
                                    .order_by(func.count().desc()).limit(1))
        rnd = db.session.get(RegistrationRound, largest)
        single = rounds.get_round("E54000015 2019/20")
        validate_largest = median_time(lambda: rounds.validate(str(rnd.id)), repeat=3)
        validate_single = median_time(lambda: rounds.validate(str(single.id)), repeat=3)
        rows.append((f"validate the largest system ({rnd.name})", validate_largest, validate_single,
                     "validate LLR"))
        from pcnreg.models import RoleAssignment, User

        user = User(email="bench@pcnreg.example", name="Bench", active=True, failed_sign_ins=0)
        user.roles = [RoleAssignment(role="viewer", scope_type="all", scope_id=None)]
        db.session.add(user)
        db.session.commit()
        user_id = user.id
    client = app.test_client()
    _sign_in(app, client, user_id)
    static = median_time(lambda: client.get("/static/pcnreg.css"), repeat=20)
    with app.app_context():
        round_state.clear()                   # cold: every round's state computed from scratch
    start = time.perf_counter()
    first = client.get("/rounds")
    cold = time.perf_counter() - start
    warm = median_time(lambda: client.get("/rounds"), repeat=5)
    note = "static asset" if first.status_code == 200 else f"static asset (page answered {first.status_code})"
    rows.append(("/rounds, 42 rounds, cold cache", cold, static, note))
    rows.append(("/rounds, 42 rounds, warm cache", warm, static, note))
    return rows
