"""The Alembic migrations build the schema the models describe, on whichever database the suite
runs on (SQLite by default, PostgreSQL with PCNREG_TEST_DATABASE_URL)."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from flask_migrate.cli import db as db_cli
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError

from pcnreg import create_app
from pcnreg import models as m
from pcnreg.extensions import db as _db

TABLES = {
    "system", "place", "local_authority", "commissioner", "practice", "list_size",
    "registration_round", "pcn", "membership", "config_version", "config_change",
    "size_exception", "block", "block_assignment", "pcn_area", "adjacent_pair", "geodata_load",
    "user_account", "role_assignment", "invite", "sign_in_attempt", "audit_event",
    "committee", "registration", "stored_file", "member_confirmation", "agreement_signature",
    "exception_request", "submission", "meeting", "agenda_item", "decision", "decision_condition",
    "coverage_confirmation", "funding_rate",
    "election", "candidate", "elector", "token_issue", "ballot", "membership_change", "commissioner_area", "job",
    "place_local_authority",
    "lsoa_registration_load", "lsoa_registration", "lsoa_registered_total", "neighbourhood",
    "neighbourhood_lsoa", "neighbourhood_settings",
    "state_generation", "organisation_link", "membership_period", "commissioner_period",
    "cycle_settings", "opt_out", "annual_return", "annual_return_change",
}


def _tables() -> set[str]:
    return set(inspect(_db.engine).get_table_names()) - {"alembic_version"}


def _head() -> str:
    config = current_app.extensions["migrate"].migrate.get_config()
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def _current_revision() -> str | None:
    with _db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@pytest.fixture
def bare_app(tmp_path, database_url, monkeypatch):
    """An app on an EMPTY database (no migrations run yet)."""
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PCNREG_SECRET_KEY", "test-secret-key")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


def test_single_head(app):
    _head()


def test_cli_upgrade_builds_schema_on_empty_database(bare_app):
    assert _tables() == set()
    runner = bare_app.test_cli_runner()

    result = runner.invoke(db_cli, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert _tables() == TABLES
    assert _current_revision() == _head()

    # A second upgrade is a no-op.
    result = runner.invoke(db_cli, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert _current_revision() == _head()


def test_console_script_db_upgrade(tmp_path, database_url, monkeypatch):
    """`pcnreg db upgrade` (what `make db` runs) honours PCNREG_DATABASE_URL."""
    script = Path(sys.executable).with_name("pcnreg")
    if not script.exists():
        pytest.skip("the pcnreg console script is not installed beside this Python")
    monkeypatch.setenv("PCNREG_DATABASE_URL", database_url)
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PCNREG_SECRET_KEY", "test-secret-key")
    proc = subprocess.run([str(script), "db", "upgrade"], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == database_url
    with app.app_context():
        try:
            assert _tables() == TABLES
            assert _current_revision() == _head()
        finally:
            _db.engine.dispose()


def test_downgrade_to_base_then_upgrade(app):
    assert _tables() == TABLES
    head = _head()

    downgrade(revision="base")
    assert _tables() == set()
    assert _current_revision() is None

    upgrade()
    assert _tables() == TABLES
    assert _current_revision() == head


def test_models_and_migrations_agree(app):
    """Like `alembic check`: autogenerate against the migrated database finds nothing to do."""
    opts = {
        key: value
        for key, value in current_app.extensions["migrate"].configure_args.items()
        if key != "process_revision_directives"
    }
    opts.setdefault("compare_type", True)
    with _db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, _db.metadata)
    assert diff == [], "models and migrations differ (run `pcnreg db migrate`):\n" + "\n".join(
        map(repr, diff))


def test_membership_unique_round_practice_is_in_the_database(app):
    constraints = inspect(_db.engine).get_unique_constraints("membership")
    assert any(sorted(c["column_names"]) == ["practice_id", "round_id"] for c in constraints), \
        constraints

    session = _db.session
    system = m.System(code="E54000014", name="Test system")
    commissioner = m.Commissioner(code="04K", name="Test commissioner", system=system)
    practice = m.Practice(code="C84001", name="Test practice", commissioner=commissioner)
    rnd = m.RegistrationRound(name="Test round", system=system,
                              reference_date=dt.date(2024, 1, 1))
    pcn_a = m.Pcn(round=rnd, name="PCN A")
    pcn_b = m.Pcn(round=rnd, name="PCN B")
    session.add_all([system, commissioner, practice, rnd, pcn_a, pcn_b])
    session.flush()
    session.add(m.Membership(round_id=rnd.id, practice_id=practice.id, pcn_id=pcn_a.id))
    session.commit()

    # Straight to the database (no ORM unit of work in the way): the same practice in a
    # second PCN of the same round must be refused by the unique constraint.
    with pytest.raises(IntegrityError):
        session.execute(insert(m.Membership.__table__).values(
            round_id=rnd.id, practice_id=practice.id, pcn_id=pcn_b.id))
        session.flush()
    session.rollback()

    assert session.query(m.Membership).count() == 1

    # The same practice in another round is fine.
    other = m.RegistrationRound(name="Other round", system=system,
                                reference_date=dt.date(2025, 1, 1))
    pcn_c = m.Pcn(round=other, name="PCN C")
    session.add_all([other, pcn_c])
    session.flush()
    session.add(m.Membership(round_id=other.id, practice_id=practice.id, pcn_id=pcn_c.id))
    session.commit()
    assert session.query(m.Membership).count() == 2
