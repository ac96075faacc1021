"""The vote-to-practice linking attack of issue #12 (item 1), replayed: the ballot token never
travels in a logged URL, no audit event per vote carries a time, and the ballot rows carry no
order of arrival. Given the request log, the audit events and the database rows, the attacker
cannot link any vote to its practice."""
from __future__ import annotations

import json
import logging
import re

from sqlalchemy import select, text
from test_elections import at, city, contested  # noqa: F401  (fixtures)
from workflow_helpers import uk

from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent
from pcnreg.security import log_path


def _rows_in_physical_order() -> list[tuple[str, str]]:
    """The ballot rows in the order they lie in the table (SQLite's rowid, PostgreSQL's ctid)."""
    _db.session.expire_all()
    physical = "ctid" if _db.engine.dialect.name == "postgresql" else "rowid"
    return [tuple(r) for r in _db.session.execute(text(f"SELECT id, receipt FROM ballot ORDER BY {physical}"))]


def test_the_link_carries_the_token_in_its_fragment_only(app, city, client_as):  # noqa: F811
    from pcnreg.views.elections import ballot_link

    with app.test_request_context(base_url="https://pcnreg.example"):
        link = ballot_link("AbC-123_token")
    assert link == "https://pcnreg.example/ballot#AbC-123_token"


def test_the_request_log_redacts_tokens_in_paths():
    assert log_path("/ballot/SECRET-token_123") == "/ballot/[redacted]"
    assert log_path("/invite/SECRET/extra") == "/invite/[redacted]/extra"
    assert log_path("/ballot") == "/ballot" and log_path("/rounds/1") == "/rounds/1"


def test_the_ballot_page_posts_the_fragment_and_works_without_javascript(app, city, anon_client):  # noqa: F811
    page = anon_client.get("/ballot")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="token"' in html and "location.hash" in html
    assert re.search(r'<script nonce="[^"]+">', html)                       # allowed by the page's CSP
    assert page.headers["Referrer-Policy"] == "no-referrer"
    old = anon_client.get("/ballot/some-old-token")                        # a link of the old form
    assert old.status_code == 303 and old.headers["Location"].endswith("/ballot#some-old-token")


def test_the_linking_attack_fails(app, city, anon_client, caplog):  # noqa: F811
    rnd, pcn = city
    e, (ada, bo, _), tokens = contested(app, rnd, pcn)
    codes = sorted(tokens)
    truth = {}                              # practice -> receipt (what the attacker wants to learn)
    arrival = []                            # the order the practices voted in
    ids_before_last = None
    with caplog.at_level(logging.INFO, logger="pcnreg.request"):
        for n, code in enumerate(codes[:10]):
            at(app, uk(2019, 4, 26, 9, n))
            if n == 9:
                ids_before_last = {i for i, _ in _rows_in_physical_order()}
            anon_client.get(f"/ballot/{tokens[code]}")                      # even an old-style link
            opened = anon_client.post("/ballot", data={"token": tokens[code]})
            assert opened.status_code == 200
            voted = anon_client.post("/ballot", data={"token": tokens[code], "cast": "1", "confirm": "1",
                                                      "candidate": str((ada if n % 3 else bo).id)})
            assert voted.status_code == 200, voted.get_data(as_text=True)[-1500:]
            truth[code] = re.search(r"<strong>([0-9A-F]{10})</strong>", voted.get_data(as_text=True)).group(1)
            arrival.append(code)
    records = [r for r in caplog.records if r.name == "pcnreg.request"]
    assert records

    # 1. The request log: no token anywhere, no practice, no user.
    for record in records:
        line = record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str)
        assert not any(token in line for token in tokens.values()), line
        assert not any(code in line for code in codes), line
        assert "user_id" not in getattr(record, "fields", {})
    assert {r.fields["path"] for r in records} <= {"/ballot", "/ballot/[redacted]"}

    # 2. The audit trail: no event per vote (none at all while voting was open).
    votes = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "election.vote")).all()
    assert votes == []
    last_before_close = _db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert last_before_close.action == "election.electorate"

    # 3. The rows: no time, no practice; physical order = order of random ids drawn at the last vote.
    rows = _rows_in_physical_order()
    assert [i for i, _ in rows] == sorted(i for i, _ in rows)
    assert not ids_before_last & {i for i, _ in rows}              # no row survives from before the last vote

    # The attack: the n-th request in the log is the n-th row of the box.
    guessed = dict(zip(arrival, (receipt for _, receipt in rows)))
    right = sum(guessed[c] == truth[c] for c in arrival)
    assert right < len(arrival)                                    # not the arrival order (p = 1/10!)

    # The close rewrites the box again and records only the number of ballots.
    at(app, uk(2019, 5, 3, 17, 0))
    assert anon_client.get("/about").status_code == 200
    close = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "election.close_voting"))
    assert json.loads(close.after)["ballots"] == 10
    after_close = _rows_in_physical_order()
    assert sorted(r for _, r in after_close) == sorted(truth.values())
    assert not {i for i, _ in rows} & {i for i, _ in after_close}
    turnout = _db.session.execute(text("SELECT count(*) FROM elector WHERE voted")).scalar()
    assert turnout == 10
