"""Mechanism: a linear layer's ``linalg.matmul`` as vector code split across threads (``matmul-to-vector`` applies it).

A linear layer at batch 1 is a matrix-vector product that reads every weight once: memory-bound
(C3D's fc6 streams 134 MB per call). The replacement is a call of a private function of tensors
(so one-shot bufferization sees what it reads; a ``linalg.fill`` init is passed as its scalar)
whose output columns are cut into blocks of ``BLOCK_VECTORS`` vectors, the blocks an
``scf.parallel`` over the target's cores. Per block and row ``i`` of the left operand the
accumulators stay in registers while ``k`` walks the reduction: one broadcast of ``lhs[i, k]``,
then per vector one contiguous load of ``rhs[k, columns]`` and one FMA. The last block, when the
columns do not fill whole blocks, has fewer vectors, its last one as narrow as the columns left.
"""

from __future__ import annotations

from dataclasses import dataclass

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



def emit_matmul(
    op: ir.Operation, matmul: Matmul, init: ir.Value, lanes: int, threads: int, name: str, at: ir.InsertionPoint,
) -> ir.Value:
    """A call of a new private function ``name`` (inserted at ``at``) computing ``op``; returns its result.

    ``init`` is what the sums start from: the accumulator tensor, or the scalar of its fill.
    """
    lhs, rhs = op.operands[0], op.operands[1]
    result_type = ir.RankedTensorType(op.results[0].type)
    element = result_type.element_type
    scalar_init = not isinstance(init.type, ir.RankedTensorType)
    m, k, n = matmul.rows, matmul.reduction, matmul.columns
    ix = IndexMath()
    block_columns = BLOCK_VECTORS * lanes
    full_blocks, tail = divmod(n, block_columns)

    with at:
        function = func.FuncOp(name, ([lhs.type, rhs.type, init.type], [result_type]), visibility="private")
    with ir.InsertionPoint(function.add_entry_block()):

        arguments = list(function.arguments)
        start = arguments[2] if scalar_init else flat(read_only_buffer(arguments[2]), m * n)
        out = memref.alloc(identity_memref([m, n], element), [], [], alignment=BUFFER_ALIGNMENT)
        operands = [flat(read_only_buffer(arguments[0]), m * k), flat(read_only_buffer(arguments[1]), k * n), start,
                    flat(out, m * n)]

        def block(buffers: list[ir.Value], first_column: Index, width: int) -> None:
            """Output columns [first_column, first_column + width) of every row."""
            left, right, start, result = buffers
            full, rest = divmod(width, lanes)
            widths = [lanes] * full + ([rest] if rest else [])
            types = [ir.VectorType.get([width], element) for width in widths]
            columns = [ix.add(first_column, v * lanes) for v in range(len(widths))]

            def row(i: ir.Value, _: list) -> list:
                row_start = ix.mul(i, n)
                if scalar_init:
                    sums = [vector.broadcast(t, start) for t in types]
                else:
                    sums = [vector.load(t, start, [ix.value(ix.add(row_start, c))]) for t, c in zip(types, columns)]

                def step(kk: ir.Value, sums: list) -> list:
                    x = memref.load(left, [ix.value(ix.add(ix.mul(i, k), kk))])
                    weights_row = ix.mul(kk, n)
                    broadcasts = {t: vector.broadcast(t, x) for t in set(types)}
                    return [
                        vector.fma(broadcasts[t], vector.load(t, right, [ix.value(ix.add(weights_row, c))]), total)
                        for t, c, total in zip(types, columns, sums)
                    ]

                sums = for_loop(0, k, 1, sums, step, ix)
                for total, c in zip(sums, columns):
                    vector.store(total, result, [ix.value(ix.add(row_start, c))])
                return []

            for_loop(0, m, 1, [], row, ix)

        def full_block(buffers: list[ir.Value], ivs: list[ir.Value]) -> None:
            block(buffers, ix.mul(ivs[0], block_columns), block_columns)

        if full_blocks:
            outlined_parallel_loop(f"{name}_blocks", ir.InsertionPoint(function), operands, [full_blocks],
                                   threads > 1 and full_blocks > 1, full_block, ix)
        if tail:
            block(operands, full_blocks * block_columns, tail)
        func.ReturnOp([bufferization.to_tensor(result_type, out, restrict=True)])
    with ir.InsertionPoint(op), op.location:
        call = func.CallOp(function, [lhs, rhs, init])
    return call.result
