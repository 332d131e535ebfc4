"""Strategy: the GPU schedule of one KGS conv on one GPU target, chosen apart from the code that applies it.

The GPU kernel (``sparse3d-to-gpu``) runs one workgroup per (output tile, filter
block, batch item). A filter block is one row of kernel groups (g_m filters), so
a workgroup streams exactly the compact weights of its groups. Each thread owns
``outputs_per_thread`` output positions of the tile (spaced ``workgroup_size``
apart, so neighbouring threads read neighbouring inputs) and keeps, per
position, ``ceil(g_m / 4)`` vec4 accumulators: every kept (position, channel)
step loads one input per position and broadcasts it into a vec4 FMA with four
filters' weights.

The schedule is recorded on the op::

    "sparse3d.kgs_conv3d"(...) {..., sparse3d.gpu_schedule = {outputs_per_thread = 2 : i64, workgroup_size = 64 : i64}}
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields

from torch_mlir import ir

from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets import int_fields_attr, int_fields_from_attr
from rt3d_mlir.targets.gpu import GpuTarget

GPU_SCHEDULE_ATTR = "sparse3d.gpu_schedule"
VECTOR_WIDTH = 4  # filters per vec4 accumulator

# Accumulator floats one thread may hold: mobile GPUs keep full occupancy up to ~32-64
# live registers per thread, and each step also needs the inputs and a weight vector.
_MAX_ACCUMULATOR_FLOATS = 32
# Subgroups a compute unit keeps resident: the strategy wants enough threads to fill them.
_RESIDENT_SUBGROUPS = 8
_MAX_WORKGROUP = 256
_OUTPUTS_PER_THREAD = (1, 2, 4)


@dataclass(frozen=True)
class GpuSchedule:
    """How one KGS conv is split into workgroups and threads."""

    workgroup_size: int  # threads per workgroup (x only)
    outputs_per_thread: int  # output positions each thread accumulates

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 1:
                raise UserError(f"GPU schedule {field.name} must be >= 1, got {getattr(self, field.name)}")

    @property
    def tile(self) -> int:
        """Output positions (of one filter block and batch item) per workgroup."""
        return self.workgroup_size * self.outputs_per_thread

    def to_attr(self) -> ir.DictAttr:
        return int_fields_attr(self)

    @classmethod
    def from_attr(cls, attr: ir.Attribute) -> GpuSchedule:
        return int_fields_from_attr(cls, attr, GPU_SCHEDULE_ATTR)


def filter_vectors(geometry: ConvGeometry) -> int:
    """vec4 accumulators per output position: one filter block's filters, rounded up to vec4s."""
    return math.ceil(min(geometry.group_shape.filters, geometry.out_channels) / VECTOR_WIDTH)


def output_positions(geometry: ConvGeometry) -> int:
    do, ho, wo = geometry.out_size
    return do * ho * wo


def workgroup_count(geometry: ConvGeometry, schedule: GpuSchedule) -> tuple[int, int, int]:
    """(output tiles, filter blocks, batch)."""
    return (math.ceil(output_positions(geometry) / schedule.tile), geometry.group_grid[0], geometry.batch)


def check_gpu_schedule(target: GpuTarget, geometry: ConvGeometry, schedule: GpuSchedule) -> None:
    """Raises UserError naming the first of the target's limits the schedule exceeds (MLIR checks none)."""
    size = schedule.workgroup_size
    if size > target.max_invocations:
        raise UserError(f"GPU schedule: workgroup of {size} threads exceeds {target.name}'s max_invocations {target.max_invocations}")
    if size > target.max_workgroup_size[0]:
        raise UserError(f"GPU schedule: workgroup of {size} threads exceeds {target.name}'s max_workgroup_size x {target.max_workgroup_size[0]}")
    for axis, (count, limit) in enumerate(zip(workgroup_count(geometry, schedule), target.max_workgroup_count)):
        if count > limit:
            raise UserError(f"GPU schedule: {count} workgroups along {'xyz'[axis]} exceed {target.name}'s max_workgroup_count {limit}")
    floats = schedule.outputs_per_thread * filter_vectors(geometry) * VECTOR_WIDTH
    if floats > _MAX_ACCUMULATOR_FLOATS:
        raise UserError(f"GPU schedule: {floats} accumulator floats per thread exceed the budget of {_MAX_ACCUMULATOR_FLOATS}")


def estimated_cost(target: GpuTarget, geometry: ConvGeometry, schedule: GpuSchedule) -> float:
    """Relative time: waves of resident threads x the per-thread cost of one (position, channel) step."""
    tiles, blocks, batch = workgroup_count(geometry, schedule)
    threads = tiles * blocks * batch * schedule.workgroup_size
    waves = math.ceil(threads / (target.compute_units * _RESIDENT_SUBGROUPS * target.subgroup_size))
    vectors = filter_vectors(geometry)
    per_thread = schedule.outputs_per_thread * vectors + (schedule.outputs_per_thread + vectors * VECTOR_WIDTH) / 2
    return waves * per_thread


def choose_gpu_schedule(target: GpuTarget, geometry: ConvGeometry) -> GpuSchedule:
    """The cheapest schedule within the target's limits; workgroups are whole subgroups."""
    largest = min(target.max_invocations, target.max_workgroup_size[0], _MAX_WORKGROUP)
    sizes = [target.subgroup_size * factor for factor in (1, 2, 4, 8, 16) if target.subgroup_size * factor <= largest]
    candidates = []
    for size, per_thread in itertools.product(sizes or [largest], _OUTPUTS_PER_THREAD):
        schedule = GpuSchedule(size, per_thread)
        try:
            check_gpu_schedule(target, geometry, schedule)
        except UserError:
            continue
        # On ties prefer fewer idle threads past the last output, then larger workgroups (fewer weight re-reads).
        idle = math.prod(workgroup_count(geometry, schedule)) * size
        candidates.append((estimated_cost(target, geometry, schedule), idle, -size, schedule))
    if not candidates:
        raise UserError(
            f"no GPU schedule of this conv fits {target.name}: output {geometry.out_size}, "
            f"{geometry.group_grid[0]} filter blocks, batch {geometry.batch}"
        )
    return min(candidates, key=lambda c: c[:3])[3]
