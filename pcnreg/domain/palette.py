"""Colours of PCN areas on maps (plain Python: no Flask, no database).

The palette is qualitative and light enough that black text (a PCN's name) reads on every
colour: ColorBrewer Set3 without its salmon red (red outlines mean "has errors" on the maps),
followed by lighter tints of Tableau 10 for very crowded maps. Colours are assigned by graph
colouring over PCN adjacency (DSATUR: the uncoloured PCN with the most differently coloured
neighbours first, ties by most neighbours, then by key), each PCN taking, among the colours
of the base set (Set3) that no neighbour has, the one used least so far (ties: the first), so
neighbouring PCNs never share a colour and the colours are spread over the whole set (a
legend then tells more PCNs apart). Only when every base colour is taken by a neighbour does a
PCN get one of the extra colours. Planar maps need at most four colours; DSATUR rarely needs
more than five or six. The result depends only on the graph, so a PCN keeps its colour
from one map to the next while its neighbours stay the same.

``PALETTE_VERSION`` changes whenever the palette or the assignment changes; the map cache
includes it in its key.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

PALETTE_VERSION = 2

BASE_COLOURS = 11                   # the Set3 part of PALETTE
PALETTE: tuple[str, ...] = (
    # ColorBrewer Set3 (Cynthia Brewer, Penn State), without #fb8072
    "#8dd3c7", "#ffffb3", "#bebada", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#d9d9d9",
    "#bc80bd", "#ccebc5", "#ffed6f",
    # light tints of Tableau 10
    "#a6c8e6", "#ffc08a", "#9fd89a", "#d2bde6", "#d6b3a8", "#f2b8dd", "#dddd9a", "#9edae5",
)


def _order(key: str):
    key = str(key)
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def dsatur(keys: Iterable[str], neighbours: Mapping[str, Iterable[str]], spread: int = 1) -> dict[str, int]:
    """Key -> colour index (0, 1, ...) such that no two neighbours share an index. Neighbours
    outside ``keys`` are ignored; the relation is made symmetric. ``spread``: the number of
    indexes to balance use over (1: classic DSATUR, always the lowest free index)."""
    nodes = sorted(set(keys), key=_order)
    known = set(nodes)
    adj: dict[str, set[str]] = {k: set() for k in nodes}
    for k in nodes:
        for n in neighbours.get(k, ()):
            if n in known and n != k:
                adj[k].add(n)
                adj[n].add(k)
    colour: dict[str, int] = {}
    seen: dict[str, set[int]] = {k: set() for k in nodes}       # colours among a node's neighbours
    rank = {k: i for i, k in enumerate(nodes)}
    uses: dict[int, int] = {}
    while len(colour) < len(nodes):
        node = max((k for k in nodes if k not in colour),
                   key=lambda k: (len(seen[k]), len(adj[k]), -rank[k]))
        free = [c for c in range(spread) if c not in seen[node]]
        if free:
            c = min(free, key=lambda i: (uses.get(i, 0), i))
        else:
            c = spread
            while c in seen[node]:
                c += 1
        colour[node] = c
        uses[c] = uses.get(c, 0) + 1
        for n in adj[node]:
            seen[n].add(c)
    return colour


def assign_colours(keys: Iterable[str], neighbours: Mapping[str, Iterable[str]],
                   palette: tuple[str, ...] = PALETTE) -> dict[str, str]:
    """Key -> fill colour from ``palette`` (see the module docstring). Should a graph ever need
    more colours than the palette has, the extra indexes wrap round (and neighbours could then
    share a colour): no real PCN map comes near it."""
    spread = min(BASE_COLOURS, len(palette)) if palette is PALETTE else len(palette)
    return {k: palette[i % len(palette)] for k, i in dsatur(keys, neighbours, spread).items()}


def pcn_adjacency(pcn_blocks: Mapping[str, Iterable[str]], block_neighbours: Mapping[str, Iterable[str]],
                  extra: Iterable[tuple[str, str]] = ()) -> dict[str, set[str]]:
    """PCN key -> neighbouring PCN keys: two PCNs are neighbours when a block of one is a
    neighbour of a block of the other, under the block adjacency the geographic rules use
    (``geometry.adjacency``, with the 'treat as adjacent' pairs). ``extra``: further pairs of
    PCN keys (for example areas uploaded as polygons that touch)."""
    block_pcn = {b: key for key, blocks in pcn_blocks.items() for b in blocks}
    out: dict[str, set[str]] = {key: set() for key in pcn_blocks}
    for block, key in block_pcn.items():
        for n in block_neighbours.get(block, ()):
            other = block_pcn.get(n)
            if other is not None and other != key:
                out[key].add(other)
                out.setdefault(other, set()).add(key)
    for a, b in extra:
        if a != b:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return out


def text_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (#rrggbb): by WCAG relative luminance."""
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"
