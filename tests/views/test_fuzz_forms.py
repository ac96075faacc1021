"""Fuzzing every POST form with hypothesis: no 5xx, and nothing written by a refused request.

The POST endpoints are read from ``app.url_map`` (as tests/views/test_role_matrix.py does), so a new
form is fuzzed without touching this file. Each one gets real URL parameters (the demo round
with its geodata when ../shared/geodata is beside the checkout, the Newark PCN, version 1, a
demo user, a real invite token) and form data built from the form's own field names: they are
read from the pages that carry the form (``<form method="post" action="...">``: its inputs,
selects, textareas and buttons, with the values the page offers), or, when no page shows it,
from the FlaskForm classes of the view's module. Each field gets either one of the page's own
values or a hostile string: empty, 10,000 characters, unicode, control characters, NUL bytes,
a leading ``= + - @``, SQL- and HTML-ish text, numbers far out of range; random extra fields
are added.

For every request: the status is below 500; when it is an error (4xx) the database holds the
same rows as before (row counts of every table but the sign-in attempts, which a refused
sign-in records on purpose). A success (2xx/3xx) may write. The test client is the signed-in
system administrator (a fresh client per request: a fuzzed sign-out or invite would otherwise
change who is signed in); CSRF is off in the test app, and ``test_forms_without_a_csrf_token``
fuzzes a few forms with it on: always 400, nothing written.
"""
from __future__ import annotations

import functools
import inspect
import io
import os
import traceback
import types
from collections import defaultdict
from html.parser import HTMLParser

import pytest
from conftest import content_fixture
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from test_committee import committee_objects
from wtforms import FileField, SelectMultipleField

from pcnreg.extensions import db as _db
from pcnreg.models import Commissioner, Pcn, RegistrationRound
from pcnreg.services import accounts
from pcnreg.services import registration as reg_svc
from pcnreg.services.demo_users import create_demo_users

# Examples per endpoint (PCNREG_FUZZ_EXAMPLES: `make test` gives the PostgreSQL run fewer); endpoints
# whose every answer renders a map page are dearer.
EXAMPLES = int(os.environ.get("PCNREG_FUZZ_EXAMPLES") or 40)
DEAR_EXAMPLES = min(10, EXAMPLES)
DEAR = {"maps.move_block", "maps.upload_area", "maps.revert_area", "maps.record_adjacent"}
CSRF_EXAMPLES = 25
NOT_WRITTEN_BY_FAILURES = {"sign_in_attempt"}       # a refused sign-in is recorded, on purpose

SETTINGS = dict(deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])


# --- hostile values -------------------------------------------------------------------------------------

SQLISH = ["' OR '1'='1", "'; DROP TABLE pcn; --", "1; DELETE FROM membership", "\" OR 1=1 --",
          "' UNION SELECT password_hash FROM user_account --", "%", "_", "\\", "';--", "1e309"]
HTMLISH = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "{{ 7*7 }}", "{% raw %}",
           "&amp;&lt;&#0;", "<!--", "]]>", "javascript:alert(1)"]
NUMBERS = st.one_of(st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
                    st.sampled_from([0, -1, 2 ** 31, 2 ** 63, -(2 ** 63) - 1, 10 ** 30])).map(str) | \
    st.sampled_from(["NaN", "inf", "-inf", "1e400", "0x10", "1.5", " 1 ", "１２", "²", "1²", "٣", "9" * 25,
                     "99999999999999999999", "pcn:99999999999999999999", "system:²", "9" * 5000])
CONTROL = st.text(alphabet=st.characters(max_codepoint=0x1F, codec="utf-8") | st.sampled_from("\x7f\u2028\u2029\ufeff\u200b"),
                  min_size=1, max_size=20)
LONG = st.sampled_from(["x", "é", "😀", "<", "\x00", " ", "9"]).map(lambda c: c * 10_000)


def _formula(s: str) -> st.SearchStrategy[str]:
    return st.sampled_from("=+-@").map(lambda p: p + s)


HOSTILE = st.one_of(
    st.just(""),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x80, codec="utf-8"), max_size=40),
    CONTROL,
    st.text(st.characters(codec="utf-8"), max_size=20).map(lambda s: s + "\x00" + s),
    st.text(st.characters(codec="utf-8"), max_size=20).flatmap(_formula),
    st.sampled_from(["=1+1", "=cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@HYPERLINK(\"x\")"]),
    st.sampled_from(SQLISH),
    st.sampled_from(HTMLISH),
    NUMBERS,
    LONG,
)
FILE_CONTENT = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"\x00" * 64, b"code,name\nC84067,=1+1\n", b"{\"type\": \"Polygon\"}",
                     b"PK\x03\x04garbage", b"\xef\xbb\xbf" + "é,ü\n".encode(), b"a" * 20_000]),
    HOSTILE.map(lambda s: s.encode("utf-8", "surrogatepass")),
)
FILE_NAME = st.one_of(st.sampled_from(["upload.csv", "area.geojson", "area.gpkg", "x.xlsx", "", "../../etc/passwd",
                                       "a\x00b.csv", "=1+1.csv"]), st.text(st.characters(codec="utf-8"), max_size=30))


# --- the forms' field names, read from the pages ---------------------------------------------------------

class FormParser(HTMLParser):
    """The POST forms of a page: {action: {name: {"kind": ..., "values": [...]}}}."""

    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: dict[str, dict[str, dict]] = defaultdict(dict)
        self.current: str | None = None
        self.select: str | None = None

    def _field(self, name: str, kind: str) -> dict:
        assert self.current is not None
        return self.current_fields.setdefault(name, {"kind": kind, "values": []})

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if (a.get("method") or "get").lower() == "post":
                self.current = (a.get("action") or self.page_path).split("?")[0]
                self.current_fields = self.forms[self.current]
            return
        if self.current is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            kind = {"checkbox": "multi", "radio": "choice", "file": "file"}.get(kind, "text")
            field = self._field(name, kind)
            if a.get("value") is not None and name != "csrf_token":
                field["values"].append(a["value"])
        elif tag in ("textarea", "button") and name:
            field = self._field(name, "text" if tag == "textarea" else "choice")
            if a.get("value") is not None:
                field["values"].append(a["value"])
        elif tag == "select" and name:
            self._field(name, "multi" if "multiple" in a else "choice")
            self.select = name
        elif tag == "option" and self.select and a.get("value") is not None:
            self.current_fields[self.select]["values"].append(a["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def _form_classes(view) -> list[type]:
    """The FlaskForm classes the view function names (``Form(...)`` or ``forms.Form(...)``)."""
    fn = inspect.unwrap(view)
    names, found = fn.__code__.co_names, []
    for name in names:
        obj = fn.__globals__.get(name)
        candidates = [obj] if isinstance(obj, type) else \
            [getattr(obj, n, None) for n in names] if isinstance(obj, types.ModuleType) else []
        found += [c for c in candidates if isinstance(c, type) and issubclass(c, FlaskForm) and c not in found]
    return found


def form_classes_fields(view) -> dict[str, dict]:
    """The fields of the FlaskForm classes the view uses (the form of a POST no page shows)."""
    fields: dict[str, dict] = {}
    for obj in _form_classes(view):
        for klass in obj.__mro__:
            for name, unbound in vars(klass).items():
                field_class = getattr(unbound, "field_class", None)
                if not isinstance(field_class, type):
                    continue
                kind = "file" if issubclass(field_class, FileField) else \
                    "multi" if issubclass(field_class, SelectMultipleField) else "text"
                fields.setdefault(name, {"kind": kind, "values": []})
    return fields


def build(rule, params: dict) -> str:
    return rule.build({k: params[k] for k in rule.arguments if k in params or k not in (rule.defaults or {})})[1]


def discover_forms(app, params) -> dict[str, dict[str, dict]]:
    """{path: fields} for every POST form found on the GET pages of the blueprints that have a
    POST route (pages only: no map documents, images or exports)."""
    blueprints = {r.endpoint.split(".")[0] for r in app.url_map.iter_rules() if "POST" in r.methods}
    forms: dict[str, dict[str, dict]] = defaultdict(dict)
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.split(".")[0] not in blueprints or "." in rule.rule \
                or rule.endpoint in ("api.unknown", "auth.sign_out") or "<path:" in rule.rule:
            continue
        path = build(rule, params)
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = FormParser(path)
        parser.feed(response.get_data(as_text=True))
        for action, fields in parser.forms.items():
            for name, field in fields.items():
                known = forms[action].setdefault(name, {"kind": field["kind"], "values": []})
                known["values"] = sorted(set(known["values"]) | set(field["values"]))
    return forms


# --- the database's fingerprint ---------------------------------------------------------------------------

def fingerprint(db) -> dict[str, int]:
    """Every table's row count (but NOT_WRITTEN_BY_FAILURES'), read in one statement (its SQL
    written once: it runs before and after thousands of requests)."""
    db.session.expire_all()
    names, statement = _counting_statement(db.metadata)
    return dict(zip(names, db.session.execute(statement).one(), strict=True))


@functools.cache
def _counting_statement(metadata):
    names = tuple(t.name for t in metadata.sorted_tables if t.name not in NOT_WRITTEN_BY_FAILURES)
    return names, text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{name}")' for name in names))


# Plausible values, so that some fuzzed forms get past validation and write
PLAUSIBLE = st.sampled_from(["Jo Bloggs", "Agreed at the committee", "Newark North", "C84067", "C84067 C84693",
                             "none", "viewer", "all", "commissioner:04K", "fuzz@nhs.example", "E01028000",
                             "Rural area"])


def value_strategy(field: dict) -> st.SearchStrategy:
    real = st.sampled_from(field["values"]) if field["values"] else PLAUSIBLE
    one = st.one_of(real, real, HOSTILE)
    if field["kind"] == "file":
        return st.one_of(st.just(None), st.tuples(FILE_CONTENT, FILE_NAME))
    if field["kind"] == "multi":
        return st.lists(one, max_size=4)
    return st.one_of(st.just(None), one, one, one)        # None: the field is left out


def form_strategy(fields: dict[str, dict]) -> st.SearchStrategy[dict]:
    names = sorted(fields)
    extra = st.dictionaries(st.text(st.characters(codec="utf-8"), min_size=1, max_size=20), HOSTILE, max_size=3)
    return st.tuples(st.tuples(*(value_strategy(fields[n]) for n in names)), extra).map(
        lambda pair: (dict(zip(names, pair[0])), pair[1]))


def request_data(form: dict, extra: dict) -> dict:
    data: dict = {}
    for name, value in {**extra, **form}.items():
        if value is None:
            continue
        if isinstance(value, tuple):
            content, filename = value
            data[name] = (io.BytesIO(content), filename)
        else:
            data[name] = value
    return data


# --- fixtures ---------------------------------------------------------------------------------------------

_WORKFLOW: dict = {}          # what _fuzz_content made that only it knows (the invite's token), and ids


def _fuzz_content() -> None:
    """The demo round (no geodata), its users, an invited user, and the workflow's objects:
    Newark submitted, a meeting with it and a below-band PCN on its agenda (one decided with a
    condition, an exception request undecided), a stored file; City PCN 3's election at voting,
    one link unused. Written once per session; each test gets a copy (``content_fixture``)."""
    from flask import current_app as app
    from test_election_pages import election_objects

    from pcnreg.services.demo import load_demo

    load_demo(None)
    create_demo_users("http://localhost")
    rnd = _db.session.scalar(select(RegistrationRound))
    invited = accounts.create_user("invited.fuzz@nhs.example", "Invited", [], created_by="test")
    _WORKFLOW["token"] = accounts.invite(invited, created_by="test")
    newark = _db.session.scalar(select(Pcn).where(Pcn.name == "Newark", Pcn.round_id == rnd.id))
    _WORKFLOW.update(committee_objects(app, rnd, newark))
    _WORKFLOW.update(election_objects(app, rnd))


content_fixture("plain_demo", "fuzz-demo", _fuzz_content)


@pytest.fixture
def plain_demo(app, db, client):
    """``_fuzz_content``'s database and the parameters for the URLs; the test administrator
    exists (``client`` has signed in) before any fingerprint is taken."""
    rnd = db.session.scalar(select(RegistrationRound))
    newark = db.session.scalar(select(Pcn).where(Pcn.name == "Newark", Pcn.round_id == rnd.id))
    assert client.get("/about").status_code == 200
    from pcnreg.models import Place

    return {"round_id": rnd.id, "pcn_id": newark.id, "number": 1, "system_id": rnd.system_id, "job_id": 1,
            "practice_code": "C84067",
            "place_id": db.session.scalar(select(Place.id).where(Place.system_id == rnd.system_id).order_by(Place.id)),
            "user_id": accounts.find_user("admin@demo.pcnreg.example").id, "anything": "nothing-here",
            "commissioner_id": db.session.scalar(select(Commissioner.id).where(Commissioner.code == "04H")),
            "file_id": next(iter(reg_svc.signatures(rnd, newark).values())).file_id, **_WORKFLOW}


@pytest.fixture
def fuzz_demo(request, plain_demo):
    """``plain_demo`` with the geodata installed when ../shared/geodata is there (the map
    changes answer 404 without it)."""
    try:
        geodata = request.getfixturevalue("geodata")
    except pytest.skip.Exception:
        geodata = None
    if geodata is not None:
        from pcnreg.services.geodata import install

        install(geodata)
    return plain_demo


# --- the tests ----------------------------------------------------------------------------------------------

def test_fuzz_every_post_form(app, db, fuzz_demo, capsys):
    params = fuzz_demo
    forms = discover_forms(app, params)
    rules = sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods), key=lambda r: r.rule)
    assert len(rules) >= 15, [r.rule for r in rules]
    counts: dict[str, int] = {}
    statuses: dict[str, dict[int, int]] = {}
    problems: list[str] = []
    from_pages = 0
    sources: dict[str, str] = {}
    for rule in rules:
        path = build(rule, params)
        fields = form_classes_fields(app.view_functions[rule.endpoint])
        if path in forms:
            from_pages += 1
            fields.update(forms[path])            # the page's own names and values win
        endpoint = rule.endpoint
        sources[endpoint] = f"{'page+class' if path in forms else 'class'}: {', '.join(sorted(fields))}"
        counts[endpoint] = 0
        statuses[endpoint] = defaultdict(int)

        @settings(max_examples=DEAR_EXAMPLES if endpoint in DEAR else EXAMPLES, **SETTINGS)
        @given(sent=form_strategy(fields))
        def fuzz(sent):
            form, extra = sent
            before = fingerprint(db)
            response = app.test_client().post(path, data=request_data(form, extra))
            counts[endpoint] += 1
            statuses[endpoint][response.status_code] += 1
            shown = {k: (v[:60] + f"...({len(v)})" if isinstance(v, str) and len(v) > 60 else v)
                     for k, v in {**extra, **form}.items()}
            assert response.status_code < 500, f"POST {path} {shown}: {response.status_code}"
            if 400 <= response.status_code < 500:
                after = fingerprint(db)
                changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
                assert not changed, f"POST {path} {shown} answered {response.status_code} but wrote {changed}"

        try:
            fuzz()
        except Exception as exc:          # an assertion, or the view's exception (TESTING propagates it)
            frames = traceback.format_exception(exc)
            problems.append(f"{endpoint} POST {path}: {''.join(frames[-12:])}")
    total = sum(counts.values())
    with capsys.disabled():
        print(f"\nform fuzz: {len(rules)} POST endpoints ({from_pages} with fields read from their pages), "
              f"{total} requests")
        for endpoint, n in counts.items():
            print(f"  {endpoint:24} {n:4}  {dict(sorted(statuses[endpoint].items()))}  ({sources[endpoint]})")
    assert not problems, "\n\n".join(problems)
    assert total >= len(rules) * DEAR_EXAMPLES


# --- with CSRF protection on --------------------------------------------------------------------------------

def test_forms_without_a_csrf_token(csrf_app, capsys):
    rid = _db.session.scalar(select(RegistrationRound.id))
    newark = _db.session.scalar(select(Pcn.id).where(Pcn.name == "Newark"))
    forms = {
        f"/rounds/{rid}/pcns/new": ["name", "place", "lead_commissioner", "author", "reason"],
        f"/rounds/{rid}/pcns/{newark}/rename": ["name", "author", "reason"],
        f"/rounds/{rid}/move": ["codes", "to", "author", "reason"],
        "/users/new": ["email", "name", "role", "scope"],
        f"/rounds/{rid}/versions/1/restore": ["author", "reason"],
    }
    fields_by_path = {path: {n: {"kind": "text", "values": []} for n in names} for path, names in forms.items()}
    # the forged tokens: none, empty, garbage, or a token-shaped string
    forged = st.one_of(st.none(), st.just(""), HOSTILE,
                       st.from_regex(r"\A[A-Za-z0-9._-]{40,120}\Z"))
    seen = {"n": 0}
    csrf_app.test_client().get("/")          # the test administrator exists before the first fingerprint

    @settings(max_examples=CSRF_EXAMPLES, **SETTINGS)
    @given(path=st.sampled_from(sorted(forms)), sent=st.data(), token=forged)
    def fuzz(path, sent, token):
        form, extra = sent.draw(form_strategy(fields_by_path[path]))
        data = request_data(form, extra)
        data.pop("csrf_token", None)
        if token is not None:
            data["csrf_token"] = token
        before = fingerprint(_db)
        response = csrf_app.test_client().post(path, data=data)
        seen["n"] += 1
        assert response.status_code == 400, (path, token, response.status_code)
        assert fingerprint(_db) == before, path

    fuzz()
    with capsys.disabled():
        print(f"\nCSRF fuzz: {len(forms)} forms, {seen['n']} requests without a valid token, all 400")


def test_the_parser_reads_a_form():
    parser = FormParser("/here")
    parser.feed('<form method="post"><input name="a" value="1"><select name="s" multiple>'
                '<option value="x">X</option></select><textarea name="t"></textarea>'
                '<button name="do" value="go">Go</button></form><form method="get"><input name="q"></form>')
    assert parser.forms == {"/here": {"a": {"kind": "text", "values": ["1"]},
                                      "s": {"kind": "multi", "values": ["x"]},
                                      "t": {"kind": "text", "values": []},
                                      "do": {"kind": "choice", "values": ["go"]}}}


# --- inputs the fuzzing found answering 500, kept as regressions ------------------------------------------------

WHO = {"author": "Jo Bloggs", "reason": "Agreed at the committee"}
HUGE = "99999999999999999999"                       # past SQLite's (and PostgreSQL's) integers
FOUND = [
    ("/rounds/{rid}/pcns/{pid}/merge", {"others": "9" * 5000, **WHO}),            # guard: int() of 5,000 digits
    ("/rounds/{rid}/pcns/new", {"name": "N", "place": "²", "lead_commissioner": "²", **WHO}),
    ("/rounds/{rid}/move", {"codes": "C84067", "to": "²", **WHO}),                # guard: "²".isdigit()
    ("/rounds/{rid}/move", {"codes": "C84067", "to": HUGE, **WHO}),               # form: overflow in the lookup
    ("/users/new", {"email": "a@nhs.example", "name": "A", "role": "viewer", "scope": f"pcn:{HUGE}"}),
    ("/users/new", {"email": "b@nhs.example", "name": "B", "role": "viewer", "scope": "system:²"}),
    ("/users/new", {"email": "c@nhs.example", "name": "C", "role": "committee_member", "scope": f"committee:{HUGE}"}),
    ("/users/{uid}", {"do": "revoke", "assignment": "²"}),
    ("/import", {"kind": "configuration", "round": HUGE, "author": "Jo", "reason": "R"}),
    ("/import", {"kind": "configuration", "round": "²", "author": "Jo", "reason": "R"}),
]


@pytest.mark.parametrize("path,data", FOUND, ids=[f"{p.split('/')[-1]}-{i}" for i, (p, _) in enumerate(FOUND)])
def test_inputs_that_gave_500(app, db, client, plain_demo, path, data):
    path = path.format(rid=plain_demo["round_id"], pid=plain_demo["pcn_id"], uid=plain_demo["user_id"])
    if path == "/import":
        data = {**data, "file": (io.BytesIO(b"pcn,practice\n"), "config.csv")}
    before = fingerprint(db)
    response = client.post(path, data=data)
    assert response.status_code == 400, response.status_code
    assert fingerprint(db) == before
    if "to" in data:                                  # the move's preview reads the same values from the query
        query = {"codes": data["codes"], "to": data["to"]}
        assert client.get(path, query_string=query).status_code == 400
