"""``services.transactions.insert_rows``: many rows in few statements, None stored as NULL."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import event, select

from pcnreg.models import CommissionerPeriod
from pcnreg.services.transactions import insert_rows

# Rows whose None values differ from one row to the next (an end date or none, a kind or none):
# the ORM's bulk insert made a statement per change of shape.
ROWS = [
    {"practice_code": "C84001", "commissioner_code": "04K", "kind": "ccg", "system_code": None,
     "start_date": dt.date(2019, 4, 1), "end_date": None, "source": "test"},
    {"practice_code": "C84002", "commissioner_code": "52R", "kind": None, "system_code": "E54000060",
     "start_date": None, "end_date": dt.date(2020, 3, 31), "source": "test"},
    {"practice_code": "C84003", "commissioner_code": "04K", "kind": "sub_icb", "system_code": None,
     "start_date": dt.date(2019, 4, 1), "end_date": None, "source": "test"},
    {"practice_code": "C84004", "commissioner_code": "04L", "kind": None, "system_code": None,
     "start_date": None, "end_date": None, "source": "test"},
]


def _inserts(db, work) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_rows_of_different_shapes_go_in_one_statement_and_none_is_null(app, db):
    assert _inserts(db, lambda: insert_rows(CommissionerPeriod, iter(ROWS))) == 1
    db.session.commit()
    stored = [{k: getattr(p, k) for k in ROWS[0]}
              for p in db.session.scalars(select(CommissionerPeriod).order_by(CommissionerPeriod.practice_code))]
    assert stored == ROWS


def test_rows_go_in_chunks_and_the_count_is_returned(app, db):
    assert _inserts(db, lambda: insert_rows(CommissionerPeriod, ROWS, chunk=3)) == 2
    assert insert_rows(CommissionerPeriod, []) == 0
    assert insert_rows(CommissionerPeriod, ROWS[:1]) == 1
    assert db.session.query(CommissionerPeriod).count() == len(ROWS) + 1
