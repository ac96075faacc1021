"""One change, one transaction: the decorator every service's changes share; and ``insert_rows``,
how a change writes many rows of one table.

``@one_transaction()`` (or ``@one_transaction(on_conflict)``) runs the decorated function and
commits; any exception rolls everything back and is raised again. A concurrent change of the same
rows (an optimistic lock, a unique constraint) becomes ``on_conflict()``: a ``ServiceError``
for the user (default: ``errors.CONCURRENT``). ``fn.__wrapped__`` is the change without its
transaction, for a caller that runs it inside its own.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from sqlalchemy import insert
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


INSERT_CHUNK = 10_000


def insert_rows(model, rows: Iterable[dict], chunk: int = INSERT_CHUNK) -> int:
    """Insert ``rows`` (a dict of column values each; None is NULL) into ``model``'s table, in the
    caller's transaction, ``chunk`` rows per statement (one executemany each, not an ORM object
    per row); returns how many.

    ``render_nulls``: the ORM's bulk insert otherwise leaves a None out of a row's parameters, and
    rows with different parameters go in separate statements: England's 22,016 commissioner
    periods (an end date or none, a kind or none) were 15,394 statements. A column with a default
    gets NULL from a None here, so leave the key out to have the default."""
    statement = insert(model).execution_options(render_nulls=True)
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            db.session.execute(statement, batch)
            count, batch = count + len(batch), []
    if batch:
        db.session.execute(statement, batch)
        count += len(batch)
    return count
