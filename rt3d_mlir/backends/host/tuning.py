"""Measured tuning on the host: time the strategy's best few algorithms and schedules per conv here and cache the winners.

Two steps, in the order the pipeline decides: :func:`tune_algorithms` (before ``sparse3d-winograd``)
times direct against the cost model's best ``candidates - 1`` Winograd candidates
(:mod:`rt3d_mlir.targets.algorithm_strategy`) of each conv that can take one, each compiled whole
(transforms, per-tap convs, any direct remainder); :func:`tune_module` (after it, on every conv
that is left, per-tap convs included) JIT-compiles the best ``candidates`` schedules of the
kernels' cost model (:mod:`rt3d_mlir.targets.strategy`, at least the best two of each kernel that
applies). Both time interleaved on a random input of the conv's shape with its real weights and
record the fastest in the cache (:mod:`rt3d_mlir.targets.tuning_cache`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
from torch_mlir import ir

from rt3d_mlir.constants import constant_array
from rt3d_mlir.dialect.algorithm import Algorithm
from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.dialect.kept_pattern import constant_pattern, constant_tables
from rt3d_mlir.dialect.sparse3d import ALGORITHM, filter_permutation
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import CompactKGS
from rt3d_mlir.targets import Target
from rt3d_mlir.targets.algorithm_strategy import ranked_algorithms
from rt3d_mlir.targets.strategy import SCHEDULE_ATTR, FilterSchedule, Schedule, ranked_schedules
from rt3d_mlir.targets.tuning_cache import TuningCache, algorithm_key, conv_key

TABLES_NOT_CONSTANT = "tuning needs constant index tables (group_offsets, positions)"


def _candidates(ranked: list, count: int) -> list[Schedule | FilterSchedule]:
    """The ``count`` cheapest schedules, with at least the best two of each kernel that appears."""
    chosen: list = []
    for kind in (Schedule, FilterSchedule):
        chosen += [s for _, s in ranked if isinstance(s, kind)][:2]
    for _, schedule in ranked:
        if len(chosen) >= count:
            break
        if schedule not in chosen:
            chosen.append(schedule)
    return chosen


def _compact_weights(op: ir.Operation, geometry: ConvGeometry) -> CompactKGS:
    """The op's CompactKGS (random values when its weights are not constants: timing does not depend on them)."""
    tables = constant_tables(op)
    if tables is None:
        raise UserError(TABLES_NOT_CONSTANT)
    offsets, positions = tables
    values = constant_array(op.operands[1])
    if values is None:
        size = ir.RankedTensorType(op.operands[1].type).shape[0]
        values = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    weight_shape = (geometry.out_channels, geometry.in_channels, *geometry.kernel_size)
    return CompactKGS(geometry.group_shape, weight_shape, offsets, positions, values.astype(np.float32))


@dataclasses.dataclass(frozen=True)
class TuningOptions:
    """How :func:`tune_algorithms` and :func:`tune_module` measure: candidates per conv (schedules; direct and
    ``candidates - 1`` Winograd algorithms), interleaved timing rounds, retune cached convs."""

    candidates: int = 4
    rounds: int = 5
    retune: bool = False

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.rounds < 1:
            raise UserError(f"tuning needs at least 1 candidate and 1 round, got {self.candidates} and {self.rounds}")


@dataclasses.dataclass(frozen=True)
class TuneResult:
    index: int  # the conv's position among the module's KGS convs when it was tuned (per-tap convs count after Winograd)
    geometry: ConvGeometry
    choice: Schedule | FilterSchedule | Algorithm  # what won (or was cached)
    times_ms: dict[str, float]  # median ms of each candidate timed, by str() of its schedule or algorithm
    cached: bool  # found in the cache, nothing timed


def time_candidates(op: ir.Operation, geometry: ConvGeometry, candidates: Sequence[Schedule | FilterSchedule | Algorithm],
                    rounds: int, target: Target, direct_schedule: Schedule | FilterSchedule | None = None) -> dict[str, float]:
    """Median ms per call of each candidate (a schedule, or an algorithm with the cost model's schedules) for this
    conv, JIT-compiled for ``target`` and timed interleaved; the direct algorithm runs ``direct_schedule`` if given."""
    import torch

    from rt3d_mlir.backends.host.single_conv import CompiledConv
    from rt3d_mlir.conv_module import ConvSpec
    from rt3d_mlir.timing import time_interleaved

    kgs = _compact_weights(op, geometry)
    spec = ConvSpec((geometry.batch, geometry.in_channels, *geometry.in_size), geometry.strides, geometry.padding, geometry.dilations)
    x = torch.randn(spec.input_shape, generator=torch.Generator().manual_seed(0))
    threads = target.cores
    runs = {}
    for candidate in candidates:
        if isinstance(candidate, Algorithm):
            algorithm, schedule = candidate, direct_schedule if candidate.is_direct else None
        else:
            algorithm, schedule = None, candidate
        conv = CompiledConv(kgs, spec, schedule=schedule, target=target, zero_init=True, openmp=threads > 1, algorithm=algorithm)
        if threads > 1:
            conv.jit.set_threads(threads)
        runs[str(candidate)] = lambda conv=conv: conv(x)
    times = time_interleaved(runs, rounds)
    return {name: float(np.median(t) * 1e3) for name, t in times.items()}


Item = TypeVar("Item")


def _progress(items: list[Item], description: str, progress: bool | None) -> Iterable[Item]:
    """``items`` behind a progress bar on stderr (``progress`` None: only on a terminal)."""
    from tqdm import tqdm

    return tqdm(items, desc=description, unit="conv", disable=None if progress is None else not progress, file=sys.stderr)


def tune_algorithms(module: ir.Module, target: Target, cache: TuningCache, options: TuningOptions = TuningOptions(),
                    progress: bool | None = None) -> list[TuneResult]:
    """Records direct or Winograd on every conv without an algorithm that can take Winograd, from ``cache`` or
    by timing direct against the best ``options.candidates - 1`` (at least one) Winograd candidates.

    Convs whose only candidate is direct (runtime weights, kernel 1 on the axes, no kept row) are left
    to ``sparse3d-choose-algorithm``. The caller saves ``cache``.
    """
    results = []
    todo = []
    for index, op in enumerate(find_kgs_convs(module.operation)):
        if ALGORITHM in op.attributes:
            continue
        geometry = ConvGeometry.of(op)
        kept = constant_pattern(op, geometry)
        ranked = ranked_algorithms(target, geometry, kept, filter_permutation(op))
        winograd = [algorithm for cost, algorithm in ranked if not algorithm.is_direct and np.isfinite(cost)]
        if kept is not None and winograd:
            todo.append((index, op, geometry, kept, winograd[: max(options.candidates - 1, 1)]))
    retimed: set[str] = set()  # with retune, a key that several convs share is timed once
    for index, op, geometry, kept, winograd in _progress(todo, "tuning algorithms", progress):
        key = algorithm_key(target, geometry, kept)
        algorithm = None if options.retune and key not in retimed else cache.lookup_algorithm(key, geometry)
        times: dict[str, float] = {}
        if algorithm is None:
            candidates = [Algorithm(), *winograd]
            direct_schedule = cache.lookup(conv_key(target, geometry, kept))  # a tuned direct conv, if there is one
            times = time_candidates(op, geometry, candidates, options.rounds, target, direct_schedule)
            algorithm = min(candidates, key=lambda c: times[str(c)])
            cache.store_algorithm(key, algorithm, times)
            retimed.add(key)
        with op.context:
            op.attributes[ALGORITHM] = ir.StringAttr.get(str(algorithm))
        results.append(TuneResult(index, geometry, algorithm, times, cached=not times))
    return results


def tune_module(module: ir.Module, target: Target, cache: TuningCache, options: TuningOptions = TuningOptions(),
                progress: bool | None = None) -> list[TuneResult]:
    """Schedules every unscheduled KGS conv of ``module`` from ``cache`` or by timing; records them on the ops.

    ``progress``: a progress bar over the convs (None: only on a terminal). The caller saves ``cache``.
    """
    results = []
    convs = [(index, op) for index, op in enumerate(find_kgs_convs(module.operation)) if SCHEDULE_ATTR not in op.attributes]
    retimed: set[str] = set()  # with retune, a key that several convs share (a Winograd conv's taps) is timed once
    for index, op in _progress(convs, "tuning schedules", progress):
        geometry = ConvGeometry.of(op)
        kept = constant_pattern(op, geometry)
        key = conv_key(target, geometry, kept)
        schedule = None if options.retune and key not in retimed else cache.lookup(key)
        times: dict[str, float] = {}
        if schedule is None:
            if constant_tables(op) is None:
                raise UserError(TABLES_NOT_CONSTANT)
            ranked = ranked_schedules(target, geometry, kept, filter_permutation(op))
            schedules = _candidates(ranked, options.candidates)
            times = time_candidates(op, geometry, schedules, options.rounds, target)
            schedule = min(schedules, key=lambda s: times[str(s)])
            cache.store(key, schedule, times)
            retimed.add(key)
        with op.context:
            op.attributes[SCHEDULE_ATTR] = schedule.to_attr()
        results.append(TuneResult(index, geometry, schedule, times, cached=not times))
    return results
