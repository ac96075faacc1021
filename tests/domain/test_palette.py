"""The colours of PCN areas: graph colouring over PCN adjacency (pcnreg.domain.palette)."""
from __future__ import annotations

from pcnreg.domain.palette import BASE_COLOURS, PALETTE, assign_colours, dsatur, pcn_adjacency, text_colour


def _proper(colours: dict[str, str], neighbours: dict[str, set[str]]) -> bool:
    return all(colours[a] != colours[b] for a, ns in neighbours.items() for b in ns if a in colours and b in colours)


def test_neighbours_never_share_a_colour_on_a_small_hand_made_graph():
    # A wheel: hub H touching a ring of five (an odd ring needs three colours, the hub a fourth).
    ring = ["1", "2", "3", "4", "5"]
    graph = {k: set() for k in ring + ["H"]}
    for a, b in zip(ring, ring[1:] + ring[:1]):
        graph[a].add(b)
        graph[b].add(a)
    for k in ring:
        graph["H"].add(k)
        graph[k].add("H")
    index = dsatur(graph, graph)
    assert all(index[a] != index[b] for a in graph for b in graph[a])
    assert len(set(index.values())) == 4            # classic DSATUR: the fewest colours here
    colours = assign_colours(graph, graph)
    assert _proper(colours, graph)
    assert set(colours.values()) <= set(PALETTE[:BASE_COLOURS])


def test_the_relation_is_made_symmetric_and_unknown_keys_ignored():
    colours = assign_colours(["a", "b", "c"], {"a": {"b", "zzz"}, "c": {"c"}})
    assert colours["a"] != colours["b"]
    assert set(colours) == {"a", "b", "c"}


def test_colours_are_deterministic_and_spread():
    graph = {str(i): set() for i in range(30)}
    first = assign_colours(graph, graph)
    assert first == assign_colours(reversed(list(graph)), graph)
    assert len(set(first.values())) == BASE_COLOURS   # no neighbours: the whole base set is used


def test_a_clique_larger_than_the_base_set_takes_the_extra_colours():
    keys = [str(i) for i in range(14)]
    graph = {k: set(keys) - {k} for k in keys}
    colours = assign_colours(keys, graph)
    assert len(set(colours.values())) == 14


def test_pcn_adjacency_from_block_adjacency_and_extra_pairs():
    pcn_blocks = {"A": {"a1", "a2"}, "B": {"b1"}, "C": {"c1"}, "D": {"d1"}}
    block_neighbours = {"a1": {"a2"}, "a2": {"a1", "b1"}, "b1": {"a2", "c1"}, "c1": {"b1"}, "d1": set()}
    adj = pcn_adjacency(pcn_blocks, block_neighbours, extra=[("D", "A")])
    assert adj == {"A": {"B", "D"}, "B": {"A", "C"}, "C": {"B"}, "D": {"A"}}


def test_black_text_reads_on_every_palette_colour():
    assert all(text_colour(c) == "#000000" for c in PALETTE)
    assert text_colour("#003087") == "#ffffff"
