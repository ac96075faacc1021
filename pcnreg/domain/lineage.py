"""Organisation lineage: how commissioners and systems of one date became those of a later date,
worked out from where their practices went (plain Python, no Flask, no database).

Input: two snapshots, each a practice -> commissioner map (epraccur of two dates, with the join
date the later file gives each practice's commissioner) and a commissioner -> system map (the
ONS lookups of the two eras). For every earlier commissioner, the practices open in both files
say which later commissioner holds them now:

- all or most (``SHARE``) of them in one later commissioner: the earlier one *continued as* it
  (same code: a CCG became a sub-ICB location), was *renamed to* it (one earlier -> one later, new
  code) or *merged into* it (several earlier -> one later); the date is the join date most of
  those practices carry in the later file (e.g. 1 April 2020 for the six Nottinghamshire CCGs
  merged into 52R), when it is later than the earlier snapshot;
- otherwise *split into* each later commissioner holding a share of them.

Systems follow their commissioners: an earlier system *became* the later system(s) its
commissioners' successors are in. A later commissioner that takes practices of another earlier
system (Bassetlaw, 02Q, from South Yorkshire and Bassetlaw into the Nottingham and
Nottinghamshire ICB) makes a *moved to* link.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

SHARE = 0.8


@dataclass(frozen=True)
class Link:
    level: str                 # "commissioner" | "system"
    before: str
    after: str
    relation: str              # continued_as | renamed_to | merged_into | split_into | became | moved_to
    effective: dt.date | None
    evidence: str


def commissioner_links(before: Mapping[str, str], after: Mapping[str, str],
                       joined: Mapping[str, dt.date | None], since: dt.date) -> list[Link]:
    """``before``/``after``: practice -> commissioner at the two dates (open practices);
    ``joined``: practice -> the date it joined its later commissioner; ``since``: the earlier
    snapshot's date (a join date before it is not the date of a change)."""
    moves: dict[str, Counter[str]] = defaultdict(Counter)
    dates: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for practice, old in before.items():
        new = after.get(practice)
        if new is None:
            continue
        moves[old][new] += 1
        dates[(old, new)][joined.get(practice)] += 1
    main: dict[str, str] = {}
    links: list[Link] = []
    for old, counts in sorted(moves.items()):
        total = sum(counts.values())
        new, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if n >= SHARE * total:
            main[old] = new
        else:
            for target, m in sorted(counts.items()):
                links.append(Link("commissioner", old, target, "split_into", _date(dates[(old, target)], since),
                                  f"{m} of {total} practices"))
    sources: dict[str, list[str]] = defaultdict(list)
    for old, new in main.items():
        sources[new].append(old)
    for old, new in sorted(main.items()):
        total = sum(moves[old].values())
        if old == new:
            relation = "continued_as"
        elif len(sources[new]) > 1:
            relation = "merged_into"
        else:
            relation = "renamed_to"
        links.append(Link("commissioner", old, new, relation, _date(dates[(old, new)], since),
                          f"{moves[old][new]} of {total} practices"))
    return sorted(links, key=lambda link: (link.before, link.after))


def _date(counts: Counter, since: dt.date) -> dt.date | None:
    known = Counter({d: n for d, n in counts.items() if d is not None and d > since})
    return max(known.items(), key=lambda kv: (kv[1], kv[0]))[0] if known else None


def system_links(links: list[Link], before_system: Mapping[str, str], after_system: Mapping[str, str]) -> list[Link]:
    """Systems follow their commissioners (see the module docstring)."""
    became: dict[str, Counter[str]] = defaultdict(Counter)
    for link in links:
        old_sys, new_sys = before_system.get(link.before), after_system.get(link.after)
        if old_sys and new_sys:
            became[old_sys][new_sys] += 1
    out = []
    for old_sys, counts in sorted(became.items()):
        total = sum(counts.values())
        main, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        for new_sys, m in sorted(counts.items()):
            relation = "became" if new_sys == main else "moved_to"
            what = [link.before for link in links if before_system.get(link.before) == old_sys
                    and after_system.get(link.after) == new_sys]
            out.append(Link("system", old_sys, new_sys, relation, None,
                            f"{m} of {total} commissioner links ({', '.join(sorted(set(what)))})"))
    return out
