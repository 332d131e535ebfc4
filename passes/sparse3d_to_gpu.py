"""``sparse3d-to-gpu``: replace each GPU-scheduled KGS conv by a ``gpu.launch`` reading compact weights from buffers.

Input (after ``sparse3d-gpu-tile``; the index tables must be constants; a GPU target with
``fp16 = true`` stores the weights as f16, ``fp16_math = true`` also sums each group in f16)::

  %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>,
         kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>,
         padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>,
         sparse3d.gpu_schedule = {outputs_per_thread = 2 : i64, workgroup_size = 64 : i64}}
       : (tensor<1x64x16x56x56xf32>, tensor<Vxf32>, tensor<513xi64>, tensor<Pxi64>,
          tensor<1x128x16x56x56xf32>) -> tensor<1x128x16x56x56xf32>

Output: ``func.call @kgs_conv3d_gpu_N(%x, %values, %offsets32, %positions32, %bases, %init)``, the
tables as i32 constants plus ``%bases`` (where each group's weights start), and the private
function holding the ``gpu.launch`` (:mod:`rt3d_mlir.codegen.gpu_kgs_kernel`). When ``%init``
is a ``linalg.broadcast`` of a bias or a ``linalg.fill``, the call passes the bias or the scalar
instead (as the CPU kernel does), so no full-size init buffer is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, func

from rt3d_mlir.codegen.gpu_kgs_kernel import emit_gpu_kgs_function, value_bases
from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.codegen.kernel_init import InitKind, init_source
from rt3d_mlir.codegen.kernel_ir import enclosing_function, unused_symbol
from rt3d_mlir.constants import constant_array, defining_op
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.dialect.tables import check_tables
from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass
from rt3d_mlir.targets import dictionary_attribute
from rt3d_mlir.targets.gpu import GpuTarget, module_gpu_target
from rt3d_mlir.targets.gpu_strategy import GPU_SCHEDULE_ATTR, GpuSchedule, check_gpu_schedule

# Attributes other passes may add that this lowering does not apply yet.
_UNSUPPORTED_ATTRIBUTES = ("filter_permutation", "activation")


@dataclass(frozen=True)
class Sparse3DToGpu(ModulePass):
    name = "sparse3d-to-gpu"
    summary = "Emit each GPU-scheduled sparse3d.kgs_conv3d as a gpu.launch over compact weight and index buffers"

    def apply(self, module: ir.Operation) -> None:
        convs = find_kgs_convs(module)
        if not convs:
            return
        try:
            target = module_gpu_target(module)
        except UserError as error:
            raise PassError(str(error), module.location) from None
        for op in convs:
            self._rewrite(op, unused_symbol(module, "kgs_conv3d_gpu"), target)

    def _rewrite(self, op: ir.Operation, name: str, target: GpuTarget) -> None:
        fp16, fp16_math = target.fp16, target.fp16_math
        if GPU_SCHEDULE_ATTR not in op.attributes:
            raise PassError(f"sparse3d.kgs_conv3d has no {GPU_SCHEDULE_ATTR}: run sparse3d-gpu-tile first", op.location)
        for attribute in _UNSUPPORTED_ATTRIBUTES:
            if attribute in op.attributes:
                raise PassError(f"the GPU lowering does not handle sparse3d.kgs_conv3d's '{attribute}' yet", op.location)
        try:
            geometry = ConvGeometry.of(op)
            schedule = GpuSchedule.from_attr(dictionary_attribute(op, GPU_SCHEDULE_ATTR))
            # a hand-written schedule is checked as sparse3d-gpu-tile checks one: 2**32 outputs per thread would
            # have the kernel emitter unroll for ever
            check_gpu_schedule(target, geometry, schedule)
        except UserError as error:
            raise PassError(str(error), op.location) from None
        input_value, values, offsets_value, positions_value, init = op.operands
        offsets, positions = constant_array(offsets_value), constant_array(positions_value)
        if offsets is None or positions is None:
            raise PassError("the GPU lowering needs constant group_offsets and positions (it derives the weight bases from them)", op.location)
        check_tables(op)
        if not isinstance(ir.RankedTensorType(values.type).element_type, ir.F32Type):
            raise PassError(f"the GPU lowering handles f32 weights only, got {ir.RankedTensorType(values.type).element_type}", op.location)
        function = enclosing_function(op)
        with op.context, op.location:
            before = ir.InsertionPoint(op)
            tables = {
                "offsets": _i32_constant(offsets, before),
                # A buffer needs at least one element: a conv with no kept position gets a dummy entry.
                "positions": _i32_constant(positions if positions.size else np.zeros(1), before),
                "bases": _i32_constant(value_bases(geometry, offsets), before),
            }
            if fp16 or ir.RankedTensorType(values.type).shape[0] == 0:
                try:
                    values = _values_constant(values, fp16, before)
                except UserError as error:
                    raise PassError(str(error), op.location) from None
            # A bias broadcast or a fill as init: read the bias or the scalar, not a full-size tensor.
            kind, sources = init_source(init)
            if kind not in (InitKind.BIAS, InitKind.SCALAR):
                kind, sources = InitKind.TENSOR, [init]
            operands = [input_value, values, tables["offsets"], tables["positions"], tables["bases"], *sources]
            try:
                kernel = emit_gpu_kgs_function(name, ir.InsertionPoint(function), geometry, schedule,
                                               [operand.type for operand in operands], kind, init.type, f16_math=fp16_math)
            except UserError as error:
                raise PassError(str(error), op.location) from None
            call = func.CallOp(kernel, operands, ip=before)
        op.results[0].replace_all_uses_with(call.results[0])
        op.erase()
        # A bias broadcast or fill the kernel no longer reads would still be bufferized and run.
        producer = defining_op(init)
        if kind != InitKind.TENSOR and producer is not None and not list(producer.results[0].uses):
            producer.erase()


def _values_constant(values: ir.Value, fp16: bool, insertion: ir.InsertionPoint) -> ir.Value:
    """The weights as a constant the kernel can bind: f16 if asked, and at least one entry (a buffer cannot be empty)."""
    array = constant_array(values)
    if array is None:
        raise UserError("the GPU lowering needs constant values to store them as f16 (or to pad an empty table)")
    array = array.astype(np.float16 if fp16 else np.float32)
    if array.size == 0:
        array = np.zeros(1, array.dtype)
    element = ir.F16Type.get() if fp16 else ir.F32Type.get()
    tensor_type = ir.RankedTensorType.get([array.size], element)
    return arith.ConstantOp(tensor_type, ir.DenseElementsAttr.get(array, type=tensor_type), ip=insertion).result


def _i32_constant(array: np.ndarray, insertion: ir.InsertionPoint) -> ir.Value:
    data = np.ascontiguousarray(array, dtype=np.int32)
    tensor_type = ir.RankedTensorType.get([data.size], ir.IntegerType.get_signless(32))
    return arith.ConstantOp(tensor_type, ir.DenseElementsAttr.get(data, type=tensor_type), ip=insertion).result
