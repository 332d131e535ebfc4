"""Mechanism: a 3D max/sum pooling ``linalg.generic`` as vector code (``pooling-to-vector`` applies it).

torch-mlir imports ``max_pool3d`` as a window reduction (``avg_pool3d`` comes as transposes around
``linalg.pooling_ndhwc_sum`` and is not matched; a sum generic of this form is)::

  linalg.generic {indexing_maps = [(n, c, d, h, w, kd, kh, kw) -> (n, c, d*sd + kd*dd, h*sh + kh*dh, w*sw + kw*dw),
                                   (...) -> (kd, kh, kw), (...) -> (n, c, d, h, w)], ...}
      ins(%x, %window_shape) outs(%init) { arith.maximumf (or arith.addf) of %in and %out }

The replacement is a call of a private function of tensors (like the KGS kernel,
so one-shot bufferization sees what it reads; a ``linalg.fill`` init is passed as
its scalar) whose loops run over (n, c, d, h), the (n, c, d) planes split across
threads, and, along the output W, vectors of ``lanes`` outputs: for each window row
(kd, kh) it loads the contiguous inputs the vector's outputs read (whole
vectors: a stride-2 pool of 8 outputs loads 16 inputs) and, for each kw, picks
lanes ``kw*dw + j*sw`` with a ``vector.shuffle`` and combines them into the
accumulator. The W tail uses narrower power-of-two vectors, down to one lane,
wherever a wide load would run past the input row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable

from torch_mlir import ir
from torch_mlir.dialects import arith, bufferization, func, memref, vector

from rt3d_mlir.codegen.kernel_ir import (
    BUFFER_ALIGNMENT, IndexMath, flat, for_each, identity_memref, outlined_parallel_loop, read_only_buffer, row_major_strides,
)

COMBINERS: dict[str, Callable[[ir.Value, ir.Value], ir.Value]] = {
    "arith.maximumf": arith.maximumf,
    "arith.addf": arith.addf,
}


@dataclass(frozen=True)
class Pool3D:
    """A window reduction over (D, H, W) of an (N, C, D, H, W) tensor."""

    input_shape: tuple[int, int, int, int, int]
    output_shape: tuple[int, int, int, int, int]
    window: tuple[int, int, int]
    strides: tuple[int, int, int]
    dilations: tuple[int, int, int]
    combiner: str  # a key of COMBINERS

    def load_length(self, width: int) -> int:
        """Inputs one tap row loads for ``width`` outputs: their span, rounded up to whole vectors of ``width``."""
        sw, dw, kw = self.strides[2], self.dilations[2], self.window[2]
        span = (width - 1) * sw + (kw - 1) * dw + 1
        return math.ceil(span / width) * width

    def vector_widths(self, lanes: int) -> list[tuple[int, int]]:
        """(first output column, width) of the vectors that cover one output row, widest first.

        A vector of ``width`` outputs from column ``w`` loads :meth:`load_length` inputs from
        ``w * sw``; it is used only where that load stays inside the input row.
        """
        out_w, in_w, sw = self.output_shape[4], self.input_shape[4], self.strides[2]
        pieces = []
        column, width = 0, lanes
        while column < out_w:
            while width > 1 and (column + width > out_w or column * sw + self.load_length(width) > in_w):
                width //= 2
            pieces.append((column, width))
            column += width
        return pieces


def emit_pool3d(
    op: ir.Operation, pool: Pool3D, lanes: int, threads: int, name: str, insert_function_at: ir.InsertionPoint
) -> ir.Value:
    """Replaces ``op`` (the pooling generic) by a call of a new private function ``name``; returns the call's result.

    With ``threads > 1`` the (N*C, D) output planes are an ``scf.parallel`` (OpenMP on the host): a
    pool is memory-bound, and run on one core it left the other idle for ~3% of a C3D call.
    """
    input_tensor, init_tensor = op.operands[0], op.operands[2]
    # torch-mlir's pooling init is a linalg.fill (-inf or 0): take its scalar, not a filled tensor.
    fill = init_tensor.owner
    fill_value = fill.operands[0] if isinstance(fill, ir.OpView) and fill.operation.name == "linalg.fill" else None
    init_argument = fill_value if fill_value is not None else init_tensor
    result_type = ir.RankedTensorType(op.results[0].type)
    f32 = result_type.element_type
    combine = COMBINERS[pool.combiner]
    in_strides = row_major_strides(pool.input_shape)
    out_strides = row_major_strides(pool.output_shape)
    with insert_function_at:
        function = func.FuncOp(name, ([input_tensor.type, init_argument.type], [result_type]), visibility="private")
    with ir.InsertionPoint(function.add_entry_block()):

        in_size, out_size = math.prod(pool.input_shape), math.prod(pool.output_shape)
        source = flat(read_only_buffer(function.arguments[0]), in_size)
        init = flat(read_only_buffer(function.arguments[1]), out_size) if fill_value is None else function.arguments[1]
        out = memref.alloc(identity_memref(pool.output_shape, f32), [], [], alignment=BUFFER_ALIGNMENT)
        out_flat = flat(out, out_size)
        ix = IndexMath()

        def row(buffers: list[ir.Value], plane: ir.Value, depth: ir.Value, height: ir.Value) -> None:
            # plane = n * C + c: N and C are adjacent and contiguous in both tensors.
            source, init, out_flat = buffers
            sd, sh, sw = pool.strides
            dd, dh, dw = pool.dilations
            out_row = ix.add(ix.mul(plane, out_strides[1]), ix.mul(depth, out_strides[2]), ix.mul(height, out_strides[3]))
            in_row = ix.add(ix.mul(plane, in_strides[1]), ix.mul(depth, sd * in_strides[2]), ix.mul(height, sh * in_strides[3]))
            for column, width in pool.vector_widths(lanes):
                out_type = ir.VectorType.get([width], f32)
                length = pool.load_length(width)
                at = ix.value(ix.add(out_row, column))
                acc = vector.load(out_type, init, [at]) if fill_value is None else vector.broadcast(out_type, init)
                for kd in range(pool.window[0]):
                    for kh in range(pool.window[1]):
                        tap_row = kd * dd * in_strides[2] + kh * dh * in_strides[3] + column * sw
                        loaded = vector.load(ir.VectorType.get([length], f32), source, [ix.value(ix.add(in_row, tap_row))])
                        for kw in range(pool.window[2]):
                            lanes_used = [kw * dw + j * sw for j in range(width)]
                            taps = loaded if lanes_used == list(range(length)) else vector.shuffle(loaded, loaded, lanes_used)
                            acc = combine(acc, taps)
                vector.store(acc, out_flat, [at])

        def plane_rows(buffers: list[ir.Value], ivs: list[ir.Value]) -> None:
            plane, depth = ivs
            for_each(0, pool.output_shape[3], 1, lambda height: row(buffers, plane, depth, height), ix)

        n, c, d, _, _ = pool.output_shape
        outlined_parallel_loop(
            f"{name}_rows", ir.InsertionPoint(function), [source, init, out_flat], [n * c, d], threads > 1, plane_rows, ix
        )
        func.ReturnOp([bufferization.to_tensor(result_type, out, restrict=True)])
    with ir.InsertionPoint(op):
        call = func.CallOp(function, [input_tensor, init_argument])
    return call.result
