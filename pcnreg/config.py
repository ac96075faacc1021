"""Every setting, read from the environment in this one module.

``SETTINGS`` lists them (name, default, meaning): the README's configuration table is
``markdown_table()`` of it (a test keeps the two the same). ``build_config`` reads them into the
Flask config of the app factory; the rest of the package reads ``current_app.config[...]``,
never the environment. Two settings are needed before there is an app: the instance folder
(``default_instance_path``) and the task queue (``task_queue``, read when ``pcnreg.tasks`` is
imported). A malformed number is refused with the setting's name (``ValueError``).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .resources import INSTANCE, NHSUK_FRONTEND, REPO_ROOT

PREFIX = "PCNREG_"


@dataclass(frozen=True)
class Setting:
    name: str            # the environment variable
    default: str         # as documented
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("PCNREG_DATABASE_URL", "SQLite `instance/pcnreg.sqlite`",
            "SQLAlchemy URL, e.g. `postgresql+psycopg://user@127.0.0.1/pcnreg`"),
    Setting("PCNREG_INSTANCE", "`instance/` (installed package: `<sys.prefix>/var/pcnreg-instance`)",
            "instance folder (database, key, uploads, queue)"),
    Setting("PCNREG_SECRET_KEY", "generated once into `instance/secret_key` (mode 0600)", "session and CSRF key"),
    Setting("PCNREG_GEODATA", "`../shared/geodata` when it exists", "folder of geodata files (empty: none)"),
    Setting("PCNREG_ASSETS", "`node_modules/nhsuk-frontend/dist/nhsuk`", "folder of the NHS.UK frontend's files"),
    Setting("PCNREG_MAX_UPLOAD_MB", "25", "largest upload or import file, in MB"),
    Setting("PCNREG_SECURE_COOKIES", "on (off in debug and tests)",
            "mark session cookies Secure (1/true/yes/on or 0/false/no/off; off only for plain HTTP on a "
            "trusted network)"),
    Setting("PCNREG_SESSION_IDLE_MINUTES", "30", "a session ends after this many minutes without a request"),
    Setting("PCNREG_SESSION_MAX_HOURS", "12", "a session ends this many hours after signing in"),
    Setting("PCNREG_TRUSTED_PROXIES", "0", "number of reverse proxies whose `X-Forwarded-*` headers are trusted "
            "(0 to 10; see below)"),
    Setting("PCNREG_MAP_TILE_URL", "none: maps need no other host", "basemap tile URL template"),
    Setting("PCNREG_MAP_TILE_ATTRIBUTION", "empty", "attribution shown with that basemap"),
    Setting("PCNREG_MAX_AREA_VERTICES", "100000", "most vertices an uploaded PCN area may have"),
    Setting("PCNREG_AUDIT_ANCHOR", "`instance/audit-anchor.log`",
            "append-only file of the audit trail's heads; one shared path for several app servers"),
    Setting("PCNREG_TASK_QUEUE", "`sqlite`", "task queue of long work: `sqlite`, `redis://…` or `immediate`"),
    Setting("PCNREG_TASK_QUEUE_PATH", "`instance/tasks.sqlite`",
            "the SQLite queue's file; one shared path for several app servers"),
    Setting("PCNREG_UPLOAD_FOLDER", "`instance/uploads`",
            "where files uploaded for a job wait for the worker; one shared path for several app servers"),
    Setting("PCNREG_SMTP_HOST", "none: ballot links are printed as letters, no reminders",
            "SMTP server that e-mails ballot links and the chase list's reminders"),
    Setting("PCNREG_SMTP_PORT", "25", "its port (587 with STARTTLS is usual)"),
    Setting("PCNREG_SMTP_STARTTLS", "off", "upgrade the connection with STARTTLS before sending (1/true/yes/on)"),
    Setting("PCNREG_SMTP_USER", "none", "SMTP user name, when the server needs one"),
    Setting("PCNREG_SMTP_PASSWORD", "none", "SMTP password, when the server needs one"),
    Setting("PCNREG_SMTP_FROM", "`pcnreg@localhost`", "the sender address"),
)
NAMES = frozenset(s.name for s in SETTINGS)


def markdown_table() -> str:
    """The README's table of settings."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.default} | {s.meaning} |" for s in SETTINGS]
    return "\n".join(rows)


class _Environment:
    """Reads only the settings of ``SETTINGS`` (a name that is not there is a programming error)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        if name not in NAMES:
            raise KeyError(f"{name} is not a setting of pcnreg.config.SETTINGS")
        return self.environ.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        """The value; unset or empty: ``default``."""
        return self.raw(name) or default

    def path(self, name: str, default: Path) -> Path:
        value = self.raw(name)
        return Path(value) if value else default

    def positive(self, name: str, default: int) -> int:
        """A whole number above zero (an unset or empty variable: the default)."""
        value = (self.raw(name) or "").strip()
        if not value:
            return default
        if not (value.isascii() and value.isdigit()) or int(value) <= 0:
            raise ValueError(f"{name} must be a whole number above 0, not {value!r}")
        return int(value)

    def count(self, name: str, default: int, most: int = 10) -> int:
        """A whole number from 0 to ``most`` (an unset or empty variable: the default)."""
        value = (self.raw(name) or "").strip()
        if not value:
            return default
        if not (value.isascii() and value.isdigit()) or int(value) > most:
            raise ValueError(f"{name} must be a whole number from 0 to {most}, not {value!r}")
        return int(value)

    def flag(self, name: str) -> bool | None:
        """On (1/true/yes/on), off (0/false/no/off) or not set (None)."""
        value = (self.raw(name) or "").strip().lower()
        if not value:
            return None
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} must be on (1, true, yes, on) or off (0, false, no, off), not {value!r}")


def default_instance_path(environ: Mapping[str, str] | None = None) -> Path:
    return _Environment(environ).path("PCNREG_INSTANCE", INSTANCE)


def default_geodata(environ: Mapping[str, str] | None = None) -> Path | None:
    value = _Environment(environ).raw("PCNREG_GEODATA")
    if value is not None:
        return Path(value) if value else None
    candidate = REPO_ROOT.parent / "shared" / "geodata"
    return candidate if candidate.is_dir() else None


def load_secret_key(instance_path: Path, environ: Mapping[str, str] | None = None) -> str:
    """The secret key: from the environment, else generated once into instance/ (mode 0600)."""
    value = _Environment(environ).text("PCNREG_SECRET_KEY")
    if value:
        return value
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def task_queue(environ: Mapping[str, str] | None = None, instance_path: Path | None = None) -> tuple[str, Path]:
    """(the queue: ``sqlite``, ``immediate`` or a ``redis://`` URL, the SQLite queue's file)."""
    env = _Environment(environ)
    setting = (env.text("PCNREG_TASK_QUEUE") or "sqlite").strip()
    folder = instance_path if instance_path is not None else default_instance_path(environ)
    return setting, env.path("PCNREG_TASK_QUEUE_PATH", folder / "tasks.sqlite")


def build_config(instance_path: Path, environ: Mapping[str, str] | None = None) -> dict:
    """The app's configuration from the environment (``environ``: os.environ)."""
    env = _Environment(environ)
    max_mb = env.positive("PCNREG_MAX_UPLOAD_MB", 25)
    queue, queue_path = task_queue(environ, instance_path)
    return {
        "SQLALCHEMY_DATABASE_URI": env.text("PCNREG_DATABASE_URL", f"sqlite:///{instance_path / 'pcnreg.sqlite'}"),
        "SECRET_KEY": load_secret_key(instance_path, environ),
        "GEODATA_PATH": default_geodata(environ),
        "ASSETS_PATH": env.path("PCNREG_ASSETS", NHSUK_FRONTEND),
        "MAX_CONTENT_LENGTH": max_mb * 1024 * 1024,
        "MAX_IMPORT_BYTES": max_mb * 1024 * 1024,
        "WTF_CSRF_ENABLED": True,
        "SECURE_COOKIES": env.flag("PCNREG_SECURE_COOKIES"),      # None: on unless debug or testing
        "MAP_TILE_URL": env.text("PCNREG_MAP_TILE_URL"),
        "MAP_TILE_ATTRIBUTION": env.text("PCNREG_MAP_TILE_ATTRIBUTION", ""),
        "AUDIT_ANCHOR": env.path("PCNREG_AUDIT_ANCHOR", instance_path / "audit-anchor.log"),
        "MAX_AREA_VERTICES": env.positive("PCNREG_MAX_AREA_VERTICES", 100_000),
        "TRUSTED_PROXIES": env.count("PCNREG_TRUSTED_PROXIES", 0),
        "SESSION_IDLE_MINUTES": env.positive("PCNREG_SESSION_IDLE_MINUTES", 30),
        "SESSION_MAX_HOURS": env.positive("PCNREG_SESSION_MAX_HOURS", 12),
        "TASK_QUEUE": queue,
        "TASK_QUEUE_PATH": queue_path,
        "UPLOAD_FOLDER": env.path("PCNREG_UPLOAD_FOLDER", instance_path / "uploads"),
        "SMTP_HOST": env.text("PCNREG_SMTP_HOST"),
        "SMTP_PORT": env.positive("PCNREG_SMTP_PORT", 25),
        "SMTP_STARTTLS": bool(env.flag("PCNREG_SMTP_STARTTLS")),
        "SMTP_USER": env.text("PCNREG_SMTP_USER"),
        "SMTP_PASSWORD": env.text("PCNREG_SMTP_PASSWORD"),
        "SMTP_FROM": env.text("PCNREG_SMTP_FROM", "pcnreg@localhost"),
    }
