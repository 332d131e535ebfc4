"""The W-vectorised KGS kernel: vector lanes along output W, filters broadcast.

For each (batch, output depth, block of ``rows`` output rows) — an ``scf.parallel`` when the
schedule has more than one thread — and each chunk of ``channel_groups`` channel groups (its input
slab stays near L1 while everything below reuses it), each filter block and each register block of
``filters x rows x w_vectors`` vector accumulators (initialised from ``init`` for the first chunk —
or from what it was built from: a fill scalar, a per-filter bias, a residual plus a bias — and from
the partial sums in the output after): loop over the chunk's groups, then their kept entries; per
channel of the group (the channel loop is unrolled with the position loop) load ``rows x w_vectors``
input vectors, broadcast each filter's weight and FMA. W, H and filter/channel tails get their own
statically-sized instances; a W tail uses the narrowest power-of-two vector that holds it, masked
only when it is not a power of two. The last chunk applies the op's ``activation`` before its store,
and every store goes to the output channel the op's ``filter_permutation`` names.

The input is the padded buffer of :mod:`rt3d_mlir.codegen.padded_input`, or, when the conv pads
neither H nor W and has stride 1 along W, the NCDHW input itself (``InPlaceLayout``: no copy, the
masked last vector of a row loaded masked); then the output depths whose kernel reaches into the
depth halo run a checked instance that skips the entries reading it, the others run unchecked.

The per-entry tables (input row offset, weight offset of each kept entry) are built at run time by
one scalar pass over ``group_offsets``/``positions``, so this kernel also takes tables that are not
constants; nothing is unrolled per position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable, Sequence

from torch_mlir import ir
from torch_mlir.dialects import arith, memref, vector

from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.codegen.kernel_init import InitKind, KernelInit, split_kernel_operands
from rt3d_mlir.codegen.kernel_ir import (
    Index, IndexMath, accumulate_if, flat, for_each, for_loop, identity_memref, if_else, in_range, outlined_parallel_loop,
)
from rt3d_mlir.codegen.padded_input import InPlaceLayout, PaddedLayout, pad_input
from rt3d_mlir.targets.strategy import Schedule


class WVectorEmitter:
    def __init__(self, geometry: ConvGeometry, schedule: Schedule, element_type: ir.Type, activation: str | None) -> None:
        self.g = geometry
        self.s = schedule
        self.f32 = element_type
        self.activation = activation
        self.ix = IndexMath()
        self.layout: PaddedLayout | InPlaceLayout = (
            InPlaceLayout.of(geometry) if InPlaceLayout.fits(geometry) else PaddedLayout.of(geometry, schedule.vector_lanes)
        )
        # Reading the input in place, the output planes whose kernel reaches into the depth halo
        # skip the entries that would read it; the planes between them run unchecked.
        self.in_place = isinstance(self.layout, InPlaceLayout)
        self.checks_depth = self.in_place and InPlaceLayout.checks_depth(geometry)

    # ---- step 2: per-entry tables ----------------------------------------------------------

    def entry_tables(self, offsets: ir.Value, positions: ir.Value, num_entries: int) -> tuple[ir.Value, ir.Value, ir.Value | None]:
        """(input row offset, weight offset, input depth offset or None) of each kept entry, as index buffers.

        The input offset is that of the entry's group's first channel at the entry's kernel
        position, relative to the input of output (0, 0, 0) in batch 0. The depth offset (input
        depth minus output depth x stride; only when the kernel checks depths) says which output
        planes the entry reads the depth halo for.
        """
        g, ix, layout = self.g, self.ix, self.layout
        index_type = ix.type
        in_table = memref.alloc(identity_memref([num_entries], index_type), [], [])
        weight_table = memref.alloc(identity_memref([num_entries], index_type), [], [])
        depth_table = memref.alloc(identity_memref([num_entries], index_type), [], []) if self.checks_depth else None
        grid_m, grid_n = g.group_grid
        _, kh, kw = g.kernel_size
        dd, dh, dw = g.dilations
        sw = g.strides[2]
        d_stride, h_stride, phase_stride = layout.depth_stride, layout.row_stride, layout.phase_stride

        def effective(block: ir.Value, count: int, full: int, total: int) -> ir.Value:
            last = total - (count - 1) * full
            if last == full:
                return ix.value(full)
            is_last = arith.cmpi(arith.CmpIPredicate.eq, block, ix.value(count - 1))
            return arith.select(is_last, ix.value(last), ix.value(full))

        def load_index(table: ir.Value, at: ir.Value) -> ir.Value:
            return arith.index_castui(index_type, memref.load(table, [at]))

        def group_body(group: ir.Value, carried: list) -> list:
            (weight_base,) = carried
            weights_per_entry = arith.muli(
                effective(ix.div(group, grid_n), grid_m, g.group_shape.filters, g.out_channels),
                effective(ix.value(ix.rem(group, grid_n)), grid_n, g.group_shape.channels, g.in_channels),
            )
            begin = load_index(offsets, group)
            end = load_index(offsets, ix.add(group, 1))
            # The group's first channel goes into the entry's offset, so the kernel walks all
            # entries of consecutive groups in one loop.
            first_channel = ix.mul(ix.rem(group, grid_n), g.group_shape.channels * layout.channel_stride)

            def entry_body(entry: ir.Value, _: list) -> list:
                position = load_index(positions, entry)
                k_d = ix.div(position, kh * kw)
                k_h = ix.rem(ix.div(position, kw), kh)
                w_shift = ix.mul(ix.rem(position, kw), dw)
                w_phase = ix.rem(w_shift, sw)
                w_in_phase = ix.div(w_shift, sw)
                row = ix.add(
                    first_channel, ix.mul(k_d, dd * d_stride), ix.mul(k_h, dh * h_stride),
                    ix.mul(w_phase, phase_stride), w_in_phase, -layout.depth_halo * d_stride,
                )
                memref.store(ix.value(row), in_table, [entry])
                if depth_table is not None:
                    memref.store(ix.value(ix.add(ix.mul(k_d, dd), -layout.depth_halo)), depth_table, [entry])
                local = arith.subi(entry, begin)
                memref.store(arith.addi(weight_base, arith.muli(local, weights_per_entry)), weight_table, [entry])
                return []

            for_loop(begin, end, 1, [], entry_body, ix)
            return [arith.addi(weight_base, arith.muli(arith.subi(end, begin), weights_per_entry))]

        for_loop(0, grid_m * grid_n, 1, [ix.value(0)], group_body, ix)
        return in_table, weight_table, depth_table

    # ---- step 3: the register-blocked kernel -----------------------------------------------

    def emit(
        self, input_buffer: ir.Value, values: ir.Value, offsets: ir.Value, positions: ir.Value, num_entries: int,
        permutation: ir.Value | None, init: KernelInit, out: ir.Value, kernel_name: str, kernel_at: ir.InsertionPoint,
    ) -> None:
        """Writes the conv of ``input_buffer`` into ``out`` (1-D, NCDHW); the loop body goes to ``kernel_name``."""
        padded = input_buffer
        if isinstance(self.layout, PaddedLayout):
            padded = pad_input(
                self.g, self.layout, self.f32, input_buffer, self.s.vector_lanes, self.s.threads, f"{kernel_name}_pad",
                kernel_at,
            )
        tables = self.entry_tables(offsets, positions, num_entries)
        buffers = _Buffers(flat(padded, self.layout.size), values, offsets, *tables, init, out, permutation)
        self.convolve(buffers, kernel_name, kernel_at)

    def convolve(self, buffers: _Buffers, kernel_name: str, kernel_at: ir.InsertionPoint) -> None:
        """Emits the loops over (batch, output depth, row block); each iteration calls ``kernel_name``."""
        g, s, ix = self.g, self.s, self.ix
        out_h = g.out_size[1]
        row_blocks = math.ceil(out_h / s.rows)
        tail_rows = out_h - (row_blocks - 1) * s.rows

        def body(operands: list[ir.Value], ivs: list[ir.Value]) -> None:
            batch, depth, row_block = ivs
            buffers_here = buffers.like(operands)
            first_row = ix.mul(row_block, s.rows)

            def rows_of(count: int) -> Callable[[], None]:
                def emit() -> None:
                    if not self.checks_depth:
                        self._row_block(buffers_here, _Rows(batch, depth, first_row, count))
                        return
                    if_else(in_range(depth, InPlaceLayout.unchecked_depths(g), ix),
                            lambda: self._row_block(buffers_here, _Rows(batch, depth, first_row, count)),
                            lambda: self._row_block(buffers_here, _Rows(batch, depth, first_row, count, checked=True)))
                return emit

            if tail_rows == s.rows:
                rows_of(s.rows)()
                return
            is_tail = arith.cmpi(arith.CmpIPredicate.eq, row_block, ix.value(row_blocks - 1))
            if_else(is_tail, rows_of(tail_rows), rows_of(s.rows))

        # The output slices are independent: any scf.parallel lowering (OpenMP here) splits them.
        outlined_parallel_loop(
            kernel_name, kernel_at, buffers.flat(), [g.batch, g.out_size[0], row_blocks], s.threads > 1, body, ix
        )

    def _row_block(self, buffers: _Buffers, rows: _Rows) -> None:
        """``rows.count`` output rows of every filter, one channel chunk at a time.

        A chunk's input slab (its channels x Kd x the rows' input rows) stays near L1 while every
        filter block and W tile reuses it; partial sums go through ``out``: the first chunk
        starts from ``init``, the later ones from ``out``.
        """
        g, s, ix = self.g, self.s, self.ix
        _, grid_n = g.group_grid
        full_n = g.group_shape.channels
        has_tail_group = g.in_channels % full_n != 0
        chunks = math.ceil(grid_n / s.channel_groups)
        last_groups = grid_n - (chunks - 1) * s.channel_groups

        def chunk(first_group: Index, groups: int, is_first: bool, is_last: bool) -> None:
            tail = is_last and has_tail_group
            self._chunk(buffers, rows, _Chunk(first_group, groups - tail, tail, is_first, is_last))

        chunk(0, s.channel_groups if chunks > 1 else last_groups, True, chunks == 1)
        if chunks > 2:
            for_each(
                s.channel_groups, (chunks - 1) * s.channel_groups, s.channel_groups,
                lambda first: chunk(first, s.channel_groups, False, False), ix,
            )
        if chunks > 1:
            chunk((chunks - 1) * s.channel_groups, last_groups, False, True)

    def _chunk(self, buffers: _Buffers, rows: _Rows, chunk: _Chunk) -> None:
        """Every filter block x filter sub-block x W tile of one channel chunk."""
        g, s, ix = self.g, self.s, self.ix
        grid_m, _ = g.group_grid
        full_m = g.group_shape.filters
        tail_m = g.out_channels - (grid_m - 1) * full_m
        out_w = g.out_size[2]
        lanes = s.vector_lanes
        tile_w = s.w_vectors * lanes

        def filter_block(block: Index, filters_here: int) -> None:
            for first_filter in range(0, filters_here, s.filters):
                filters = _Filters(block, filters_here, first_filter, min(s.filters, filters_here - first_filter))

                def w_tile(first_col: Index, vectors: int, last_lanes: int, filters: _Filters = filters) -> None:
                    self._register_block(buffers, rows, chunk, filters, _Columns(first_col, vectors, last_lanes))

                full_tiles, rest = divmod(out_w, tile_w)
                if full_tiles:
                    for_each(0, full_tiles * tile_w, tile_w, lambda col: w_tile(col, s.w_vectors, lanes), ix)
                if rest:
                    vectors = math.ceil(rest / lanes)
                    w_tile(full_tiles * tile_w, vectors, rest - (vectors - 1) * lanes)

        full_blocks = grid_m if tail_m == full_m else grid_m - 1
        if full_blocks:
            for_each(0, full_blocks, 1, lambda block: filter_block(block, full_m), ix)
        if tail_m != full_m:
            filter_block(grid_m - 1, tail_m)

    def _register_block(
        self, buffers: _Buffers, rows: _Rows, chunk: _Chunk, filters: _Filters, columns: _Columns
    ) -> None:
        """filters x rows x column vectors accumulators over the chunk's groups and their kept entries."""
        g, s, ix, layout = self.g, self.s, self.ix, self.layout
        lanes = s.vector_lanes
        _, grid_n = g.group_grid
        out_d, out_h, out_w = g.out_size
        sd, sh, _ = g.strides
        channel_stride = layout.channel_stride
        row_stride = layout.row_stride

        widths = columns.widths(lanes)
        vector_types = [ir.VectorType.get([width], self.f32) for width in widths]
        last_type = vector_types[-1]
        mask = None
        if columns.last_lanes < widths[-1]:
            mask = vector.constant_mask(ir.VectorType.get([widths[-1]], ir.IntegerType.get_signless(1)), [columns.last_lanes])
        zero = arith.constant(last_type, ir.DenseElementsAttr.get_splat(last_type, ir.FloatAttr.get(self.f32, 0.0)))

        def output_filter(f: int) -> Index:
            """The output channel that compact filter ``f`` of the block writes (through the permutation)."""
            compact_filter = ix.add(ix.mul(filters.block, g.group_shape.filters), filters.first + f)
            if buffers.permutation is None:
                return compact_filter
            return arith.index_cast(ix.type, memref.load(buffers.permutation, [ix.value(compact_filter)]))

        out_filters = [output_filter(f) for f in range(filters.count)]

        def out_offset(f: int, r: int, v: int) -> Index:
            plane = ix.add(ix.mul(ix.add(ix.mul(rows.batch, g.out_channels), out_filters[f]), out_d), rows.depth)
            return ix.add(
                ix.mul(plane, out_h * out_w), ix.mul(ix.add(rows.first, r), out_w), columns.first, v * lanes
            )

        slots = [(f, r, v) for f in range(filters.count) for r in range(rows.count) for v in range(columns.vectors)]
        out_offsets = {slot: ix.value(out_offset(*slot)) for slot in slots}

        def is_masked(v: int) -> bool:
            return mask is not None and v == columns.vectors - 1

        def load_vector(source: ir.Value, v: int, offset: ir.Value) -> ir.Value:
            if is_masked(v):
                return vector.maskedload(last_type, source, [offset], mask, zero)
            return vector.load(vector_types[v], source, [offset])

        def load(source: ir.Value, slot: tuple[int, int, int]) -> ir.Value:
            return load_vector(source, slot[2], out_offsets[slot])

        init = buffers.init
        biases = {}
        if chunk.is_first and init.bias is not None:
            biases = {f: memref.load(init.bias, [ix.value(out_filter)]) for f, out_filter in enumerate(out_filters)}

        def starting_sum(slot: tuple[int, int, int]) -> ir.Value:
            if not chunk.is_first:  # the partial sums of the earlier chunks
                return load(buffers.out, slot)
            vector_type = vector_types[slot[2]]
            if init.kind == InitKind.SCALAR:
                return vector.broadcast(vector_type, init.scalar)
            total = load(init.tensor, slot) if init.tensor is not None else None
            if init.bias is not None:
                bias = vector.broadcast(vector_type, biases[slot[0]])
                total = bias if total is None else arith.addf(total, bias)
            return total

        accumulators = [starting_sum(slot) for slot in slots]

        # Input offset of (batch, output depth, first row, first column) at kernel position 0, channel 0.
        tile_base = ix.add(
            ix.mul(rows.batch, layout.batch_stride), ix.mul(rows.depth, sd * layout.depth_stride),
            ix.mul(rows.first, sh * row_stride), columns.first,
        )

        def accumulate_entries(first_group: Index, end_group: Index, channels: int, accs: list) -> list:
            """All kept entries of groups [first_group, end_group): consecutive in the tables, one flat loop."""
            begin = arith.index_castui(ix.type, memref.load(buffers.offsets, [ix.value(first_group)]))
            end = arith.index_castui(ix.type, memref.load(buffers.offsets, [ix.value(end_group)]))

            def input_vector(row: Index, c: int, r: int, v: int) -> ir.Value:
                offset = ix.value(ix.add(row, c * channel_stride + r * sh * row_stride + v * lanes))
                if self.in_place:  # a row's last vector must not read past the input's end
                    return load_vector(buffers.padded, v, offset)
                return vector.load(vector_types[v], buffers.padded, [offset])

            def products(k: ir.Value, accs: list) -> list:
                row = ix.add(tile_base, memref.load(buffers.in_table, [k]))
                weights = ix.add(memref.load(buffers.weight_table, [k]), filters.first)
                accs = list(accs)
                for c in range(channels):
                    inputs = {(r, v): input_vector(row, c, r, v) for r in range(rows.count) for v in range(columns.vectors)}
                    for f in range(filters.count):
                        weight = memref.load(buffers.values, [ix.value(ix.add(weights, c * filters.in_block + f))])
                        broadcasts = {t: vector.broadcast(t, weight) for t in set(vector_types)}
                        for r in range(rows.count):
                            for v in range(columns.vectors):
                                slot = slots.index((f, r, v))
                                accs[slot] = vector.fma(broadcasts[vector_types[v]], inputs[(r, v)], accs[slot])
                return accs

            def entry(k: ir.Value, accs: list) -> list:
                if not rows.checked:
                    return products(k, accs)
                in_depth = ix.add(ix.mul(rows.depth, sd), memref.load(buffers.depth_table, [k]))
                return accumulate_if(in_range(in_depth, range(g.in_size[0]), ix), lambda accs: products(k, accs), accs)

            return for_loop(begin, end, 1, accs, entry, ix)

        group_row = ix.mul(filters.block, grid_n)
        first_group = ix.add(group_row, chunk.first_group)
        if chunk.full_groups:
            accumulators = accumulate_entries(
                first_group, ix.add(first_group, chunk.full_groups), g.group_shape.channels, accumulators
            )
        if chunk.tail_group:
            tail_n = g.in_channels - (grid_n - 1) * g.group_shape.channels
            last_group = ix.add(group_row, grid_n - 1)
            accumulators = accumulate_entries(last_group, ix.add(last_group, 1), tail_n, accumulators)

        if chunk.is_last and self.activation == "relu":
            zeros = {t: arith.constant(t, ir.DenseElementsAttr.get_splat(t, ir.FloatAttr.get(self.f32, 0.0))) for t in set(vector_types)}
            accumulators = [arith.maximumf(acc, zeros[vector_types[slot[2]]]) for slot, acc in zip(slots, accumulators)]
        for slot, acc in zip(slots, accumulators):
            if is_masked(slot[2]):
                vector.maskedstore(buffers.out, [out_offsets[slot]], mask, acc)
            else:
                vector.store(acc, buffers.out, [out_offsets[slot]])


@dataclass(frozen=True)
class _Buffers:
    """The kernel's memrefs (all 1-D but the tables' element type aside)."""

    padded: ir.Value
    values: ir.Value
    offsets: ir.Value
    in_table: ir.Value
    weight_table: ir.Value
    depth_table: ir.Value | None  # per entry, input depth - output depth x stride; only when depths are checked
    init: KernelInit
    out: ir.Value
    permutation: ir.Value | None  # (M,) output channel of each compact filter; None: the identity

    def flat(self) -> list[ir.Value]:
        permutation = [self.permutation] if self.permutation is not None else []
        return [*self._leading(), *self.init.values, self.out, *permutation]

    def _leading(self) -> list[ir.Value]:
        depth_table = [self.depth_table] if self.depth_table is not None else []
        return [self.padded, self.values, self.offsets, self.in_table, self.weight_table, *depth_table]

    def like(self, values: Sequence[ir.Value]) -> _Buffers:
        """The same buffers as ``values`` (e.g. a function's arguments, in :meth:`flat` order)."""
        leading, init, out, permutation = split_kernel_operands(values, len(self._leading()), self.init,
                                                                self.permutation is not None)
        padded, kgs_values, offsets, in_table, weight_table, *depth_table = leading
        return _Buffers(padded, kgs_values, offsets, in_table, weight_table, depth_table[0] if depth_table else None,
                        init, out, permutation)


@dataclass(frozen=True)
class _Rows:
    """``count`` output rows from ``first`` at (batch, output depth)."""

    batch: ir.Value
    depth: ir.Value
    first: Index
    count: int
    checked: bool = False  # reading the input in place: skip the entries that read the depth halo


@dataclass(frozen=True)
class _Chunk:
    """Channel groups [first_group, first_group + full_groups), then the tail group if ``tail_group``."""

    first_group: Index
    full_groups: int
    tail_group: bool
    is_first: bool  # starts from init; later chunks start from the partial sums in out
    is_last: bool  # writes the final sums: the activation applies here


@dataclass(frozen=True)
class _Filters:
    """Filters [first, first + count) of filter block ``block``, which has ``in_block`` filters."""

    block: Index
    in_block: int
    first: int
    count: int


@dataclass(frozen=True)
class _Columns:
    """``vectors`` output vectors along W from column ``first``; the last holds ``last_lanes`` outputs.

    The last vector is the narrowest power of two that holds them (at most the full width), so
    a W tail of 4 on an 8-lane target costs 4-lane FMAs rather than half-masked 8-lane ones.
    """

    first: Index
    vectors: int
    last_lanes: int

    def widths(self, lanes: int) -> list[int]:
        return [lanes] * (self.vectors - 1) + [min(lanes, 1 << (self.last_lanes - 1).bit_length())]


