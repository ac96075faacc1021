"""The NHS.UK table and tag, rendered in one call per table instead of one macro call per cell.

``nhsuk-frontend-jinja``'s table template renders each cell through a macro that calls
``nhsukAttributes`` several times and indents its output: on the dashboard (22 PCN rows, 5
summary tables) and the practice list (50 rows) it took 90% of the page's time. ``nhs_table``
writes the same markup (the same elements, classes, roles and responsive headings; only the
indentation inside cells may differ) for the parameters pcnreg uses: ``caption`` (text),
``captionSize``, ``responsive``, ``head`` and ``rows`` of cells with ``text`` or ``html``,
``href`` and ``format``. Anything else is handed to the NHS.UK macro itself. ``nhs_tag`` is the
NHS.UK tag macro's output, memoised by text and colour (tags are constant); ``nhs_select`` lets
the macro write a select's label, hint and error and writes its options; ``nhs_date_input`` is
the date input macro's output, memoised by its arguments.
``tests/views/test_nhs_table.py`` compares them with the NHS.UK macros.
"""
from __future__ import annotations

from functools import lru_cache

from flask import current_app
from markupsafe import Markup, escape

_TABLE_KEYS = {"caption", "captionSize", "responsive", "head", "rows"}
_CELL_KEYS = {"text", "html", "href", "format"}
_CAPTION_SIZES = {"s", "m", "l", "xl"}


def _value(cell: dict) -> str:
    if cell.get("html"):
        return str(cell["html"]).strip()
    if cell.get("text"):
        return str(escape(cell["text"])).strip()
    return ""


def _supported(params: dict) -> bool:
    if not set(params) <= _TABLE_KEYS or not isinstance(params.get("caption", ""), str):
        return False
    cells = [*(params.get("head") or []), *(c for row in params.get("rows") or [] for c in row)]
    return all(isinstance(c, dict) and set(c) <= _CELL_KEYS for c in cells)


def _nhs_macro(name: str, params: dict) -> Markup:
    env = current_app.jinja_env
    module = env.get_template(f"nhsuk/components/{name}/macro.jinja").module
    return Markup(getattr(module, "table" if name == "tables" else name)(params))


def _per_cell() -> bool:
    """``NHS_MACROS_PER_CELL`` (benchmarks): render with the NHS.UK macros alone, as before #11."""
    return bool(current_app.config.get("NHS_MACROS_PER_CELL"))


def nhs_table(params: dict) -> Markup:
    """The NHS.UK table of ``params`` (see the module docstring)."""
    if _per_cell() or not _supported(params):
        return _nhs_macro("tables", params)
    responsive = bool(params.get("responsive"))
    head = params.get("head") or []
    out = ['<table class="nhsuk-table', " nhsuk-table--responsive" if responsive else "", '"',
           ' role="table"' if responsive else "", ">\n"]
    caption = params.get("caption")
    if caption:
        size = params.get("captionSize")
        size_class = f" nhsuk-table__caption--{size}" if size in _CAPTION_SIZES else ""
        out += [f'  <caption class="nhsuk-table__caption{size_class}">\n    ', str(escape(caption)).strip(),
                "\n  </caption>\n"]
    role = ' role="rowgroup"' if responsive else ""
    row_role = ' role="row"' if responsive else ""
    if head:
        out += [f'  <thead class="nhsuk-table__head"{role}>\n    <tr class="nhsuk-table__row"{row_role}>\n']
        for cell in head:
            numeric = " nhsuk-table__header--numeric" if cell.get("format") == "numeric" else ""
            value = _value(cell)
            if cell.get("href"):
                value = f'<a class="nhsuk-link" href="{escape(cell["href"])}">{value}</a>'
            out += [f'      <th class="nhsuk-table__header{numeric}" scope="col"',
                    ' role="columnheader"' if responsive else "", ">\n        ", value, "\n      </th>\n"]
        out.append("    </tr>\n  </thead>\n")
    headings = [_value(h) for h in head]
    formats = [h.get("format") for h in head]
    out.append('  <tbody class="nhsuk-table__body">\n')
    cell_role = ' role="cell"' if responsive else ""
    for row in params.get("rows") or []:
        out.append(f'    <tr class="nhsuk-table__row"{row_role}>\n')
        for i, cell in enumerate(row):
            fmt = cell.get("format") or (formats[i] if i < len(formats) else None)
            numeric = " nhsuk-table__cell--numeric" if fmt == "numeric" else ""
            value = _value(cell)
            if cell.get("href"):
                value = f'<a class="nhsuk-link" href="{escape(cell["href"])}">{value}</a>'
            heading = headings[i] if i < len(headings) else ""
            if responsive:
                prefix = f'<span class="nhsuk-table__heading" aria-hidden="true">{heading} </span>'
                value = prefix + (f"<span>{value}</span>" if cell.get("html") else value)
            out += [f'      <td class="nhsuk-table__cell{numeric}"{cell_role}>\n        ', value, "\n      </td>\n"]
        out.append("    </tr>\n")
    out.append("  </tbody>\n</table>")
    return Markup("".join(out))


_SENTINEL = "pcnreg-options-7f3a"
_OPTION_KEYS = {"value", "text", "selected"}


def nhs_select(params: dict) -> Markup:
    """The NHS.UK select of ``params``: the macro renders the label, hint, error and select with one
    placeholder option, and the options (each with ``value``, ``text`` and ``selected``) are
    written here, as the macro writes them (a PCN's page offers 1,250 PCNs on a national round)."""
    items = params.get("items") or []
    if _per_cell() or not items or "value" in params or not all(isinstance(i, dict) and set(i) <= _OPTION_KEYS and "value" in i
                                                 for i in items):
        return _nhs_macro("select", params)
    try:
        outer = _select_outer(_freeze({k: v for k, v in params.items() if k != "items"}), id(current_app.jinja_env))
    except TypeError:                  # a parameter that cannot be a cache key
        outer = str(_nhs_macro("select", {**params, "items": [{"value": _SENTINEL, "text": _SENTINEL}]}))
    placeholder = f'<option value="{_SENTINEL}">{_SENTINEL}</option>'
    if outer.count(placeholder) != 1:
        return _nhs_macro("select", params)
    options = "\n    ".join(
        f'<option value="{escape(i["value"])}"{" selected" if i.get("selected") else ""}>{escape(i.get("text", ""))}</option>'
        for i in items)
    return Markup(outer.replace(placeholder, options))


def _freeze(value):
    """A hashable copy of macro parameters that keeps text and markup apart."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_freeze(v) for v in value))
    if isinstance(value, Markup):
        return ("markup", str(value))
    return (type(value).__name__, value)


def _thaw(frozen):
    kind, value = frozen
    if kind == "dict":
        return {k: _thaw(v) for k, v in value}
    if kind == "list":
        return [_thaw(v) for v in value]
    if kind == "markup":
        return Markup(value)
    return value


@lru_cache(maxsize=256)
def _select_outer(frozen, env_id: int) -> str:
    """The select macro's markup around one placeholder option (label, hint, error: memoised)."""
    return str(_nhs_macro("select", {**_thaw(frozen), "items": [{"value": _SENTINEL, "text": _SENTINEL}]}))


def choice_items(choices, selected, extra=()) -> list[dict]:
    """Select items of (value, text) ``choices`` (after ``extra`` items), the one equal to
    ``selected`` (compared as text) selected: built here rather than in a template loop."""
    chosen = str(selected)           # as the template compared them: None is "None"
    return [*extra, *({"value": value, "text": text, "selected": str(value) == chosen} for value, text in choices)]


def pcn_choices(pcns, exclude=None) -> list[tuple[str, str]]:
    """(key, name) of each PCN but ``exclude``."""
    return [(p.key, p.name) for p in pcns if p.key != exclude]


@lru_cache(maxsize=64)
def _tag(text: str, colour: str | None, env_id: int) -> Markup:
    return _nhs_macro("tag", {"text": text, "colour": colour})


def nhs_tag(text: str, colour: str | None = None) -> Markup:
    """The NHS.UK tag macro's output for ``text`` in ``colour`` (rendered once, then reused)."""
    if _per_cell():
        return _nhs_macro("tag", {"text": text, "colour": colour})
    return _tag(str(text), colour, id(current_app.jinja_env))


def nhs_details(summary: str, html: str) -> Markup:
    """The NHS.UK details macro's output for a text ``summary`` and the ``html`` its caller block
    would give (``{% call details({"summary": summary}) %}html{% endcall %}``), written here: a
    table with a details element per row (the registrations) called the macro once per row.
    A summary over several lines goes to the macro."""
    if _per_cell() or "\n" in str(summary):
        return _details_macro(summary, html)
    return Markup('<details class="nhsuk-details">\n  <summary class="nhsuk-details__summary">\n'
                  '    <span class="nhsuk-details__summary-text">\n      ') + escape(str(summary).strip()) + \
        Markup('\n    </span>\n  </summary>\n  <div class="nhsuk-details__text">\n') + Markup(html) + \
        Markup('\n  </div>\n</details>')


def _details_macro(summary: str, html: str) -> Markup:
    """The macro itself with ``html`` as its caller block."""
    env = current_app.jinja_env
    template = env.from_string('{% from "nhsuk/components/details/macro.jinja" import details %}'
                               '{% call details({"summary": summary}) %}{{ html }}{% endcall %}')
    return Markup(template.render(summary=summary, html=Markup(html)))


_DATE_PARTS = ("day", "month", "year")


@lru_cache(maxsize=512)
def _date_input(field_id: str, name: str, legend: str, hint: str, values: tuple, error: str | None,
                env_id: int) -> Markup:
    module = current_app.jinja_env.get_template("nhsuk/components/date-input/macro.jinja").module
    return Markup(module.dateInput({
        "id": field_id, "namePrefix": name, "fieldset": {"legend": {"text": legend, "size": "s"}},
        "hint": {"text": hint}, "values": dict(zip(_DATE_PARTS, values, strict=True)),
        "errorMessage": {"text": error} if error else False}))


def nhs_date_input(field_id: str, name: str, legend: str, hint: str, values: dict | None,
                   error: str | None = None) -> Markup:
    """The NHS.UK date input (a fieldset with a legend of size s, a hint, day, month and year, an
    error message) as the macro writes it, rendered once per set of arguments: a page with a form
    of dates (the elections' set-up has six) spent most of its time in the macro, whose output
    depends on nothing but these."""
    values = tuple((values or {}).get(p, "") for p in _DATE_PARTS)
    args = (field_id, name, legend, hint, values, error or None)   # Markup stays Markup (the macro escapes str)
    if _per_cell():
        return _date_input.__wrapped__(*args, 0)
    return _date_input(*args, id(current_app.jinja_env))


_MEMO: dict = {}


def memo_markup(key: tuple, render, *args) -> Markup:
    """``render(*args)``, rendered once per ``key``: for markup that depends only on the values in
    the key (a round's key dates and band)."""
    if _per_cell():
        return Markup(render(*args))
    full_key = (id(current_app.jinja_env), *key)
    found = _MEMO.get(full_key)
    if found is None:
        if len(_MEMO) > 512:
            _MEMO.clear()
        found = _MEMO[full_key] = Markup(render(*args))
    return found


def init_app(app) -> None:
    app.jinja_env.globals.update(nhs_table=nhs_table, nhs_tag=nhs_tag, nhs_select=nhs_select,
                                 choice_items=choice_items, pcn_choices=pcn_choices,
                                 memo_markup=memo_markup, nhs_details=nhs_details,
                                 nhs_date_input=nhs_date_input)
