"""Places and committees of a system: pages, `pcnreg places`, refusals, audit, and the findings
that follow a change."""
from __future__ import annotations

from sqlalchemy import func, select

from pcnreg.models import AuditEvent, Commissioner, LocalAuthority, Place, RegistrationRound, System
from pcnreg.services import rounds as rounds_svc


def _notts(db):
    return db.session.scalar(select(System).where(System.code == "E54000014"))


def test_a_place_of_commissioners_is_read_by_the_rounds(app, db, client, demo_round):
    system = _notts(db)
    rnd = db.session.scalar(select(RegistrationRound))
    a_04l = db.session.scalar(select(Commissioner).where(Commissioner.code == "04L")).id
    code = next(c for c, p in rounds_svc.build_configuration(rnd).config.practices.items() if p.commissioner == "04L")
    assert rounds_svc.build_configuration(rnd).config.practices[code].place == "South Nottinghamshire"
    response = client.post(f"/systems/{system.id}/places", data={"name": "All of Nottinghamshire",
                                                                 "commissioners": ["04K", "04L"]})
    assert response.status_code == 302
    place = db.session.scalar(select(Place).where(Place.name == "All of Nottinghamshire"))
    assert {c.code for c in db.session.scalars(select(Commissioner).where(Commissioner.place_id == place.id))} == {"04K", "04L"}
    db.session.expire_all()
    assert db.session.get(Commissioner, a_04l).place_id == place.id
    assert rounds_svc.build_configuration(rnd).config.practices[code].place == "All of Nottinghamshire"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "place.create")) == 1


def test_a_local_authority_moves_between_places_of_one_system(app, db, client, demo_round):
    system = _notts(db)
    mid = db.session.scalar(select(Place).where(Place.name == "Mid Nottinghamshire"))
    page = client.get(f"/systems/{system.id}/places/{mid.id}").get_data(as_text=True)
    assert "Ashfield (E07000170)" in page
    response = client.post(f"/systems/{system.id}/places", data={"name": "Ashfield place",
                                                                 "local_authorities": ["E07000170"]})
    assert response.status_code == 302
    db.session.expire_all()
    assert "E07000170" not in {la.code for la in db.session.get(Place, mid.id).local_authorities}
    ashfield = db.session.scalar(select(LocalAuthority).where(LocalAuthority.code == "E07000170"))
    assert ashfield.place_in(system.id).name == "Ashfield place"


def test_refusals_name_the_problem_and_change_nothing(app, db, client, demo_round):
    system = _notts(db)
    mid = db.session.scalar(select(Place).where(Place.name == "Mid Nottinghamshire"))
    count = lambda: db.session.scalar(select(func.count()).select_from(Place))  # noqa: E731
    before = count()
    for data, message in (({"name": ""}, "Enter a name for the place"),
                          ({"name": "Mid Nottinghamshire"}, "already has a place called"),
                          ({"name": "X", "local_authorities": ["E09000001"]}, "is not a local authority of"),
                          ({"name": "X", "commissioners": ["99A"]}, "is not a commissioner of")):
        response = client.post(f"/systems/{system.id}/places", data=data)
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert count() == before
    removal = client.post(f"/systems/{system.id}/places/{mid.id}", data={"action": "remove"})
    assert removal.status_code == 400 and "give them another place first" in removal.get_data(as_text=True)
    assert count() == before


def test_committees_and_the_cli(app, db, client, runner, demo_round):
    system = _notts(db)
    assert client.post(f"/systems/{system.id}/committees", data={"committee": "Bassetlaw committee"}).status_code == 302
    assert "Bassetlaw committee" in client.get(f"/systems/{system.id}/places").get_data(as_text=True)
    added = runner.invoke(args=["places", "add", "Test place", "--system", "E54000014", "--commissioner", "04N"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["places", "list", "--system", "E54000014"])
    assert "Test place: local authorities none; commissioners 04N; 0 PCNs" in listed.output
    refused = runner.invoke(args=["places", "remove", "Nottingham City", "--system", "E54000014"])
    assert refused.exit_code == 1 and "nothing was changed" in refused.output
    renamed = runner.invoke(args=["places", "set", "Test place", "--system", "E54000014", "--name", "Renamed"])
    assert renamed.exit_code == 0 and db.session.scalar(select(Place).where(Place.name == "Renamed")) is not None


def test_a_commissioner_of_another_system_may_not_change_places(app, db, client_as, demo_round):
    system = _notts(db)
    other = System(code="E54000015", name="Leicester, Leicestershire and Rutland", kind="stp")
    db.session.add(other)
    db.session.commit()
    outsider = client_as("commissioner", "system:E54000015")
    assert outsider.post(f"/systems/{system.id}/places", data={"name": "Mine"}).status_code == 403
    assert outsider.get(f"/systems/{system.id}/places").status_code == 403
    reader = client_as("viewer", "system:E54000014")
    page = reader.get(f"/systems/{system.id}/places")
    assert page.status_code == 200 and "Add a place" not in page.get_data(as_text=True)
