"""One change, one transaction: the decorator every service's changes share.

``@one_transaction()`` (or ``@one_transaction(on_conflict)``) runs the decorated function and
commits; any exception rolls everything back and is raised again. A concurrent change of the same
rows (an optimistic lock, a unique constraint) becomes ``on_conflict()``: a ``ServiceError``
for the user (default: ``errors.CONCURRENT``). ``fn.__wrapped__`` is the change without its
transaction, for a caller that runs it inside its own.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from .errors import CONCURRENT, ServiceError


def _concurrent() -> Exception:
    return ServiceError(CONCURRENT)


def one_transaction(on_conflict: Callable[[], Exception] | None = None):
    """Decorate a change as one transaction: ``@one_transaction()`` or ``@one_transaction(conflict)``."""
    return lambda fn: _decorate(fn, on_conflict or _concurrent)


def _decorate(fn, on_conflict: Callable[[], Exception]):
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
