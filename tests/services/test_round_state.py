"""A round's state is computed once per key and read from the cache; every write that changes what it
is computed from changes the key (services/round_state.py)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select

from pcnreg.domain import state as state_mod
from pcnreg.models import ListSize, Practice
from pcnreg.services import configuration as config_svc
from pcnreg.services import overview, round_state, rounds

WHO = dict(author="Test User", reason="testing")


@pytest.fixture
def rnd(app, db, demo_round):
    """The demo round in an app that has cached no state yet (as a server just started; the
    conftest's apps start with their content's states)."""
    round_state.clear()
    return rounds.get_round()


def key(name: str) -> str:
    return str(rounds.get_pcn(rounds.get_round(), name).id)


def matches_full(entry: round_state.Entry) -> bool:
    rnd = rounds.get_round()
    return entry.state.same_as(round_state.full(rnd, round_state.key_of(rnd)).state)


def test_a_state_is_computed_once_and_then_read(rnd):
    first = round_state.entry(rnd)
    second = round_state.entry(rnd)
    assert first.how == "full" and second.how == "cached"
    assert second.state is first.state
    assert rounds.build_configuration(rnd).state is first.state


def test_a_saved_move_is_derived_incrementally_from_the_cached_version(rnd):
    before = round_state.entry(rnd)
    newark = key("Newark")
    code = next(c for c in before.state.pcn_by_key[key("Sherwood")].members)
    config_svc.move_practices(rnd, [code], newark, **WHO)
    after = round_state.entry(rounds.get_round())
    assert after.how == "incremental"
    assert after.state.pcn_of[code] == newark and before.state.pcn_of[code] != newark
    assert matches_full(after)


def test_merge_split_create_and_undo_are_derived_incrementally(rnd):
    round_state.entry(rnd)
    a, b = key("Newark"), key("Sherwood")
    config_svc.merge_pcns(rnd, [b], a, name=None, **WHO)
    assert round_state.entry(rnd).how == "incremental" and matches_full(round_state.entry(rnd))
    members = list(round_state.entry(rnd).state.pcn_by_key[a].members)
    config_svc.split_pcn(rnd, a, members[:2], "Sherwood Again", **WHO)
    assert round_state.entry(rnd).how == "incremental" and matches_full(round_state.entry(rnd))
    config_svc.create_pcn(rnd, "Empty Network", place_id=None, lead_commissioner_id=None, **WHO)
    assert round_state.entry(rnd).how == "incremental" and matches_full(round_state.entry(rnd))
    config_svc.undo_to(rnd, 1, **WHO)
    assert round_state.entry(rnd).how == "incremental" and matches_full(round_state.entry(rnd))


def test_an_exception_is_derived_incrementally(rnd):
    round_state.entry(rnd)
    data = rounds.build_configuration(rnd)
    low = next(p.key for p in data.config.pcns if data.band(p.key) != "in_band")
    rounds.record_exception(rnd, low, "Rural", "Committee")
    entry = round_state.entry(rnd)
    assert entry.how == "incremental" and low in entry.state.config.exceptions
    assert [f.severity for f in entry.state.findings_for_pcn(low) if f.rule == "list_size_band"] == ["info"]
    assert matches_full(entry)


def test_a_list_size_changed_in_place_changes_the_key(rnd, db):
    """A re-import replaces a size without adding a row: the largest id alone would not tell."""
    first = round_state.entry(rnd)
    code = next(iter(first.state.pcn_by_key[key("Newark")].members))
    practice = db.session.scalar(select(Practice).where(Practice.code == code))
    size = rounds.select_list_size(practice.list_sizes, rnd.reference_date)
    size.size += 1000
    db.session.commit()
    entry = round_state.entry(rnd)
    assert entry.how == "full"
    assert entry.state.config.practices[code].list_size == first.state.config.practices[code].list_size + 1000
    assert entry.state.totals[key("Newark")] == first.state.totals[key("Newark")] + 1000


def test_a_bulk_delete_changes_the_key(rnd, db):
    round_state.entry(rnd)
    before = round_state.tokens()
    db.session.execute(delete(ListSize).where(ListSize.as_of < dt.date(1990, 1, 1)))
    db.session.commit()
    assert round_state.tokens()["data"] != before["data"]


def test_a_practice_renamed_changes_the_key_but_a_round_edit_does_not_touch_the_data_token(rnd, db):
    first = round_state.entry(rnd)
    tokens = round_state.tokens()
    code = next(iter(first.state.config.practices))
    db.session.scalar(select(Practice).where(Practice.code == code)).name = "Renamed Surgery"
    db.session.commit()
    assert round_state.tokens()["data"] != tokens["data"]
    assert round_state.entry(rnd).state.config.practices[code].name == "Renamed Surgery"
    tokens = round_state.tokens()
    config_svc.rename_pcn(rnd, key("Newark"), "Newark and District", **WHO)
    assert round_state.tokens() == tokens                 # the head version is in the key instead
    assert round_state.entry(rnd).how == "incremental"


def test_a_state_built_while_the_key_changed_is_not_cached(rnd, monkeypatch):
    real = round_state.key_of
    calls = []

    def moving_key(r):
        calls.append(1)
        k = real(r)
        return k if len(calls) == 1 else round_state.Key(k.round_id, k.head, k.settings, "changed", k.geography,
                                                         k.exceptions)
    monkeypatch.setattr(round_state, "key_of", moving_key)
    made = round_state.entry(rnd)
    assert made.how == "full"
    monkeypatch.setattr(round_state, "key_of", real)
    assert round_state.entry(rnd).how == "full"           # not served from the cache


def test_the_rounds_overview_reads_the_state(rnd):
    figures = overview.figures(rnd)
    summary = round_state.entry(rnd).state.summary.system
    assert (figures.pcns, figures.errors, figures.practices) == (summary.pcns, summary.errors, summary.practices)


def test_the_generation_rows_exist_after_the_migrations(database_url, tmp_path):
    """On an empty database the migrations seed both tokens (the per-test fixtures of the
    PostgreSQL run truncate tables, so this migrates a database of its own)."""
    from conftest import _migrate
    from sqlalchemy import create_engine, text

    _migrate(database_url, tmp_path)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        names = {row[0] for row in conn.execute(text("SELECT name FROM state_generation"))}
    engine.dispose()
    assert names == {"data", "geography"}


def test_a_preview_is_derived_from_the_head_state(rnd):
    head = round_state.entry(rnd).state
    newark, sherwood = key("Newark"), key("Sherwood")
    code = head.pcn_by_key[sherwood].members[0]
    preview = config_svc.preview_move(rnd, [code], newark)
    assert preview.after.pcn_of(code) == newark and preview.before.pcn_of(code) == sherwood
    expected = state_mod.derive_all(preview.after.config, head.system_name)
    assert preview.after.state.same_as(expected)


def test_two_app_servers_on_one_database_each_see_the_others_changes(app, db, migrated_url, demo_round):
    """A second app (another server's process) keeps its own cache: a move saved through the first
    changes the key it reads, and it derives the new version from its own cached one."""
    from pcnreg import create_app

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated_url, "WTF_CSRF_ENABLED": False})
    rnd_id = rounds.get_round().id

    def on_other(fn):
        with other.app_context():
            try:
                return fn(rounds.get_round(rnd_id))
            finally:
                db.session.remove()

    before = on_other(lambda r: round_state.entry(r))
    assert before.how == "full"
    assert on_other(lambda r: round_state.entry(r).how) == "cached"
    rnd = rounds.get_round(rnd_id)
    round_state.entry(rnd)
    newark = key("Newark")
    code = next(c for c in before.state.pcn_by_key[key("Sherwood")].members)
    config_svc.move_practices(rnd, [code], newark, **WHO)
    after = on_other(lambda r: round_state.entry(r))
    assert after.how == "incremental" and after.state.pcn_of[code] == newark
    assert after.state.same_as(round_state.entry(rounds.get_round(rnd_id)).state)
