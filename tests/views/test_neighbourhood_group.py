"""Grouping PCNs into neighbourhoods on a page (issue #14), on Staffordshire and Stoke-on-Trent
(QNC), 2026/27: the neighbourhood's LSOAs are the chosen PCNs' catchments recomputed here with
pandas from the published files (tests/services/test_neighbourhoods.py's ``_expected``), or
their nearest-practice areas."""
from __future__ import annotations

from sqlalchemy import func, select
from test_neighbourhoods import _expected, _load, staffs  # noqa: F401 - the fixture

from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent, Neighbourhood, NeighbourhoodLsoa
from pcnreg.services import rounds as rounds_svc


def _stored() -> dict[str, tuple[str, set[str]]]:
    _db.session.expire_all()
    out: dict[str, tuple[str, set[str]]] = {n.name: (n.kind, set()) for n in _db.session.scalars(select(Neighbourhood))}
    for name, code in _db.session.execute(select(Neighbourhood.name, NeighbourhoodLsoa.lsoa_code)
                                          .join(NeighbourhoodLsoa, NeighbourhoodLsoa.neighbourhood_id == Neighbourhood.id)):
        out[name][1].add(code)
    return out


def _events(action: str) -> list[AuditEvent]:
    return list(_db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_grouping_pcns_by_catchment_and_by_area(staffs, runner, client):  # noqa: F811
    assert _load(runner).exit_code == 0
    data = rounds_svc.build_configuration(staffs)
    code_of = {k: p.code for k, p in data.pcns.items()}
    key_of = {c: k for k, c in code_of.items()}
    _, _, _, _, _, catchments = _expected(set(code_of.values()))
    big = sorted(catchments, key=lambda c: (-len(catchments[c]), c))[:3]
    url = f"/rounds/{staffs.id}/neighbourhoods/group"

    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'type="checkbox"' in html and data.pcns[key_of[big[0]]].name in html
    assert "their catchments (where their patients live)" in html

    # one neighbourhood of two PCNs' catchments
    response = client.post(url, data={"name": "  North  Hub ", "kind": "multi", "basis": "catchment",
                                      "pcns": [key_of[big[0]], key_of[big[1]]]})
    assert response.status_code == 302
    want = catchments[big[0]] | catchments[big[1]]
    assert _stored() == {"North Hub": ("multi", want)}
    event = _events("neighbourhoods.group")[-1]
    assert event.round_id == staffs.id and "North Hub" in event.after and big[0] in event.after

    # a second one takes the LSOAs it shares with the first: the third PCN's catchment and the first's again
    response = client.post(url, data={"name": "South", "kind": "single", "basis": "catchment",
                                      "pcns": [key_of[big[2]], key_of[big[0]]]})
    assert response.status_code == 302
    stored = _stored()
    assert stored["South"] == ("single", catchments[big[2]] | catchments[big[0]])
    assert stored["North Hub"] == ("multi", catchments[big[1]] - catchments[big[0]])
    page = client.get(f"/rounds/{staffs.id}/neighbourhoods")
    assert page.status_code == 200 and b"North Hub" in page.data

    # editing: the same name replaces it; a neighbourhood left without LSOAs is removed
    response = client.post(url, data={"name": "South", "kind": "multi", "basis": "catchment",
                                      "pcns": [key_of[big[0]], key_of[big[1]], key_of[big[2]]]}, follow_redirects=True)
    assert response.status_code == 200
    assert b"Removed, left without LSOAs: North Hub" in response.data
    assert _stored() == {"South": ("multi", catchments[big[0]] | catchments[big[1]] | catchments[big[2]])}
    edit = client.get(url, query_string={"name": "South"}).get_data(as_text=True)
    assert 'value="South"' in edit

    # by nearest-practice area: the PCN's blocks
    geo = data.config.geography
    response = client.post(url, data={"name": "Area one", "kind": "single", "basis": "area", "pcns": [key_of[big[0]]]})
    assert response.status_code == 302
    assert _stored()["Area one"] == ("single", set(geo.pcn_blocks[key_of[big[0]]]))


def test_grouping_refusals_write_nothing(staffs, runner, client):  # noqa: F811
    url = f"/rounds/{staffs.id}/neighbourhoods/group"
    data = rounds_svc.build_configuration(staffs)
    some = next(iter(data.pcns))
    before = _db.session.scalar(select(func.count()).select_from(AuditEvent))
    cases = [({"name": "", "kind": "single", "basis": "area", "pcns": [some]}, "Enter a name for the neighbourhood"),
             ({"name": "A", "kind": "single", "basis": "area"}, "Choose at least one PCN"),
             ({"name": "A", "kind": "single", "basis": "area", "pcns": ["999999"]}, "Choose PCNs of this round"),
             ({"name": "A", "kind": "huge", "basis": "area", "pcns": [some]}, "Choose the kind of neighbourhood"),
             ({"name": "A" * 201, "kind": "single", "basis": "area", "pcns": [some]}, "200 characters or fewer"),
             # no LSOA registrations loaded: no catchments
             ({"name": "A", "kind": "single", "basis": "catchment", "pcns": [some]}, "No LSOA registrations are loaded")]
    for form, message in cases:
        response = client.post(url, data=form)
        assert response.status_code == 400, form
        assert message in response.get_data(as_text=True), form
    assert _db.session.scalar(select(func.count()).select_from(Neighbourhood)) == 0
    assert _db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
