"""/rounds (the rounds a user may read, the national overview), /rounds/new (a round from a
contract-year file, rolled forward or empty) and /systems/<id>, with two systems loaded."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from pcnreg.models import Commissioner, ConfigVersion, Membership, Pcn, RegistrationRound, System
from pcnreg.services import contract_years


@pytest.fixture
def two_systems(app, db, demo_round):
    """The demo (Nottingham and Nottinghamshire, 2019/20) and a second system with an empty round."""
    notts = db.session.scalar(select(RegistrationRound))
    other = System(code="E54000015", name="Leicester, Leicestershire and Rutland", kind="stp")
    db.session.add(other)
    db.session.flush()
    db.session.add(Commissioner(code="04C", name="NHS Leicester City CCG", system_id=other.id, kind="ccg"))
    llr = RegistrationRound(name="LLR 2019/20", system_id=other.id, reference_date=dt.date(2019, 1, 1),
                            contract_year="2019/20", opens=dt.date(2019, 3, 29), go_live=dt.date(2019, 7, 1))
    db.session.add(llr)
    db.session.commit()
    return notts, llr


def round_names(html: str) -> set[str]:
    return set(re.findall(r'Round </span>\s*<a href="/rounds/\d+">([^<]+)</a>', html))


def test_each_user_sees_the_rounds_they_may_read(app, db, two_systems, client, client_as):
    notts, llr = two_systems
    assert round_names(client.get("/rounds").get_data(as_text=True)) == {notts.name, llr.name}
    national = client_as("viewer")                                    # a national viewer
    assert round_names(national.get("/rounds").get_data(as_text=True)) == {notts.name, llr.name}
    local = client_as("commissioner", "system:E54000014")
    page = local.get("/rounds").get_data(as_text=True)
    assert round_names(page) == {notts.name}
    app.config["PCNREG_NOW"] = "2019-08-01T09:00:00+01:00"
    assert ">Live<" in local.get("/rounds").get_data(as_text=True).replace("\n", "").replace(" ", "")  # live 1 July 2019
    app.config["PCNREG_NOW"] = "2020-04-01T09:00:00+01:00"         # the 2019/20 contract year is over
    page = local.get("/rounds").get_data(as_text=True)
    assert "Year ended" in page and ">Live<" not in page.replace("\n", "").replace(" ", "")
    filtered = client.get("/rounds?system=E54000015").get_data(as_text=True)
    assert round_names(filtered) == {llr.name}


def test_cross_system_pages_and_new_rounds_are_refused(app, db, two_systems, client_as):
    notts, llr = two_systems
    local = client_as("commissioner", "system:E54000014")
    assert local.get(f"/systems/{notts.system_id}").status_code == 200
    assert local.get(f"/systems/{llr.system_id}").status_code == 403
    assert local.get(f"/rounds/{llr.id}").status_code == 403
    before = db.session.scalar(select(func.count()).select_from(RegistrationRound))
    response = local.post("/rounds/new", data={"system": str(llr.system_id), "year": "2019/20", "name": "Mine",
                                               "band_min": "30000", "band_max": "50000"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(RegistrationRound)) == before
    ccg_only = client_as("commissioner", "commissioner:04K")       # part of a system: no new rounds
    assert ccg_only.get("/rounds/new").status_code == 403
    assert local.get("/rounds/new").status_code == 200


def _form(system_id: int, round_name: str, **extra) -> dict:
    data = {"system": str(system_id), "year": "2026/27", "name": round_name, "band_min": "30000", "band_max": "50000",
            "reference_date[day]": "1", "reference_date[month]": "4", "reference_date[year]": "2026",
            "go_live[day]": "1", "go_live[month]": "5", "go_live[year]": "2026"}
    data.update(extra)
    return data


def test_new_round_is_prefilled_from_the_contract_year_and_rolls_forward(app, db, two_systems, client):
    notts, _ = two_systems
    year = contract_years.load("2026/27")
    page = client.get(f"/rounds/new?year=2026/27&system={notts.system_id}").get_data(as_text=True)
    go_live = year.value("go_live")
    assert f'name="go_live[day]" type="text" value="{go_live.day}"' in page.replace("\n", " ") or \
        f'value="{go_live.day}"' in page
    assert year.source("go_live") in page and "Not set by 2026/27" in page

    response = client.post("/rounds/new", data=_form(notts.system_id, "Notts 2026/27 rehearsal",
                                                     from_round=str(notts.id)))
    assert response.status_code == 302, response.get_data(as_text=True)
    new = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == "Notts 2026/27 rehearsal"))
    assert new.contract_year == "2026/27" and new.go_live == dt.date(2026, 5, 1)
    assert new.rolled_from_version_id == notts.head_version_id
    old_pcns = {p.id: p for p in db.session.scalars(select(Pcn).where(Pcn.round_id == notts.id, Pcn.active.is_(True)))}
    new_pcns = list(db.session.scalars(select(Pcn).where(Pcn.round_id == new.id, Pcn.active.is_(True))))
    assert sorted(p.name for p in new_pcns) == sorted(p.name for p in old_pcns.values())
    assert all(old_pcns[p.carried_from_id].name == p.name for p in new_pcns)
    members = lambda rnd: {(m.practice_id, m.pcn.name) for m in db.session.scalars(  # noqa: E731
        select(Membership).where(Membership.round_id == rnd.id))}
    assert members(new) == members(notts)
    first = db.session.scalar(select(ConfigVersion).where(ConfigVersion.round_id == new.id))
    assert first.number == 1 and "Rolled forward from" in first.reason


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "Enter a name for the round"),
    ({"reference_date[day]": "", "reference_date[month]": "", "reference_date[year]": ""},
     "Enter the date list sizes are counted at"),
    ({"band_min": "60000"}, "Enter a band whose minimum is at most its maximum"),
    ({"go_live[day]": "31", "go_live[month]": "2"}, "must be a real date"),
    ({"year": "2099/00"}, "Choose a contract year"),
])
def test_bad_new_round_input_is_refused_and_nothing_is_written(app, db, two_systems, client, change, message):
    notts, _ = two_systems
    before = db.session.scalar(select(func.count()).select_from(RegistrationRound))
    response = client.post("/rounds/new", data=_form(notts.system_id, "Rehearsal", **change))
    assert response.status_code in (200, 400)
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(RegistrationRound)) == before


def test_a_name_already_used_is_refused(app, db, two_systems, client):
    notts, llr = two_systems
    response = client.post("/rounds/new", data=_form(notts.system_id, llr.name))
    assert "There is already a round called" in response.get_data(as_text=True)


def test_settings_change_until_the_round_opens_and_are_audited(app, db, two_systems, client):
    from pcnreg.models import AuditEvent

    notts, _ = two_systems
    client.post("/rounds/new", data=_form(notts.system_id, "Rehearsal", **{
        "opens[day]": "1", "opens[month]": "3", "opens[year]": "2030"}))
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == "Rehearsal"))
    page = client.get(f"/rounds/{rnd.id}/settings").get_data(as_text=True)
    assert "Save the settings" in page
    data = {**_form(notts.system_id, "Rehearsal"), "opens[day]": "1", "opens[month]": "3", "opens[year]": "2030",
            "band_max": "70000"}
    assert client.post(f"/rounds/{rnd.id}/settings", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(RegistrationRound, rnd.id).band_max == 70000
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "round.settings"))
    assert '"band_max":70000' in event.after and '"band_max":50000' in event.before
    # The 2019/20 round opened long ago: its settings are its record.
    old = client.get(f"/rounds/{notts.id}/settings").get_data(as_text=True)
    assert "no longer changed" in old and "Save the settings" not in old
    refused = client.post(f"/rounds/{notts.id}/settings", data=data)
    assert refused.status_code == 400 and "no longer changed" in refused.get_data(as_text=True)
