"""Mechanism: one ``sparse3d.kgs_conv3d`` as a ``gpu.launch`` that reads the compact weights from buffers.

``sparse3d-to-gpu`` replaces the op by a call of a private function of tensors (so one-shot
bufferization sees exactly what the kernel reads; the function is inlined after bufferization)::

  func.func private @kgs_conv3d_gpu_0(%input, %values, %offsets, %positions, %bases, %init) -> tensor<...> {
    <to_buffer of each operand, collapsed to 1-D; a fresh output buffer>
    gpu.launch blocks(output tiles, filter blocks, batch) threads(workgroup_size) {
      <per thread: outputs_per_thread positions x ceil(g_m/4) vec4 accumulators>
      scf.for channel group -> scf.for kept position -> scf.for channel of the group:
        load 4 filters' weights (vector.from_elements), per position: load input, broadcast, vector.fma
      out = init + accumulators (lanes past a tail block's filters are not stored); init is read as
      the bias or the fill value when the conv's init is a bias broadcast or a fill
    }
  }

Index tables travel as i32 buffers (``bases[g]``: where group g's weights start in
``values``, :func:`value_bases` of the constant tables), so the shader's size does not
depend on the number of kept positions. Padding is checked per kept position, not
materialised. The function is built for static sizes with the same IR builders as the CPU
kernel (:mod:`rt3d_mlir.codegen.kernel_ir`); it holds only upstream dialects (func,
bufferization, memref, gpu, scf, arith, vector).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from collections.abc import Iterator, Sequence

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, bufferization, func, gpu, memref, scf, vector

from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.codegen.kernel_init import InitKind, KernelInit
from rt3d_mlir.codegen.kernel_ir import Index, IndexMath, flat, for_loop, identity_memref, kernel_init, read_only_buffer
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets.gpu_strategy import VECTOR_WIDTH, GpuSchedule, filter_vectors, output_positions, workgroup_count


def value_bases(geometry: ConvGeometry, group_offsets: np.ndarray) -> np.ndarray:
    """Where each group's weights start in ``values`` (the layout of docs/sparse3d-dialect.md)."""
    grid_m, grid_n = geometry.group_grid
    gm, gn = geometry.group_shape.filters, geometry.group_shape.channels
    filters = np.minimum(gm, geometry.out_channels - np.arange(grid_m) * gm)
    channels = np.minimum(gn, geometry.in_channels - np.arange(grid_n) * gn)
    kept = np.diff(group_offsets.astype(np.int64))
    sizes = kept * np.repeat(filters, grid_n) * np.tile(channels, grid_m)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)


def emit_gpu_kgs_function(
    name: str, at: ir.InsertionPoint, geometry: ConvGeometry, schedule: GpuSchedule,
    argument_types: Sequence[ir.Type], init_kind: InitKind, result_type: ir.Type, f16_math: bool = False,
) -> func.FuncOp:
    """Inserts ``func.func private @name`` computing the conv on the GPU at ``at`` (see the module docstring).

    ``argument_types`` are those of (input, values, offsets, positions, bases, init): the tables
    are 1-D i32 tensors; ``init`` is the full result-shaped tensor (``InitKind.TENSOR``), the
    per-filter bias ``tensor<Mxf32>`` (``BIAS``) or one ``f32`` (``SCALAR``). ``f16_math`` (f16
    weights only): each kernel group's products are summed in f16 vec4s, and each group's sum is
    added to f32 accumulators, so f16 rounding spans one group at a time.
    """
    if init_kind == InitKind.TENSOR_PLUS_BIAS:
        raise ValueError("the GPU kernel reads a residual plus bias init as one full init tensor (InitKind.TENSOR)")
    values_type = ir.RankedTensorType(argument_types[1])
    weights_f16 = isinstance(values_type.element_type, ir.F16Type)
    if f16_math and not weights_f16:
        raise UserError("f16 arithmetic needs f16 weights")
    with at:
        function = func.FuncOp(name, (list(argument_types), [result_type]), visibility="private")
    with ir.InsertionPoint(function.add_entry_block()):
        _GpuKgsKernel(geometry, schedule, weights_f16, f16_math).emit(list(function.arguments), init_kind, result_type)
    return function


@dataclass(frozen=True)
class _Buffers:
    """The kernel's memrefs: the input and the output as 1-D views (NCDHW), the compact tables as they come."""

    input: ir.Value
    values: ir.Value
    offsets: ir.Value
    positions: ir.Value
    bases: ir.Value
    init: KernelInit
    out: ir.Value


@dataclass(frozen=True)
class _Owned:
    """One output position a thread owns: its linear index, whether it is in range, its input window's corner (D, H, W)."""

    linear: Index
    valid: ir.Value
    corner: tuple[Index, Index, Index]


@dataclass(frozen=True)
class _Thread:
    """What every step of one thread reads: its buffers, positions, filter block and batch item."""

    buffers: _Buffers
    owned: list[_Owned]
    first_filter: Index
    filters_here: ir.Value  # g_m, or fewer in the tail block
    last_filter: ir.Value  # filters_here - 1: the lane a weight past the block's filters repeats
    batch: ir.Value
    batch_input: Index  # where the batch item's input starts
    zero: ir.Value  # f32 0: the input at a padding position


class _GpuKgsKernel:
    def __init__(self, geometry: ConvGeometry, schedule: GpuSchedule, weights_f16: bool, f16_math: bool) -> None:
        self.g = geometry
        self.s = schedule
        self.ix = IndexMath()
        self.weights_f16 = weights_f16
        self.f16_math = f16_math
        self.f32 = ir.F32Type.get()
        self.vector_type = ir.VectorType.get([VECTOR_WIDTH], self.f32)
        # the accumulators inside one group: f16 with f16 arithmetic
        self.inner_element = ir.F16Type.get() if f16_math else self.f32
        self.inner_type = ir.VectorType.get([VECTOR_WIDTH], self.inner_element)
        self.vectors = filter_vectors(geometry)
        self.positions_out = output_positions(geometry)

    def emit(self, arguments: list[ir.Value], init_kind: InitKind, result_type: ir.Type) -> None:
        """The function's body: buffers of the arguments, the launch, the result as a tensor."""
        g, ix = self.g, self.ix
        result_shape = ir.RankedTensorType(result_type).shape
        output_size = math.prod(result_shape)
        input_arg, values, offsets, positions, bases, *init_args = arguments
        input_buffer = flat(read_only_buffer(input_arg), g.batch * g.in_channels * math.prod(g.in_size))
        values_buffer, offsets_buffer, positions_buffer, bases_buffer = (
            read_only_buffer(table) for table in (values, offsets, positions, bases)
        )
        init = kernel_init(init_kind, init_args, output_size)
        out = memref.alloc(identity_memref(result_shape, self.f32), [], [])
        buffers = _Buffers(
            input_buffer, values_buffer, offsets_buffer, positions_buffer, bases_buffer, init, flat(out, output_size)
        )
        grid = workgroup_count(g, self.s)
        # One constant per distinct size, as canonicalization would leave them.
        sizes = {size: ix.value(size) for size in dict.fromkeys((*grid, self.s.workgroup_size, 1))}
        launch = gpu.LaunchOp(tuple(sizes[size] for size in grid), (sizes[self.s.workgroup_size], sizes[1], sizes[1]))
        body = launch.regions[0].blocks[0]
        tile, filter_block, batch, thread_index = body.arguments[:4]
        with ir.InsertionPoint(body):
            self._workgroup(buffers, tile, filter_block, batch, thread_index)
            gpu.TerminatorOp()
        func.ReturnOp([bufferization.to_tensor(result_type, out, restrict=True, writable=True)])

    def _workgroup(self, buffers: _Buffers, tile: ir.Value, filter_block: ir.Value, batch: ir.Value, thread_index: ir.Value) -> None:
        """One thread: accumulate its owned positions over the filter block's groups, then store them."""
        g, s, ix = self.g, self.s, self.ix
        gm = g.group_shape.filters
        grid_n = g.group_grid[1]
        zero = arith.constant(self.f32, 0.0)
        zero_vector = _zeros(self.vector_type)
        zero_inner = _zeros(self.inner_type) if self.f16_math else zero_vector
        first_filter = ix.mul(filter_block, gm)
        filters_here = arith.minsi(ix.value(gm), arith.subi(ix.value(g.out_channels), ix.value(first_filter)))
        tile_base = ix.add(ix.mul(tile, s.tile), thread_index)
        owned = [self._owned(ix.add(tile_base, j * s.workgroup_size)) for j in range(s.outputs_per_thread)]
        thread = _Thread(
            buffers, owned, first_filter, filters_here, arith.subi(filters_here, ix.value(1)), batch,
            ix.mul(batch, g.in_channels * math.prod(g.in_size)), zero,
        )
        # Accumulator (owned position j, filter vec4 v) at index j * vectors + v.
        count = s.outputs_per_thread * self.vectors

        def group_step(group: ir.Value, totals: list) -> list:
            group_index = ix.add(ix.mul(filter_block, grid_n), group)
            if not self.f16_math:
                return self._group(thread, group, group_index, totals)
            sums = self._group(thread, group, group_index, [zero_inner] * count)
            # the group's f16 sums join the f32 totals
            return [arith.addf(total, arith.extf(self.vector_type, part)) for total, part in zip(totals, sums)]

        self._store(thread, for_loop(0, grid_n, 1, [zero_vector] * count, group_step, ix))

    def _owned(self, linear: Index) -> _Owned:
        g, ix = self.g, self.ix
        _, ho, wo = g.out_size
        valid = arith.cmpi(arith.CmpIPredicate.slt, ix.value(linear), ix.value(self.positions_out))
        # A thread past the last position computes the last one (in bounds) and does not store it.
        clamped = arith.minsi(ix.value(linear), ix.value(self.positions_out - 1))
        output = (ix.div(clamped, wo * ho), ix.rem(ix.div(clamped, wo), ho), ix.rem(clamped, wo))
        corner_d, corner_h, corner_w = (
            ix.add(ix.mul(o, stride), -pad) for o, stride, pad in zip(output, g.strides, g.padding[:3])
        )
        return _Owned(linear, valid, (corner_d, corner_h, corner_w))

    def _table(self, table: ir.Value, at: Index) -> ir.Value:
        return arith.index_cast(self.ix.type, memref.load(table, [self.ix.value(at)]))

    def _group(self, thread: _Thread, group: ir.Value, group_index: Index, starts: list[ir.Value]) -> list[ir.Value]:
        """The sums of one kernel group's kept positions and channels, from ``starts``."""
        g, ix = self.g, self.ix
        gn = g.group_shape.channels
        buffers = thread.buffers
        begin = self._table(buffers.offsets, group_index)
        end = self._table(buffers.offsets, ix.add(group_index, 1))
        base = self._table(buffers.bases, group_index)
        first_channel = ix.mul(group, gn)
        channels_here = arith.minsi(ix.value(gn), arith.subi(ix.value(g.in_channels), ix.value(first_channel)))
        weights_per_position = arith.muli(channels_here, thread.filters_here)

        def position_step(k: ir.Value, sums: list) -> list:
            inputs = self._kept_position_inputs(thread, self._table(buffers.positions, k))
            position_weights = ix.add(base, arith.muli(arith.subi(k, begin), weights_per_position))

            def channel_step(channel: ir.Value, sums: list) -> list:
                weight_row = ix.add(position_weights, arith.muli(channel, thread.filters_here))
                channel_offset = ix.mul(ix.add(first_channel, channel), math.prod(g.in_size))
                return self._fma_step(thread, inputs, weight_row, channel_offset, sums)

            return for_loop(0, channels_here, 1, sums, channel_step, ix)

        return for_loop(begin, end, 1, starts, position_step, ix)

    def _kept_position_inputs(self, thread: _Thread, position: ir.Value) -> list[tuple[ir.Value, Index]]:
        """Per owned position: is its input at kernel ``position`` inside the (unpadded) input, and its address there."""
        g, ix = self.g, self.ix
        _, kh, kw = g.kernel_size
        d, h, w = g.in_size
        kernel_offset = (ix.div(position, kh * kw), ix.rem(ix.div(position, kw), kh), ix.rem(position, kw))
        inputs = []
        for here in thread.owned:
            coordinates, inside = [], None
            for start, offset, dilation, extent in zip(here.corner, kernel_offset, g.dilations, (d, h, w)):
                coordinate = ix.value(ix.add(start, ix.mul(offset, dilation)))
                in_range = arith.andi(
                    arith.cmpi(arith.CmpIPredicate.sge, coordinate, ix.value(0)),
                    arith.cmpi(arith.CmpIPredicate.slt, coordinate, ix.value(extent)),
                )
                inside = in_range if inside is None else arith.andi(inside, in_range)
                coordinates.append(coordinate)
            linear = ix.add(ix.mul(ix.add(ix.mul(coordinates[0], h), coordinates[1]), w), coordinates[2])
            # a padding position reads address 0; the select in _fma_step replaces what it loads by zero
            safe = arith.select(inside, ix.value(linear), ix.value(0))
            inputs.append((inside, ix.add(thread.batch_input, safe)))
        return inputs

    def _fma_step(
        self, thread: _Thread, inputs: list[tuple[ir.Value, Index]], weight_row: Index, channel_offset: Index,
        sums: list[ir.Value],
    ) -> list[ir.Value]:
        """One (kept position, channel): ``vectors`` weight vec4s times each owned position's input."""
        ix = self.ix
        weights = []
        for v in range(self.vectors):
            lanes = []
            for lane in range(VECTOR_WIDTH):
                # Lanes past a tail block's last filter repeat it; their sums are never stored.
                index = ix.add(weight_row, arith.minsi(ix.value(v * VECTOR_WIDTH + lane), thread.last_filter))
                weight = memref.load(thread.buffers.values, [ix.value(index)])
                if self.weights_f16 and not self.f16_math:  # f16 storage halves the weight traffic; the arithmetic stays f32
                    weight = arith.extf(self.f32, weight)
                lanes.append(weight)
            weights.append(vector.from_elements(self.inner_type, lanes))
        updated = []
        for j, (inside, address) in enumerate(inputs):
            loaded = memref.load(thread.buffers.input, [ix.value(ix.add(address, channel_offset))])
            value = arith.select(inside, loaded, thread.zero)
            if self.f16_math:
                value = arith.truncf(self.inner_element, value)
            broadcast = vector.broadcast(self.inner_type, value)
            updated += [vector.fma(broadcast, weights[v], sums[j * self.vectors + v]) for v in range(self.vectors)]
        return updated

    def _store(self, thread: _Thread, sums: list[ir.Value]) -> None:
        """out = init + sum, for owned positions in range and filters of this block."""
        g, ix = self.g, self.ix
        init = thread.buffers.init
        for j, here in enumerate(thread.owned):
            with _when(here.valid):
                for filter_index in range(min(self.vectors * VECTOR_WIDTH, g.group_shape.filters)):
                    v, lane = divmod(filter_index, VECTOR_WIDTH)
                    with _when(arith.cmpi(arith.CmpIPredicate.slt, ix.value(filter_index), thread.filters_here)):
                        output_filter = ix.add(thread.first_filter, filter_index)
                        channel = ix.add(output_filter, ix.mul(thread.batch, g.out_channels))
                        address = ix.value(ix.add(ix.mul(channel, self.positions_out), here.linear))
                        if init.kind == InitKind.TENSOR:
                            start = memref.load(init.tensor, [address])
                        elif init.kind == InitKind.BIAS:
                            start = memref.load(init.bias, [ix.value(output_filter)])
                        else:
                            start = init.scalar
                        total = arith.addf(start, vector.extract(sums[j * self.vectors + v], [], [lane]))
                        memref.store(total, thread.buffers.out, [address])


def _zeros(vector_type: ir.VectorType) -> ir.Value:
    zero = ir.FloatAttr.get(vector_type.element_type, 0.0)
    return arith.constant(vector_type, ir.DenseElementsAttr.get_splat(vector_type, zero))


@contextmanager
def _when(condition: ir.Value) -> Iterator[None]:
    """Builds the body of the ``with`` into the then branch of an ``scf.if`` without results or else branch."""
    branch = scf.IfOp(condition, [], has_else=False)
    with ir.InsertionPoint(branch.then_block):
        yield
        scf.YieldOp([])
