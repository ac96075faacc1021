"""Configuration from environment variables.

PCNREG_DATABASE_URL   SQLAlchemy URL; default SQLite file in instance/.
PCNREG_GEODATA        folder of geodata files; default ../shared/geodata when it exists.
PCNREG_SECRET_KEY     session/CSRF key; else generated once into instance/secret_key.
PCNREG_ASSETS         folder of the nhsuk-frontend dist files; default node_modules/nhsuk-frontend/dist/nhsuk.
PCNREG_MAX_UPLOAD_MB  largest accepted upload or import file (default 25).
PCNREG_SECURE_COOKIES session cookies marked Secure (default on, off in debug/testing; see views/guard.py).
PCNREG_MAP_TILE_URL   optional basemap tile URL template (default: none; maps need no other host).
PCNREG_MAP_TILE_ATTRIBUTION  attribution shown with that basemap.
PCNREG_TRUSTED_PROXIES  how many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host
                      (default 0: those headers are ignored); see security.install_proxy_fix.
PCNREG_MAX_AREA_VERTICES  most vertices an uploaded PCN area may have (default 100,000).
PCNREG_AUDIT_ANCHOR   append-only file of the audit trail's heads (default instance/audit-anchor.log;
                      several app servers: one shared path).
PCNREG_SESSION_IDLE_MINUTES  a session ends after this long without a request (default 30).
PCNREG_SESSION_MAX_HOURS     a session ends this long after signing in (default 12).
PCNREG_TASK_QUEUE     the task queue of long work (pcnreg/tasks.py): sqlite (default), redis://..., immediate.
PCNREG_TASK_QUEUE_PATH  its SQLite file (default instance/tasks.sqlite; several app servers: a shared path).
PCNREG_UPLOAD_FOLDER  where files uploaded for a job wait for the worker (default instance/uploads;
                      several app servers: a shared path).
PCNREG_SMTP_*         the SMTP server that e-mails ballot links (see services/mailer.py; unset: letters only).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from .resources import INSTANCE, NHSUK_FRONTEND, REPO_ROOT


def default_instance_path() -> Path:
    return Path(os.environ.get("PCNREG_INSTANCE", INSTANCE))


def default_geodata() -> Path | None:
    value = os.environ.get("PCNREG_GEODATA")
    if value is not None:
        return Path(value) if value else None
    candidate = REPO_ROOT.parent / "shared" / "geodata"
    return candidate if candidate.is_dir() else None


def load_secret_key(instance_path: Path) -> str:
    """The secret key: from the environment, else generated once into instance/ (mode 0600)."""
    value = os.environ.get("PCNREG_SECRET_KEY")
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


def build_config(instance_path: Path) -> dict:
    db_url = os.environ.get("PCNREG_DATABASE_URL") or f"sqlite:///{instance_path / 'pcnreg.sqlite'}"
    max_mb = int(os.environ.get("PCNREG_MAX_UPLOAD_MB", "25"))
    return {
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SECRET_KEY": load_secret_key(instance_path),
        "GEODATA_PATH": default_geodata(),
        "ASSETS_PATH": Path(os.environ.get(
            "PCNREG_ASSETS", NHSUK_FRONTEND)),
        "MAX_CONTENT_LENGTH": max_mb * 1024 * 1024,
        "MAX_IMPORT_BYTES": max_mb * 1024 * 1024,
        "WTF_CSRF_ENABLED": True,
        "MAP_TILE_URL": os.environ.get("PCNREG_MAP_TILE_URL") or None,
        "MAP_TILE_ATTRIBUTION": os.environ.get("PCNREG_MAP_TILE_ATTRIBUTION") or "",
        "AUDIT_ANCHOR": Path(os.environ.get("PCNREG_AUDIT_ANCHOR") or instance_path / "audit-anchor.log"),
        "MAX_AREA_VERTICES": _positive("PCNREG_MAX_AREA_VERTICES", 100_000),
        "TRUSTED_PROXIES": _count("PCNREG_TRUSTED_PROXIES", 0),
        "SESSION_IDLE_MINUTES": _positive("PCNREG_SESSION_IDLE_MINUTES", 30),
        "SESSION_MAX_HOURS": _positive("PCNREG_SESSION_MAX_HOURS", 12),
        "UPLOAD_FOLDER": Path(os.environ.get("PCNREG_UPLOAD_FOLDER") or instance_path / "uploads"),
        **_smtp(),
    }


def _positive(name: str, default: int) -> int:
    """A whole number setting above zero (an unset or empty variable: the default)."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) <= 0:
        raise ValueError(f"{name} must be a whole number above 0, not {value!r}")
    return int(value)


def _count(name: str, default: int) -> int:
    """A whole number setting, 0 or more (an unset or empty variable: the default)."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) > 10:
        raise ValueError(f"{name} must be a whole number from 0 to 10, not {value!r}")
    return int(value)


def _smtp() -> dict:
    from .services.mailer import settings_from_environment

    return settings_from_environment()
