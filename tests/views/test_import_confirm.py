"""A configuration import that would remove memberships shows what goes and asks to confirm; the
CLI refuses it without --replace; refused: nothing changed (issue #12, item 7)."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from pcnreg.models import AuditEvent, ConfigVersion, Membership
from pcnreg.services import configuration as svc
from pcnreg.services import rounds

ONE_ROW = b"practice_code,pcn_name,place\nC84067,Kirkby,Mid Nottinghamshire\n"


@pytest.fixture
def rnd(app, db, demo_round):
    return rounds.get_round()


def counts(db):
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (ConfigVersion, Membership, AuditEvent))


def _post(client, **data):
    return client.post("/import", data={"kind": "configuration", "round": "1", "author": "Jo", "reason": "R", **data},
                       content_type="multipart/form-data")


def test_the_page_shows_the_diff_and_changes_nothing_until_confirmed(rnd, client, db):
    before = counts(db)
    page = _post(client, file=(io.BytesIO(ONE_ROW), "one-row.csv"))
    html = page.get_data(as_text=True)
    assert page.status_code == 409
    assert "Practices that would be in no PCN (134)" in html and "PCNs that would be emptied and retired (22)" in html
    assert "leaving Newark" in html
    assert counts(db) == before
    token = re.search(r'name="pending" value="([0-9a-f]{32})"', html).group(1)
    unconfirmed = _post(client, pending=token)
    assert unconfirmed.status_code == 409 and counts(db) == before
    other_round = _post(client, pending=token, round="2", confirm="replace")
    assert other_round.status_code == 400 and counts(db) == before
    forged = _post(client, pending="../../etc/passwd", confirm="replace")
    assert forged.status_code == 400 and counts(db) == before
    done = _post(client, pending=token, confirm="replace")
    assert done.status_code == 200 and b"saved as version 2" in done.data
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 1
    again = _post(client, pending=token, confirm="replace")       # the kept file is used once
    assert again.status_code == 400


def test_an_import_that_removes_nothing_needs_no_confirmation(rnd, client, db):
    text = svc.export_configuration(rnd).replace(",Newark,", ",Newark,", 1)
    rows = text.splitlines()
    moved = [rows[0]] + [r.replace("Ashfield South", "Ashfield North") if r.startswith("C84067") else r for r in rows[1:]]
    response = _post(client, file=(io.BytesIO("\n".join(moved).encode()), "moved.csv"))
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]


def test_the_cli_refuses_without_replace(rnd, db, runner, tmp_path):
    path = tmp_path / "one-row.csv"
    path.write_bytes(ONE_ROW)
    before = counts(db)
    args = ["import", "configuration", str(path), "--round", rnd.name, "--author", "Jo", "--reason", "R"]
    refused = runner.invoke(args=args)
    assert refused.exit_code == 1
    assert "134 practice(s) would be in no PCN" in refused.output and "--replace" in refused.output
    assert counts(db) == before
    done = runner.invoke(args=args + ["--replace"])
    assert done.exit_code == 0 and "saved as version 2" in done.output
