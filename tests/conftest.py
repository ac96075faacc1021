"""Test fixtures.

The database under test is SQLite in a temporary folder by default; set
PCNREG_TEST_DATABASE_URL to a PostgreSQL URL to run the same suite against PostgreSQL
(.ci/run does both). Each test gets a database built by the Alembic migrations (run once per
session and copied or emptied per test; tests/test_migrations.py runs them on empty
databases): empty, or with the demo loaded when the test uses one of the demo fixtures:

- ``demo_round``: the demo round (`load_demo`, no geodata); ``csrf_app``: an app with CSRF
  protection on, over the demo;
- ``story``: the demo and the demo story (`pcnreg.services.demo_story`), the clock at its day.

Each content is loaded once per session (SQLite: into a template file copied per test;
PostgreSQL: the tables' rows kept as binary COPY data and copied back per test into the tables
written since the last reset, noted by triggers, and those that refer to them, see _pg_reset;
tests/test_test_database.py checks it), so a test pays for a file copy, not for loading the demo. Tests that check
loading itself (tests/cli/test_demo_cli.py, geodata installs) still call `load_demo`. A module
with data of its own that many tests need gets the same: ``database_with(name, fill)`` (a URL,
for a module's own app, e.g. tests/views/test_maps.py) or ``content_fixture(fixture, name,
fill)`` (the ``app`` of any test using that fixture holds it, e.g. the browser tests'
``demo_geo_round``).

Test-only speed-ups (the application's code and settings are untouched): argon2 at its smallest
cost (``_cheap_password_hashes``), compiled templates shared between the session's apps
(``_shared_template_bytecode``), werkzeug's compiled URL rules shared likewise
(``_shared_url_rules``), and the garbage collector's thresholds (``GC_THRESHOLDS``).

Every page but a few needs a signed-in user with a role (pcnreg.views.guard). So every Flask
test client made in the suite (``app.test_client()``, the ``client`` fixture, and the apps of
other fixtures alike) is signed in as a system administrator unless made with
``app.test_client(anonymous=True)`` (the ``anon_client`` fixture) or
``app.test_client(user=some_user)`` (``client_as(role, scope)``): at its first request, the
client puts the user's id, the session-protection identifier and the password stamp in its
session cookie, as a real sign-in would (no password is hashed, so tests stay fast). Where a
password is hashed (sign-in tests, browser tests), argon2 runs with its smallest cost (see
``_cheap_password_hashes``).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from flask import Flask, current_app, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from pcnreg import create_app
from pcnreg.extensions import db as _db

# Jobs started from pages run at once in the test's process (pcnreg/tasks.py).
os.environ.setdefault("PCNREG_TASK_QUEUE", "immediate")

SHARED = Path(__file__).resolve().parents[2] / "shared"
GEODATA = Path(os.environ.get("PCNREG_GEODATA") or SHARED / "geodata")
REFERENCE = SHARED / "reference"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# PostgreSQL: "migrated" once per session; "layout" (the tables in foreign-key order, the keys
# no order satisfies, the sequences) read once after migrating; "engine" one pooled connection
# for the per-test resets; "snapshots" holds, per content ("demo", "story", or one a module
# registers through ``database_with``), each table's rows as binary COPY data, taken once and
# copied back in per test.
# "holds" names the content the database held after the last reset (None: unknown), and
# "tables" the application tables' object ids then (see _pg_reset: what a test wrote is found
# through the tables' write triggers).
_PG_STATE: dict = {"migrated": False, "layout": None, "engine": None, "snapshots": {}, "holds": None,
                   "tables": None}

# Contents made by a fill function a test module gives ``database_with`` or ``content_fixture``
# (name -> function), and the fixtures whose use gives the test's database a content (fixture
# name -> content name).
_FILLS: dict = {}
_CONTENT_OF_FIXTURE: dict[str, str] = {}


def content_fixture(fixture_name: str, content: str, fill) -> None:
    """Declare that a test using the fixture ``fixture_name`` gets, as its ``app``'s database, a
    copy of ``content``: what ``fill()`` writes (run once per session in an app context on an
    empty migrated database; committed). E.g. the browser tests' ``demo_geo_round``: the demo
    with ../shared/geodata and its areas installed. ``story`` and the demo fixtures come first."""
    _CONTENT_OF_FIXTURE[fixture_name] = content
    _FILLS.setdefault(content, fill)

def _browser_tests_last(items) -> None:
    """The browser tests (tests/browser) after all the others. `make test` runs them first on
    the SQLite side and last on the PostgreSQL side (PCNREG_TEST_BROWSER_LAST=1), so that the two
    sides' browser tests do not run at the same time: with Chromium's own processes they use about
    one and a half cores (measured: 227 processor-seconds of the machine in 151 s alone)."""
    browser = [item for item in items if item.nodeid.startswith("tests/browser/")]
    if browser:
        items[:] = [item for item in items if not item.nodeid.startswith("tests/browser/")] + browser


# The fixtures through which a test reaches the database under test (directly or through others).
DATABASE_FIXTURES = frozenset({"database_url", "migrated_url", "database_with", "app", "csrf_app", "db"})

# The modules whose tests without a database `make test` runs on its PostgreSQL side instead of
# its SQLite side (see pytest_collection_modifyitems): the two sides share two cores, and the
# SQLite side had the longer path (458 s against 440 s, then 472 s against 455 s in clean-clone CI;
# these take about 8 and 6 s).
SHARED_ON_POSTGRESQL = ("tests/domain/test_properties.py", "tests/domain/test_state.py")


def pytest_collection_modifyitems(config, items):
    """PCNREG_TEST_BROWSER_LAST=1: see _browser_tests_last.

    `make test` runs the suite twice side by side, on SQLite and on PostgreSQL, and each test that
    uses no database (none of DATABASE_FIXTURES: the domain's, the file parsers', the crash-safety
    tests on their own SQLite files) runs exactly the same code on either side, so it runs on one
    side only: with PCNREG_TEST_DATABASE_ONLY=1 (the PostgreSQL run) only the tests that use the
    database under test run, and those without of the modules in SHARED_ON_POSTGRESQL; with
    PCNREG_TEST_POSTGRESQL_ALONGSIDE=1 (the SQLite run, when the PostgreSQL run started) every
    test runs but those. Without either, every test runs. The deselected tests are counted in
    pytest's summary."""
    if os.environ.get("PCNREG_TEST_BROWSER_LAST") == "1":
        _browser_tests_last(items)
    database_only = os.environ.get("PCNREG_TEST_DATABASE_ONLY") == "1"
    alongside = os.environ.get("PCNREG_TEST_POSTGRESQL_ALONGSIDE") == "1"
    if not (database_only or alongside):
        return
    keep, drop = [], []
    for item in items:
        shared = not DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        elsewhere = shared and item.nodeid.startswith(SHARED_ON_POSTGRESQL)
        runs = (not shared or elsewhere) if database_only else not elsewhere
        (keep if runs else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# Python's cyclic garbage collector, as the suite runs it: the first generation is collected after
# 50,000 allocations instead of 700, and what exists once the tests are collected (the modules, the
# app's and hypothesis's tables) is frozen out of every collection. The suite makes many short-lived
# objects and few cycles; with CPython's defaults it spent about a sixth of its time collecting
# (155 view and CLI tests: 62.5 -> 52.4 s, the mean of two runs each). Garbage is still collected.
GC_THRESHOLDS = (50_000, 20, 100)


def pytest_collection_finish(session):
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


NOW_OF_THE_STORY = "2026-12-10T12:00:00+00:00"    # the clock the demo story is written at


def _migrate(url: str, instance: Path) -> None:
    """Run the Alembic migrations on ``url`` (the same code `pcnreg db upgrade` runs)."""
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        _db.engine.dispose()


def _fill(url: str, content: str) -> None:
    """Write ``content`` into the migrated, empty database at ``url``: "demo" is `load_demo`
    (the published paper, no geodata); "story" is the demo and the demo story (two rounds'
    registrations, committee and an election) written at NOW_OF_THE_STORY."""
    from pcnreg.services import demo_story
    from pcnreg.services.demo import load_demo

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if content in _FILLS:
            _FILLS[content]()
            _db.session.commit()
        else:
            load_demo(None)
            if content == "story":
                app.config["PCNREG_NOW"] = NOW_OF_THE_STORY
                demo_story.load()
        _remember_round_states(content)
        _db.session.remove()
        _db.engine.dispose()


# Per content, the derived state of each of its rounds (pcnreg.services.round_state), computed once
# when the content is made: a test's app starts with them, as a server that had already served the
# content would (see _seed_round_states).
_ROUND_STATES: dict[str, dict] = {}


def _remember_round_states(content: str) -> None:
    from pcnreg.models import RegistrationRound
    from pcnreg.services import round_state

    _db.session.expire_all()
    for rnd in _db.session.scalars(select(RegistrationRound)):
        round_state.entry(rnd)
    _ROUND_STATES[content] = dict(round_state._cache().entries)
    _db.session.rollback()


def _seed_round_states(app, content: str) -> None:
    """Give the app's round-state cache (a private per-process cache) the states of its
    database's rounds as they were when the content was made. Each state is stored under its key
    (the round's own row, its head version, the data and geography generation tokens, ...), which
    the application's own writes change, so a test that changes a round through the application
    computes its state again, as a running server would; the states are immutable values. The copy is the app's own: nothing
    a test computes reaches another test."""
    from pcnreg.services import round_state

    states = _ROUND_STATES.get(content)
    if states:
        cache = round_state._Cache()
        cache.entries.update(states)
        app.extensions["pcnreg.round_states"] = cache


def _content(request) -> str:
    """What the test's database holds, from the fixtures the test uses (directly or through
    other fixtures): ``story`` → "story"; a fixture declared with ``content_fixture`` → its
    content; ``demo_round`` or ``csrf_app`` → "demo"; else "empty"."""
    names = set(request.fixturenames)
    if "story" in names:
        return "story"
    for fixture, content in _CONTENT_OF_FIXTURE.items():
        if fixture in names:
            return content
    if names & {"demo_round", "csrf_app"}:
        return "demo"
    return "empty"


@pytest.fixture
def database_url(tmp_path) -> str:
    """An EMPTY database (no tables): SQLite in tmp_path, or the PostgreSQL test database reset."""
    url = os.environ.get("PCNREG_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
        _PG_STATE["migrated"] = False        # the next test migrates again (the snapshots stay valid)
        return url
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture(scope="session")
def _sqlite_templates(tmp_path_factory) -> dict[str, Path]:
    """SQLite databases made once per session, one per content ("empty": migrated; "demo";
    "story"), each made when a test first needs it; each test gets a copy."""
    folder = tmp_path_factory.mktemp("template")
    os.environ.setdefault("PCNREG_SECRET_KEY", "test-secret-key")
    empty = folder / "empty.sqlite"
    _migrate(f"sqlite:///{empty}", folder)
    return {"empty": empty}


def _sqlite_template(templates: dict[str, Path], content: str) -> Path:
    if content not in templates:
        base = _sqlite_template(templates, "demo" if content == "story" else "empty")
        path = base.with_name(f"{content}.sqlite")
        shutil.copyfile(base, path)
        _fill(f"sqlite:///{path}", content)
        templates[content] = path
    return templates[content]


def _pg_order(conn) -> tuple[list[str], list[tuple[str, str, str, str]], dict[str, frozenset[str]]]:
    """The application's tables, parents before children (foreign keys); the foreign keys that
    no order satisfies (tables that refer to each other: a round's head version and the version's
    round) as (table, constraint, its definition, the table it refers to); and per table, the
    other tables with a foreign key to it."""
    import warnings

    from sqlalchemy import MetaData
    from sqlalchemy.exc import SAWarning
    from sqlalchemy.sql.ddl import sort_tables_and_constraints

    meta = MetaData()
    meta.reflect(conn)
    tables = [t for t in meta.tables.values() if t.name != "alembic_version"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)      # the cycle is expected: its keys come back apart
        pairs = sort_tables_and_constraints(tables)
    order = [t.name for t, _ in pairs if t is not None]
    cyclic = []
    for fk in (fk for t, fkcs in pairs if t is None for fk in fkcs):
        definition = conn.execute(text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = :name AND conrelid = CAST(:table AS regclass)"),
            {"name": fk.name, "table": f'"{fk.table.name}"'}).scalar_one()
        cyclic.append((fk.table.name, fk.name, definition, fk.referred_table.name))
    children: dict[str, set[str]] = {}
    for table in tables:
        for fk in table.foreign_keys:
            if fk.column.table is not table:
                children.setdefault(fk.column.table.name, set()).add(table.name)
    return order, cyclic, {parent: frozenset(refs) for parent, refs in children.items()}


def _pg_sequences(conn) -> list[tuple[str, str, str]]:
    """The sequences owned by a column (serial or identity) of a table in public, as
    (sequence, table, column)."""
    return [tuple(r) for r in conn.execute(text(
        "SELECT format('%I.%I', n.nspname, s.relname), t.relname, a.attname FROM pg_class s "
        "JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass "
        "AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 "
        "JOIN pg_class t ON t.oid = d.refobjid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
        "WHERE s.relkind = 'S' AND n.nspname = 'public'"))]


def _pg_snapshot(url: str) -> dict:
    """The rows of every table that has any, in binary COPY format (parents first)."""
    rows = {}
    with _pg_engine(url).connect() as conn:
        raw = conn.connection.driver_connection
        for table in _PG_STATE["layout"]["order"]:
            if raw.execute(f'SELECT EXISTS (SELECT FROM "{table}")').fetchone()[0]:
                with raw.cursor() as cur, cur.copy(f'COPY "{table}" TO STDOUT (FORMAT binary)') as copy:
                    rows[table] = b"".join(bytes(block) for block in copy)
        conn.rollback()
    return {"rows": rows}


def _pg_engine(url: str):
    """The session's engine for resets: one pooled connection, statements never server-prepared
    (a dropped and migrated-again schema needs none of them)."""
    if _PG_STATE["engine"] is None:
        _PG_STATE["engine"] = create_engine(url, pool_size=1, pool_pre_ping=True,
                                            connect_args={"prepare_threshold": None})
    return _PG_STATE["engine"]


def _pg_layout(url: str) -> dict:
    """The migrated schema's tables (parents first), the foreign keys no order satisfies, each
    table's referring tables and the sequences of serial or identity columns: read once per
    migration, when the write triggers are installed (_pg_track_writes)."""
    with _pg_engine(url).begin() as conn:
        order, cyclic, children = _pg_order(conn)
        layout = {"order": order, "cyclic": cyclic, "children": children,
                  "sequences": _pg_sequences(conn)}
        _pg_track_writes(conn.connection.driver_connection, order)
    return layout


# Test harness objects, outside the application's schema (public): the tables written since the
# last reset, and the trigger function that notes them.
_TRACKING = "pcnreg_test_tracking"
_WRITE_TRIGGER = "pcnreg_test_written"


def _pg_track_writes(raw, tables: list[str]) -> None:
    """A statement trigger on every application table (after INSERT, UPDATE, DELETE or
    TRUNCATE, from any connection) notes the table in pcnreg_test_tracking.written; a
    transaction rolled back takes its notes with it, as it takes its rows."""
    raw.execute(f"CREATE SCHEMA IF NOT EXISTS {_TRACKING}")
    raw.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS {_TRACKING}.written (name text PRIMARY KEY)")
    raw.execute(f"CREATE OR REPLACE FUNCTION {_TRACKING}.note() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN INSERT INTO {_TRACKING}.written VALUES (TG_TABLE_NAME) ON CONFLICT DO NOTHING; "
                f"RETURN NULL; END $$")
    raw.execute("; ".join(
        f'CREATE TRIGGER {_WRITE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_TRACKING}.note()" for table in tables))


class _SchemaChanged(Exception):
    """A test dropped or made again an application table (e.g. migrated down and up)."""


def _pg_written(raw) -> set[str]:
    """The tables written since the last reset; raises _SchemaChanged when the application's
    tables are not those the triggers were installed on."""
    tables, tracked, written = raw.execute(
        "SELECT array_agg(c.oid::int8 ORDER BY c.oid), "
        "  count(*) FILTER (WHERE EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid "
        f"    AND t.tgname = '{_WRITE_TRIGGER}')), "
        f"  (SELECT coalesce(array_agg(name), '{{}}') FROM {_TRACKING}.written) "
        "FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') "
        "AND c.relname <> 'alembic_version'").fetchone()
    if _PG_STATE["tables"] is None:
        _PG_STATE["tables"] = tables
    if tables != _PG_STATE["tables"] or tracked != len(tables):
        raise _SchemaChanged
    return set(written)


def _pg_closure(tables: set[str], children: dict[str, frozenset[str]]) -> set[str]:
    """``tables`` and every table that refers to one of them, directly or not: the rows that
    must go before theirs can be deleted."""
    out, todo = set(tables), list(tables)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _pg_reset(url: str, content: str) -> None:
    """Give the database ``content``'s rows (its snapshot; "empty" or one not yet taken: none),
    in one transaction on the session's connection. When the database held ``content`` after
    the last reset, only the tables written since (noted by their triggers) and those that refer
    to them are reset; else every table. The foreign keys between two reset tables that refer
    to each other (a round's head version and the version's round) are dropped; the reset
    tables' rows are deleted, children first (DELETE: the tables are small, and a TRUNCATE makes
    new files for each table and its indexes, which costs ten times more); the snapshot's rows
    of those tables are copied in, parents first (each COPY is one statement, so a table's rows
    that refer to each other are checked at its end); the dropped keys are added back, which
    checks them; and every serial or identity column's sequence is moved past the highest id
    (to 1 on an empty table), as a TRUNCATE ... RESTART IDENTITY followed by inserting the rows
    would leave it (a sequence moves without its table being written: an insert rolled back)."""
    layout = _PG_STATE["layout"]
    snapshot = _PG_STATE["snapshots"].get(content)
    with _pg_engine(url).begin() as conn:
        raw = conn.connection.driver_connection
        written = _pg_written(raw)
        _PG_STATE["holds"], held = None, _PG_STATE["holds"]
        reset = _pg_closure(written, layout["children"]) if held == content else set(layout["order"])
        cyclic = [c for c in layout["cyclic"] if c[0] in reset and c[3] in reset]
        for table, name, _definition, _referred in cyclic:
            raw.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        if reset:
            raw.execute("; ".join(f'DELETE FROM "{table}"' for table in reversed(layout["order"])
                                  if table in reset))
        if snapshot is not None:
            for table, data in snapshot["rows"].items():
                if table in reset:
                    with raw.cursor() as cur, cur.copy(f'COPY "{table}" FROM STDIN (FORMAT binary)') as copy:
                        copy.write(data)
        for table, name, definition, _referred in cyclic:
            raw.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        sequences = layout["sequences"]
        if sequences:
            raw.execute("SELECT " + ", ".join(
                f"setval(CAST('{seq}' AS regclass), COALESCE((SELECT MAX(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
                for seq, table, column in sequences))
        raw.execute(f"DELETE FROM {_TRACKING}.written")
    _PG_STATE["holds"] = content


def _pg_migrate(url: str, tmp_path: Path) -> None:
    _reset_postgres(url)
    _migrate(url, tmp_path)
    _PG_STATE["layout"] = _pg_layout(url)
    _PG_STATE["tables"] = _PG_STATE["holds"] = None
    _PG_STATE["migrated"] = True


def _postgres_database(url: str, content: str, tmp_path: Path) -> None:
    """The PostgreSQL test database, migrated once per session, given ``content``: loaded once
    per session, then copied in from its snapshot (see _pg_reset). A reset that fails (a test
    left the schema changed) migrates from scratch and tries again."""
    if not _PG_STATE["migrated"]:
        _pg_migrate(url, tmp_path)
    snapshots = _PG_STATE["snapshots"]
    if content != "empty" and content not in snapshots:
        _pg_reset(url, "empty")
        _fill(url, content)
        snapshots[content] = _pg_snapshot(url)
    try:
        _pg_reset(url, content)
    except (OperationalError, ProgrammingError, _SchemaChanged):
        _pg_migrate(url, tmp_path)
        _pg_reset(url, content)


@pytest.fixture
def migrated_url(request, tmp_path) -> str:
    """The test's migrated database: empty, or holding the demo (or the demo story) when the test
    uses ``demo_round``, ``csrf_app`` or ``story`` (see _content). SQLite: a copy of the session's
    template for that content; PostgreSQL: migrated once, emptied per test and the content copied
    in from a snapshot taken once."""
    content = _content(request)
    url = os.environ.get("PCNREG_TEST_DATABASE_URL")
    if url:
        _postgres_database(url, content, tmp_path)
        return url
    template = _sqlite_template(request.getfixturevalue("_sqlite_templates"), content)
    path = tmp_path / "test.sqlite"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def database_with(request, tmp_path):
    """``database_with(name, fill)``: the URL of the test's own migrated database holding what
    ``fill()`` writes, for data a module needs in many tests (e.g. the demo with geodata in
    tests/views/test_maps.py). ``fill`` runs once per session (per ``name``, unique across the
    suite), in an app context on an empty migrated database; what it leaves in the session is
    committed. Then, as for the demo: SQLite copies a template file, PostgreSQL copies the rows in
    from a snapshot. Do not use it together with ``app`` (that fixture has its own database)."""
    def _database(name: str, fill) -> str:
        if name in ("empty", "demo", "story"):
            raise ValueError(f"{name!r} is a content of the shared fixtures; choose another name")
        _FILLS.setdefault(name, fill)
        url = os.environ.get("PCNREG_TEST_DATABASE_URL")
        if url:
            _postgres_database(url, name, tmp_path)
            return url
        template = _sqlite_template(request.getfixturevalue("_sqlite_templates"), name)
        path = tmp_path / f"{name}.sqlite"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    return _database


def _make_app(tmp_path: Path, url: str, monkeypatch, csrf: bool):
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PCNREG_SECRET_KEY", "test-secret-key")
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": csrf})


@pytest.fixture
def app(request, tmp_path, migrated_url, monkeypatch):
    app = _make_app(tmp_path, migrated_url, monkeypatch, csrf=False)
    _seed_round_states(app, _content(request))
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def csrf_app(request, tmp_path, migrated_url, monkeypatch):
    """An app with CSRF protection on (as in production), on a database with the demo loaded."""
    app = _make_app(tmp_path, migrated_url, monkeypatch, csrf=True)
    _seed_round_states(app, _content(request))
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def demo_round(app):
    """The demo round (`load_demo`, the published paper, no geodata), loaded in the database
    before the test (a copy of a database loaded once per session)."""
    from pcnreg.models import RegistrationRound

    return _db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == _demo_round_name()))


@pytest.fixture
def story(app):
    """The demo and the demo story (`pcnreg.services.demo_story`, written with the clock at
    NOW_OF_THE_STORY, which the test's clock is set to): (history round, current round)."""
    from pcnreg.models import RegistrationRound
    from pcnreg.services import demo_story

    app.config["PCNREG_NOW"] = NOW_OF_THE_STORY
    rounds = {r.name: r for r in _db.session.scalars(select(RegistrationRound))}
    return rounds[demo_story.HISTORY_ROUND], rounds[demo_story.CURRENT_ROUND]


def _demo_round_name() -> str:
    import json

    from pcnreg.services.demo import DEMO_DATA

    return json.loads((DEMO_DATA / "notts-round-2019.json").read_text(encoding="utf-8"))["round"]["name"]


TEST_ADMIN = "test-admin@pcnreg.test"
_ADMIN = object()


def make_user(email: str, grants: list[tuple[str, str, int | None]], name: str | None = None,
              password: str | None = None):
    """A user with ``grants`` (role, scope type, scope id), committed; straight into the tables
    (no audit event). ``password`` is hashed (slow on purpose: only when a test needs it)."""
    from pcnreg.models import RoleAssignment, User
    from pcnreg.services import accounts

    user = _db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name or email.split("@")[0], active=True, failed_sign_ins=0,
                    password_hash=accounts.hash_password(password) if password else None)
        user.roles = [RoleAssignment(role=r, scope_type=t, scope_id=i) for r, t, i in grants]
        _db.session.add(user)
        _db.session.commit()
    return user


def sign_in_client(client: FlaskClient, user) -> None:
    """Put ``user``'s sign-in in the client's session cookie, as pcnreg.views.guard.sign_in_session does."""
    from flask_login.utils import _create_identifier

    from pcnreg.services import accounts
    from pcnreg.views.guard import SEEN_KEY, STAMP_KEY, STARTED_KEY, _epoch

    with client.application.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    with client.session_transaction() as sess:
        sess.clear()
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
        sess["_id"] = identifier
        sess[STAMP_KEY] = accounts.session_stamp(user)
        sess[STARTED_KEY] = sess[SEEN_KEY] = _epoch()


class SignedInClient(FlaskClient):
    """A test client signed in (at its first request) as the test system administrator, or as
    ``user=``; ``anonymous=True`` for nobody."""

    def __init__(self, *args, user=None, anonymous: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending_user = None if anonymous else (user or _ADMIN)

    def open(self, *args, **kwargs):
        if self.pending_user is not None:
            user, self.pending_user = self.pending_user, None
            self._sign_in(user)
        return super().open(*args, **kwargs)

    def _sign_in(self, user) -> None:
        app = self.application
        if has_app_context() and current_app._get_current_object() is app:
            self._sign_in_here(user)
        else:
            with app.app_context():
                self._sign_in_here(user)

    def _sign_in_here(self, user) -> None:
        if user is _ADMIN:
            try:
                user = make_user(TEST_ADMIN, [("system_admin", "all", None)], name="Test Administrator")
            except (OperationalError, ProgrammingError):   # no tables (yet): stay anonymous
                _db.session.rollback()
                return
        sign_in_client(self, user)


# Password hashing in the tests: argon2id with the smallest cost argon2 allows, instead of the
# production defaults (argon2-cffi's PasswordHasher(), about 0.1 to 0.5 s a hash on a busy CI
# machine; the suite hashes and verifies a few hundred times: sign-ins, the sign-in fuzzing, the
# browser tests' accounts). The code path is the same (pcnreg.services.accounts.hasher, still
# argon2id, the parameters written in each hash); tests/views/test_auth.py checks that the
# application's own hasher keeps the defaults (PRODUCTION_HASHER below).
PRODUCTION_HASHER = None


@pytest.fixture(autouse=True, scope="session")
def _session_instance(tmp_path_factory):
    """An instance folder of the session's own for the apps made outside a test (migrating and
    filling the session's databases, CLI runs in subprocesses): they would otherwise use the
    checkout's instance/ (its secret key, audit anchor and map cache). Each test's app gets its
    own (``_make_app``)."""
    previous = os.environ.get("PCNREG_INSTANCE")
    os.environ["PCNREG_INSTANCE"] = str(tmp_path_factory.mktemp("instance"))
    os.environ.setdefault("PCNREG_SECRET_KEY", "test-secret-key")       # as each test's app has
    yield
    if previous is None:
        os.environ.pop("PCNREG_INSTANCE", None)
    else:
        os.environ["PCNREG_INSTANCE"] = previous


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes():
    from argon2 import PasswordHasher

    from pcnreg.services import accounts

    global PRODUCTION_HASHER
    PRODUCTION_HASHER = accounts.hasher
    accounts.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    accounts._DUMMY_HASH = None
    yield
    accounts.hasher = PRODUCTION_HASHER
    accounts._DUMMY_HASH = None


class _SharedTemplateBytecode:
    """A Jinja bytecode cache kept in memory for the test session and shared by every app the
    suite makes: each test makes its own app (and so its own Jinja environment), which would
    compile every template it renders again (about 0.1 s a page, the NHS.UK macros included).
    Jinja checks each entry against the template source's checksum, and the key here includes
    the environment's syntax options, so an app configured differently compiles its own."""

    def __init__(self):
        import jinja2

        class Cache(jinja2.BytecodeCache):
            store: dict = {}

            @staticmethod
            def _key(bucket) -> tuple:
                env = bucket.environment
                return (bucket.key, env.block_start_string, env.block_end_string, env.variable_start_string,
                        env.variable_end_string, env.comment_start_string, env.comment_end_string,
                        env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks,
                        env.newline_sequence, env.keep_trailing_newline, env.optimized, repr(env.autoescape),
                        tuple(sorted(env.extensions)), env.is_async)

            def load_bytecode(self, bucket) -> None:
                code = self.store.get(self._key(bucket))
                if code is not None:
                    bucket.bytecode_from_string(code)

            def dump_bytecode(self, bucket) -> None:
                self.store[self._key(bucket)] = bucket.bytecode_to_string()

        self.cache = Cache()


@pytest.fixture(autouse=True, scope="session")
def _shared_template_bytecode():
    """Every Flask app's Jinja environment gets the session's ``_SharedTemplateBytecode`` cache
    (unless it has a bytecode cache of its own)."""
    shared = _SharedTemplateBytecode().cache
    original = Flask.create_jinja_environment

    def create_jinja_environment(self):
        env = original(self)
        if env.bytecode_cache is None:
            env.bytecode_cache = shared
        return env

    Flask.create_jinja_environment = create_jinja_environment
    yield
    Flask.create_jinja_environment = original


@pytest.fixture(autouse=True, scope="session")
def _shared_url_rules():
    """Werkzeug compiles every URL rule of every app (``Rule.compile``): it parses the rule's
    text into matching parts and compiles two URL-builder functions from a generated syntax tree
    (``Rule._compile_builder``), about four fifths of making an app, and the suite makes an app
    per test. What it computes depends only on the rule's text, its subdomain or host, slash
    merging, the map's converters and the rule's defaults; the converters it makes are bound to
    the map. So, per session and under that key, the parsed parts and the builders are kept and
    given to each new rule, whose converters are made again through its own map, as werkzeug
    makes them (``Rule.get_converter``); the builders reach them through the rule they are bound
    to. tests/test_url_rules.py checks that every rule of a fresh app matches and builds as an
    uncached one does."""
    from werkzeug.routing.rules import Rule

    original = Rule.compile
    compiled: dict = {}

    def compile(self) -> None:
        key = (self.rule, self.subdomain, self.host, self.merge_slashes, self.map.host_matching,
               frozenset(self.map.converters.items()), repr(sorted((self.defaults or {}).items())))
        done = compiled.get(key)
        if done is None:
            made: list = []
            get_converter = self.get_converter

            def recording(variable_name, converter_name, args, kwargs):
                made.append((variable_name, converter_name, args, kwargs))
                return get_converter(variable_name, converter_name, args, kwargs)

            self.get_converter = recording
            try:
                original(self)
            finally:
                del self.get_converter
            done = compiled[key] = (list(self._parts), list(self._trace), made, set(self.arguments),
                                    self._build.__func__, self._build_unknown.__func__)
            return
        parts, trace, made, arguments, build, build_unknown = done
        self._parts, self._trace = list(parts), list(trace)
        self._converters = {name: self.get_converter(name, converter, args, kwargs)
                            for name, converter, args, kwargs in made}
        self.arguments.update(arguments)
        self._build = build.__get__(self, None)
        self._build_unknown = build_unknown.__get__(self, None)

    compile.uncached = original
    Rule.compile = compile
    yield
    Rule.compile = original


@pytest.fixture(autouse=True, scope="session")
def _signed_in_test_clients():
    previous = Flask.test_client_class
    Flask.test_client_class = SignedInClient
    yield
    Flask.test_client_class = previous


@pytest.fixture
def client(app):
    """A client signed in as a system administrator."""
    return app.test_client()


@pytest.fixture
def anon_client(app):
    """A client nobody is signed in to."""
    return app.test_client(anonymous=True)


@pytest.fixture
def client_as(app):
    """``client_as(role, scope="all")``: a client signed in as a new user holding that one role;
    ``scope`` as for `pcnreg users create` (system:E54000014, commissioner:04K, pcn:<id>,
    practice:C84067, committee:1). The user is ``client.user``."""
    from pcnreg.services import accounts

    made = {"n": 0}

    def _client(role: str, scope: str = "all"):
        parsed = accounts.parse_scope(scope)
        made["n"] += 1
        user = make_user(f"{role}.{made['n']}@pcnreg.test", [(role, parsed.type, parsed.id)])
        c = app.test_client(user=user)
        c.user = user
        return c

    return _client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def geodata() -> Path:
    if not GEODATA.is_dir():
        pytest.skip("../shared/geodata is not beside this checkout")
    return GEODATA
