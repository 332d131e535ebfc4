"""Strategy: the schedule of one KGS conv on one target, chosen apart from the code that applies it.

The inner kernel (``rt3d_mlir.codegen.cpu_kgs_kernel``) computes one *register
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

Two kernels, and the choice between them (:func:`choose_kernel_schedule`):

- ``w-vectors`` (:class:`Schedule`): lanes along output W, one broadcast weight per filter. It
  wastes lanes whenever the output width is not a multiple of the vector (W = 7 or 14 with 16
  lanes), but walks each filter block's own kept entries only.
- ``filter-vectors`` (:class:`FilterSchedule`): lanes across ``vector_lanes`` consecutive filters,
  one broadcast input value per output position, accumulators ``positions x filter vectors``. No
  output width can waste its lanes, but the filters of one vector share their entries: a vector
  spanning several kernel groups walks the union of their kept (channel, position) entries, and
  the zero weights in that union are multiplied too. It needs constant weights (packed at compile
  time) and writes its results lane by lane (a per-output cost that a tiny reduction does not hide).

The cost model counts vector FMA issue slots (every vector FMA one slot, whatever its width: the
full-rate AVX-512 and AVX2/NEON case), loads at ``_LOADS_PER_CYCLE`` per slot, a fixed overhead per
kept entry, and for ``filter-vectors`` its lane-by-lane stores; it picks the cheaper kernel.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields
from collections.abc import Sequence

import numpy as np

from torch_mlir import ir

from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets import Target, dict_fields, int_fields_attr, int_fields_from_attr, string_field

SCHEDULE_ATTR = "sparse3d.schedule"

# Cost model constants (cycles per step, relative to one vector FMA). Loads and
# broadcasts issue on two ports; the per-position bookkeeping (two table loads,
# address arithmetic, loop branch) is amortised over the group's channels.
_LOADS_PER_CYCLE = 2.0
_POSITION_OVERHEAD = 3.0
_MAX_W_VECTORS = 4
_MAX_ROWS = 4
# Fewer filters per w-vectors block re-read every input vector for each few filters: on Zen 5
# (C3D conv2a, 15% kept, 1 thread) 2 filters x 4 rows x 3 vectors ran 1.7x slower than 4 x 3 x 2.
_MIN_W_FILTERS = 4
# filter-vectors: per kept entry one table load and an address add; per output element one lane
# extract and one scalar store (two issue slots at about two per cycle, in FMA-slot units).
_ENTRY_OVERHEAD = 1.0
# Its broadcast loads issue slower than the W kernel's vector loads: measured on Zen 5 (dense
# conv3a/conv4b), 1 filter vector x 14 positions (15 loads per 14 FMAs) ran 1.29x slower than
# 2 x 14 (16 loads per 28 FMAs); 0.8 loads per FMA slot reproduces that.
_FILTER_LOADS_PER_SLOT = 0.8
_STORE_SLOTS_PER_OUTPUT = 2.0
_MAX_FILTER_VECTORS = 4
# Channels per reduction chunk of filter-vectors: the chunk's packed weights are re-read by every
# register block of a plane, so they should stay in L2 (taken as 8x the L1d, a safe floor for the
# 256 KiB - 2 MiB L2 of the cores we target).
_L2_PER_L1 = 8
FILTER_VECTORS = "filter-vectors"
W_VECTORS = "w-vectors"


def _check_fields(schedule: Schedule | FilterSchedule) -> None:
    for field in fields(schedule):
        if getattr(schedule, field.name) < 1:
            raise UserError(f"schedule {field.name} must be >= 1, got {getattr(schedule, field.name)}")
    if schedule.vector_lanes & (schedule.vector_lanes - 1):
        raise UserError(f"schedule vector_lanes must be a power of two, got {schedule.vector_lanes}")


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
        _check_fields(self)

    @property
    def accumulators(self) -> int:
        return self.filters * self.rows * self.w_vectors

    def to_attr(self) -> ir.DictAttr:
        return int_fields_attr(self)

    @classmethod
    def from_attr(cls, attr: ir.Attribute) -> Schedule:
        return int_fields_from_attr(cls, attr, SCHEDULE_ATTR)


@dataclass(frozen=True)
class FilterSchedule:
    """How the filter-vectorised kernel blocks one KGS conv (lanes across filters)."""

    vector_lanes: int  # f32 lanes per vector: consecutive filters
    filter_vectors: int  # vectors of filters per register block (filters per block = filter_vectors * lanes)
    rows: int  # output rows (H) per register block
    columns: int  # output columns (W) per register block
    channel_chunk: int  # input channels per reduction chunk (partial sums go through a scratch buffer)
    threads: int  # 1: sequential loops; > 1: scf.parallel over (batch, filter blocks, output depth)

    def __post_init__(self) -> None:
        _check_fields(self)

    @property
    def accumulators(self) -> int:
        return self.filter_vectors * self.rows * self.columns

    @property
    def block_filters(self) -> int:
        return self.filter_vectors * self.vector_lanes

    def to_attr(self) -> ir.DictAttr:
        int_fields = int_fields_attr(self)
        return ir.DictAttr.get({"kernel": ir.StringAttr.get(FILTER_VECTORS), **{f.name: int_fields[f.name] for f in fields(self)}})

    @classmethod
    def from_attr(cls, attr: ir.Attribute) -> FilterSchedule:
        return int_fields_from_attr(cls, attr, SCHEDULE_ATTR)


def schedule_from_attr(attr: ir.Attribute) -> Schedule | FilterSchedule:
    """The schedule recorded on an op: ``kernel = "filter-vectors"`` or, absent or ``"w-vectors"``, a :class:`Schedule`."""
    kernel = W_VECTORS
    if isinstance(attr, ir.DictAttr) and "kernel" in attr:
        kernel = string_field(dict_fields(attr, SCHEDULE_ATTR, ("kernel",)), "kernel", SCHEDULE_ATTR)
    if kernel == FILTER_VECTORS:
        return FilterSchedule.from_attr(attr)
    if kernel != W_VECTORS:
        raise UserError(f"{SCHEDULE_ATTR} kernel must be '{W_VECTORS}' or '{FILTER_VECTORS}', got '{kernel}'")
    return Schedule.from_attr(attr)


# A register block's accumulators are unrolled in the emitted IR (every block size a schedule
# names is, even where the conv is smaller and the emitter clamps): a hand-written schedule beyond
# this is refused rather than built (rows = 2**32 once hung the emitter).
MAX_ACCUMULATORS = 256


def check_schedule_size(schedule: Schedule | FilterSchedule) -> None:
    """Raises a UserError when ``schedule``'s register block has more than MAX_ACCUMULATORS accumulators.

    The strategy never proposes one (its blocks fit the register file); only a schedule written
    by hand can.
    """
    if schedule.accumulators > MAX_ACCUMULATORS:
        raise UserError(f"{SCHEDULE_ATTR} needs {schedule.accumulators} accumulators per register block, "
                        f"more than {MAX_ACCUMULATORS}")


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


def w_vector_candidates(target: Target, geometry: ConvGeometry) -> list[tuple[tuple, Schedule]]:
    """Every w-vectors register block that fits the target's registers, with its sort key (estimated cycles first)."""
    lanes = target.vector_lanes
    group_m = min(geometry.group_shape.filters, geometry.out_channels)
    out_h = geometry.out_size[1]
    out_vectors = math.ceil(geometry.out_size[2] / lanes)
    candidates = []
    for filters, rows, w_vectors in itertools.product(
        range(min(_MIN_W_FILTERS, group_m), group_m + 1), range(1, min(_MAX_ROWS, out_h) + 1),
        range(1, min(_MAX_W_VECTORS, out_vectors) + 1),
    ):
        if registers_needed(filters, rows * w_vectors) > target.vector_registers:
            continue
        cost = estimated_cycles(geometry, lanes, filters, rows, w_vectors)
        schedule = Schedule(
            vector_lanes=lanes,
            filters=filters,
            rows=rows,
            w_vectors=w_vectors,
            channel_groups=channel_chunk_groups(target, geometry, rows),
            threads=target.cores,
        )
        # On ties prefer fewer weight broadcasts per FMA (more vectors per filter: on Zen 5, 1 thread,
        # 8x4 KGS groups, 4 x 3 x 2 ran 1.11x faster than 8 x 3 x 1 on C3D's conv2a at 15% kept,
        # 1.32x on R(2+1)D-18's layer1 temporal conv, 1.03-1.08x on its layer1/layer2 spatial
        # convs), then more filters (fewer passes over the input), then fewer rows.
        candidates.append(((cost, 1 / (rows * w_vectors), -filters, rows, w_vectors), schedule))
    return sorted(candidates, key=lambda candidate: candidate[0])


def choose_schedule(target: Target, geometry: ConvGeometry) -> Schedule:
    """The w-vectors register block with the fewest estimated cycles that fits the target's registers."""
    return w_vector_candidates(target, geometry)[0][1]


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


def filter_pattern(kept: np.ndarray, group_m: int, out_channels: int, permutation: Sequence[int] | None) -> np.ndarray:
    """(M, GN, Ks) bool in output-channel order: the kept positions of each filter's group.

    ``kept`` is the (GM, GN, Ks) group pattern in the op's (compact) filter order; compact filter
    ``i`` writes output channel ``permutation[i]``.
    """
    rows = kept[np.arange(out_channels) // group_m]
    if permutation is None:
        return rows
    ordered = np.empty_like(rows)
    ordered[np.asarray(permutation)] = rows
    return ordered


def union_entries(pattern: np.ndarray, group_n: int, in_channels: int, block_filters: int) -> list[int]:
    """Kept (channel, position) entries of each block of ``block_filters`` filters: the union over its filters."""
    channels = np.minimum(group_n, in_channels - group_n * np.arange(pattern.shape[1]))
    return [
        int((pattern[first : first + block_filters].any(axis=0).sum(axis=1) * channels).sum())
        for first in range(0, pattern.shape[0], block_filters)
    ]


def filter_kernel_cycles(geometry: ConvGeometry, lanes: int, entries: list[int], vectors: int, rows: int, columns: int) -> float:
    """Relative cycles of the filter-vectorised kernel (``entries``: per block of ``vectors * lanes`` filters)."""
    _, out_h, out_w = geometry.out_size
    total = 0.0
    for block, block_entries in enumerate(entries):
        block_vectors = min(vectors, math.ceil((geometry.out_channels - block * vectors * lanes) / lanes))
        for block_rows, row_count in _block_sizes(out_h, rows):
            for block_columns, column_count in _block_sizes(out_w, columns):
                positions = block_rows * block_columns
                step = max(positions * block_vectors, (positions + block_vectors) / _FILTER_LOADS_PER_SLOT) + _ENTRY_OVERHEAD
                total += row_count * column_count * block_entries * step
    outputs = geometry.out_channels * out_h * out_w
    return total + outputs * _STORE_SLOTS_PER_OUTPUT


def w_kernel_cycles(geometry: ConvGeometry, schedule: Schedule, kept: np.ndarray) -> float:
    """Relative cycles of the W-vectorised kernel on this kept pattern (per output plane)."""
    channels = np.minimum(geometry.group_shape.channels,
                          geometry.in_channels - geometry.group_shape.channels * np.arange(kept.shape[1]))
    entries = float((kept.sum(axis=2) * channels).sum())
    per_entry = estimated_cycles(geometry, schedule.vector_lanes, schedule.filters, schedule.rows, schedule.w_vectors)
    return entries * per_entry


def _filter_kernel_spare_registers(target: Target) -> int:
    """Registers filter-vectors leaves beside its accumulators and weight vectors.

    x86 FMAs take the broadcast input as a memory operand (one spare register suffices); an
    AArch64 fmla needs it in a register, and with 28 accumulators + 2 weights + 1 input of 32
    LLVM rotated the accumulators with moves and spilled (llvm-mca, neoverse-n1: 36% FMA use).
    """
    return 3 if target.name.startswith("aarch64") else 1


def filter_vector_candidates(target: Target, geometry: ConvGeometry, pattern: np.ndarray) -> list[tuple[tuple, FilterSchedule]]:
    """Every filter-vectors register block that fits the registers, with its sort key (estimated cycles first).

    ``pattern``: :func:`filter_pattern`. Every block keeps one broadcast input and its weight
    vectors live beside the accumulators.
    """
    lanes = target.vector_lanes
    _, out_h, out_w = geometry.out_size
    candidates = []
    for vectors in range(1, min(_MAX_FILTER_VECTORS, math.ceil(geometry.out_channels / lanes)) + 1):
        entries = union_entries(pattern, geometry.group_shape.channels, geometry.in_channels, vectors * lanes)
        for rows in range(1, min(_MAX_ROWS, out_h) + 1):
            for columns in range(1, out_w + 1):
                if rows * columns * vectors + vectors + _filter_kernel_spare_registers(target) > target.vector_registers:
                    break
                cost = filter_kernel_cycles(geometry, lanes, entries, vectors, rows, columns)
                schedule = FilterSchedule(
                    vector_lanes=lanes,
                    filter_vectors=vectors,
                    rows=rows,
                    columns=columns,
                    channel_chunk=filter_channel_chunk(target, geometry, entries, vectors * lanes, rows),
                    threads=target.cores,
                )
                # On ties prefer more filters per block (fewer passes over the input), then more rows:
                # rows share input rows across kh (dense conv2a on Zen 5: 2 rows x 7 columns ran at
                # 202 GFLOP/s, 1 x 14 at 172), then wider rows.
                candidates.append(((cost, -vectors, -rows, -columns), schedule))
    return sorted(candidates, key=lambda candidate: candidate[0])


def choose_filter_schedule(target: Target, geometry: ConvGeometry, pattern: np.ndarray) -> tuple[float, FilterSchedule]:
    """The cheapest filter-vectors register block and its estimated cycles."""
    key, schedule = filter_vector_candidates(target, geometry, pattern)[0]
    return key[0], schedule


def filter_channel_chunk(target: Target, geometry: ConvGeometry, entries: list[int], block_filters: int, rows: int) -> int:
    """Input channels per reduction chunk: its packed weights plus one register-block row's input rows fit half the L2.

    The weights of a chunk are re-read by every register block of the plane; the input rows of
    one row of register blocks by its column tiles. Measured on Zen 5 (dense conv2a, 64 channels):
    chunks sized to hold whole input planes (4 channels) ran 1.12x slower than 16-64 channels.
    """
    kd, kh, _ = geometry.kernel_size
    input_rows = (rows - 1) * geometry.strides[1] + (kh - 1) * geometry.dilations[1] + 1
    weights_per_channel = max(entries) / geometry.in_channels * block_filters * 4
    input_per_channel = kd * input_rows * geometry.padded_size[2] * 4
    budget = _L2_PER_L1 * target.l1_bytes // 2
    return max(1, min(geometry.in_channels, int(budget // (weights_per_channel + input_per_channel))))


def ranked_schedules(target: Target, geometry: ConvGeometry, kept: np.ndarray | None,
                     permutation: Sequence[int] | None = None) -> list[tuple[float, Schedule | FilterSchedule]]:
    """Both kernels' candidates for this conv, cheapest first by the cost model, with their estimated cycles.

    ``kept``: the (GM, GN, Ks) group pattern when the tables and weights are constants (the
    filter-vectors kernel packs them at compile time), else None: only ``w-vectors`` applies.
    Costs of the two kernels are in the same unit (vector FMA issue slots per output plane).
    """
    w_candidates = w_vector_candidates(target, geometry)
    if kept is None or not kept.any():
        return [(key[0], schedule) for key, schedule in w_candidates]
    per_entry_scale = w_kernel_cycles(geometry, w_candidates[0][1], kept) / w_candidates[0][0][0]
    ranked: list[tuple[tuple, Schedule | FilterSchedule]] = [
        ((key[0] * per_entry_scale, *key[1:]), schedule) for key, schedule in w_candidates
    ]
    pattern = filter_pattern(kept, geometry.group_shape.filters, geometry.out_channels, permutation)
    ranked += filter_vector_candidates(target, geometry, pattern)
    ranked.sort(key=lambda candidate: (candidate[0][0], isinstance(candidate[1], FilterSchedule)))
    return [(key[0], schedule) for key, schedule in ranked]


def choose_kernel_schedule(target: Target, geometry: ConvGeometry, kept: np.ndarray | None,
                           permutation: Sequence[int] | None = None) -> Schedule | FilterSchedule:
    """The cheaper of the two kernels for this conv on ``target`` (see :func:`ranked_schedules`)."""
    return ranked_schedules(target, geometry, kept, permutation)[0][1]
