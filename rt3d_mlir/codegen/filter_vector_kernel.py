"""The filter-vectorised KGS kernel: vector lanes across consecutive filters, inputs broadcast.

The RT3D mapping: the filters of a kernel group share their kept positions, so one broadcast input
value times one vector of ``vector_lanes`` filters' weights feeds that many outputs at once, at any
output width. Given a :class:`~rt3d_mlir.targets.strategy.FilterSchedule`:

1. **Weights packed at compile time.** Filters (in output-channel order: a ``filter_permutation``
   is undone here) form blocks of ``filter_vectors x vector_lanes``. A block's *entries* are the
   (channel, position) pairs that any of its filters' groups keeps, ordered by channel chunk, then
   channel, then position; per entry the packed weights hold the block's filters contiguously
   (zero where a filter's group prunes the position, and for the filters past M in the last
   block). Per entry an i32 table holds its input offset in the padded buffer; per (block, chunk) a
   table holds where its entries begin. These are new constants: the kernel reads neither
   ``values`` nor the index tables.
2. **The padded input** of :mod:`rt3d_mlir.codegen.padded_input` (stride phases along W, so the
   inputs of consecutive output columns are consecutive floats).
3. **Register blocks** of ``rows x columns`` output positions x ``filter_vectors`` vectors: per
   entry, load the weight vectors, broadcast one input per position, FMA. For each (batch, filter
   block, output depth) — an ``scf.parallel`` with more than one thread — each channel chunk walks
   every register block of the plane; partial sums of all but the last chunk go through a scratch
   buffer laid out (N, ceil(M / lanes), Do, Ho, Wo, lanes), so they are whole-vector loads and
   stores. The last chunk writes the NCDHW output lane by lane, adding the bias and a fused
   residual there and applying the ``activation``; a ``linalg.fill`` scalar starts the sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable, Sequence

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, memref, vector

from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.codegen.kernel_init import InitKind, KernelInit, split_kernel_operands
from rt3d_mlir.codegen.kernel_ir import (
    BUFFER_ALIGNMENT, Index, IndexMath, accumulate_if, flat, for_each, for_loop, identity_memref, if_else, in_range,
    outlined_parallel_loop,
)
from rt3d_mlir.codegen.padded_input import InPlaceLayout, PaddedLayout, pad_input
from rt3d_mlir.targets.strategy import FilterSchedule


@dataclass(frozen=True)
class PackedFilters:
    """The compile-time tables of the filter-vectorised kernel (see the module docstring)."""

    weights: np.ndarray  # f32: per block, per entry, the block's filters (vectors x lanes)
    input_offsets: np.ndarray  # i32 per entry: offset in the padded buffer from the register block's origin
    entry_begin: np.ndarray  # i32 (blocks * chunks + 1,): first entry of (block, chunk)
    full_block_entries: int  # entries of all full blocks (their weights come first, block_filters each)
    # i32 per entry: input depth - output depth x stride; only for an input read in place whose
    # depth halo is missing (the kernel skips an entry where that depth is outside the input)
    entry_depths: np.ndarray | None = None


def dense_weight(geometry: ConvGeometry, offsets: np.ndarray, positions: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The (M, C, Ks) weight, in compact filter order, from the op's tables (layout: ``rt3d_mlir.kgs``)."""
    gm, gn = geometry.group_shape.filters, geometry.group_shape.channels
    grid_m, grid_n = geometry.group_grid
    weight = np.zeros((geometry.out_channels, geometry.in_channels, geometry.num_positions), np.float32)
    cursor = 0
    for group in range(grid_m * grid_n):
        row, column = divmod(group, grid_n)
        filters = range(row * gm, min((row + 1) * gm, geometry.out_channels))
        channels = range(column * gn, min((column + 1) * gn, geometry.in_channels))
        kept = positions[offsets[group] : offsets[group + 1]]
        size = len(kept) * len(channels) * len(filters)
        block = values[cursor : cursor + size].reshape(len(kept), len(channels), len(filters))
        weight[filters.start : filters.stop, channels.start : channels.stop][:, :, kept] = block.transpose(2, 1, 0)
        cursor += size
    return weight


def pack_filters(
    geometry: ConvGeometry, schedule: FilterSchedule, layout: PaddedLayout | InPlaceLayout, pattern: np.ndarray,
    weight: np.ndarray,
) -> PackedFilters:
    """Packs ``weight`` ((M, C, Ks), output order) for ``schedule``; ``pattern``: (M, GN, Ks) kept, output order."""
    lanes, block_filters = schedule.vector_lanes, schedule.block_filters
    m, c = geometry.out_channels, geometry.in_channels
    _, kh, kw = geometry.kernel_size
    dd, dh, dw = geometry.dilations
    sw = geometry.strides[2]
    position = np.arange(geometry.num_positions)
    w_shift = (position % kw) * dw
    position_depth = (position // (kh * kw)) * dd - layout.depth_halo
    position_offset = (
        position_depth * layout.depth_stride + (position // kw % kh) * dh * layout.row_stride
        + (w_shift % sw) * layout.phase_stride + w_shift // sw
    )
    channel_group = np.arange(c) // geometry.group_shape.channels
    chunks = math.ceil(c / schedule.channel_chunk)
    weights, offsets, depths, begin = [], [], [], [0]
    full_block_entries = 0
    for first in range(0, m, block_filters):
        filters = slice(first, min(first + block_filters, m))
        width = math.ceil((filters.stop - first) / lanes) * lanes
        kept = np.any(pattern[filters], axis=0)[channel_group]  # (C, Ks): the block's union
        for chunk in range(chunks):
            channels = np.arange(chunk * schedule.channel_chunk, min((chunk + 1) * schedule.channel_chunk, c))
            channel_index, position_index = np.nonzero(kept[channels])
            channel_index = channels[channel_index]
            offsets.append(channel_index * layout.channel_stride + position_offset[position_index])
            depths.append(position_depth[position_index])
            block = np.zeros((len(channel_index), width), np.float32)
            block[:, : filters.stop - first] = weight[filters, channel_index, position_index].T
            weights.append(block.ravel())
            begin.append(begin[-1] + len(channel_index))
        if filters.stop - first == block_filters:
            full_block_entries = begin[-1]
    return PackedFilters(
        weights=np.concatenate(weights) if weights else np.zeros(0, np.float32),
        input_offsets=np.concatenate(offsets).astype(np.int32),
        entry_begin=np.asarray(begin, np.int32),
        full_block_entries=full_block_entries,
        entry_depths=(np.concatenate(depths).astype(np.int32)
                      if isinstance(layout, InPlaceLayout) and InPlaceLayout.checks_depth(geometry) else None),
    )


@dataclass(frozen=True)
class FilterBuffers:
    """The kernel's memrefs: (padded) input, packed weights and tables, init, output, partial sums."""

    padded: ir.Value
    weights: ir.Value
    input_offsets: ir.Value
    entry_begin: ir.Value
    entry_depths: ir.Value | None  # PackedFilters.entry_depths, when the kernel checks depths
    init: KernelInit
    out: ir.Value
    scratch: ir.Value | None  # None when there is one channel chunk

    def flat(self) -> list[ir.Value]:
        scratch = [self.scratch] if self.scratch is not None else []
        return [*self._leading(), *self.init.values, self.out, *scratch]

    def _leading(self) -> list[ir.Value]:
        depths = [self.entry_depths] if self.entry_depths is not None else []
        return [self.padded, self.weights, self.input_offsets, self.entry_begin, *depths]

    def like(self, values: Sequence[ir.Value]) -> FilterBuffers:
        """The same buffers as ``values`` (e.g. a function's arguments, in :meth:`flat` order)."""
        leading, init, out, scratch = split_kernel_operands(values, len(self._leading()), self.init,
                                                            self.scratch is not None)
        padded, weights, input_offsets, entry_begin, *depths = leading
        return FilterBuffers(padded, weights, input_offsets, entry_begin, depths[0] if depths else None, init, out,
                             scratch)


@dataclass(frozen=True)
class _Block:
    """Filter block ``index`` (dynamic for the full blocks) with ``vectors`` filter vectors."""

    index: Index
    vectors: int
    is_tail: bool


@dataclass(frozen=True)
class _Tile:
    """Output rows [first_row, +rows) x columns [first_column, +columns) of plane (batch, depth)."""

    batch: ir.Value
    depth: ir.Value
    first_row: Index
    rows: int
    first_column: Index
    columns: int
    checked: bool = False  # reading the input in place: skip the entries that read the depth halo


class FilterVectorEmitter:
    def __init__(self, geometry: ConvGeometry, schedule: FilterSchedule, element_type: ir.Type, activation: str | None) -> None:
        self.g = geometry
        self.s = schedule
        self.f32 = element_type
        self.activation = activation
        self.ix = IndexMath()
        # Only scalar loads read the input: no slack for vector overreads, and any input that needs
        # no padding along H and W is read in place.
        self.layout: PaddedLayout | InPlaceLayout = (
            InPlaceLayout.of(geometry) if InPlaceLayout.fits(geometry) else PaddedLayout.of(geometry, 1)
        )
        self.checks_depth = isinstance(self.layout, InPlaceLayout) and InPlaceLayout.checks_depth(geometry)
        self.lanes = schedule.vector_lanes
        self.vector_type = ir.VectorType.get([self.lanes], element_type)
        self.blocks = math.ceil(geometry.out_channels / schedule.block_filters)
        tail_filters = geometry.out_channels - (self.blocks - 1) * schedule.block_filters
        self.tail_vectors = math.ceil(tail_filters / self.lanes) if tail_filters != schedule.block_filters else 0
        self.chunks = math.ceil(geometry.in_channels / schedule.channel_chunk)
        self.filter_vectors_total = math.ceil(geometry.out_channels / self.lanes)

    def pack(self, pattern: np.ndarray, weight: np.ndarray) -> PackedFilters:
        return pack_filters(self.g, self.s, self.layout, pattern, weight)

    def emit(
        self, input_buffer: ir.Value, packed: PackedFilters, weights: ir.Value, input_offsets: ir.Value,
        entry_begin: ir.Value, entry_depths: ir.Value | None, init: KernelInit, out: ir.Value, kernel_name: str,
        kernel_at: ir.InsertionPoint,
    ) -> None:
        """Writes the conv into ``out`` (1-D, NCDHW); the per-(batch, block, depth) body goes to ``kernel_name``.

        ``entry_depths``: the buffer of ``packed.entry_depths`` (None when that is None).
        """
        g, s, ix = self.g, self.s, self.ix
        self.full_block_entries = packed.full_block_entries
        padded = input_buffer
        if isinstance(self.layout, PaddedLayout):
            padded = pad_input(g, self.layout, self.f32, input_buffer, s.vector_lanes, s.threads, f"{kernel_name}_pad",
                               kernel_at)
        scratch = None
        if self.chunks > 1:
            do, ho, wo = g.out_size
            size = g.batch * self.filter_vectors_total * do * ho * wo * self.lanes
            scratch = memref.alloc(identity_memref([size], self.f32), [], [], alignment=BUFFER_ALIGNMENT)
        buffers = FilterBuffers(flat(padded, self.layout.size), weights, input_offsets, entry_begin, entry_depths, init,
                                out, scratch)

        def body(operands: list[ir.Value], ivs: list[ir.Value]) -> None:
            batch, block, depth = ivs
            here = buffers.like(operands)

            def plane(block: _Block) -> Callable[[], None]:
                def emit() -> None:
                    if not self.checks_depth:
                        self._plane(here, block, batch, depth)
                        return
                    if_else(in_range(depth, InPlaceLayout.unchecked_depths(g), ix),
                            lambda: self._plane(here, block, batch, depth),
                            lambda: self._plane(here, block, batch, depth, checked=True))
                return emit

            if not self.tail_vectors:
                plane(_Block(block, s.filter_vectors, False))()
                return
            is_tail = arith.cmpi(arith.CmpIPredicate.eq, block, ix.value(self.blocks - 1))
            if_else(is_tail, plane(_Block(self.blocks - 1, self.tail_vectors, True)), plane(_Block(block, s.filter_vectors, False)))

        outlined_parallel_loop(
            kernel_name, kernel_at, buffers.flat(), [g.batch, self.blocks, g.out_size[0]], s.threads > 1, body, ix
        )

    def _plane(self, buffers: FilterBuffers, block: _Block, batch: ir.Value, depth: ir.Value, checked: bool = False) -> None:
        """Every channel chunk of one (batch, filter block, output depth) plane."""
        chunks = self.chunks
        self._chunk(buffers, block, batch, depth, 0, chunks == 1, checked)
        if chunks > 2:
            for_each(1, chunks - 1, 1, lambda k: self._chunk(buffers, block, batch, depth, k, False, checked), self.ix)
        if chunks > 1:
            self._chunk(buffers, block, batch, depth, chunks - 1, True, checked)

    def _chunk(self, buffers: FilterBuffers, block: _Block, batch: ir.Value, depth: ir.Value, chunk: Index, is_last: bool,
               checked: bool) -> None:
        """Every register block of the plane for one channel chunk."""
        s, ix = self.s, self.ix
        _, out_h, out_w = self.g.out_size

        def rows_loop(first_row: Index, rows: int) -> None:
            def column_tile(first_column: Index, columns: int) -> None:
                tile = _Tile(batch, depth, first_row, rows, first_column, columns, checked)
                self._register_block(buffers, block, tile, chunk, is_last)

            full, rest = divmod(out_w, s.columns)
            if full:
                for_each(0, full * s.columns, s.columns, lambda w: column_tile(w, s.columns), ix)
            if rest:
                column_tile(full * s.columns, rest)

        full, rest = divmod(out_h, s.rows)
        if full:
            for_each(0, full * s.rows, s.rows, lambda h: rows_loop(h, s.rows), ix)
        if rest:
            rows_loop(full * s.rows, rest)

    def _register_block(self, buffers: FilterBuffers, block: _Block, tile: _Tile, chunk: Index, is_last: bool) -> None:
        g, s, ix, layout = self.g, self.s, self.ix, self.layout
        lanes, vector_type = self.lanes, self.vector_type
        out_d, out_h, out_w = g.out_size
        sd, sh, _ = g.strides
        positions = [(r, j) for r in range(tile.rows) for j in range(tile.columns)]
        slots = [(p, v) for p in positions for v in range(block.vectors)]
        is_first = isinstance(chunk, int) and chunk == 0

        def scratch_offset(position: tuple[int, int], v: int) -> Index:
            r, j = position
            filter_vector = ix.add(ix.mul(block.index, s.filter_vectors), v)
            plane = ix.add(ix.mul(ix.add(ix.mul(tile.batch, self.filter_vectors_total), filter_vector), out_d), tile.depth)
            row = ix.add(ix.mul(plane, out_h), tile.first_row, r)
            return ix.mul(ix.add(ix.mul(row, out_w), tile.first_column, j), lanes)

        if is_first:
            start = (
                vector.broadcast(vector_type, buffers.init.scalar) if buffers.init.kind == InitKind.SCALAR
                else arith.constant(vector_type, ir.DenseElementsAttr.get_splat(vector_type, ir.FloatAttr.get(self.f32, 0.0)))
            )
            accumulators = [start] * len(slots)
        else:
            accumulators = [vector.load(vector_type, buffers.scratch, [ix.value(scratch_offset(p, v))]) for p, v in slots]

        group = ix.add(ix.mul(block.index, self.chunks), chunk)
        begin = arith.index_cast(ix.type, memref.load(buffers.entry_begin, [ix.value(group)]))
        end = arith.index_cast(ix.type, memref.load(buffers.entry_begin, [ix.value(ix.add(group, 1))]))
        tile_base = ix.add(
            ix.mul(tile.batch, layout.batch_stride), ix.mul(tile.depth, sd * layout.depth_stride),
            ix.mul(tile.first_row, sh * layout.row_stride), tile.first_column,
        )
        weight_stride = block.vectors * lanes

        def weight_offset(entry: ir.Value) -> Index:
            if not block.is_tail:
                return ix.mul(entry, s.block_filters)
            tail_start = self.full_block_entries * s.block_filters - self.full_block_entries * weight_stride
            return ix.add(ix.mul(entry, weight_stride), tail_start)

        def products(entry: ir.Value, accs: list) -> list:
            base = ix.add(tile_base, arith.index_cast(ix.type, memref.load(buffers.input_offsets, [entry])))
            first_weight = weight_offset(entry)
            weights = [vector.load(vector_type, buffers.weights, [ix.value(ix.add(first_weight, v * lanes))])
                       for v in range(block.vectors)]
            accs = list(accs)
            for p, (r, j) in enumerate(positions):
                x = memref.load(buffers.padded, [ix.value(ix.add(base, r * sh * layout.row_stride + j))])
                broadcast = vector.broadcast(vector_type, x)
                for v in range(block.vectors):
                    slot = p * block.vectors + v
                    accs[slot] = vector.fma(weights[v], broadcast, accs[slot])
            return accs

        def entry_step(entry: ir.Value, accs: list) -> list:
            if not tile.checked:
                return products(entry, accs)
            depth_offset = arith.index_cast(ix.type, memref.load(buffers.entry_depths, [entry]))
            in_depth = ix.add(ix.mul(tile.depth, sd), depth_offset)
            return accumulate_if(in_range(in_depth, range(g.in_size[0]), ix), lambda accs: products(entry, accs), accs)

        accumulators = for_loop(begin, end, 1, accumulators, entry_step, ix)
        if not is_last:
            for (p, v), acc in zip(slots, accumulators):
                vector.store(acc, buffers.scratch, [ix.value(scratch_offset(p, v))])
            return
        self._store_outputs(buffers, block, tile, positions, slots, accumulators)

    def _store_outputs(self, buffers: FilterBuffers, block: _Block, tile: _Tile, positions: list, slots: list,
                       accumulators: list) -> None:
        """The final sums, lane by lane into NCDHW: plus bias and residual, then the activation."""
        g, s, ix, lanes = self.g, self.s, self.ix, self.lanes
        out_d, out_h, out_w = g.out_size
        plane_size = out_h * out_w
        init = buffers.init
        first_filter = ix.mul(block.index, s.block_filters)
        # Output offset of (batch, first filter of the block, depth, first row, first column).
        origin = ix.add(
            ix.mul(ix.add(ix.mul(tile.batch, g.out_channels), first_filter), out_d * plane_size),
            ix.mul(tile.depth, plane_size), ix.mul(tile.first_row, out_w), tile.first_column,
        )
        filters_here = g.out_channels - (self.blocks - 1) * s.block_filters if block.is_tail else s.block_filters
        relu_vector = self.activation == "relu" and init.tensor is None and init.bias is None
        zero = arith.constant(self.f32, 0.0)
        if relu_vector:
            zeros = arith.constant(self.vector_type, ir.DenseElementsAttr.get_splat(self.vector_type, ir.FloatAttr.get(self.f32, 0.0)))
            accumulators = [arith.maximumf(acc, zeros) for acc in accumulators]
        biases = {}
        for ((r, j), v), acc in zip(slots, accumulators):
            for lane in range(lanes):
                f = v * lanes + lane
                if f >= filters_here:
                    break
                value = vector.extract(acc, [], [lane])
                offset = ix.value(ix.add(origin, f * out_d * plane_size + r * out_w + j))
                if init.bias is not None:
                    if f not in biases:
                        biases[f] = memref.load(init.bias, [ix.value(ix.add(first_filter, f))])
                    value = arith.addf(value, biases[f])
                if init.tensor is not None:
                    value = arith.addf(value, memref.load(init.tensor, [offset]))
                if self.activation == "relu" and not relu_vector:
                    value = arith.maximumf(value, zero)
                memref.store(value, buffers.out, [offset])
