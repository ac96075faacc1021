"""Crash safety: a process killed (SIGKILL) in the middle of an import leaves the database
consistent: `pcnreg check` passes and the import happened wholly or not at all.

`pcnreg import practices epraccur-2019-12.csv --commissioner 04K` runs as a subprocess on a
file-based SQLite database holding the demo (it adds 14 practices and changes 53). It is
killed at several points in time, and once deterministically INSIDE its write transaction
(after its changes are flushed to the database file, before the commit). After each kill the
practice table is exactly as before the import or exactly as after a complete one.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

EPRACCUR = "epraccur-2019-12.csv"
CLI = [sys.executable, "-c", "from pcnreg.cli import main; main()"]

# Runs the CLI, pausing at the first commit made while the SQLite database has uncommitted
# writes (its rollback journal exists): it says so on stdout, and the test kills it there.
PAUSING_CLI = [sys.executable, "-c", """
import os, sys, time
import sqlalchemy.orm
journal = os.environ["PCNREG_TEST_DB_FILE"] + "-journal"
commit = sqlalchemy.orm.Session.commit
def paused_commit(self):
    if os.path.exists(journal):
        print("IN-TRANSACTION", flush=True)
        time.sleep(120)
    return commit(self)
sqlalchemy.orm.Session.commit = paused_commit
from pcnreg.cli import main
main()
"""]


def _env(tmp_path: Path, db_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PCNREG_DATABASE_URL": f"sqlite:///{db_file}",
        "PCNREG_INSTANCE": str(tmp_path / "instance"),
        "PCNREG_SECRET_KEY": "test-secret-key",
        "PCNREG_GEODATA": "",                  # the demo without maps: faster, same practices
        "PCNREG_TEST_DB_FILE": str(db_file),
    })
    return env


def _cli(tmp_path: Path, db_file: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=_env(tmp_path, db_file), capture_output=True, text=True,
                          timeout=timeout)


def _state(db_file: Path) -> tuple:
    """The practices (every field an import owns) and the number of audit events."""
    conn = sqlite3.connect(db_file)
    try:
        practices = conn.execute("SELECT code, name, postcode, commissioner_id, status, ods_status_code, "
                                 "open_date, close_date FROM practice ORDER BY code").fetchall()
        events = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
    finally:
        conn.close()
    return tuple(practices), events


def _check(tmp_path: Path, db_file: Path) -> None:
    """`pcnreg check` on ``db_file``, run in this process (the same command on a new app and a new
    connection, which rolls a hot journal back as any process opening the file would; starting
    Python and importing the application again for each of the dozen checks took about 1.3 s)."""
    from pcnreg import create_app
    from pcnreg.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}"})
    try:
        result = app.test_cli_runner().invoke(args=["check"])
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert result.exit_code == 0, f"pcnreg check failed after the kill:\n{result.output}"


@pytest.fixture(scope="module")
def _demo_made_by_the_cli(tmp_path_factory) -> Path:
    """A SQLite file with the demo loaded by `pcnreg demo` (migrations included), once per module."""
    folder = tmp_path_factory.mktemp("crash-demo")
    db_file = folder / "demo.sqlite"
    result = _cli(folder, db_file, "demo")
    assert result.returncode == 0, result.stdout + result.stderr
    _check(folder, db_file)
    return db_file


@pytest.fixture
def demo_file(tmp_path, _demo_made_by_the_cli) -> Path:
    """The test's own copy of the demo made by `pcnreg demo`."""
    return _copy(_demo_made_by_the_cli, tmp_path / "demo.sqlite")


def _copy(src: Path, dest: Path) -> Path:
    for suffix in ("-journal", "-wal", "-shm"):
        Path(str(dest) + suffix).unlink(missing_ok=True)
    shutil.copyfile(src, dest)
    return dest


def test_an_import_killed_at_any_time_happens_wholly_or_not_at_all(tmp_path, geodata, demo_file):
    epraccur = geodata / EPRACCUR
    args = ["import", "practices", str(epraccur), "--commissioner", "04K"]
    before = _state(demo_file)

    # A complete run: the state after, and how long a run takes on this machine.
    done = _copy(demo_file, tmp_path / "complete.sqlite")
    started = time.monotonic()
    result = _cli(tmp_path, done, *args)
    duration = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "14 added, 53 changed" in result.stdout
    after = _state(done)
    assert len(after[0]) == len(before[0]) + 14 and after[1] == before[1] + 1

    delays = [0.2, 0.5, 1.0] + [round(duration * f, 3) for f in (0.7, 0.8, 0.9, 0.95)]
    outcomes = []
    trial = tmp_path / "trial.sqlite"
    while delays:
        delay = delays.pop(0)
        _copy(demo_file, trial)
        proc = subprocess.Popen([*CLI, *args], env=_env(tmp_path, trial), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        in_transaction = Path(str(trial) + "-journal").exists()    # a hot journal: killed mid-write
        _check(tmp_path, trial)
        state = _state(trial)
        assert state in (before, after), f"killed after {delay} s: a partial import"
        outcomes.append((delay, "killed" if killed else "completed", in_transaction,
                         "before" if state == before else "after"))
        if not delays and not any(o[1] == "killed" for o in outcomes) and delay > 0.02:
            delays.append(round(delay / 4, 3))      # every run completed: kill sooner
    print("kill outcomes (delay s, kill, hot journal, state):", outcomes, f"full run {duration:.2f} s")
    assert any(o[1] == "killed" for o in outcomes), f"every run completed before its kill: {outcomes}"
    assert all(o[3] == "after" for o in outcomes if o[1] == "completed")


def test_an_import_killed_inside_its_transaction_writes_nothing(tmp_path, geodata, demo_file):
    epraccur = geodata / EPRACCUR
    before = _state(demo_file)
    env = _env(tmp_path, demo_file)
    proc = subprocess.Popen([*PAUSING_CLI, "import", "practices", str(epraccur), "--commissioner", "04K"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "IN-TRANSACTION", f"the import never reached its commit: {line!r}"
        # The changes are in the database file, uncommitted: the rollback journal is there.
        assert Path(str(demo_file) + "-journal").exists()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    _check(tmp_path, demo_file)                 # opening the database rolls the hot journal back
    assert _state(demo_file) == before
    # And the import, run again to its end, does all of it.
    result = _cli(tmp_path, demo_file, "import", "practices", str(epraccur), "--commissioner", "04K")
    assert result.returncode == 0 and "14 added, 53 changed" in result.stdout
    _check(tmp_path, demo_file)
