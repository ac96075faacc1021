"""The PostgreSQL test database's per-test reset (tests/conftest.py, _pg_reset): whatever a test
writes, from whichever connection, the next test's database holds the content's rows exactly
and its sequences where a fresh copy would leave them. The reset is partial (only the tables
written since, noted by triggers, and those that refer to them), so a write it missed would
reach the next test: these checks fail then.

SQLite needs no such check (each test copies a template file), so these run on PostgreSQL only.
"""
from __future__ import annotations

import os

import pytest
from conftest import _PG_STATE, _postgres_database
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

URL = os.environ.get("PCNREG_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not URL, reason="the per-test reset of the PostgreSQL test database")


def _state(engine) -> dict:
    """Every application table's rows (a digest of their text, in order) and every sequence's
    position."""
    with engine.connect() as conn:
        state = {table: conn.execute(text(
            f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) FROM "{table}" t'
        )).one() for table in _PG_STATE["layout"]["order"]}
        for seq, _table, _column in _PG_STATE["layout"]["sequences"]:
            state[seq] = conn.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
    return state


@pytest.fixture
def engine(migrated_url, tmp_path):
    """A connection pool of its own (as an app's), on the database reset to the demo."""
    _postgres_database(URL, "demo", tmp_path)
    engine = create_engine(URL)
    yield engine
    engine.dispose()


WRITES = {
    "a user and a grant (tables few others refer to)":
        ["INSERT INTO user_account (email, name, active, failed_sign_ins, created_at) "
         "VALUES ('x@nhs.example', 'X', true, 0, now())",
         "INSERT INTO role_assignment (user_id, role, scope_type) "
         "SELECT id, 'viewer', 'all' FROM user_account WHERE email = 'x@nhs.example'"],
    "a PCN renamed (a table many refer to)": ["UPDATE pcn SET name = name || ' (renamed)'"],
    "a round changed (two tables that refer to each other)":
        ["UPDATE registration_round SET name = 'changed'", "UPDATE config_version SET reason = 'changed'"],
    "rows deleted": ["DELETE FROM audit_event", "DELETE FROM list_size"],
    "a table truncated with those that refer to it": ["TRUNCATE practice CASCADE"],
}


@pytest.mark.parametrize("statements", list(WRITES.values()), ids=list(WRITES))
def test_the_next_reset_undoes_what_another_connection_wrote(engine, tmp_path, statements):
    before = _state(engine)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    assert _state(engine) != before
    _postgres_database(URL, "demo", tmp_path)
    assert _state(engine) == before


def test_a_sequence_moved_by_a_refused_insert_is_put_back(engine, tmp_path):
    before = _state(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_event (action) VALUES ('x')"))    # its id drawn, then refused
    assert _state(engine) != before               # the rows are as before; the sequence is not
    _postgres_database(URL, "demo", tmp_path)
    assert _state(engine) == before


def test_a_table_made_again_is_noticed(engine, tmp_path):
    """A test that migrates down and up makes tables without the triggers: the next reset
    migrates again rather than trusting notes that were never taken."""
    before = _state(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER pcnreg_test_written ON list_size"))
        conn.execute(text("DELETE FROM list_size"))
    _postgres_database(URL, "demo", tmp_path)
    assert _state(engine) == before
