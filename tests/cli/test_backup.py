"""`pcnreg backup`, `pcnreg restore` and `pcnreg check`.

The demo round with one move is backed up, restored into a NEW empty database and every table
is compared row by row, all columns. SQLite by default; with PCNREG_TEST_DATABASE_URL (a
PostgreSQL URL) the backup is a pg_dump and the restore goes into a second database on the same
server, created for the test and dropped afterwards.
"""
from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from pcnreg import create_app
from pcnreg.extensions import db as _db
from pcnreg.models import Membership, Pcn, Practice
from pcnreg.services import configuration, rounds
from pcnreg.services.backup import check_database

RESTORE_DB = "pcnreg_restore_test"


def _admin_engine(url):
    """An AUTOCOMMIT engine on the server's ``postgres`` database that may create databases:
    the test role when it can, else the cluster's superuser (the throwaway test cluster trusts
    loopback connections)."""
    for user in (url.username, "postgres"):
        engine = create_engine(url.set(database="postgres", username=user), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                if conn.execute(text("SELECT rolcreatedb OR rolsuper FROM pg_roles "
                                     "WHERE rolname = current_user")).scalar():
                    return engine
        except Exception:  # noqa: BLE001 - try the next role
            pass
        engine.dispose()
    pytest.skip("no role that may CREATE DATABASE on the PostgreSQL test server")


@pytest.fixture
def empty_url(tmp_path):
    """A new, empty database of the same kind as the one under test."""
    pg = os.environ.get("PCNREG_TEST_DATABASE_URL")
    if not pg:
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    url = make_url(pg)
    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {RESTORE_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {RESTORE_DB} OWNER {url.username}"))
    try:
        yield url.set(database=RESTORE_DB).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {RESTORE_DB} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def demo_with_move(app, db, demo_round):
    rnd = rounds.get_round()
    data = rounds.build_configuration(rnd)
    key = next(p.key for p in data.config.pcns if p.name == "Newark")
    configuration.move_practices(rnd, ["C84067"], key, author="Test User", reason="backup test")
    return rnd


def _rows(engine) -> dict[str, list[tuple]]:
    """Every table's rows, all columns, in a stable order (by every column)."""
    out = {}
    with engine.connect() as conn:
        insp = inspect(conn)
        for table in sorted(insp.get_table_names()):
            cols = [c["name"] for c in insp.get_columns(table)]
            q = conn.dialect.identifier_preparer.quote
            order = ", ".join(q(c) for c in cols)
            rows = conn.execute(text(f"SELECT {order} FROM {q(table)} ORDER BY {order}")).all()
            out[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]
    return out


def _restore_app(url, tmp_path):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})


def test_backup_restores_into_an_empty_database_with_every_row(app, runner, db, demo_with_move, empty_url,
                                                               tmp_path):
    assert check_database() == []
    backup_file = tmp_path / "pcnreg.backup"
    result = runner.invoke(args=["backup", str(backup_file)])
    assert result.exit_code == 0, result.output
    assert backup_file.is_file() and "Backed up" in result.output
    manifest = json.loads((tmp_path / "pcnreg.backup.json").read_text())
    assert manifest["tables"]["practice"] == 135 and manifest["tables"]["config_version"] == 2
    assert not list(tmp_path.glob(".*.part"))          # the temporary file was renamed into place

    source_rows = _rows(db.engine)
    assert source_rows["membership"] and source_rows["config_change"]

    restored = _restore_app(empty_url, tmp_path)
    with restored.app_context():
        result = restored.test_cli_runner().invoke(args=["restore", str(backup_file), "--yes"])
        assert result.exit_code == 0, result.output
        assert "Checked: integrity" in result.output
        restored_rows = _rows(_db.engine)
        check = restored.test_cli_runner().invoke(args=["check"])
        assert check.exit_code == 0, check.output
        # The restored database works: the moved practice is in its new PCN.
        moved = _db.session.execute(select(Pcn.name).join(Membership, Membership.pcn_id == Pcn.id)
                                    .join(Practice, Practice.id == Membership.practice_id)
                                    .where(Practice.code == "C84067")).scalar_one()
        assert moved == "Newark"
        _db.session.remove()
        _db.engine.dispose()

    assert set(restored_rows) == set(source_rows)
    for table in source_rows:
        assert restored_rows[table] == source_rows[table], f"table {table} differs after the restore"


def test_restore_into_a_database_that_is_not_empty_is_refused(app, runner, db, demo_with_move, tmp_path):
    backup_file = tmp_path / "pcnreg.backup"
    assert runner.invoke(args=["backup", str(backup_file)]).exit_code == 0
    before = _rows(db.engine)
    result = runner.invoke(args=["restore", str(backup_file), "--yes"])
    assert result.exit_code == 1
    assert "is not empty" in result.output and "--force" in result.output
    assert _rows(db.engine) == before


def test_restore_without_its_manifest_is_refused(app, runner, db, demo_with_move, empty_url, tmp_path):
    backup_file = tmp_path / "pcnreg.backup"
    assert runner.invoke(args=["backup", str(backup_file)]).exit_code == 0
    (tmp_path / "pcnreg.backup.json").unlink()
    restored = _restore_app(empty_url, tmp_path)
    with restored.app_context():
        result = restored.test_cli_runner().invoke(args=["restore", str(backup_file), "--yes"])
        _db.engine.dispose()
    assert result.exit_code == 1 and "manifest" in result.output


def test_check_names_the_first_problem(app, runner, db, demo_with_move):
    assert runner.invoke(args=["check"]).exit_code == 0
    # A membership changed behind the history's back: the materialised state no longer matches.
    membership = db.session.scalar(select(Membership).join(Practice).where(Practice.code == "C84067"))
    other = db.session.scalar(select(Pcn).where(Pcn.id != membership.pcn_id, Pcn.active.is_(True)))
    membership.pcn_id = other.id
    db.session.commit()
    result = runner.invoke(args=["check"])
    assert result.exit_code == 1
    assert "C84067" in result.output and "membership table differs" in result.output


def test_check_finds_a_membership_of_an_inactive_pcn(app, runner, db, demo_with_move):
    membership = db.session.scalar(select(Membership).join(Practice).where(Practice.code == "C84067"))
    db.session.get(Pcn, membership.pcn_id).active = False
    db.session.commit()
    result = runner.invoke(args=["check"])
    assert result.exit_code == 1 and "is not active" in result.output
