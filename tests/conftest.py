"""Test fixtures.

The database under test is SQLite in a temporary folder by default; set
PCNREG_TEST_DATABASE_URL to a PostgreSQL URL to run the same suite against PostgreSQL
(.ci/run does both). Each test gets an empty schema built by the Alembic migrations.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

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


@pytest.fixture
def database_url(tmp_path) -> str:
    url = os.environ.get("PCNREG_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def app(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PCNREG_SECRET_KEY", "test-secret-key")
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
    })
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
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
