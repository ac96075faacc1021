"""Timing helper shared by the benchmarks."""
from __future__ import annotations

import statistics
import time


def median_time(fn, repeat: int = 5) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best_time(fn, repeat: int = 15) -> float:
    """Least wall-clock seconds of ``repeat`` calls of ``fn``: the least disturbed call, for
    comparing two short costs measured the same way on a machine shared with other work."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
