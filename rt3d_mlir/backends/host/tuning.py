"""Measured tuning on the host: time the strategy's best few schedules per conv here and cache the winners.

The cost model (:mod:`rt3d_mlir.targets.strategy`) ranks every schedule of both kernels;
:func:`tune_module` JIT-compiles the best ``candidates`` of them for each conv (at least the best
two of each kernel that applies), times them interleaved on a random input of the conv's shape
with its real weights, and records the fastest in the cache (:mod:`rt3d_mlir.targets.tuning_cache`).
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
from torch_mlir import ir

from rt3d_mlir.constants import constant_array
from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.dialect.kept_pattern import constant_pattern, constant_tables
from rt3d_mlir.dialect.sparse3d import filter_permutation
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import CompactKGS
from rt3d_mlir.targets import Target
from rt3d_mlir.targets.strategy import SCHEDULE_ATTR, FilterSchedule, Schedule, ranked_schedules
from rt3d_mlir.targets.tuning_cache import TuningCache, conv_key

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
    """How :func:`tune_module` measures: candidates per conv, interleaved timing rounds, retune cached convs."""

    candidates: int = 4
    rounds: int = 5
    retune: bool = False

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.rounds < 1:
            raise UserError(f"tuning needs at least 1 candidate and 1 round, got {self.candidates} and {self.rounds}")


@dataclasses.dataclass(frozen=True)
class TuneResult:
    geometry: ConvGeometry
    schedule: Schedule | FilterSchedule
    times_ms: dict[str, float]  # median ms of each candidate timed, by its schedule's repr
    cached: bool  # found in the cache, nothing timed


def time_candidates(op: ir.Operation, geometry: ConvGeometry, schedules: list, rounds: int, threads: int) -> dict[str, float]:
    """Median ms per call of each schedule for this conv, JIT-compiled and timed interleaved."""
    import torch

    from rt3d_mlir.backends.host.single_conv import CompiledConv
    from rt3d_mlir.conv_module import ConvSpec
    from rt3d_mlir.timing import time_interleaved

    kgs = _compact_weights(op, geometry)
    spec = ConvSpec((geometry.batch, geometry.in_channels, *geometry.in_size), geometry.strides, geometry.padding, geometry.dilations)
    x = torch.randn(spec.input_shape, generator=torch.Generator().manual_seed(0))
    runs = {}
    for schedule in schedules:
        conv = CompiledConv(kgs, spec, schedule=schedule, zero_init=True, openmp=threads > 1)
        if threads > 1:
            conv.jit.set_threads(threads)
        runs[repr(schedule)] = lambda conv=conv: conv(x)
    times = time_interleaved(runs, rounds)
    return {name: float(np.median(t) * 1e3) for name, t in times.items()}


def tune_module(module: ir.Module, target: Target, cache: TuningCache, options: TuningOptions = TuningOptions(),
                progress: bool | None = None) -> list[TuneResult]:
    """Schedules every unscheduled KGS conv of ``module`` from ``cache`` or by timing; records them on the ops.

    ``progress``: a progress bar over the convs (None: only on a terminal). Saves ``cache`` when
    anything was timed.
    """
    from tqdm import tqdm

    results = []
    convs = [op for op in find_kgs_convs(module.operation) if SCHEDULE_ATTR not in op.attributes]
    timed = False
    for op in tqdm(convs, desc="tuning convs", unit="conv", disable=None if progress is None else not progress, file=sys.stderr):
        geometry = ConvGeometry.of(op)
        kept = constant_pattern(op, geometry)
        key = conv_key(target, geometry, kept)
        schedule = None if options.retune else cache.lookup(key)
        times: dict[str, float] = {}
        if schedule is None:
            if constant_tables(op) is None:
                raise UserError(TABLES_NOT_CONSTANT)
            ranked = ranked_schedules(target, geometry, kept, filter_permutation(op))
            schedules = _candidates(ranked, options.candidates)
            times = time_candidates(op, geometry, schedules, options.rounds, target.cores)
            schedule = min(schedules, key=lambda s: times[repr(s)])
            cache.store(key, schedule, times)
            timed = True
        with op.context:
            op.attributes[SCHEDULE_ATTR] = schedule.to_attr()
        results.append(TuneResult(geometry, schedule, times, cached=not times))
    if timed:
        cache.save()
    return results
