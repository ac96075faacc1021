"""Test fixtures.

The database under test is SQLite in a temporary folder by default; set
PCNREG_TEST_DATABASE_URL to a PostgreSQL URL to run the same suite against PostgreSQL
(.ci/run does both). Each test gets an empty database built by the Alembic migrations (run
once per session and copied or truncated per test; tests/test_migrations.py runs them on
empty databases).

Every page but a few needs a signed-in user with a role (pcnreg.views.guard). So every Flask
test client made in the suite (``app.test_client()``, the ``client`` fixture, and the apps of
other fixtures alike) is signed in as a system administrator unless made with
``app.test_client(anonymous=True)`` (the ``anon_client`` fixture) or
``app.test_client(user=some_user)`` (``client_as(role, scope)``): at its first request, the
client puts the user's id, the session-protection identifier and the password stamp in its
session cookie, as a real sign-in would (no password is hashed, so tests stay fast).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from flask import Flask, current_app, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, select, text
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
