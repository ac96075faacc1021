"""The last national files parsed, kept by their content.

The national files (epraccur, list sizes, the ONS lookups, the ePCN workbook) are read again and
again: onboarding one system after another reads the same files each time, and a commissioner's
import follows an onboarding. Parsing them is most of an onboarding's time (epraccur and the
workbook about a second each). ``by_content`` keeps the last results of a parser keyed by a
SHA-256 of its text or bytes:

- only a successful parse is kept: a file with problems is parsed (and refused) each time;
- each caller gets its own containers (a new list, new dicts in a dataclass), so a caller that
  adds to what it got changes nothing for the next; the records inside are frozen dataclasses
  (a result with no such containers, e.g. an ePCN Workbook of tuples, is the kept object itself);
- a process keeps ``KEPT`` results per parser (a few megabytes each), behind a lock.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

KEPT = 2
_LOCK = threading.Lock()
_KEPT: dict[str, OrderedDict[bytes, object]] = {}


def fresh(value: T) -> T:
    """``value`` with new containers: a list or tuple as a new list, a dataclass with its dict,
    list and set fields copied (one level: the records in them are immutable)."""
    if isinstance(value, list | tuple):
        return list(value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        copies = {f.name: type(v)(v) for f in dataclasses.fields(value)
                  if isinstance(v := getattr(value, f.name), dict | list | set)}
        return dataclasses.replace(value, **copies) if copies else value
    return value


def by_content(parse: Callable[[str | bytes], T]) -> Callable[[str | bytes], T]:
    """``parse(content)``, kept by the content's SHA-256 (see the module's docstring)."""
    name = f"{parse.__module__}.{parse.__qualname__}"

    @functools.wraps(parse)
    def parse_once(content: str | bytes) -> T:
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(data).digest()
        with _LOCK:
            kept = _KEPT.setdefault(name, OrderedDict())
            if digest in kept:
                kept.move_to_end(digest)
                return fresh(kept[digest])  # type: ignore[arg-type]
        result = parse(content)
        with _LOCK:
            kept[digest] = result
            while len(kept) > KEPT:
                kept.popitem(last=False)
        return fresh(result)

    parse_once.uncached = parse  # type: ignore[attr-defined]
    return parse_once


def forget() -> None:
    """Drop every kept result (tests that count parses)."""
    with _LOCK:
        _KEPT.clear()
