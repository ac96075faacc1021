"""With CSRF protection on (as in production): a POST without the form's token is refused with
400 and writes nothing; with the token from the page it goes through."""
from __future__ import annotations

import re

from sqlalchemy import select
from test_pages import counts, visible

from pcnreg.extensions import db as _db
from pcnreg.models import Pcn, RegistrationRound

WHO = {"author": "Jo Bloggs", "reason": "Agreed at the committee"}


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the form has no CSRF token"
    return match.group(1)


def test_post_without_token_is_refused_and_writes_nothing(csrf_app):
    client = csrf_app.test_client()
    rid = _db.session.scalar(select(RegistrationRound.id))
    newark = _db.session.scalar(select(Pcn.id).where(Pcn.name == "Newark"))
    before = counts()
    for path, data in ((f"/rounds/{rid}/pcns/new", {"name": "Newark North", **WHO}),
                       (f"/rounds/{rid}/pcns/{newark}/rename", {"name": "Newark East", **WHO}),
                       (f"/rounds/{rid}/move", {"codes": "C84693", "to": "none", **WHO}),
                       (f"/rounds/{rid}/versions/1/restore", WHO)):
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        text = visible(response)
        assert "security token" in text and "Nothing was changed" in text
    response = client.post(f"/rounds/{rid}/pcns/{newark}/exception", data={"reason": "R", "recorded_by": "Jo"})
    assert response.status_code == 400
    assert counts() == before
    assert client.post(f"/rounds/{rid}/pcns/new", data={"name": "X", "csrf_token": "forged", **WHO}).status_code == 400
    assert counts() == before


def test_post_with_the_token_from_the_page_saves(csrf_app):
    client = csrf_app.test_client()
    rid = _db.session.scalar(select(RegistrationRound.id))
    page = client.get(f"/rounds/{rid}/pcns/new").get_data(as_text=True)
    response = client.post(f"/rounds/{rid}/pcns/new", data={"name": "Newark North", "csrf_token": _token(page),
                                                               "place": "", **WHO})
    assert response.status_code == 400                       # the token passed; the place is missing
    assert "Choose the place of the PCN" in visible(response)
    place = re.search(r'<option value="(\d+)"[^>]*>Mid Nottinghamshire', page).group(1)
    response = client.post(f"/rounds/{rid}/pcns/new", data={"name": "Newark North", "csrf_token": _token(page),
                                                               "place": place, **WHO})
    assert response.status_code == 302
    # the move preview carries a token into its confirm form
    preview = client.get(f"/rounds/{rid}/move", query_string={"codes": "C84693", "to": "none"}).get_data(as_text=True)
    response = client.post(f"/rounds/{rid}/move", data={"codes": "C84693", "to": "none",
                                                        "csrf_token": _token(preview), **WHO})
    assert response.status_code == 302


def test_get_forms_need_no_token(csrf_app):
    client = csrf_app.test_client()
    rid = _db.session.scalar(select(RegistrationRound.id))
    assert client.get(f"/rounds/{rid}/practices?q=newark").status_code == 200
    assert client.get(f"/rounds/{rid}/findings?severity=warning").status_code == 200
    assert client.get(f"/rounds/{rid}/compare?a=1&b=1").status_code == 200
