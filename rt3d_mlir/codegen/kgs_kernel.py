"""Mechanism: rewrite one ``sparse3d.kgs_conv3d`` into upstream scf/vector/memref/linalg code.

Given a :class:`~rt3d_mlir.targets.strategy.Schedule`, the op becomes:

1. **Padding once, with linalg.** The input is copied (``linalg.copy`` from a
   ``memref.transpose`` view; ``linalg.fill`` zeroes only the halo) into a buffer
   (N, Dp, Hp, C, sw, Wq): W is split into its ``sw`` stride phases, so for
   every stride and dilation the inputs that one kept position contributes to
   consecutive outputs along W are one *contiguous* row, and the channel rows
   of one (d, h) are adjacent, so a group's loads share few cache lines and
   pages. Rows carry slack past the padded width so that vector loads of the W
   tail stay in the buffer; the lanes they feed are masked off at the store.
2. **Per-entry tables, at run time.** One scalar pass over the index tables
   turns each kept entry k into the offset of its input row (from its group's
   first channel, ``positions[k]``, kernel size, dilations, stride phase) and the offset of
   its weights in ``values`` (a prefix sum over groups, so tail groups of any
   size work). Nothing is unrolled per position: the code size is independent
   of the number of groups and positions.
3. **Register-blocked broadcast-FMA.** For each (batch, output depth, block of
   ``rows`` output rows) — an ``scf.parallel`` when the schedule has more than
   one thread — and each chunk of ``channel_groups`` channel groups (its input
   slab stays near L1 while everything below reuses it), each filter block and
   each register block of ``filters x rows x w_vectors`` vector accumulators
   (initialised from ``init`` for the first chunk — or from what it was built
   from: a fill scalar, a per-filter bias, a residual plus a bias — and from the
   partial sums in the output after): loop over the chunk's groups, then their
   kept entries; per channel of the group (the channel loop is unrolled with the
   position loop) load ``rows x w_vectors`` input vectors, broadcast each
   filter's weight and FMA. W, H and filter/channel tails get their own
   statically-sized instances; a W tail uses the narrowest power-of-two vector
   that holds it, masked only when it is not a power of two. The last chunk
   applies the op's ``activation`` before its store, and every store goes to
   the output channel the op's ``filter_permutation`` names.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Callable, Sequence, Union

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, bufferization, func, linalg, memref, scf, vector

from rt3d_mlir.codegen.elementwise import added_operands
from rt3d_mlir.codegen.geometry import ConvGeometry
from rt3d_mlir.dialect.sparse3d import activation, filter_permutation
from rt3d_mlir.targets.strategy import Schedule

# Large enough for the widest vector (AVX-512: 64 bytes) so vector rows start aligned when W is.
_BUFFER_ALIGNMENT = 64

Index = Union[int, ir.Value]


class _IndexMath:
    """Index arithmetic that folds Python ints and emits arith ops only for run-time values."""

    def __init__(self) -> None:
        self.type = ir.IndexType.get()

    def value(self, x: Index) -> ir.Value:
        return arith.constant(self.type, x) if isinstance(x, int) else x

    def add(self, *terms: Index) -> Index:
        static = sum(t for t in terms if isinstance(t, int))
        dynamic = [t for t in terms if not isinstance(t, int)]
        if not dynamic:
            return static
        total = dynamic[0]
        for term in dynamic[1:]:
            total = arith.addi(total, term)
        return arith.addi(total, self.value(static)) if static else total

    def mul(self, x: Index, factor: int) -> Index:
        if isinstance(x, int):
            return x * factor
        if factor == 0:
            return 0
        return x if factor == 1 else arith.muli(x, self.value(factor))

    def div(self, x: Index, divisor: int) -> Index:
        if isinstance(x, int):
            return x // divisor
        return x if divisor == 1 else arith.divui(x, self.value(divisor))

    def rem(self, x: Index, divisor: int) -> Index:
        if isinstance(x, int):
            return x % divisor
        return 0 if divisor == 1 else arith.remui(x, self.value(divisor))


@dataclass(frozen=True)
class _PaddedLayout:
    """The padded input buffer (N, Dp, Hp, C, sw, Wq): channel rows interleaved per (d, h).

    W is split into its ``sw`` stride phases (column x lives at phase x % sw, index x // sw),
    so the inputs of consecutive outputs are contiguous for any stride. The channels of one
    (d, h) are adjacent rows: a group's channels, and a chunk's, are one contiguous run, which
    keeps a register block's loads on few cache lines and pages and lets the prefetcher follow.
    """

    shape: tuple[int, int, int, int, int, int]

    @classmethod
    def of(cls, geometry: ConvGeometry, lanes: int) -> "_PaddedLayout":
        dp, hp, wp = geometry.padded_size
        sw, dw, kw = geometry.strides[2], geometry.dilations[2], geometry.kernel_size[2]
        out_w = geometry.out_size[2]
        # Vector loads of the last W tile read up to the next multiple of the lane count.
        rounded_out_w = math.ceil(out_w / lanes) * lanes
        w_row = max(math.ceil(wp / sw), rounded_out_w + (kw - 1) * dw // sw)
        return cls((geometry.batch, dp, hp, geometry.in_channels, sw, w_row))

    @property
    def strides(self) -> list[int]:
        return _row_major_strides(self.shape)

    @property
    def batch_stride(self) -> int:
        return self.strides[0]

    @property
    def depth_stride(self) -> int:
        return self.strides[1]

    @property
    def row_stride(self) -> int:
        return self.strides[2]

    @property
    def channel_stride(self) -> int:
        return self.strides[3]

    @property
    def phase_stride(self) -> int:
        return self.strides[4]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _identity_memref(shape: Sequence[int], element_type: ir.Type) -> ir.MemRefType:
    return ir.MemRefType.get(list(shape), element_type)


def _strided_memref(shape: Sequence[int], strides: Sequence[int], offset: int, element_type: ir.Type) -> ir.MemRefType:
    return ir.MemRefType.get(list(shape), element_type, layout=ir.StridedLayoutAttr.get(offset, list(strides)))


def _row_major_strides(shape: Sequence[int]) -> list[int]:
    strides = [1]
    for size in reversed(shape[1:]):
        strides.insert(0, strides[0] * size)
    return strides


def _flat(buffer: ir.Value, size: int) -> ir.Value:
    """A 1-D view of a contiguous buffer: the kernel does its own address arithmetic."""
    rank = ir.MemRefType(buffer.type).rank
    element_type = ir.MemRefType(buffer.type).element_type
    return memref.collapse_shape(_identity_memref([size], element_type), buffer, [list(range(rank))])


def _for(lower: Index, upper: Index, step: int, carried: Sequence[ir.Value], body: Callable, ix: _IndexMath) -> list:
    """An scf.for whose body(iv, carried) returns the new carried values; returns the results."""
    loop = scf.ForOp(ix.value(lower), ix.value(upper), ix.value(step), list(carried))
    with ir.InsertionPoint(loop.body):
        scf.YieldOp(list(body(loop.induction_variable, list(loop.inner_iter_args))))
    return list(loop.results)


def _loop_nest(bounds: Sequence[int], body: Callable[..., None], ix: _IndexMath, ivs: tuple = ()) -> None:
    """Sequential scf.for loops over [0, bound) for each bound, calling body(*ivs) innermost."""
    if not bounds:
        body(*ivs)
        return

    def level(iv: ir.Value, _: list) -> list:
        _loop_nest(bounds[1:], body, ix, (*ivs, iv))
        return []

    _for(0, bounds[0], 1, [], level, ix)


class _KernelEmitter:
    def __init__(self, geometry: ConvGeometry, schedule: Schedule, element_type: ir.Type, activation: str | None) -> None:
        self.g = geometry
        self.s = schedule
        self.f32 = element_type
        self.activation = activation
        self.ix = _IndexMath()
        self.layout = _PaddedLayout.of(geometry, schedule.vector_lanes)

    # ---- step 1: padding -------------------------------------------------------------------

    def pad_input(self, input_buffer: ir.Value) -> ir.Value:
        g, layout = self.g, self.layout
        padded = memref.alloc(_identity_memref(layout.shape, self.f32), [], [], alignment=_BUFFER_ALIGNMENT)
        n, c, (d, h, w) = g.batch, g.in_channels, g.in_size
        pad_d, pad_h, pad_w = g.padding[:3]
        sw = g.strides[2]
        _, dp, hp, _, _, w_row = layout.shape
        zero = arith.constant(self.f32, 0.0)

        def fill(offsets: Sequence[int], sizes: Sequence[int]) -> None:
            """Zeroes the box [offsets, offsets + sizes) of the padded buffer (nothing if empty)."""
            if 0 in sizes:
                return
            offset = sum(o * st for o, st in zip(offsets, layout.strides))
            box_type = _strided_memref(sizes, layout.strides, offset, self.f32)
            box = memref.SubViewOp(box_type, padded, [], [], [], list(offsets), list(sizes), [1] * 6).result
            linalg.fill(zero, outs=[box])

        # Only the halo is zeroed; the copies below write everything else.
        fill([0, 0, 0, 0, 0, 0], [n, pad_d, hp, c, sw, w_row])
        fill([0, pad_d + d, 0, 0, 0, 0], [n, dp - pad_d - d, hp, c, sw, w_row])
        fill([0, pad_d, 0, 0, 0, 0], [n, d, pad_h, c, sw, w_row])
        fill([0, pad_d, pad_h + h, 0, 0, 0], [n, d, hp - pad_h - h, c, sw, w_row])
        # The input viewed as (N, D, H, C, W), the buffer's order.
        in_strides = _row_major_strides([n, c, d, h, w])
        permuted_strides = [in_strides[0], in_strides[2], in_strides[3], in_strides[1], 1]
        permuted = memref.TransposeOp(
            _strided_memref([n, d, h, c, w], permuted_strides, 0, self.f32),
            input_buffer,
            ir.AffineMap.get_permutation([0, 2, 3, 1, 4]),
        ).result
        p_strides = layout.strides
        for phase in range(sw):
            first_w = (phase - pad_w) % sw  # first input column that lands in this phase
            count = len(range(first_w, w, sw))
            if not count:
                fill([0, pad_d, pad_h, 0, phase, 0], [n, d, h, c, 1, w_row])
                continue
            first_q = (first_w + pad_w) // sw
            fill([0, pad_d, pad_h, 0, phase, 0], [n, d, h, c, 1, first_q])
            fill([0, pad_d, pad_h, 0, phase, first_q + count], [n, d, h, c, 1, w_row - first_q - count])
            source_type = _strided_memref([n, d, h, c, count], [*permuted_strides[:4], sw], first_w, self.f32)
            source = memref.SubViewOp(
                source_type, permuted, [], [], [], [0, 0, 0, 0, first_w], [n, d, h, c, count], [1, 1, 1, 1, sw]
            ).result
            offset = pad_d * layout.depth_stride + pad_h * layout.row_stride + phase * layout.phase_stride + first_q
            dest_type = _strided_memref([n, d, h, c, count], [*p_strides[:4], 1], offset, self.f32)
            dest = memref.SubViewOp(
                dest_type, padded, [], [], [],
                [0, pad_d, pad_h, 0, phase, first_q], [n, d, h, c, 1, count], [1, 1, 1, 1, 1, 1],
            ).result
            linalg.copy(source, outs=[dest])
        return padded

    # ---- step 2: per-entry tables ----------------------------------------------------------

    def entry_tables(self, offsets: ir.Value, positions: ir.Value, num_entries: int) -> tuple[ir.Value, ir.Value]:
        """(input row offset, weight offset) of each kept entry, as index buffers.

        The input offset is that of the entry's group's first channel at the entry's kernel
        position, relative to the input of output (0, 0, 0) in batch 0.
        """
        g, ix, layout = self.g, self.ix, self.layout
        index_type = ix.type
        in_table = memref.alloc(_identity_memref([num_entries], index_type), [], [])
        weight_table = memref.alloc(_identity_memref([num_entries], index_type), [], [])
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
                    ix.mul(w_phase, phase_stride), w_in_phase,
                )
                memref.store(ix.value(row), in_table, [entry])
                local = arith.subi(entry, begin)
                memref.store(arith.addi(weight_base, arith.muli(local, weights_per_entry)), weight_table, [entry])
                return []

            _for(begin, end, 1, [], entry_body, ix)
            return [arith.addi(weight_base, arith.muli(arith.subi(end, begin), weights_per_entry))]

        _for(0, grid_m * grid_n, 1, [ix.value(0)], group_body, ix)
        return in_table, weight_table

    # ---- step 3: the register-blocked kernel -----------------------------------------------

    def convolve(self, buffers: "_Buffers", kernel_name: str, kernel_at: ir.InsertionPoint) -> None:
        """Emits the loops over (batch, output depth, row block); each iteration calls ``kernel_name``.

        The per-iteration body is outlined into a private function (inserted at ``kernel_at``):
        the OpenMP lowering wraps a parallel body in a single-block ``memref.alloca_scope``,
        which the body's own loops would otherwise break into several blocks.
        """
        g, s, ix = self.g, self.s, self.ix
        out_h = g.out_size[1]
        row_blocks = math.ceil(out_h / s.rows)
        tail_rows = out_h - (row_blocks - 1) * s.rows
        with kernel_at:
            kernel = func.FuncOp(kernel_name, ([b.type for b in buffers.flat()] + [ix.type] * 3, []), visibility="private")
        with ir.InsertionPoint(kernel.add_entry_block()):
            *operands, batch, depth, row_block = kernel.arguments
            buffers_here = buffers.like(operands)
            first_row = ix.mul(row_block, s.rows)
            if tail_rows == s.rows:
                self._row_block(buffers_here, _Rows(batch, depth, first_row, s.rows))
            else:
                is_tail = arith.cmpi(arith.CmpIPredicate.eq, row_block, ix.value(row_blocks - 1))
                branch = scf.IfOp(is_tail, [], has_else=True)
                with ir.InsertionPoint(branch.then_block):
                    self._row_block(buffers_here, _Rows(batch, depth, first_row, tail_rows))
                    scf.YieldOp([])
                with ir.InsertionPoint(branch.else_block):
                    self._row_block(buffers_here, _Rows(batch, depth, first_row, s.rows))
                    scf.YieldOp([])
            func.ReturnOp([])

        def call(batch: ir.Value, depth: ir.Value, row_block: ir.Value) -> None:
            func.CallOp(kernel, [*buffers.flat(), batch, depth, row_block])

        bounds = [g.batch, g.out_size[0], row_blocks]
        if s.threads > 1:
            # The output slices are independent: any scf.parallel lowering (OpenMP here) splits them.
            loop = scf.ParallelOp([], [ix.value(0)] * 3, [ix.value(b) for b in bounds], [ix.value(1)] * 3, [])
            body = loop.region.blocks.append(*[ix.type] * 3)
            with ir.InsertionPoint(body):
                call(*body.arguments)
                scf.ReduceOp([], 0)
        else:
            _loop_nest(bounds, call, ix)

    def _row_block(self, buffers: "_Buffers", rows: "_Rows") -> None:
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
            _for(
                s.channel_groups, (chunks - 1) * s.channel_groups, s.channel_groups, [],
                lambda first, _: chunk(first, s.channel_groups, False, False) or [], ix,
            )
        if chunks > 1:
            chunk((chunks - 1) * s.channel_groups, last_groups, False, True)

    def _chunk(self, buffers: "_Buffers", rows: "_Rows", chunk: "_Chunk") -> None:
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

                def w_tile(first_col: Index, vectors: int, last_lanes: int) -> None:
                    self._register_block(buffers, rows, chunk, filters, _Columns(first_col, vectors, last_lanes))

                full_tiles, rest = divmod(out_w, tile_w)
                if full_tiles:
                    _for(0, full_tiles * tile_w, tile_w, [], lambda col, _: w_tile(col, s.w_vectors, lanes) or [], ix)
                if rest:
                    vectors = math.ceil(rest / lanes)
                    w_tile(full_tiles * tile_w, vectors, rest - (vectors - 1) * lanes)

        full_blocks = grid_m if tail_m == full_m else grid_m - 1
        if full_blocks:
            _for(0, full_blocks, 1, [], lambda block, _: filter_block(block, full_m) or [], ix)
        if tail_m != full_m:
            filter_block(grid_m - 1, tail_m)

    def _register_block(
        self, buffers: "_Buffers", rows: "_Rows", chunk: "_Chunk", filters: "_Filters", columns: "_Columns"
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

        def load(source: ir.Value, slot: tuple[int, int, int]) -> ir.Value:
            if is_masked(slot[2]):
                return vector.maskedload(last_type, source, [out_offsets[slot]], mask, zero)
            return vector.load(vector_types[slot[2]], source, [out_offsets[slot]])

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

            def entry(k: ir.Value, accs: list) -> list:
                row = ix.add(tile_base, memref.load(buffers.in_table, [k]))
                weights = ix.add(memref.load(buffers.weight_table, [k]), filters.first)
                accs = list(accs)
                for c in range(channels):
                    inputs = {
                        (r, v): vector.load(
                            vector_types[v], buffers.padded,
                            [ix.value(ix.add(row, c * channel_stride + r * sh * row_stride + v * lanes))],
                        )
                        for r in range(rows.count) for v in range(columns.vectors)
                    }
                    for f in range(filters.count):
                        weight = memref.load(buffers.values, [ix.value(ix.add(weights, c * filters.in_block + f))])
                        broadcasts = {t: vector.broadcast(t, weight) for t in set(vector_types)}
                        for r in range(rows.count):
                            for v in range(columns.vectors):
                                slot = slots.index((f, r, v))
                                accs[slot] = vector.fma(broadcasts[vector_types[v]], inputs[(r, v)], accs[slot])
                return accs

            return _for(begin, end, 1, accs, entry, ix)

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


class InitKind(enum.Enum):
    """What the accumulators start from (``init`` as the conv's producer built it)."""

    TENSOR = "tensor"  # any init tensor: read in full
    SCALAR = "scalar"  # a linalg.fill: its scalar, broadcast
    BIAS = "bias"  # a per-filter bias broadcast over (N, D, H, W): the 1-D bias, broadcast per filter
    TENSOR_PLUS_BIAS = "tensor+bias"  # a tensor (a fused residual) plus a bias broadcast: both read, added


@dataclass(frozen=True)
class _Init:
    """The kernel's view of ``init``: its kind and the values (buffers or a scalar) it reads."""

    kind: InitKind
    scalar: ir.Value | None = None
    tensor: ir.Value | None = None  # 1-D view of a full-size buffer
    bias: ir.Value | None = None  # (M,) buffer, indexed by output channel

    @property
    def values(self) -> list[ir.Value]:
        return [v for v in (self.scalar, self.tensor, self.bias) if v is not None]

    def with_values(self, values: Sequence[ir.Value]) -> "_Init":
        """The same kind of init over other values (a function's arguments), in ``values`` order."""
        remaining = list(values)
        taken = {name: remaining.pop(0) if getattr(self, name) is not None else None for name in ("scalar", "tensor", "bias")}
        return _Init(self.kind, **taken)


@dataclass(frozen=True)
class _Buffers:
    """The kernel's memrefs (all 1-D but the tables' element type aside)."""

    padded: ir.Value
    values: ir.Value
    offsets: ir.Value
    in_table: ir.Value
    weight_table: ir.Value
    init: _Init
    out: ir.Value
    permutation: ir.Value | None  # (M,) output channel of each compact filter; None: the identity

    def flat(self) -> list[ir.Value]:
        permutation = [self.permutation] if self.permutation is not None else []
        return [self.padded, self.values, self.offsets, self.in_table, self.weight_table, *self.init.values, self.out, *permutation]

    def like(self, values: Sequence[ir.Value]) -> "_Buffers":
        """The same buffers as ``values`` (e.g. a function's arguments, in :meth:`flat` order)."""
        values = list(values)
        init_count = len(self.init.values)
        init = self.init.with_values(values[5 : 5 + init_count])
        rest = values[5 + init_count :]
        return _Buffers(*values[:5], init, rest[0], rest[1] if self.permutation is not None else None)


@dataclass(frozen=True)
class _Rows:
    """``count`` output rows from ``first`` at (batch, output depth)."""

    batch: ir.Value
    depth: ir.Value
    first: Index
    count: int


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


def _unused_symbol(symbol_table_op: ir.Operation, stem: str) -> str:
    taken = {
        ir.StringAttr(op.attributes["sym_name"]).value
        for op in symbol_table_op.regions[0].blocks[0].operations
        if "sym_name" in op.attributes
    }
    return next(f"{stem}_{k}" for k in range(len(taken) + 1) if f"{stem}_{k}" not in taken)


def _producer(value: ir.Value, name: str) -> ir.Operation | None:
    owner = value.owner
    if not isinstance(owner, (ir.Operation, ir.OpView)) or owner.operation.name != name:
        return None
    return owner.operation


def _bias_of(tensor: ir.Value) -> ir.Value | None:
    """The 1-D bias of a ``linalg.broadcast`` along (N, D, H, W) that produced ``tensor`` (a conv-bias init), or None."""
    broadcast = _producer(tensor, "linalg.broadcast")
    if broadcast is None or list(ir.DenseI64ArrayAttr(broadcast.attributes["dimensions"])) != [0, 2, 3, 4]:
        return None
    return broadcast.operands[0]


def init_source(init: ir.Value) -> tuple[InitKind, list[ir.Value]]:
    """How the kernel can start its accumulators from ``init`` without reading a full-size init tensor.

    torch-mlir imports a conv without bias with a ``linalg.fill`` init and one with a bias with a
    ``linalg.broadcast`` of it; ``sparse3d-fuse-epilogue`` makes a fused residual ``residual + bias``.
    The kernel reads the fill's scalar, the bias, or the residual and the bias instead.
    """
    fill = _producer(init, "linalg.fill")
    if fill is not None:
        return InitKind.SCALAR, [fill.operands[0]]
    bias = _bias_of(init)
    if bias is not None:
        return InitKind.BIAS, [bias]
    generic = _producer(init, "linalg.generic")
    added = added_operands(generic) if generic is not None else None
    if added is not None:
        for tensor, maybe_bias in (added, added[::-1]):
            bias = _bias_of(maybe_bias)
            if bias is not None:
                return InitKind.TENSOR_PLUS_BIAS, [tensor, bias]
    return InitKind.TENSOR, [init]


def emit_kgs_conv3d(op: ir.Operation | ir.OpView, schedule: Schedule) -> ir.Value:
    """Replaces ``op`` (a sparse3d.kgs_conv3d) by a call of upstream code following ``schedule``.

    The code is a private function ``@kgs_conv3d_N`` of tensors (input, values, offsets,
    positions, and what the accumulators start from: init, or the scalar of a ``linalg.fill``
    init, or the bias of a bias-broadcast init, see :func:`init_source`) inserted before the
    op's function. Taking tensors at a call keeps one-shot bufferization exact about what the
    code reads: inside, it reads its arguments through ``bufferization.to_buffer``, which the
    analysis cannot see through, but a call it can, and CSE cannot merge across functions.
    The op's optional ``filter_permutation`` and ``activation`` are applied where the kernel
    writes its results. Returns the call's result.
    """
    operation = op.operation
    geometry = ConvGeometry.of(operation)
    input_tensor, values_tensor, offsets_tensor, positions_tensor, init_tensor = operation.operands
    result_type = ir.RankedTensorType(operation.results[0].type)
    f32 = result_type.element_type
    output_size = math.prod(result_type.shape)
    init_kind, init_values = init_source(init_tensor)
    permutation = filter_permutation(operation)
    arguments = [input_tensor, values_tensor, offsets_tensor, positions_tensor, *init_values]
    enclosing_function = operation.parent
    while enclosing_function.name != "func.func":
        enclosing_function = enclosing_function.parent
    module_op = enclosing_function.parent
    with operation.context, operation.location:
        emitter = _KernelEmitter(geometry, schedule, f32, activation(operation))
        with ir.InsertionPoint(enclosing_function):
            conv = func.FuncOp(
                _unused_symbol(module_op, "kgs_conv3d"), ([a.type for a in arguments], [result_type]), visibility="private"
            )
        with ir.InsertionPoint(conv.add_entry_block()):
            input_arg, values_arg, offsets_arg, positions_arg, *init_args = conv.arguments

            def buffer(tensor: ir.Value) -> ir.Value:
                tensor_type = ir.RankedTensorType(tensor.type)
                return bufferization.to_buffer(
                    _identity_memref(tensor_type.shape, tensor_type.element_type), tensor, read_only=True
                )

            offsets = buffer(offsets_arg)
            if init_kind == InitKind.SCALAR:
                init = _Init(init_kind, scalar=init_args[0])
            elif init_kind == InitKind.BIAS:
                init = _Init(init_kind, bias=buffer(init_args[0]))
            else:
                bias = buffer(init_args[1]) if init_kind == InitKind.TENSOR_PLUS_BIAS else None
                init = _Init(init_kind, tensor=_flat(buffer(init_args[0]), output_size), bias=bias)
            padded = emitter.pad_input(buffer(input_arg))
            tables = emitter.entry_tables(offsets, buffer(positions_arg), ir.RankedTensorType(positions_tensor.type).shape[0])
            out = memref.alloc(_identity_memref(result_type.shape, f32), [], [], alignment=_BUFFER_ALIGNMENT)
            permutation_buffer = None
            if permutation is not None:
                table_type = ir.RankedTensorType.get([len(permutation)], ir.IntegerType.get_signless(32))
                table = arith.constant(table_type, ir.DenseElementsAttr.get(np.array(permutation, np.int32), type=table_type))
                permutation_buffer = buffer(table)
            emitter.convolve(
                _Buffers(
                    _flat(padded, emitter.layout.size), buffer(values_arg), offsets, *tables, init,
                    _flat(out, output_size), permutation_buffer,
                ),
                _unused_symbol(module_op, "kgs_conv3d_block"),
                ir.InsertionPoint(conv),
            )
            for scratch in (padded, *tables):
                memref.dealloc(scratch)
            func.ReturnOp([bufferization.to_tensor(result_type, out, restrict=True)])
        with ir.InsertionPoint(operation):
            result = func.CallOp(conv, arguments).result
    operation.results[0].replace_all_uses_with(result)
    operation.erase()
    return result
