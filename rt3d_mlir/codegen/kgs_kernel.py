"""Mechanism: rewrite one ``sparse3d.kgs_conv3d`` into upstream scf/vector/memref/linalg code.

Given a :class:`~rt3d_mlir.targets.strategy.Schedule`, the op becomes:

1. **Padding once, with linalg.** The input is copied (``linalg.fill`` +
   ``linalg.copy``) into a zero-filled buffer of shape
   (N, C, Dp, Hp, sw, Wq): W is split into its ``sw`` stride phases, so for
   every stride and dilation the inputs that one kept position contributes to
   consecutive outputs along W are one *contiguous* row. Rows carry slack past
   the padded width so that full-width vector loads of the W tail stay in the
   buffer; the lanes they feed are masked off at the store.
2. **Per-entry tables, at run time.** One scalar pass over the index tables
   turns each kept entry k into the offset of its input row inside a channel
   (from ``positions[k]``, kernel size, dilations, stride phase) and the offset
   of its weights in ``values`` (a prefix sum over groups, so tail groups of
   any size work). Nothing is unrolled per position: the code size is
   independent of the number of groups and positions.
3. **Register-blocked broadcast-FMA.** For each (batch, filter block, output
   depth) — an ``scf.parallel`` when the schedule has more than one thread —
   and each register block of ``filters x rows x w_vectors`` vector
   accumulators (initialised from ``init``), loop over the filter block's
   channel groups, then their kept entries; per channel of the group (the
   channel loop is unrolled with the position loop) load ``rows x w_vectors``
   input vectors, broadcast each filter's weight and FMA. W and H tails and
   filter/channel tail groups get their own statically-sized instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence, Union

from torch_mlir import ir
from torch_mlir.dialects import arith, bufferization, func, linalg, memref, scf, vector

from rt3d_mlir.codegen.geometry import ConvGeometry
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
    """The padded, stride-phase-split input buffer (N, C, Dp, Hp, sw, Wq)."""

    shape: tuple[int, int, int, int, int, int]

    @classmethod
    def of(cls, geometry: ConvGeometry, lanes: int) -> "_PaddedLayout":
        dp, hp, wp = geometry.padded_size
        sw, dw, kw = geometry.strides[2], geometry.dilations[2], geometry.kernel_size[2]
        out_w = geometry.out_size[2]
        # Vector loads of the last W tile read up to the next multiple of the lane count.
        rounded_out_w = math.ceil(out_w / lanes) * lanes
        w_row = max(math.ceil(wp / sw), rounded_out_w + (kw - 1) * dw // sw)
        return cls((geometry.batch, geometry.in_channels, dp, hp, sw, w_row))

    @property
    def strides(self) -> tuple[int, ...]:
        strides = [1]
        for size in reversed(self.shape[1:]):
            strides.insert(0, strides[0] * size)
        return tuple(strides)

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
    def __init__(self, geometry: ConvGeometry, schedule: Schedule, element_type: ir.Type) -> None:
        self.g = geometry
        self.s = schedule
        self.f32 = element_type
        self.ix = _IndexMath()
        self.vector_type = ir.VectorType.get([schedule.vector_lanes], element_type)
        self.layout = _PaddedLayout.of(geometry, schedule.vector_lanes)

    # ---- step 1: padding -------------------------------------------------------------------

    def pad_input(self, input_buffer: ir.Value) -> ir.Value:
        g, layout = self.g, self.layout
        padded = memref.alloc(_identity_memref(layout.shape, self.f32), [], [], alignment=_BUFFER_ALIGNMENT)
        linalg.fill(arith.constant(self.f32, 0.0), outs=[padded])
        n, c, (d, h, w) = g.batch, g.in_channels, g.in_size
        pad_d, pad_h, pad_w = g.padding[:3]
        sw = g.strides[2]
        in_strides = _row_major_strides([n, c, d, h, w])
        p_strides = layout.strides
        for phase in range(sw):
            first_w = (phase - pad_w) % sw  # first input column that lands in this phase
            count = len(range(first_w, w, sw))
            if not count:
                continue
            first_q = (first_w + pad_w) // sw
            source_type = _strided_memref(
                [n, c, d, h, count], [*in_strides[:4], sw], first_w, self.f32
            )
            source = memref.SubViewOp(
                source_type, input_buffer, [], [], [], [0, 0, 0, 0, first_w], [n, c, d, h, count], [1, 1, 1, 1, sw]
            ).result
            offset = pad_d * p_strides[2] + pad_h * p_strides[3] + phase * p_strides[4] + first_q
            dest_type = _strided_memref([n, c, d, h, count], [*p_strides[:4], 1], offset, self.f32)
            dest = memref.SubViewOp(
                dest_type, padded, [], [], [],
                [0, 0, pad_d, pad_h, phase, first_q], [n, c, d, h, 1, count], [1, 1, 1, 1, 1, 1],
            ).result
            linalg.copy(source, outs=[dest])
        return padded

    # ---- step 2: per-entry tables ----------------------------------------------------------

    def entry_tables(self, offsets: ir.Value, positions: ir.Value, num_entries: int) -> tuple[ir.Value, ir.Value]:
        """(input row offset, weight offset) of each kept entry, as index buffers."""
        g, ix, layout = self.g, self.ix, self.layout
        index_type = ix.type
        in_table = memref.alloc(_identity_memref([num_entries], index_type), [], [])
        weight_table = memref.alloc(_identity_memref([num_entries], index_type), [], [])
        grid_m, grid_n = g.group_grid
        _, kh, kw = g.kernel_size
        dd, dh, dw = g.dilations
        sw = g.strides[2]
        d_stride, h_stride, phase_stride = layout.strides[2], layout.strides[3], layout.strides[4]

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

            def entry_body(entry: ir.Value, _: list) -> list:
                position = load_index(positions, entry)
                k_d = ix.div(position, kh * kw)
                k_h = ix.rem(ix.div(position, kw), kh)
                w_shift = ix.mul(ix.rem(position, kw), dw)
                w_phase = ix.rem(w_shift, sw)
                w_in_phase = ix.div(w_shift, sw)
                row = ix.add(
                    ix.mul(k_d, dd * d_stride), ix.mul(k_h, dh * h_stride), ix.mul(w_phase, phase_stride), w_in_phase
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

    def convolve(self, buffers: Sequence[ir.Value], kernel_name: str, kernel_at: ir.InsertionPoint) -> None:
        """Emits the loops over (batch, filter block, output depth); each iteration calls ``kernel_name``.

        ``buffers``: padded input, values, offsets, input-row table, weight table, init, out.
        The per-iteration body is outlined into a private function (inserted at ``kernel_at``):
        the OpenMP lowering wraps a parallel body in a single-block ``memref.alloca_scope``,
        which the body's own loops would otherwise break into several blocks.
        """
        g, s, ix = self.g, self.s, self.ix
        grid_m, _ = g.group_grid
        full_m = g.group_shape.filters
        tail_m = g.out_channels - (grid_m - 1) * full_m
        with kernel_at:
            kernel = func.FuncOp(kernel_name, ([b.type for b in buffers] + [ix.type] * 3, []), visibility="private")
        with ir.InsertionPoint(kernel.add_entry_block()):
            *operands, batch, block, depth = kernel.arguments
            if tail_m == full_m:
                self._filter_block(operands, batch, block, depth, full_m)
            else:
                is_tail = arith.cmpi(arith.CmpIPredicate.eq, block, ix.value(grid_m - 1))
                branch = scf.IfOp(is_tail, [], has_else=True)
                with ir.InsertionPoint(branch.then_block):
                    self._filter_block(operands, batch, block, depth, tail_m)
                    scf.YieldOp([])
                with ir.InsertionPoint(branch.else_block):
                    self._filter_block(operands, batch, block, depth, full_m)
                    scf.YieldOp([])
            func.ReturnOp([])

        def call(batch: ir.Value, block: ir.Value, depth: ir.Value) -> None:
            func.CallOp(kernel, [*buffers, batch, block, depth])

        bounds = [g.batch, grid_m, g.out_size[0]]
        if s.threads > 1:
            # The output slices are independent: any scf.parallel lowering (OpenMP here) splits them.
            loop = scf.ParallelOp([], [ix.value(0)] * 3, [ix.value(b) for b in bounds], [ix.value(1)] * 3, [])
            body = loop.region.blocks.append(*[ix.type] * 3)
            with ir.InsertionPoint(body):
                call(*body.arguments)
                scf.ReduceOp([], 0)
        else:
            _loop_nest(bounds, call, ix)

    def _filter_block(self, operands, batch: ir.Value, block: ir.Value, depth: ir.Value, filters_here: int) -> None:
        s, ix = self.s, self.ix
        _, out_h, out_w = self.g.out_size
        lanes = s.vector_lanes
        tile_w = s.w_vectors * lanes
        for first_filter in range(0, filters_here, s.filters):
            filters = min(s.filters, filters_here - first_filter)

            def rows(first_row: Index, row_count: int) -> None:
                def w_tile(first_col: Index, vectors: int, last_lanes: int) -> None:
                    self._register_block(
                        operands, batch, block, depth, filters_here, first_filter, filters,
                        first_row, row_count, first_col, vectors, last_lanes,
                    )

                full_tiles, rest = divmod(out_w, tile_w)
                if full_tiles:
                    _for(0, full_tiles * tile_w, tile_w, [], lambda col, _: w_tile(col, s.w_vectors, lanes) or [], ix)
                if rest:
                    vectors = math.ceil(rest / lanes)
                    w_tile(full_tiles * tile_w, vectors, rest - (vectors - 1) * lanes)

            full_blocks, rest_rows = divmod(out_h, s.rows)
            if full_blocks:
                _for(0, full_blocks * s.rows, s.rows, [], lambda row, _: rows(row, s.rows) or [], ix)
            if rest_rows:
                rows(full_blocks * s.rows, rest_rows)

    def _register_block(
        self, operands, batch, block, depth, filters_here: int, first_filter: int, filters: int,
        first_row: Index, row_count: int, first_col: Index, vectors: int, last_lanes: int,
    ) -> None:
        g, s, ix, layout = self.g, self.s, self.ix, self.layout
        padded, values, offsets, in_table, weight_table, init, out = operands
        lanes = s.vector_lanes
        _, grid_n = g.group_grid
        out_d, out_h, out_w = g.out_size
        sd, sh, _ = g.strides
        channel_stride = layout.strides[1]
        row_stride = layout.strides[3]

        mask = None
        if last_lanes < lanes:
            mask = vector.constant_mask(ir.VectorType.get([lanes], ir.IntegerType.get_signless(1)), [last_lanes])
        zero = arith.constant(self.vector_type, ir.DenseElementsAttr.get_splat(self.vector_type, ir.FloatAttr.get(self.f32, 0.0)))

        def out_offset(f: int, r: int, v: int) -> Index:
            filter_index = ix.add(ix.mul(block, g.group_shape.filters), first_filter + f)
            plane = ix.add(ix.mul(ix.add(ix.mul(batch, g.out_channels), filter_index), out_d), depth)
            return ix.add(ix.mul(plane, out_h * out_w), ix.mul(ix.add(first_row, r), out_w), first_col, v * lanes)

        slots = [(f, r, v) for f in range(filters) for r in range(row_count) for v in range(vectors)]
        out_offsets = {slot: ix.value(out_offset(*slot)) for slot in slots}

        def is_masked(v: int) -> bool:
            return mask is not None and v == vectors - 1

        accumulators = [
            vector.maskedload(self.vector_type, init, [out_offsets[slot]], mask, zero)
            if is_masked(slot[2])
            else vector.load(self.vector_type, init, [out_offsets[slot]])
            for slot in slots
        ]

        # Input offset of (batch, output depth, first row, first column) at kernel position 0, channel 0.
        tile_base = ix.add(
            ix.mul(batch, layout.strides[0]), ix.mul(depth, sd * layout.strides[2]),
            ix.mul(first_row, sh * row_stride), first_col,
        )

        def accumulate_group(group: Index, first_channel: Index, channels: int, accs: list) -> list:
            begin = arith.index_castui(ix.type, memref.load(offsets, [ix.value(group)]))
            end = arith.index_castui(ix.type, memref.load(offsets, [ix.value(ix.add(group, 1))]))
            group_base = ix.add(tile_base, ix.mul(first_channel, channel_stride))

            def entry(k: ir.Value, accs: list) -> list:
                row = ix.add(group_base, memref.load(in_table, [k]))
                weights = ix.add(memref.load(weight_table, [k]), first_filter)
                accs = list(accs)
                for c in range(channels):
                    inputs = {
                        (r, v): vector.load(
                            self.vector_type, padded,
                            [ix.value(ix.add(row, c * channel_stride + r * sh * row_stride + v * lanes))],
                        )
                        for r in range(row_count) for v in range(vectors)
                    }
                    for f in range(filters):
                        weight = memref.load(values, [ix.value(ix.add(weights, c * filters_here + f))])
                        broadcast = vector.broadcast(self.vector_type, weight)
                        for r in range(row_count):
                            for v in range(vectors):
                                slot = slots.index((f, r, v))
                                accs[slot] = vector.fma(broadcast, inputs[(r, v)], accs[slot])
                return accs

            return _for(begin, end, 1, accs, entry, ix)

        full_n = g.group_shape.channels
        tail_n = g.in_channels - (grid_n - 1) * full_n
        full_groups = grid_n if tail_n == full_n else grid_n - 1
        group_row = ix.mul(block, grid_n)
        if full_groups:
            accumulators = _for(
                0, full_groups, 1, accumulators,
                lambda j, accs: accumulate_group(ix.add(group_row, j), ix.mul(j, full_n), full_n, accs), ix,
            )
        if tail_n != full_n:
            accumulators = accumulate_group(ix.add(group_row, grid_n - 1), (grid_n - 1) * full_n, tail_n, accumulators)

        for slot, acc in zip(slots, accumulators):
            if is_masked(slot[2]):
                vector.maskedstore(out, [out_offsets[slot]], mask, acc)
            else:
                vector.store(acc, out, [out_offsets[slot]])


def _unused_symbol(symbol_table_op: ir.Operation, stem: str) -> str:
    taken = {
        ir.StringAttr(op.attributes["sym_name"]).value
        for op in symbol_table_op.regions[0].blocks[0].operations
        if "sym_name" in op.attributes
    }
    return next(f"{stem}_{k}" for k in range(len(taken) + 1) if f"{stem}_{k}" not in taken)


def emit_kgs_conv3d(op: ir.Operation | ir.OpView, schedule: Schedule) -> ir.Value:
    """Replaces ``op`` (a sparse3d.kgs_conv3d) by upstream code following ``schedule``; returns the result."""
    operation = op.operation
    geometry = ConvGeometry.of(operation)
    input_tensor, values_tensor, offsets_tensor, positions_tensor, init_tensor = operation.operands
    result_type = ir.RankedTensorType(operation.results[0].type)
    f32 = result_type.element_type
    with operation.context, operation.location, ir.InsertionPoint(operation):
        emitter = _KernelEmitter(geometry, schedule, f32)

        def buffer(tensor: ir.Value) -> ir.Value:
            tensor_type = ir.RankedTensorType(tensor.type)
            return bufferization.to_buffer(
                _identity_memref(tensor_type.shape, tensor_type.element_type), tensor, read_only=True
            )

        input_buffer = buffer(input_tensor)
        values = buffer(values_tensor)
        offsets = buffer(offsets_tensor)
        positions = buffer(positions_tensor)
        init = _flat(buffer(init_tensor), math.prod(result_type.shape))
        num_entries = ir.RankedTensorType(positions_tensor.type).shape[0]

        padded = emitter.pad_input(input_buffer)
        tables = emitter.entry_tables(offsets, positions, num_entries)
        out = memref.alloc(_identity_memref(result_type.shape, f32), [], [], alignment=_BUFFER_ALIGNMENT)
        enclosing_function = operation.parent
        while enclosing_function.name != "func.func":
            enclosing_function = enclosing_function.parent
        emitter.convolve(
            [_flat(padded, emitter.layout.size), values, offsets, *tables, init, _flat(out, math.prod(result_type.shape))],
            _unused_symbol(enclosing_function.parent, "kgs_conv3d_kernel"),
            ir.InsertionPoint(enclosing_function),
        )
        for scratch in (padded, *tables):
            memref.dealloc(scratch)
        result = bufferization.to_tensor(result_type, out, restrict=True)
    operation.results[0].replace_all_uses_with(result)
    operation.erase()
    return result
