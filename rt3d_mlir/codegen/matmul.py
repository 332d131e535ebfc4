"""Mechanism: a linear layer's ``linalg.matmul`` as vector code split across threads (``matmul-to-vector`` applies it).

A linear layer at batch 1 is a matrix-vector product that reads every weight once: memory-bound
(C3D's fc6 streams 134 MB per call). The replacement is a call of a private function of tensors
(so one-shot bufferization sees what it reads; a ``linalg.fill`` init is passed as its scalar)
whose output columns are cut into blocks of ``BLOCK_VECTORS`` vectors, the blocks an
``scf.parallel`` over the target's cores. Per block and row ``i`` of the left operand the
accumulators stay in registers while ``k`` walks the reduction: one broadcast of ``lhs[i, k]``,
then per vector one contiguous load of the block's weights in row ``k`` and one FMA. The last
block, when the columns do not fill whole blocks, has fewer vectors, its last one as narrow as
the columns left.

A constant right operand is packed at compile time (:func:`pack_column_blocks`) so that each
block's weights are one contiguous stream: read in place from the (K, N) matrix, a block takes
``BLOCK_VECTORS * lanes`` floats from every row, a new page per row, and fc6 ran at 8 GB/s where
one core streams 20.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import bufferization, func, memref, vector

from rt3d_mlir.codegen.kernel_ir import (
    BUFFER_ALIGNMENT, Index, IndexMath, flat, for_loop, identity_memref, outlined_parallel_loop, read_only_buffer,
)

# Accumulators per block: 8 vectors leave registers for the broadcast and the loads on every
# target (16 vector registers and up), and 8 independent FMA chains cover the FMA latency.
BLOCK_VECTORS = 8


@dataclass(frozen=True)
class Matmul:
    """``out[M, N] = init[M, N] + lhs[M, K] @ rhs[K, N]``, static shapes, one float type."""

    rows: int  # M
    reduction: int  # K
    columns: int  # N



def pack_column_blocks(rhs: np.ndarray, block_columns: int) -> np.ndarray:
    """``rhs`` (K, N) as (ceil(N / block_columns), K, block_columns): each block of columns contiguous, zeros past N."""
    reduction, columns = rhs.shape
    blocks = -(-columns // block_columns)
    padded = np.zeros((reduction, blocks * block_columns), rhs.dtype)
    padded[:, :columns] = rhs
    return np.ascontiguousarray(padded.reshape(reduction, blocks, block_columns).transpose(1, 0, 2))


def emit_matmul(
    op: ir.Operation, matmul: Matmul, init: ir.Value, lanes: int, threads: int, name: str, at: ir.InsertionPoint,
    packed_rhs: ir.Value | None = None,
) -> ir.Value:
    """A call of a new private function ``name`` (inserted at ``at``) computing ``op``; returns its result.

    ``init`` is what the sums start from: the accumulator tensor, or the scalar of its fill.
    ``packed_rhs``: the right operand as :func:`pack_column_blocks` lays it out for blocks of
    ``BLOCK_VECTORS * lanes`` columns, read instead of ``op``'s (K, N) one.
    """
    lhs = op.operands[0]
    rhs = packed_rhs if packed_rhs is not None else op.operands[1]
    result_type = ir.RankedTensorType(op.results[0].type)
    element = result_type.element_type
    scalar_init = not isinstance(init.type, ir.RankedTensorType)
    m, k, n = matmul.rows, matmul.reduction, matmul.columns
    ix = IndexMath()
    block_columns = BLOCK_VECTORS * lanes
    full_blocks, tail = divmod(n, block_columns)
    # Where column block b's weights of row k start: b * K * block_columns + k * block_columns packed,
    # b * block_columns + k * N in place.
    block_stride, row_stride = (k * block_columns, block_columns) if packed_rhs is not None else (block_columns, n)
    rhs_size = math.prod(ir.RankedTensorType(rhs.type).shape)

    with at:
        function = func.FuncOp(name, ([lhs.type, rhs.type, init.type], [result_type]), visibility="private")
    with ir.InsertionPoint(function.add_entry_block()):

        arguments = list(function.arguments)
        start = arguments[2] if scalar_init else flat(read_only_buffer(arguments[2]), m * n)
        out = memref.alloc(identity_memref([m, n], element), [], [], alignment=BUFFER_ALIGNMENT)
        operands = [flat(read_only_buffer(arguments[0]), m * k), flat(read_only_buffer(arguments[1]), rhs_size), start,
                    flat(out, m * n)]

        def block(buffers: list[ir.Value], block_index: Index, width: int) -> None:
            """Output columns [block_index * block_columns, + width) of every row."""
            left, right, start, result = buffers
            full, rest = divmod(width, lanes)
            widths = [lanes] * full + ([rest] if rest else [])
            types = [ir.VectorType.get([width], element) for width in widths]
            first_column = ix.mul(block_index, block_columns)
            columns = [ix.add(first_column, v * lanes) for v in range(len(widths))]
            first_weight = ix.mul(block_index, block_stride)

            def row(i: ir.Value, _: list) -> list:
                row_start = ix.mul(i, n)
                if scalar_init:
                    sums = [vector.broadcast(t, start) for t in types]
                else:
                    sums = [vector.load(t, start, [ix.value(ix.add(row_start, c))]) for t, c in zip(types, columns)]

                def step(kk: ir.Value, sums: list) -> list:
                    x = memref.load(left, [ix.value(ix.add(ix.mul(i, k), kk))])
                    weights_row = ix.add(first_weight, ix.mul(kk, row_stride))
                    broadcasts = {t: vector.broadcast(t, x) for t in set(types)}
                    return [
                        vector.fma(broadcasts[t], vector.load(t, right, [ix.value(ix.add(weights_row, v * lanes))]), total)
                        for v, (t, total) in enumerate(zip(types, sums))
                    ]

                sums = for_loop(0, k, 1, sums, step, ix)
                for total, c in zip(sums, columns):
                    vector.store(total, result, [ix.value(ix.add(row_start, c))])
                return []

            for_loop(0, m, 1, [], row, ix)

        def full_block(buffers: list[ir.Value], ivs: list[ir.Value]) -> None:
            block(buffers, ivs[0], block_columns)

        if full_blocks:
            outlined_parallel_loop(f"{name}_blocks", ir.InsertionPoint(function), operands, [full_blocks],
                                   threads > 1 and full_blocks > 1, full_block, ix)
        if tail:
            block(operands, full_blocks, tail)
        func.ReturnOp([bufferization.to_tensor(result_type, out, restrict=True)])
    with ir.InsertionPoint(op), op.location:
        call = func.CallOp(function, [lhs, rhs, init])
    return call.result
