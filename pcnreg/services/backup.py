"""Backups, restores and the database integrity check.

``backup(dest)``: a consistent copy of the configured database while it is in use.
  SQLite: the online backup API (``sqlite3.Connection.backup``) into a temporary file beside
  ``dest``, renamed into place when complete. PostgreSQL: ``pg_dump --format=custom --no-owner``
  taken from an exported snapshot, so that the row counts in the manifest describe exactly the
  rows in the dump. Beside the backup goes a manifest ``dest.json``: the kind of database, the
  Alembic revision and every table's row count. The password of a PostgreSQL URL goes to
  pg_dump through the ``PGPASSWORD`` environment variable, never on a command line.

``restore(src)``: into the configured database, which must be empty (no tables, or only an
  empty ``alembic_version``) unless ``force``. SQLite: the backup API in reverse; PostgreSQL:
  ``pg_restore --no-owner --single-transaction`` (all or nothing). Then ``verify``: the
  integrity check, the row counts of the manifest and the Alembic revision at the head.

``check_database()``: the integrity check run by ``pcnreg check`` and after a restore: SQLite's
  own checks (``PRAGMA integrity_check``, ``PRAGMA foreign_key_check``); every membership's
  practice and PCN exist and the PCN is active in the same round; each round's materialised
  state (the membership table) equals the state derived from its head version's history.
"""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import URL, Engine

from ..extensions import db
from .errors import ServiceError

MANIFEST_SUFFIX = ".json"
MANIFEST_FORMAT = 1


class BackupError(ServiceError):
    """A backup or restore that cannot be done; the message is for the user."""


@dataclass
class BackupReport:
    path: Path
    size: int
    dialect: str
    revision: str | None
    tables: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"Backed up the {self.dialect} database to {self.path} ({self.size:,} bytes; "
               f"revision {self.revision or 'none'}; manifest {manifest_path(self.path)})."]
        out += [f"  {name}: {count:,} rows" for name, count in sorted(self.tables.items())]
        return out


@dataclass
class RestoreReport:
    path: Path
    dialect: str
    tables: dict[str, int]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        total = sum(self.tables.values())
        out = [f"Restored {self.path} into the {self.dialect} database: {len(self.tables)} tables, "
               f"{total:,} rows."]
        if self.problems:
            out.append(f"The check after the restore FAILED: {self.problems[0]}")
            out += [f"  also: {p}" for p in self.problems[1:]]
        else:
            out.append("Checked: integrity, row counts of every table and the schema revision (the head).")
        return out


# --- helpers -------------------------------------------------------------------------------------

def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _url() -> URL:
    return db.engine.url


def _dialect(url: URL) -> str:
    name = url.get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of {name} databases are not supported (only SQLite and PostgreSQL)")
    return name


def _sqlite_path(url: URL) -> Path:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"the SQLite database {database or '(in memory)'} is not a file")
    return Path(database)


def _read_only(path: Path) -> str:
    """A SQLite URI opening ``path`` read-only (any characters in the path are escaped)."""
    return path.resolve().as_uri() + "?mode=ro"


def safe_url(url: URL) -> str:
    """The URL for messages: the password hidden."""
    return url.render_as_string(hide_password=True)


def table_counts(engine_or_conn) -> dict[str, int]:
    """Row count of every table (alembic_version included)."""
    conn_ctx = engine_or_conn.connect() if isinstance(engine_or_conn, Engine) else None
    conn = conn_ctx if conn_ctx is not None else engine_or_conn
    try:
        preparer = conn.dialect.identifier_preparer
        return {name: conn.execute(text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one()
                for name in sorted(inspect(conn).get_table_names())}
    finally:
        if conn_ctx is not None:
            conn_ctx.close()


def _revision(conn) -> str | None:
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from .. import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    return heads[0] if len(heads) == 1 else None


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_manifest(path: Path, dialect: str, revision: str | None, tables: dict[str, int]) -> None:
    manifest = {
        "format": MANIFEST_FORMAT,
        "dialect": dialect,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "backup": path.name,
        "size": path.stat().st_size,
        "alembic_revision": revision,
        "tables": tables,
    }
    _write_atomically(manifest_path(path), (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))


def read_manifest(path: Path) -> dict:
    mpath = manifest_path(path)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"the manifest {mpath} is missing: it is written beside every backup and "
                          "is needed to check the restore") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"the manifest {mpath} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        raise BackupError(f"the manifest {mpath} has no table counts")
    return manifest


# --- PostgreSQL tools ---------------------------------------------------------------------------------

def find_tool(name: str) -> str:
    """``pg_dump`` or ``pg_restore``: in PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1]
    raise BackupError(f"{name} is not installed (not in PATH nor /usr/lib/postgresql/*/bin): install the "
                      "PostgreSQL client tools, e.g. apt-get install postgresql-client")


def _pg_conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """(a libpq connection URI without the password, the environment with PGPASSWORD)."""
    plain = url.set(drivername="postgresql", password=None)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)  # noqa: S603 (no shell)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed (exit {result.returncode}): " + ("; ".join(detail[-5:]) or "no output"))


# --- backup ---------------------------------------------------------------------------------------------

def backup(dest: Path) -> BackupReport:
    """Back up the configured database to ``dest`` (and its manifest to ``dest.json``)."""
    dest = Path(dest).resolve()
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: give a file name for the backup")
    if not dest.parent.is_dir():
        raise BackupError(f"the folder {dest.parent} does not exist")
    url = _url()
    dialect = _dialect(url)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if dialect == "sqlite":
            revision, tables = _backup_sqlite(_sqlite_path(url), tmp)
        else:
            revision, tables = _backup_postgres(url, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_manifest(dest, dialect, revision, tables)
    return BackupReport(dest, dest.stat().st_size, dialect, revision, tables)


def _backup_sqlite(source: Path, tmp: Path) -> tuple[str | None, dict[str, int]]:
    if not source.is_file():
        raise BackupError(f"the SQLite database {source} does not exist")
    src = sqlite3.connect(_read_only(source), uri=True)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)          # the online backup API: a consistent copy while others write
    finally:
        dst.close()
        src.close()
    # The counts come from the copy itself: exactly what the backup holds.
    engine = create_engine(f"sqlite:///{tmp}")
    try:
        with engine.connect() as conn:
            return _revision(conn), table_counts(conn)
    finally:
        engine.dispose()


def _backup_postgres(url: URL, tmp: Path) -> tuple[str | None, dict[str, int]]:
    pg_dump = find_tool("pg_dump")
    conninfo, env = _pg_conninfo(url)
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            # One snapshot for the counts and the dump: the manifest describes the dump exactly.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            revision, tables = _revision(conn), table_counts(conn)
            _run([pg_dump, "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                  f"--file={tmp}", f"--dbname={conninfo}"], env, "pg_dump")
            conn.rollback()
    finally:
        engine.dispose()
    return revision, tables


# --- restore ----------------------------------------------------------------------------------------------

def is_empty(engine: Engine) -> tuple[bool, str]:
    """(whether the database is empty, why not): no tables, or only an empty alembic_version."""
    with engine.connect() as conn:
        names = inspect(conn).get_table_names()
        others = [n for n in names if n != "alembic_version"]
        if others:
            return False, f"it has {len(others)} tables ({', '.join(sorted(others)[:5])}{', ...' if len(others) > 5 else ''})"
        if "alembic_version" in names and conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one():
            return False, "it has a schema revision in alembic_version"
    return True, ""


def restore(src: Path, *, force: bool = False) -> RestoreReport:
    """Restore the backup ``src`` into the configured database, then verify it."""
    src = Path(src).resolve()
    if not src.is_file():
        raise BackupError(f"there is no backup {src}")
    manifest = read_manifest(src)
    url = _url()
    dialect = _dialect(url)
    if manifest.get("dialect") and manifest["dialect"] != dialect:
        raise BackupError(f"{src} is a {manifest['dialect']} backup; the configured database is {dialect}")
    db.session.remove()
    empty, why = is_empty(db.engine)
    if not empty and not force:
        raise BackupError(f"the database {safe_url(url)} is not empty: {why}. Restore into an empty "
                          "database, or use --force to replace its contents")
    db.engine.dispose()
    if dialect == "sqlite":
        _restore_sqlite(src, _sqlite_path(url))
    else:
        _restore_postgres(src, url, replace=not empty)
    db.engine.dispose()
    problems = verify(manifest)
    with db.engine.connect() as conn:
        tables = table_counts(conn)
    return RestoreReport(src, dialect, tables, problems)


def _restore_sqlite(src: Path, target: Path) -> None:
    with open(src, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{src} is not a SQLite database")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(_read_only(src), uri=True)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)      # replaces every page of the target in one step
    finally:
        dest.close()
        source.close()


def _restore_postgres(src: Path, url: URL, *, replace: bool) -> None:
    pg_restore = find_tool("pg_restore")
    conninfo, env = _pg_conninfo(url)
    cmd = [pg_restore, "--no-owner", "--single-transaction", "--exit-on-error", f"--dbname={conninfo}"]
    if replace:
        cmd += ["--clean", "--if-exists"]
    _run(cmd + [str(src)], env, "pg_restore")


def verify(manifest: dict) -> list[str]:
    """Problems of the restored database against the backup's manifest (none: it is good)."""
    problems = check_database(stop_at_first=False)
    with db.engine.connect() as conn:
        counts = table_counts(conn)
        revision = _revision(conn)
    expected = {str(k): int(v) for k, v in manifest["tables"].items()}
    for name in sorted(set(expected) | set(counts)):
        if name not in counts:
            problems.append(f"table {name} is missing after the restore")
        elif name not in expected:
            problems.append(f"table {name} is not in the backup's manifest")
        elif counts[name] != expected[name]:
            problems.append(f"table {name} has {counts[name]:,} rows; the backup had {expected[name]:,}")
    if manifest.get("alembic_revision") and revision != manifest["alembic_revision"]:
        problems.append(f"the schema revision is {revision}; the backup had {manifest['alembic_revision']}")
    head = head_revision()
    if revision != head:
        problems.append(f"the schema revision is {revision or 'none'}, not the head {head}: "
                        "run `pcnreg db upgrade`")
    return problems


# --- integrity check ----------------------------------------------------------------------------------------

def check_database(*, stop_at_first: bool = True) -> list[str]:
    """Problems of the configured database (none: it passes). See the module's docstring."""
    from ..models import Membership, Pcn, Practice, RegistrationRound
    from .configuration import head_state, state_of

    problems: list[str] = []

    def found(message: str) -> bool:
        problems.append(message)
        return stop_at_first

    if db.engine.url.get_backend_name() == "sqlite":
        with db.engine.connect() as conn:
            result = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            if result != ["ok"] and found(f"SQLite integrity_check: {'; '.join(map(str, result[:3]))}"):
                return problems
            fk = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if fk and found(f"SQLite foreign_key_check: {len(fk)} rows refer to missing rows "
                            f"(first: table {fk[0][0]} rowid {fk[0][1]} -> {fk[0][2]})"):
                return problems

    session = db.session
    rows = session.execute(
        select(Membership.id, Membership.round_id, Membership.practice_id, Membership.pcn_id,
               Practice.id, Pcn.id, Pcn.active, Pcn.round_id)
        .outerjoin(Practice, Practice.id == Membership.practice_id)
        .outerjoin(Pcn, Pcn.id == Membership.pcn_id)
        .order_by(Membership.id)).all()
    for mid, round_id, practice_id, pcn_id, practice, pcn, active, pcn_round in rows:
        if practice is None:
            if found(f"membership {mid}: practice {practice_id} does not exist"):
                return problems
        elif pcn is None:
            if found(f"membership {mid}: PCN {pcn_id} does not exist"):
                return problems
        elif not active:
            if found(f"membership {mid}: PCN {pcn_id} is not active"):
                return problems
        elif pcn_round != round_id:
            if found(f"membership {mid}: PCN {pcn_id} belongs to round {pcn_round}, not {round_id}"):
                return problems

    for rnd in session.scalars(select(RegistrationRound).order_by(RegistrationRound.id)):
        try:
            derived = state_of(rnd, rnd.head_version_id)
        except Exception as exc:  # noqa: BLE001 - a broken history is a finding, not a crash
            if found(f"round {rnd.name}: its version history cannot be replayed: {exc}"):
                return problems
            continue
        materialised = head_state(rnd)
        if derived != materialised:
            if found(f"round {rnd.name}: the membership table differs from head version "
                     f"{_describe_difference(derived, materialised)}"):
                return problems
    session.rollback()
    return problems


def _describe_difference(derived, materialised) -> str:
    for code in sorted(set(derived.assignments) | set(materialised.assignments)):
        a, b = derived.assignments.get(code), materialised.assignments.get(code)
        if a != b:
            return f"(practice {code}: history says PCN {a}, membership table says {b})"
    for key in sorted(set(derived.pcns) | set(materialised.pcns)):
        a, b = derived.pcns.get(key), materialised.pcns.get(key)
        if a != b:
            return f"(PCN {key}: history says {a!r}, the PCN table says {b!r})"
    return ""
