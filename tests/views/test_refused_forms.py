"""A refused form keeps what was typed (issue #16 item 3): after the service refuses a change the
page comes back (400) with the user's input in its fields, nothing redirected and nothing lost."""
from __future__ import annotations

import html
import re

from test_pages import counts, demo, pcn_id, rid  # noqa: F401  (fixtures)

REASON = "Typed by the user: agreed at the meeting of 23 May 2019"


def page(response) -> str:
    assert response.status_code == 400, response.status_code
    return html.unescape(response.get_data(as_text=True))


def test_a_refused_rename_keeps_the_name_and_reason(client, rid):  # noqa: F811
    before = counts()
    body = page(client.post(f"/rounds/{rid}/pcns/{pcn_id('Newark')}/rename",
                            data={"name": "Nottingham City PCN 6", "reason": REASON}))
    assert "already exists" in body
    assert re.search(r'name="name"[^>]*value="Nottingham City PCN 6"|value="Nottingham City PCN 6"[^>]*name="name"', body)
    assert REASON in body and counts() == before


def test_a_refused_split_keeps_the_ticked_practices_name_and_reason(client, rid):  # noqa: F811
    newark = pcn_id("Newark")
    form = client.get(f"/rounds/{rid}/pcns/{newark}/split").get_data(as_text=True)
    code = re.findall(r'name="members"[^>]*value="([A-Z0-9]+)"|value="([A-Z0-9]+)"[^>]*name="members"', form)[0]
    code = code[0] or code[1]
    before = counts()
    body = page(client.post(f"/rounds/{rid}/pcns/{newark}/split",
                            data={"members": code, "new_name": "Nottingham City PCN 6", "reason": REASON}))
    assert REASON in body and "Nottingham City PCN 6" in body
    assert re.search(rf'value="{code}"[^>]*checked|checked[^>]*value="{code}"', body)
    assert counts() == before
