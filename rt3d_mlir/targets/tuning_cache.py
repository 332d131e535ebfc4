"""The tuning cache: schedules and algorithms measured on a machine (:mod:`rt3d_mlir.backends.host.tuning`), read by later compiles.

The cache is a JSON file::

    {"format": "rt3d-tuning-1", "entries": {KEY: {"schedule": {...}, "times_ms": {...}},
                                            KEY|algorithm|rows=...: {"algorithm": "winograd<hw, 4>", "times_ms": {...}}}}

keyed by the target (its name, lanes, registers, L1d, cores), the conv's geometry and statistics
of its kept pattern (kept (group, position) pairs, and the (channel, position) entries a block of
``vector_lanes`` filters walks, each as a share of the dense count). An algorithm entry's key adds,
per Winograd candidate, the share of kept positions in the kernel rows that candidate would take
(what separates a ``kgs-row`` pattern from a scattered one of the same density). A later compile
reads it through ``sparse3d-choose-algorithm{tuning-cache=FILE}`` and
``sparse3d-tile{tuning-cache=FILE}``: the same algorithms and schedules, without timing anything.
A file that is not such a cache, or an entry that is not a valid schedule or an algorithm the conv
can take, is reported in one line on stderr and ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch_mlir import ir

from rt3d_mlir.dialect.algorithm import Algorithm, split_rows
from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.dialect.kept_pattern import constant_pattern
from rt3d_mlir.dialect.sparse3d import ALGORITHM
from rt3d_mlir.errors import UserError, first_line
from rt3d_mlir.outputs import user_cache_folder
from rt3d_mlir.targets import Target
from rt3d_mlir.targets.algorithm_strategy import CANDIDATES, applicable
from rt3d_mlir.targets.strategy import FILTER_VECTORS, SCHEDULE_ATTR, FilterSchedule, Schedule, filter_pattern, union_entries

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
    """The winners measured so far (see the module docstring); ``save`` writes the file atomically.

    ``changed``: entries were stored since it was loaded (so it needs saving).
    """

    path: Path
    entries: dict[str, dict] = dataclasses.field(default_factory=dict)
    changed: bool = False

    @classmethod
    def load(cls, path: str | os.PathLike, foreign_is_error: bool = False) -> TuningCache:
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
        self.changed = True

    def lookup_algorithm(self, key: str, geometry: ConvGeometry) -> Algorithm | None:
        """The cached algorithm of a conv of ``geometry``; None (with a warning) when it is not one that conv can take."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        text = entry.get("algorithm") if isinstance(entry, dict) else entry
        try:
            if not isinstance(text, str):
                raise ValueError(f"expected an algorithm string, got {text!r}")
            algorithm = Algorithm.parse(text)
            if not algorithm.is_direct and not applicable(geometry, algorithm):
                raise ValueError(f"{algorithm} does not fit a conv of kernel {geometry.kernel_size} and output {geometry.out_size}")
        except ValueError as error:
            _warn(f"ignoring a tuning cache entry in {self.path}: {error}")
            return None
        return algorithm

    def store_algorithm(self, key: str, algorithm: Algorithm, times_ms: dict[str, float]) -> None:
        self.entries[key] = {"algorithm": str(algorithm), "times_ms": times_ms}
        self.changed = True

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": CACHE_FORMAT, "entries": self.entries}, indent=1, sort_keys=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".partial")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, self.path)
        self.changed = False


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


def algorithm_key(target: Target, geometry: ConvGeometry, kept: np.ndarray) -> str:
    """The cache key of the algorithm of one conv with constant weights (see the module docstring)."""
    kept_count = max(int(kept.sum()), 1)
    shares = [
        f"{split_rows(kept, geometry.kernel_size, candidate)[0].sum() / kept_count:.3f}"
        if applicable(geometry, candidate) else "-"
        for candidate in CANDIDATES
    ]
    return f"{conv_key(target, geometry, kept)}|algorithm|rows={','.join(shares)}"


def _record_cached(module: ir.Operation, attribute: str,
                   cached: Callable[[ConvGeometry, np.ndarray | None], ir.Attribute | None]) -> int:
    """Sets ``attribute`` to ``cached(geometry, kept pattern)`` on every conv without it, where that is not None;
    returns how many."""
    applied = 0
    for op in find_kgs_convs(module):
        if attribute in op.attributes:
            continue
        geometry = ConvGeometry.of(op)
        value = cached(geometry, constant_pattern(op, geometry))
        if value is not None:
            op.attributes[attribute] = value
            applied += 1
    return applied


def apply_algorithm_cache(module: ir.Operation, target: Target, cache: TuningCache) -> int:
    """Records the cached algorithm on every conv without one that the cache knows; returns how many."""

    def cached(geometry: ConvGeometry, kept: np.ndarray | None) -> ir.Attribute | None:
        if kept is None:  # runtime weights: Winograd cannot transform them, direct is the only choice
            return None
        algorithm = cache.lookup_algorithm(algorithm_key(target, geometry, kept), geometry)
        return None if algorithm is None else ir.StringAttr.get(str(algorithm))

    return _record_cached(module, ALGORITHM, cached)


def apply_cache(module: ir.Operation, target: Target, cache: TuningCache) -> int:
    """Records the cached schedule on every unscheduled conv the cache knows; returns how many."""

    def cached(geometry: ConvGeometry, kept: np.ndarray | None) -> ir.Attribute | None:
        schedule = cache.lookup(conv_key(target, geometry, kept))
        return None if schedule is None else schedule.to_attr()

    return _record_cached(module, SCHEDULE_ATTR, cached)
