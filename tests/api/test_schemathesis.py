"""Schemathesis against the OpenAPI document: every documented operation, called with
generated parameters through the WSGI app, as a signed-in system administrator (the session
cookie of the test client, through which the calls go) on the demo round: no 5xx, and every
response conforms to the document (documented status code, content type, response schema).

An anonymous call of each operation is checked too: the API answers 401 with a JSON error
body (the document does not list 401 or 403 yet: ``test_anonymous_calls_are_401`` reports it).
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pcnreg.services.rounds import get_round

OPENAPI = "/api/v1/openapi.json"
# No 5xx; documented status codes, content types, headers and response bodies. Left out:
# ``positive_data_acceptance`` (a schema-valid request must get a 2xx): the API answers 400 to
# strings with control characters, which the document's parameter schemas do not exclude.
CHECKS = [checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("PCNREG_FUZZ_EXAMPLES") or 40)   # `make test` gives PostgreSQL fewer


def table_counts() -> dict[str, int]:
    """Rows per table (the audit trail included): a refused POST must leave them all as they were."""
    from sqlalchemy import func, select

    from pcnreg.extensions import db

    db.session.expire_all()
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables if t.name != "sign_in_attempt"}


@pytest.fixture
def api_schema(app, client, demo_round):
    assert client.get("/about").status_code == 200       # signs the test administrator in
    return schemathesis.openapi.from_wsgi(OPENAPI, app)


@pytest.fixture
def signed_in(app, client):
    """The signed-in administrator's test client: schemathesis sends the WSGI calls through it
    (``session=``), with its session cookie and the address and browser the session was made for
    (Flask-Login's strong session protection drops a session used from elsewhere)."""
    assert client.get("/about").status_code == 200
    return client


def test_api_conforms_to_its_document(api_schema, signed_in, capsys):
    round_id = get_round().id
    """Each operation with ``EXAMPLES`` generated cases (schemathesis' pytest plugin,
    ``from_fixture``, does not run on pytest 9: the operations are walked here instead)."""
    calls: dict[str, dict[int, int]] = {}
    problems: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5, [op.label for op in operations]
    for operation in operations:
        seen = calls.setdefault(operation.label, {})

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.filter_too_much])
        @given(case=operation.as_strategy(), real_round=st.booleans())
        def run(case, real_round):
            if real_round and "round_id" in (case.path_parameters or {}):
                case.path_parameters["round_id"] = round_id      # half the cases: the demo round
            writes = operation.method.upper() != "GET"
            before = table_counts() if writes else None
            # schemathesis' own User-Agent would make another browser, whose session Flask-Login drops
            response = case.call(session=signed_in, headers={"User-Agent": signed_in.environ_base["HTTP_USER_AGENT"]})
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.formatted_path, case.query, case.body, response.text[:500])
            if writes and response.status_code >= 300:       # a refused change writes nothing
                assert table_counts() == before, (case.formatted_path, case.body, response.status_code)
            assert response.status_code != 401, "the session cookie did not sign in"
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except (Exception, FailureGroup) as exc:      # FailureGroup is a BaseExceptionGroup
            problems.append(f"{operation.label}: {type(exc).__name__}: {exc}")
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {sum(sum(c.values()) for c in calls.values())} calls")
        for label, statuses in calls.items():
            print(f"  {label:40} {sum(statuses.values()):4}  {dict(sorted(statuses.items()))}")
    assert not problems, "\n\n".join(problems)


def test_anonymous_calls_are_401(app, api_schema, anon_client, capsys):
    undocumented = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        path = "/api/v1" + (operation.path.replace("{round_id}", str(get_round().id))
                            .replace("{pcn_id}", "1").replace("{number}", "1")
                            .replace("{meeting_id}", "1").replace("{commissioner_id}", "1"))
        if operation.method.upper() == "GET":
            response = anon_client.get(path)
        else:
            response = anon_client.open(path, method=operation.method.upper(), json={})
        assert response.status_code == 401, (path, response.status_code)
        assert response.mimetype == "application/json"
        assert response.get_json()["error"]["status"] == 401
        if "401" not in operation.definition.raw.get("responses", {}):
            undocumented.append(operation.label)
    with capsys.disabled():
        if undocumented:
            print(f"\nthe OpenAPI document does not list 401 for: {', '.join(undocumented)}")
