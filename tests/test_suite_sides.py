"""How `make test` shares the suite between its SQLite and PostgreSQL runs (tests/conftest.py,
pytest_collection_modifyitems): a test that uses the database runs on both sides, one that does
not runs on exactly one, and a run on its own runs everything."""
from __future__ import annotations

from types import SimpleNamespace

import conftest
import pytest

ITEMS = [
    SimpleNamespace(nodeid="tests/views/test_pages.py::test_a", fixturenames=["app", "client"]),
    SimpleNamespace(nodeid="tests/importers/test_csvio.py::test_b", fixturenames=["tmp_path"]),
    SimpleNamespace(nodeid=f"{conftest.SHARED_ON_POSTGRESQL[0]}::test_c", fixturenames=[]),
    SimpleNamespace(nodeid=f"{conftest.SHARED_ON_POSTGRESQL[0]}::test_d", fixturenames=["db"]),
]


def _run(monkeypatch, **env) -> list[str]:
    for name in ("PCNREG_TEST_DATABASE_ONLY", "PCNREG_TEST_POSTGRESQL_ALONGSIDE", "PCNREG_TEST_BROWSER_LAST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    items, dropped = list(ITEMS), []
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: dropped.extend(items)))
    conftest.pytest_collection_modifyitems(config, items)
    assert len(items) + len(dropped) == len(ITEMS)
    return [item.nodeid.rpartition("::")[2] for item in items]


def test_alone_every_test_runs(monkeypatch):
    assert _run(monkeypatch) == ["test_a", "test_b", "test_c", "test_d"]


@pytest.mark.parametrize("flag", ["0", ""])
def test_the_sqlite_run_keeps_everything_when_postgresql_did_not_start(monkeypatch, flag):
    assert _run(monkeypatch, PCNREG_TEST_POSTGRESQL_ALONGSIDE=flag) == ["test_a", "test_b", "test_c", "test_d"]


def test_side_by_side_each_test_without_a_database_runs_once(monkeypatch):
    postgresql = _run(monkeypatch, PCNREG_TEST_DATABASE_ONLY="1")
    sqlite = _run(monkeypatch, PCNREG_TEST_POSTGRESQL_ALONGSIDE="1")
    assert postgresql == ["test_a", "test_c", "test_d"]
    assert sqlite == ["test_a", "test_b", "test_d"]
    assert sorted(set(postgresql) | set(sqlite)) == ["test_a", "test_b", "test_c", "test_d"]
