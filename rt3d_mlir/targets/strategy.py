"""Strategy: the schedule of one KGS conv on one target, chosen apart from the code that applies it.

The inner kernel (``rt3d_mlir.codegen.kgs_kernel``) computes one *register
block* at a time: ``filters`` output filters x ``rows`` output rows x
``w_vectors`` vectors of ``vector_lanes`` outputs along W, all held in vector
registers while it streams over every kept (position, channel) of the
filter block's groups. Each step loads ``rows * w_vectors`` input vectors,
broadcasts ``filters`` weights and issues ``filters * rows * w_vectors`` FMAs.
The strategy picks the block that fits the register file and wastes the
fewest issue slots on this conv's shape (W tails, H tails, filter tails).

The schedule is recorded on the op as a dictionary attribute::

    "sparse3d.kgs_conv3d"(...) {..., sparse3d.schedule = {channel_groups = 16 : i64, filters = 4 : i64,
        rows = 3 : i64, threads = 2 : i64, vector_lanes = 8 : i64, w_vectors = 1 : i64}}

Channel chunks: a register block reduces over ``channel_groups`` channel groups at
a time (partial sums go through the output), so the input slab of one row block
and chunk stays near L1 while all filter blocks and W tiles reuse it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields

from torch_mlir import ir

from rt3d_mlir.codegen.geometry import ConvGeometry
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets import Target, int_fields_attr, int_fields_from_attr

SCHEDULE_ATTR = "sparse3d.schedule"

# Cost model constants (cycles per step, relative to one vector FMA). Loads and
# broadcasts issue on two ports; the per-position bookkeeping (two table loads,
# address arithmetic, loop branch) is amortised over the group's channels.
_LOADS_PER_CYCLE = 2.0
_POSITION_OVERHEAD = 3.0
_MAX_W_VECTORS = 4
_MAX_ROWS = 4


@dataclass(frozen=True)
class Schedule:
    """How one KGS conv is blocked, vectorised and split across threads."""

    vector_lanes: int  # f32 lanes per vector
    filters: int  # filters per register block (<= g_m)
    rows: int  # output rows (H) per register block
    w_vectors: int  # vectors along output W per register block
    channel_groups: int  # channel groups per reduction chunk (its input slab should stay near L1)
    threads: int  # 1: sequential loops; > 1: scf.parallel over (batch, output depth, row blocks)

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 1:
                raise UserError(f"schedule {field.name} must be >= 1, got {getattr(self, field.name)}")
        if self.vector_lanes & (self.vector_lanes - 1):
            raise UserError(f"schedule vector_lanes must be a power of two, got {self.vector_lanes}")

    @property
    def accumulators(self) -> int:
        return self.filters * self.rows * self.w_vectors

    def to_attr(self) -> ir.DictAttr:
        return int_fields_attr(self)

    @classmethod
    def from_attr(cls, attr: ir.Attribute) -> "Schedule":
        return int_fields_from_attr(cls, attr, SCHEDULE_ATTR)


def registers_needed(filters: int, vectors: int) -> int:
    """Accumulators plus the operands of one step: the smaller operand set stays live, the other streams."""
    return filters * vectors + min(filters, vectors) + 1


def _block_sizes(extent: int, block: int) -> list[tuple[int, int]]:
    """(size, count) of the blocks that tile ``extent`` by ``block``: full blocks, then the tail."""
    full, tail = divmod(extent, block)
    return [(size, count) for size, count in ((block, full), (tail, 1)) if size and count]


def _step_cycles(filters: int, vectors: int, channels: int) -> float:
    fmas = filters * vectors
    loads = (filters + vectors) / _LOADS_PER_CYCLE
    return max(fmas, loads) + _POSITION_OVERHEAD / channels


def estimated_cycles(geometry: ConvGeometry, vector_lanes: int, filters: int, rows: int, w_vectors: int) -> float:
    """Relative cycles to compute the conv with this register block (per kept position and channel)."""
    _, out_h, out_w = geometry.out_size
    out_vectors = math.ceil(out_w / vector_lanes)
    group_m, group_n = geometry.group_shape.filters, geometry.group_shape.channels
    total = 0.0
    for block_filters, filter_count in _block_sizes(min(group_m, geometry.out_channels), filters):
        for block_rows, row_count in _block_sizes(out_h, rows):
            for block_vectors, vector_count in _block_sizes(out_vectors, w_vectors):
                steps = filter_count * row_count * vector_count
                total += steps * _step_cycles(block_filters, block_rows * block_vectors, min(group_n, geometry.in_channels))
    return total


def choose_schedule(target: Target, geometry: ConvGeometry) -> Schedule:
    """The register block with the fewest estimated cycles that fits the target's registers."""
    lanes = target.vector_lanes
    group_m = min(geometry.group_shape.filters, geometry.out_channels)
    out_h = geometry.out_size[1]
    out_vectors = math.ceil(geometry.out_size[2] / lanes)
    candidates = []
    for filters, rows, w_vectors in itertools.product(
        range(1, group_m + 1), range(1, min(_MAX_ROWS, out_h) + 1), range(1, min(_MAX_W_VECTORS, out_vectors) + 1)
    ):
        if registers_needed(filters, rows * w_vectors) > target.vector_registers:
            continue
        cost = estimated_cycles(geometry, lanes, filters, rows, w_vectors)
        # On ties prefer more filters (fewer passes over the input), then fewer rows.
        candidates.append((cost, -filters, rows, filters, w_vectors))
    _, _, rows, filters, w_vectors = min(candidates)
    return Schedule(
        vector_lanes=lanes,
        filters=filters,
        rows=rows,
        w_vectors=w_vectors,
        channel_groups=channel_chunk_groups(target, geometry, rows),
        threads=target.cores,
    )


def slab_bytes_per_channel(geometry: ConvGeometry, vector_lanes: int, rows: int) -> int:
    """Bytes of padded input one channel contributes to a block of ``rows`` output rows."""
    kd, kh, kw = geometry.kernel_size
    _, sh, sw = geometry.strides
    _, dh, dw = geometry.dilations
    input_rows = (rows - 1) * sh + (kh - 1) * dh + 1
    row_floats = max(geometry.padded_size[2], math.ceil(geometry.out_size[2] / vector_lanes) * vector_lanes * sw + (kw - 1) * dw)
    return kd * input_rows * row_floats * 4


def channel_chunk_groups(target: Target, geometry: ConvGeometry, rows: int) -> int:
    """Channel groups per reduction chunk: as many as keep the chunk's input slab within 2x L1d.

    Measured on Zen 1 (32 KiB L1d) for C3D's layers at 15-20% kept positions: chunks of
    16 channels (33-56 KiB slabs) ran 1.1-1.4x faster than chunks sized to L2, because
    sparse kept positions make the loads within a slab irregular; dense layers did not
    care (within 3%). Each extra chunk costs one load and store of the accumulators.
    """
    per_group = geometry.group_shape.channels * slab_bytes_per_channel(geometry, target.vector_lanes, rows)
    grid_n = geometry.group_grid[1]
    return max(1, min(grid_n, 2 * target.l1_bytes // per_group))
