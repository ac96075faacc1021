"""The dashboard's tables are rendered once per round state (views/fragments.py): read again by
the next request, rendered anew after a change; on the 2019 Nottinghamshire demo."""
from __future__ import annotations

import html
import re

import pytest
from flask import template_rendered
from sqlalchemy import select

from pcnreg.extensions import db as _db
from pcnreg.models import Membership, Practice, RegistrationRound


def visible(response) -> str:
    text = response.get_data(as_text=True)
    text = re.sub(r'<span class="nhsuk-table__heading" aria-hidden="true">.*?</span>', " ", text, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


@pytest.fixture
def rnd(app):
    from pcnreg.services.demo import load_demo

    load_demo(None)
    return _db.session.scalar(select(RegistrationRound))


@pytest.fixture
def rendered(app):
    names: list[str] = []

    def record(sender, template, context, **extra):
        names.append(template.name)
    template_rendered.connect(record, app)
    yield names
    template_rendered.disconnect(record, app)


def test_the_dashboard_tables_are_rendered_once_per_state_and_anew_after_a_move(client, rnd, rendered):
    from pcnreg.services import configuration

    first = client.get(f"/rounds/{rnd.id}")
    assert first.status_code == 200
    assert " 135 of 135 (100.0%)" in visible(first)
    second = client.get(f"/rounds/{rnd.id}")
    assert rendered.count("dashboard.html") == 2
    assert rendered.count("_dashboard_tables.html") == 1          # the second request read the first's
    assert visible(second) == visible(first)

    code = _db.session.scalar(select(Practice.code).join(Membership, Membership.practice_id == Practice.id)
                              .where(Membership.round_id == rnd.id).order_by(Practice.code))
    configuration.move_practices(_db.session.get(RegistrationRound, rnd.id), [code], None, author="Test",
                                 reason="out of its PCN")
    third = client.get(f"/rounds/{rnd.id}")
    assert rendered.count("_dashboard_tables.html") == 2
    text = visible(third)
    assert "134 of 135 open practices" in text                   # the page's own paragraph
    assert " 134 of 135 (99.3%)" in text                    # and the stored tables: not the old ones
