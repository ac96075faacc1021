"""Ids beyond the databases' integer range answer 404 on every route, never 500 (issue #12)."""
from __future__ import annotations

import re

import pytest

HUGE = ["99999999999999999999", "2147483648", "0" + "9" * 12, "٣"]


def _int_rules(app):
    for rule in app.url_map.iter_rules():
        if any(type(c).__name__ == "BoundedInt" for c in rule._converters.values()) and "GET" in rule.methods:
            yield rule


def test_every_int_route_uses_the_bounded_converter(app):
    from werkzeug.routing import IntegerConverter

    rules = [r for r in app.url_map.iter_rules() if any(isinstance(c, IntegerConverter) for c in r._converters.values())]
    assert rules
    assert all(type(c).__name__ == "BoundedInt" for r in rules for c in r._converters.values()
               if isinstance(c, IntegerConverter))


@pytest.mark.parametrize("huge", HUGE)
def test_huge_ids_answer_404_everywhere(app, client, huge):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen = 0
    for rule in _int_rules(app):
        path = re.sub(r"<int:[a-z_]+>", huge, rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        seen += 1
    assert seen > 20


def test_the_largest_id_is_still_an_id(app, client):
    response = client.get("/rounds/2147483647")
    assert response.status_code == 404
    assert client.get("/rounds/99999999999999999999").status_code == 404
