"""Timing helpers for benchmarks: medians of repeated runs (never a lone measurement)."""

from __future__ import annotations

import statistics
import time
from typing import Callable


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
