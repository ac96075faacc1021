"""The suite's shared URL rules (conftest ``_shared_url_rules``) give each app the rules werkzeug
itself would compile: the same parts, arguments, converters, matches and built URLs."""
from __future__ import annotations

from werkzeug.routing.converters import NumberConverter
from werkzeug.routing.rules import Rule

from pcnreg import create_app


def _app(tmp_path, monkeypatch):
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}"})


def _values(rule) -> dict:
    return {name: (7 if isinstance(conv, NumberConverter) else "C84067")
            for name, conv in rule._converters.items()}


def test_cached_rules_are_the_rules_werkzeug_compiles(tmp_path, monkeypatch):
    cached_apps = [_app(tmp_path / "a", monkeypatch), _app(tmp_path / "b", monkeypatch)]   # the second from the cache
    with monkeypatch.context() as patch:
        patch.setattr(Rule, "compile", Rule.compile.uncached)
        plain = _app(tmp_path / "c", monkeypatch)
    want = {(r.endpoint, r.rule): r for r in plain.url_map.iter_rules()}
    for app in cached_apps:
        got = {(r.endpoint, r.rule): r for r in app.url_map.iter_rules()}
        assert got.keys() == want.keys()
        adapter, plain_adapter = app.url_map.bind("localhost"), plain.url_map.bind("localhost")
        for key, rule in got.items():
            expected = want[key]
            assert rule._parts == expected._parts and rule._trace == expected._trace, key
            assert rule.arguments == expected.arguments, key
            assert {n: (type(c), c.regex) for n, c in rule._converters.items()} == \
                {n: (type(c), c.regex) for n, c in expected._converters.items()}, key
            assert all(c.map is app.url_map for c in rule._converters.values()), key
            values = _values(rule)
            assert rule.build(values) == expected.build(values), key
            assert rule.build({**values, "extra": "1"}, append_unknown=True) == \
                expected.build({**values, "extra": "1"}, append_unknown=True), key
            path = rule.build(values)[1].split("?")[0]
            method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            assert adapter.match(path, method=method) == plain_adapter.match(path, method=method), key
