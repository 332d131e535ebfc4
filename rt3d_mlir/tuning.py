"""Measured tuning: time the strategy's best few schedules per conv on this machine and cache the winners.

The cost model (:mod:`rt3d_mlir.targets.strategy`) ranks every schedule of both kernels;
:func:`tune_module` JIT-compiles the best ``candidates`` of them for each conv (at least the best
two of each kernel that applies), times them interleaved on a random input of the conv's shape
with its real weights, and records the fastest. The cache is a JSON file::

    {"format": "rt3d-tuning-1", "entries": {KEY: {"schedule": {...}, "times_ms": {...}}}}

keyed by the target (its name, lanes, registers, L1d, cores), the conv's geometry and statistics
of its kept pattern (kept (group, position) pairs, and the (channel, position) entries a block of
``vector_lanes`` filters walks, each as a share of the dense count). A later compile reads it
through ``sparse3d-tile{tuning-cache=FILE}``: the same schedules, without timing anything. A file
that is not such a cache, or an entry that is not a valid schedule, is reported in one line on
stderr and ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from torch_mlir import ir

from rt3d_mlir.codegen.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.codegen.kept_pattern import constant_pattern, constant_tables
from rt3d_mlir.dialect.sparse3d import filter_permutation
from rt3d_mlir.errors import UserError, first_line
from rt3d_mlir.outputs import user_cache_folder
from rt3d_mlir.targets import Target
from rt3d_mlir.targets.strategy import (
    FILTER_VECTORS, SCHEDULE_ATTR, FilterSchedule, Schedule, filter_pattern, ranked_schedules, union_entries,
)

CACHE_FORMAT = "rt3d-tuning-1"
CACHE_ENV = "RT3D_TUNING_CACHE"


def default_cache_path() -> Path:
    """``$RT3D_TUNING_CACHE``, else ``$XDG_CACHE_HOME/rt3d-mlir/tuning.json`` (``~/.cache`` by default)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    return user_cache_folder() / "tuning.json"


def _warn(message: str) -> None:
    print(f"rt3d: warning: {message}", file=sys.stderr)


def schedule_to_json(schedule: Schedule | FilterSchedule) -> dict:
    fields = dataclasses.asdict(schedule)
    return {"kernel": FILTER_VECTORS, **fields} if isinstance(schedule, FilterSchedule) else fields


def schedule_from_json(entry: object) -> Schedule | FilterSchedule:
    """The schedule of a cache entry; a UserError when it is not one."""
    if not isinstance(entry, dict):
        raise UserError(f"expected a dictionary, got {type(entry).__name__}")
    fields = dict(entry)
    cls = FilterSchedule if fields.pop("kernel", None) == FILTER_VECTORS else Schedule
    names = {f.name for f in dataclasses.fields(cls)}
    if set(fields) != names or not all(type(v) is int for v in fields.values()):
        raise UserError(f"expected whole-number fields {', '.join(sorted(names))}, got {entry}")
    return cls(**fields)


@dataclasses.dataclass
class TuningCache:
    """The winners measured so far (see the module docstring); ``save`` writes the file atomically."""

    path: Path
    entries: dict[str, dict] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike, foreign_is_error: bool = False) -> "TuningCache":
        """The cache at ``path`` (empty if missing). A file that is not a cache is ignored with a warning, or with
        ``foreign_is_error`` (a file the user named) a UserError, so that it is not replaced."""
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
                raise ValueError(f"not an {CACHE_FORMAT} file")
        except (OSError, UnicodeDecodeError, ValueError) as error:
            if foreign_is_error:
                raise UserError(f"{path} is not a tuning cache ({first_line(error)}): name another file or remove it") from None
            _warn(f"ignoring the tuning cache {path}: {error}")
            return cls(path)
        return cls(path, dict(data["entries"]))

    def lookup(self, key: str) -> Schedule | FilterSchedule | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            return schedule_from_json(entry.get("schedule") if isinstance(entry, dict) else entry)
        except UserError as error:
            _warn(f"ignoring a tuning cache entry in {self.path}: {error}")
            return None

    def store(self, key: str, schedule: Schedule | FilterSchedule, times_ms: dict[str, float]) -> None:
        self.entries[key] = {"schedule": schedule_to_json(schedule), "times_ms": times_ms}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": CACHE_FORMAT, "entries": self.entries}, indent=1, sort_keys=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".partial")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, self.path)


def conv_key(target: Target, geometry: ConvGeometry, kept: np.ndarray | None) -> str:
    """The cache key of one conv on one target (see the module docstring)."""
    target_part = f"{target.name}/{target.vector_lanes}x{target.vector_registers}/l1={target.l1_bytes}/cores={target.cores}"
    g = geometry
    geometry_part = (
        f"n{g.batch}c{g.in_channels}m{g.out_channels}in{'x'.join(map(str, g.in_size))}"
        f"k{'x'.join(map(str, g.kernel_size))}s{'x'.join(map(str, g.strides))}"
        f"p{'x'.join(map(str, g.padding))}d{'x'.join(map(str, g.dilations))}g{g.group_shape}"
    )
    if kept is None:
        return f"{target_part}|{geometry_part}|tables=runtime"
    pattern = filter_pattern(kept, g.group_shape.filters, g.out_channels, None)
    dense_entries = math.ceil(g.out_channels / target.vector_lanes) * g.in_channels * g.num_positions
    union = sum(union_entries(pattern, g.group_shape.channels, g.in_channels, target.vector_lanes)) / dense_entries
    return f"{target_part}|{geometry_part}|kept={kept.mean():.3f},lane-union={union:.3f}"


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


def _compact_weights(op: ir.Operation, geometry: ConvGeometry):
    """The op's CompactKGS (random values when its weights are not constants: timing does not depend on them)."""
    from rt3d_mlir.constants import constant_array
    from rt3d_mlir.kgs import CompactKGS

    offsets, positions = constant_tables(op)
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

    from rt3d_mlir.codegen.single_conv import CompiledConv, ConvSpec
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
                raise UserError("tuning needs constant index tables (group_offsets, positions)")
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


def apply_cache(module: ir.Operation, target: Target, cache: TuningCache) -> int:
    """Records the cached schedule on every unscheduled conv the cache knows; returns how many."""
    applied = 0
    for op in find_kgs_convs(module):
        if SCHEDULE_ATTR in op.attributes:
            continue
        geometry = ConvGeometry.of(op)
        schedule = cache.lookup(conv_key(target, geometry, constant_pattern(op, geometry)))
        if schedule is not None:
            op.attributes[SCHEDULE_ATTR] = schedule.to_attr()
            applied += 1
    return applied
