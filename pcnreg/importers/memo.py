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

``by_file`` does the same for a reader given a file's path and its options (the boundary layers:
GeoJSON, GeoPackage, zipped shapefiles), keyed by the SHA-256 of the file's bytes, its name (which
the notes and messages quote) and the options; each caller gets ``copy`` of the kept result.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
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


def _kept_or_made(name: str, key: Hashable, kept: int, make: Callable[[], T], copy: Callable[[T], T]) -> T:
    """``copy`` of the result kept for ``key`` among ``name``'s, else of ``make()`` (kept, the
    oldest dropped beyond ``kept``; an exception keeps nothing)."""
    with _LOCK:
        results = _KEPT.setdefault(name, OrderedDict())
        if key in results:
            results.move_to_end(key)
            return copy(results[key])  # type: ignore[arg-type]
    result = make()
    with _LOCK:
        results[key] = result
        while len(results) > kept:
            results.popitem(last=False)
    return copy(result)


def by_content(parse: Callable[[str | bytes], T]) -> Callable[[str | bytes], T]:
    """``parse(content)``, kept by the content's SHA-256 (see the module's docstring)."""
    name = f"{parse.__module__}.{parse.__qualname__}"

    @functools.wraps(parse)
    def parse_once(content: str | bytes) -> T:
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        return _kept_or_made(name, hashlib.sha256(data).digest(), KEPT, lambda: parse(content), fresh)

    parse_once.uncached = parse  # type: ignore[attr-defined]
    return parse_once


def _key(value) -> Hashable:
    """``value`` (options: dicts, lists, sets of plain values) as a hashable key in which
    equal options are equal whatever their order; TypeError for anything else."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _key(v)) for k, v in value.items())))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(_key(v) for v in value)))
    if isinstance(value, list | tuple):
        return ("list", tuple(_key(v) for v in value))
    if value is None or isinstance(value, str | int | float | bool):
        return (type(value).__name__, value)
    raise TypeError(f"cannot key {type(value).__name__}")


def by_file(read: Callable[[Path, dict], T], *, kept: int = KEPT,
            copy: Callable[[T], T] = fresh) -> Callable[[Path | str, dict], T]:
    """``read(path, options)``, kept by the file's SHA-256, its name and ``options`` (see the
    module's docstring); ``kept`` results at most. A path that cannot be hashed (missing, a
    folder) or options that cannot be keyed are read each time."""
    name = f"{read.__module__}.{read.__qualname__}"

    @functools.wraps(read)
    def read_once(path: Path | str, options: dict) -> T:
        path = Path(path)
        try:
            with path.open("rb") as f:
                digest = hashlib.file_digest(f, "sha256").digest()
            key = (digest, path.name, _key(options))
        except (OSError, TypeError):
            return read(path, options)
        return _kept_or_made(name, key, kept, lambda: read(path, options), copy)

    read_once.uncached = read  # type: ignore[attr-defined]
    return read_once


def forget() -> None:
    """Drop every kept result (tests that count parses)."""
    with _LOCK:
        _KEPT.clear()
