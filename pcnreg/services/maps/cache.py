"""The cache of built maps (HTML and PNG) in ``<instance>/map-cache/``.

A map is served from its file until its inputs change. The file name carries the map's kind,
round and PCN and a sha256 of everything the map shows (``cache_key``): the round's head
configuration version, the installed geodata (``areas.geodata_key()``), the PCN areas (count,
newest ``built_at`` and the fingerprints of their blocks, so a block move counts), band
exceptions, list sizes, practice names, status and locations, local authorities and places, the
round's band, the basemap settings, ``render.MAP_FORMAT``, ``render.LABEL_VERSION`` and the
palette's version. Writing a new file removes the older files of the same map.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from ...domain.palette import PALETTE_VERSION
from ...extensions import db
from ...models import (
    AdjacentPair,
    Commissioner,
    ListSize,
    LocalAuthority,
    PcnArea,
    Place,
    Practice,
    RegistrationRound,
    SizeException,
)
from .. import areas
from .rows import MapUnavailable


def _digest(rows) -> str:
    return hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()


def _inputs(rnd: RegistrationRound) -> list:
    """What a map of the round is drawn from (see the module docstring), cheap to read."""
    area_rows = db.session.execute(select(PcnArea.pcn_id, PcnArea.source, PcnArea.fingerprint, PcnArea.built_at)
                                   .where(PcnArea.round_id == rnd.id).order_by(PcnArea.pcn_id)).all()
    built = max((r.built_at for r in area_rows), default=None)
    scope = select(Practice.id).join(Commissioner, Practice.commissioner_id == Commissioner.id).where(
        Commissioner.system_id == rnd.system_id)
    return [
        rnd.head_version_id, areas.geodata_key(),
        len(area_rows), built.isoformat() if built else None, _digest(area_rows),
        _digest(db.session.execute(select(SizeException.pcn_id, SizeException.recorded_at)
                                   .where(SizeException.round_id == rnd.id).order_by(SizeException.pcn_id))),
        tuple(db.session.execute(select(func.count(ListSize.id), func.max(ListSize.id))).one()),
        _digest(db.session.execute(select(Practice.code, Practice.name, Practice.status, Practice.latitude,
                                          Practice.longitude).where(Practice.id.in_(scope)).order_by(Practice.code))),
        _digest(db.session.execute(select(LocalAuthority.code, LocalAuthority.name,
                                          func.length(LocalAuthority.geometry)).order_by(LocalAuthority.code))),
        _digest(sorted(areas.la_place_ids(rnd.system_id).items())),
        _digest(db.session.execute(select(Place.id, Place.name).where(Place.system_id == rnd.system_id)
                                   .order_by(Place.id))),
        _digest(db.session.execute(select(AdjacentPair.block_a_id, AdjacentPair.block_b_id)
                                   .order_by(AdjacentPair.id))),      # neighbours decide the colours
        (rnd.name, rnd.band_min, rnd.band_max, rnd.reference_date.isoformat()),
    ]


def cache_key(kind: str, rnd: RegistrationRound, pcn_key: str | None) -> str:
    from .render import LABEL_VERSION, MAP_FORMAT  # here: render imports folium (see __init__)

    parts = [MAP_FORMAT, PALETTE_VERSION, LABEL_VERSION, kind, rnd.id, pcn_key, *_inputs(rnd),
             current_app.config.get("MAP_TILE_URL") or None, current_app.config.get("MAP_TILE_ATTRIBUTION") or None]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def cache_dir() -> Path:
    return Path(current_app.instance_path) / "map-cache"


def cached(kind: str, rnd: RegistrationRound, pcn_key: str | None, build: Callable[[], str | bytes],
           suffix: str = "html", extra: str = "", name: str | None = None) -> tuple[str | bytes, str]:
    """The cached output of ``build`` for these inputs, building and storing it on a miss.
    ``extra``: more inputs of the map, hashed into the key; ``name``: the map's part of the file
    name instead of the PCN's (``-p<key>``). Returns (content, cache key)."""
    key = cache_key(kind, rnd, name if name is not None else pcn_key)
    if extra:
        key = hashlib.sha256((key + extra).encode()).hexdigest()
    prefix = f"{kind}-r{rnd.id}" + (f"-{name}" if name is not None else f"-p{pcn_key}" if pcn_key else "") + "-"
    folder = cache_dir()
    path = folder / f"{prefix}{key}.{suffix}"
    binary = suffix != "html"
    try:
        return (path.read_bytes() if binary else path.read_text(encoding="utf-8")), key
    except FileNotFoundError:
        pass
    content = build()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="." + suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content if binary else content.encode("utf-8"))
    os.replace(tmp, path)
    for old in folder.glob(f"{prefix}*.{suffix}"):     # superseded versions of the same map
        if old != path:
            old.unlink(missing_ok=True)
    return content, key


def configuration_map(rnd: RegistrationRound) -> str:
    """The configuration map's HTML (cached). Raises MapUnavailable without geodata."""
    return configuration_map_with_key(rnd)[0]


def configuration_map_with_key(rnd: RegistrationRound) -> tuple[str, str]:
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    from .render import build_configuration_map

    return cached("configuration", rnd, None, lambda: build_configuration_map(rnd))


def pcn_map(rnd: RegistrationRound, pcn_key: str) -> str:
    """A PCN's map HTML (cached). Raises MapUnavailable without geodata."""
    return pcn_map_with_key(rnd, pcn_key)[0]


def pcn_map_with_key(rnd: RegistrationRound, pcn_key: str) -> tuple[str, str]:
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    from .render import build_pcn_map

    return cached("pcn", rnd, str(pcn_key), lambda: build_pcn_map(rnd, str(pcn_key)))


def state_map_with_key(rnd: RegistrationRound, name: str, states: dict[str, str],
                       highlighted: set[str] | frozenset = frozenset(), alignment: dict[str, str] | None = None,
                       neighbourhoods: Callable[[], dict[str, object]] | None = None,
                       neighbourhoods_key: str = "") -> tuple[str, str]:
    """``states.build_state_map`` cached like the other maps; the states, the highlighted PCNs,
    the alignment texts and ``neighbourhoods_key`` (what the neighbourhoods are made of) are part
    of the cache key (``name`` tells one such map from another, e.g. a meeting's).
    ``neighbourhoods``: called on a miss for the neighbourhoods' geometries."""
    if not areas.has_geodata(rnd):
        raise MapUnavailable("No geodata is installed")
    from .states import build_state_map

    extra = json.dumps([sorted(states.items()), sorted(highlighted)]
                       + ([sorted(alignment.items()), neighbourhoods_key] if alignment is not None else []))
    return cached("states", rnd, None, lambda: build_state_map(
        rnd, states, set(highlighted), alignment=alignment,
        neighbourhoods=neighbourhoods() if neighbourhoods else None), extra=extra, name=name)
