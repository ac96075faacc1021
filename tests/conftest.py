"""Test fixtures.

The database under test is SQLite in a temporary folder by default; set
PCNREG_TEST_DATABASE_URL to a PostgreSQL URL to run the same suite against PostgreSQL
(.ci/run does both). Each test gets an empty database built by the Alembic migrations (run
once per session and copied or truncated per test; tests/test_migrations.py runs them on
empty databases).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from pcnreg import create_app
from pcnreg.extensions import db as _db

SHARED = Path(__file__).resolve().parents[2] / "shared"
GEODATA = Path(os.environ.get("PCNREG_GEODATA") or SHARED / "geodata")
REFERENCE = SHARED / "reference"


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


_PG_STATE = {"migrated": False}


def _migrate(url: str, instance: Path) -> None:
    """Run the Alembic migrations on ``url`` (the same code `pcnreg db upgrade` runs)."""
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        _db.engine.dispose()


@pytest.fixture
def database_url(tmp_path) -> str:
    """An EMPTY database (no tables): SQLite in tmp_path, or the PostgreSQL test database reset."""
    url = os.environ.get("PCNREG_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
        _PG_STATE["migrated"] = False
        return url
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database migrated once per session; each test gets a copy."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.sqlite"
    os.environ.setdefault("PCNREG_SECRET_KEY", "test-secret-key")
    _migrate(f"sqlite:///{path}", folder)
    return path


@pytest.fixture
def migrated_url(request, tmp_path) -> str:
    """A migrated database with no rows. PostgreSQL: migrated once, then emptied per test
    (TRUNCATE); SQLite: a copy of the session's migrated template."""
    url = os.environ.get("PCNREG_TEST_DATABASE_URL")
    if url:
        if not _PG_STATE["migrated"]:
            _reset_postgres(url)
            _migrate(url, tmp_path)
            _PG_STATE["migrated"] = True
        else:
            engine = create_engine(url)
            with engine.begin() as conn:
                tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
                conn.execute(text(f"TRUNCATE TABLE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            engine.dispose()
        return url
    template = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "test.sqlite"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(tmp_path, migrated_url, monkeypatch):
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PCNREG_SECRET_KEY", "test-secret-key")
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": migrated_url,
        "WTF_CSRF_ENABLED": False,
    })
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


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
