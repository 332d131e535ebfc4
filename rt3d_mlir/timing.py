"""Timing helpers for benchmarks: medians of repeated runs (never a lone measurement)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def run_times(function: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    """Seconds per call of ``function`` over ``repeat`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def median_time(function: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    return statistics.median(run_times(function, repeat, warmup))


def time_interleaved(runs: Mapping[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each runner, one call of each per round, so load drifts hit all alike."""
    for run in runs.values():
        run()  # warm-up: page faults, caches, lazy initialisation
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times
