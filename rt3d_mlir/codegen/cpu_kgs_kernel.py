"""Mechanism: rewrite one ``sparse3d.kgs_conv3d`` into upstream scf/vector/memref/linalg code.

The op becomes a call of a private function that pads the input once
(:mod:`rt3d_mlir.codegen.padded_input`; the w-vectors kernel reads an input it need not pad along
H or W in place) and runs one of two register-blocked broadcast-FMA kernels, as its
:mod:`schedule <rt3d_mlir.targets.strategy>` says:

- :mod:`rt3d_mlir.codegen.w_vector_kernel` (``Schedule``): lanes along output W, filters
  broadcast; per-entry tables built at run time from the op's ``group_offsets``/``positions``.
- :mod:`rt3d_mlir.codegen.filter_vector_kernel` (``FilterSchedule``): lanes across filters, inputs
  broadcast; weights and tables packed at compile time (they must be constants).

Both start their sums from what ``init`` was built from (:mod:`rt3d_mlir.codegen.kernel_init`)
and apply the op's ``activation`` and ``filter_permutation`` where they write.
"""

from __future__ import annotations

import math

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, bufferization, func, memref

from rt3d_mlir.codegen.filter_vector_kernel import FilterVectorEmitter, PackedFilters, dense_weight
from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.dialect.kept_pattern import constant_tables, group_pattern
from rt3d_mlir.codegen.kernel_init import init_source
from rt3d_mlir.codegen.kernel_ir import (
    BUFFER_ALIGNMENT, enclosing_function, flat, identity_memref, kernel_init, read_only_buffer, unused_symbol,
)
from rt3d_mlir.codegen.w_vector_kernel import WVectorEmitter
from rt3d_mlir.constants import constant_array
from rt3d_mlir.dialect.sparse3d import activation, filter_permutation
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets.strategy import FilterSchedule, Schedule, check_schedule_size, filter_pattern


def _constant(array: np.ndarray, element_type: ir.Type, resource_name: str | None = None) -> ir.Value:
    if array.size == 0:
        # MLIR's LLVM translation divides by the element count of a dense_resource (SIGFPE at 0):
        # an all-pruned conv gets one weight that no entry reads.
        array = np.zeros(1, array.dtype)
    tensor_type = ir.RankedTensorType.get([array.size], element_type)
    if resource_name is not None:  # weights: a blob, as sparse3d-from-linalg writes them
        attribute = ir.DenseResourceElementsAttr.get_from_buffer(np.ascontiguousarray(array), resource_name, tensor_type)
    else:
        attribute = ir.DenseElementsAttr.get(np.ascontiguousarray(array), type=tensor_type)
    return arith.ConstantOp(tensor_type, attribute).result


def _packed_operands(
    operation: ir.Operation, geometry: ConvGeometry, emitter: FilterVectorEmitter, name: str
) -> tuple[PackedFilters, list[ir.Value]]:
    """The filter-vectors kernel's compile-time tables, as constants before the op."""
    tables = constant_tables(operation)
    values = constant_array(operation.operands[1])
    if tables is None or values is None:
        raise UserError("the filter-vectors kernel needs constant weights and index tables; schedule w-vectors instead")
    offsets, positions = tables
    permutation = filter_permutation(operation)
    weight = dense_weight(geometry, offsets, positions, values.astype(np.float32))
    if permutation is not None:  # into output-channel order
        ordered = np.empty_like(weight)
        ordered[np.asarray(permutation)] = weight
        weight = ordered
    pattern = filter_pattern(group_pattern(geometry, offsets, positions), geometry.group_shape.filters,
                             geometry.out_channels, permutation)
    packed = emitter.pack(pattern, weight)
    i32 = ir.IntegerType.get_signless(32)
    with ir.InsertionPoint(operation):
        constants = [
            _constant(packed.weights, ir.F32Type.get(), f"{name}_weights"),
            _constant(packed.input_offsets, i32),
            _constant(packed.entry_begin, i32),
        ]
        if packed.entry_depths is not None:
            constants.append(_constant(packed.entry_depths, i32))
    return packed, constants


def emit_kgs_conv3d(op: ir.Operation | ir.OpView, schedule: Schedule | FilterSchedule) -> ir.Value:
    """Replaces ``op`` (a sparse3d.kgs_conv3d) by a call of upstream code following ``schedule``.

    The code is a private function ``@kgs_conv3d_N`` of tensors (input, the weights and tables
    its kernel reads, and what the accumulators start from: init, or the scalar of a
    ``linalg.fill`` init, or the bias of a bias-broadcast init, see :func:`init_source`) inserted
    before the op's function. Taking tensors at a call keeps one-shot bufferization exact about
    what the code reads: inside, it reads its arguments through ``bufferization.to_buffer``, which
    the analysis cannot see through, but a call it can, and CSE cannot merge across functions.
    Returns the call's result.
    """
    operation = op.operation
    geometry = ConvGeometry.of(operation)
    check_schedule_size(schedule)
    input_tensor, values_tensor, offsets_tensor, positions_tensor, init_tensor = operation.operands
    result_type = ir.RankedTensorType(operation.results[0].type)
    f32 = result_type.element_type
    output_size = math.prod(result_type.shape)
    init_kind, init_values = init_source(init_tensor)
    function = enclosing_function(operation)
    module_op = function.parent
    with operation.context, operation.location:
        name = unused_symbol(module_op, "kgs_conv3d")
        # The two kernels take different inputs: one emitter name each, used in the matching branch below.
        if isinstance(schedule, FilterSchedule):
            filter_emitter = FilterVectorEmitter(geometry, schedule, f32, activation(operation))
            packed, kernel_operands = _packed_operands(operation, geometry, filter_emitter, name)
        else:
            w_emitter = WVectorEmitter(geometry, schedule, f32, activation(operation))
            kernel_operands = [values_tensor, offsets_tensor, positions_tensor]
        arguments = [input_tensor, *kernel_operands, *init_values]
        with ir.InsertionPoint(function):
            conv = func.FuncOp(name, ([a.type for a in arguments], [result_type]), visibility="private")
        with ir.InsertionPoint(conv.add_entry_block()):
            input_arg, *kernel_args = conv.arguments[: 1 + len(kernel_operands)]
            init_args = conv.arguments[1 + len(kernel_operands) :]
            init = kernel_init(init_kind, init_args, output_size)
            out = memref.alloc(identity_memref(result_type.shape, f32), [], [], alignment=BUFFER_ALIGNMENT)
            block_name = unused_symbol(module_op, "kgs_conv3d_block")
            if isinstance(schedule, FilterSchedule):
                weights_arg, input_offsets_arg, entry_begin_arg, *entry_depths_arg = kernel_args
                filter_emitter.emit(read_only_buffer(input_arg), packed, read_only_buffer(weights_arg),
                                    read_only_buffer(input_offsets_arg), read_only_buffer(entry_begin_arg),
                                    read_only_buffer(entry_depths_arg[0]) if entry_depths_arg else None, init,
                                    flat(out, output_size), block_name, ir.InsertionPoint(conv))
            else:
                w_emitter.emit(*_w_vector_inputs(operation, input_arg, kernel_args, positions_tensor), init,
                               flat(out, output_size), block_name, ir.InsertionPoint(conv))
            func.ReturnOp([bufferization.to_tensor(result_type, out, restrict=True)])
        with ir.InsertionPoint(operation):
            result = func.CallOp(conv, arguments).result
    operation.results[0].replace_all_uses_with(result)
    operation.erase()
    return result


def _w_vector_inputs(
    operation: ir.Operation, input_arg: ir.Value, kernel_args: list[ir.Value], positions: ir.Value
) -> tuple[ir.Value, ir.Value, ir.Value, ir.Value, int, ir.Value | None]:
    """The W-vectorised emitter's input, values, tables, entry count and permutation table."""
    values_arg, offsets_arg, positions_arg = kernel_args
    permutation = filter_permutation(operation)
    permutation_buffer = None
    if permutation is not None:
        table_type = ir.RankedTensorType.get([len(permutation)], ir.IntegerType.get_signless(32))
        table = arith.constant(table_type, ir.DenseElementsAttr.get(np.array(permutation, np.int32), type=table_type))
        permutation_buffer = read_only_buffer(table)
    return (
        read_only_buffer(input_arg), read_only_buffer(values_arg), read_only_buffer(offsets_arg),
        read_only_buffer(positions_arg), ir.RankedTensorType(positions.type).shape[0], permutation_buffer,
    )
