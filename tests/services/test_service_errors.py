"""One transaction idiom and one ServiceError (issue #15 item 2): messages per field, put on a
form by one helper; ``one_transaction`` commits, rolls back, and turns a conflict into a message."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from wtforms import StringField

from pcnreg.models import System
from pcnreg.services import (
    accounts,
    areas,
    backup,
    changes,
    elections,
    neighbourhoods,
    places,
    registration,
    round_setup,
)
from pcnreg.services.errors import CONCURRENT, ServiceError
from pcnreg.services.transactions import one_transaction
from pcnreg.views.forms import PageForm


def test_every_services_refusal_is_a_service_error():
    kinds = [accounts.AccountError, accounts.SignInRefused, accounts.InviteInvalid, accounts.PasswordRejected,
             areas.AreaError, backup.BackupError, changes.ChangeError, elections.ElectionError,
             neighbourhoods.NeighbourhoodError, places.PlaceError, registration.RegistrationError,
             round_setup.SetupError]
    assert [k.__name__ for k in kinds if not issubclass(k, ServiceError)] == []


def test_messages_per_field():
    one = ServiceError("Enter the date of the meeting", "held_on")
    assert (one.messages, one.field, str(one)) == (["Enter the date of the meeting"], "held_on",
                                                   "Enter the date of the meeting")
    several = registration.RegistrationError(["First", "Second"])
    assert several.problems == [(None, "First"), (None, "Second")] and str(several) == "First; Second"
    mixed = ServiceError.per_field({"name": ["Too long", "Taken"], None: "Try again"})
    assert mixed.by_field() == {"name": ["Too long", "Taken"], None: ["Try again"]}
    assert mixed.field == "name" and mixed.messages == ["Too long", "Taken", "Try again"]
    assert isinstance(mixed, ValueError)            # views that catch a domain EditError catch it too


class _Form(PageForm):
    name = StringField("Name")
    place = StringField("Place")


def test_the_form_helper_puts_each_message_on_its_field(app):
    with app.test_request_context(method="POST", data={}):
        form = _Form(meta={"csrf": False})
        form.add_service_error(ServiceError.per_field({"name": "Too long", "nowhere": "No such field",
                                                       None: "Try again"}))
        form.add_service_error(elections.ElectionError("Try again"))          # once in the summary
        assert list(form.name.errors) == ["Too long"] and not form.place.errors
        assert form.general_errors == ["No such field", "Try again"]
        assert [i["text"] for i in form.error_list()] == ["Too long", "No such field", "Try again"]
        other = _Form(meta={"csrf": False})
        other.add_service_error(ValueError("A domain refusal"))             # not a ServiceError: its text
        assert other.general_errors == ["A domain refusal"]


def _systems(db) -> int:
    return db.session.scalar(select(func.count()).select_from(System))


def test_one_transaction_commits_rolls_back_and_reports_a_conflict(app, db):
    @one_transaction()
    def add(code: str, fail: bool = False) -> str:
        db.session.add(System(code=code, name=f"System {code}", kind="stp"))
        db.session.flush()
        if fail:
            raise ServiceError("refused", "code")
        return code

    before = _systems(db)
    assert add("E54000901") == "E54000901"
    db.session.expire_all()
    assert _systems(db) == before + 1
    with pytest.raises(ServiceError, match="refused"):
        add("E54000902", fail=True)
    assert _systems(db) == before + 1                    # nothing of the refused change is kept
    with pytest.raises(ServiceError) as conflict:
        add("E54000901")                                # the unique code: a concurrent change
    assert conflict.value.messages == [CONCURRENT]
    assert _systems(db) == before + 1

    @one_transaction(lambda: places.PlaceError("Places changed: retry"))
    def clash():
        db.session.add(System(code="E54000901", name="Again", kind="stp"))

    with pytest.raises(places.PlaceError, match="Places changed"):
        clash()
    assert add.__wrapped__("E54000903") == "E54000903"   # the change without its transaction
    db.session.rollback()
    assert _systems(db) == before + 1


def test_a_refused_sign_in_still_records_the_attempt(app, db):
    from pcnreg.models import SignInAttempt

    before = db.session.scalar(select(func.count()).select_from(SignInAttempt))
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in("nobody@example.nhs.uk", "wrong password", "192.0.2.7")
    db.session.rollback()                                # what was recorded was committed
    assert db.session.scalar(select(func.count()).select_from(SignInAttempt)) == before + 1
