"""Route converters installed app-wide.

``int`` is replaced by ``BoundedInt``: a path segment is an id only when it is 1-10 ASCII digits
and at most ``MAX_ID`` (2,147,483,647, the largest id every supported database stores). Anything
else does not match the route, so ``/rounds/99999999999999999999`` answers 404 like any unknown
id, instead of overflowing SQLite's integer (a 500). Every ``<int:...>`` route gets this bound.
"""
from __future__ import annotations

from werkzeug.routing import IntegerConverter, ValidationError

MAX_ID = 2_147_483_647


class BoundedInt(IntegerConverter):
    regex = r"[0-9]{1,10}"         # ASCII digits only (``\d`` would match other scripts' digits)

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=0 if min is None else min,
                         max=MAX_ID if max is None else min_(max, MAX_ID), signed=False)

    def to_python(self, value: str) -> int:
        if not (value.isascii() and value.isdigit() and len(value) <= 10):
            raise ValidationError()
        return super().to_python(value)


def min_(a: int, b: int) -> int:
    return a if a < b else b


def install(app) -> None:
    """Replace the ``int`` converter (before any route is added)."""
    app.url_map.converters["int"] = BoundedInt
