"""Each role sees exactly the actions the policy allows on a page (issue #16): the forms of a PCN's
registration page and of its configuration page in the demo's current round, per demo user,
against a literal table (not read from the code under test)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from pcnreg.models import Pcn, User
from pcnreg.services.demo_users import create_demo_users

PREPARE = {"clinical-director", "confirm", "payee", "sign",     # Newark misses items: no "submit"
           "own-account"}                                         # 2026/27: its own account instead of a payee
# user -> page -> the POST forms it shows
EXPECTED = {
    "admin@demo.pcnreg.example": {"Newark": PREPARE, "Ashfield South": PREPARE, "config": {"exception"}},
    "commissioner.system@demo.pcnreg.example": {"Newark": PREPARE, "Ashfield South": PREPARE,
                                                "config": {"exception"}},
    "commissioner.04k@demo.pcnreg.example": {"Newark": set(), "Ashfield South": set(), "config": set()},
    "pcn.lead@demo.pcnreg.example": {"Newark": PREPARE, "Ashfield South": set(), "config": set()},
    "practice.rep@demo.pcnreg.example": {"Newark": set(), "Ashfield South": {"confirm", "sign"}, "config": set()},
    "returning.officer@demo.pcnreg.example": {"Newark": set(), "Ashfield South": set(), "config": set()},
    "committee.member@demo.pcnreg.example": {"Newark": set(), "Ashfield South": set(), "config": set()},
    "viewer@demo.pcnreg.example": {"Newark": set(), "Ashfield South": set(), "config": set()},
}


@pytest.fixture
def demo(app, db, story):
    assert app.config["PCNREG_NOW"] == "2026-12-10T12:00:00+00:00"
    create_demo_users("http://localhost")
    _history, rnd = story
    pcns = {p.name: p.id for p in db.session.scalars(select(Pcn).where(Pcn.round_id == rnd.id))}
    return rnd.id, pcns


def forms(html: str) -> set[str]:
    actions = re.findall(r'<form method="post" action="([^"]+)"', html)
    return {re.sub(r"#.*$", "", a).rstrip("/").split("/")[-1] for a in actions}


def test_each_role_sees_exactly_its_actions(app, db, demo):
    rid, pcns = demo
    for email, pages in EXPECTED.items():
        client = app.test_client(user=db.session.scalar(select(User).where(User.email == email)))
        for name in ("Newark", "Ashfield South"):
            page = client.get(f"/rounds/{rid}/pcns/{pcns[name]}/registration")
            assert page.status_code == 200
            assert forms(page.get_data(as_text=True)) == pages[name], (email, name)
        config = client.get(f"/rounds/{rid}/pcns/{pcns['Newark']}").get_data(as_text=True)
        assert forms(config) == pages["config"], (email, "config")
        assert ("Rename this PCN" in config) == bool(pages["config"]), email
