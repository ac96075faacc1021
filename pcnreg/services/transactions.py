"""One change, one transaction: the decorator the workflow services share."""
from __future__ import annotations

import functools
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db


def one_transaction(on_conflict: Callable[[], Exception]):
    """Run the decorated change as one transaction: commit, or roll back everything and raise.
    A concurrent change of the same rows (optimistic lock, unique constraint) becomes
    ``on_conflict()``, a message for the user. ``fn.__wrapped__`` is the change without its
    transaction, for a caller that runs it inside its own."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
                db.session.commit()
                return result
            except (StaleDataError, IntegrityError) as exc:
                db.session.rollback()
                raise on_conflict() from exc
            except BaseException:
                db.session.rollback()
                raise
        return wrapper
    return decorate
