"""One KGS conv as a module, compiled for the host: the unit the tests and benchmarks exercise.

``build_kgs_conv3d_module`` writes::

    func.func @conv(%input: tensor<NxCxDxHxWxf32>, %init: tensor<NxMxDoxHoxWoxf32>) -> tensor<...> {
      %values = arith.constant dense<...> : tensor<Vxf32>      // and offsets, positions
      %r = "sparse3d.kgs_conv3d"(%input, %values, %offsets, %positions, %init) {...}
      return %r
    }

``CompiledConv`` schedules it for a target (or takes a schedule), emits the
kernel, lowers it to LLVM and JIT-compiles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch_mlir import ir
from torch_mlir.dialects import arith, func

from rt3d_mlir.codegen.geometry import OP_NAME, ConvGeometry
from rt3d_mlir.codegen.jit import JitModule
from rt3d_mlir.codegen.kgs_kernel import emit_kgs_conv3d
from rt3d_mlir.dialect import make_context
from rt3d_mlir.kgs import CompactKGS
from rt3d_mlir.targets import Target, host_target
from rt3d_mlir.targets.strategy import SCHEDULE_ATTR, Schedule, choose_schedule

FUNCTION_NAME = "conv"


@dataclass(frozen=True)
class ConvSpec:
    """A conv's non-weight parameters (spec order: padding is d_lo, h_lo, w_lo, d_hi, h_hi, w_hi)."""

    input_shape: tuple[int, int, int, int, int]
    strides: tuple[int, int, int] = (1, 1, 1)
    padding: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)
    dilations: tuple[int, int, int] = (1, 1, 1)

    def output_shape(self, weight_shape: Sequence[int]) -> tuple[int, ...]:
        n, _, *spatial = self.input_shape
        out = [
            (size + self.padding[a] + self.padding[a + 3] - self.dilations[a] * (weight_shape[2 + a] - 1) - 1)
            // self.strides[a] + 1
            for a, size in enumerate(spatial)
        ]
        return (n, weight_shape[0], *out)


def build_kgs_conv3d_module(kgs: CompactKGS, spec: ConvSpec) -> ir.Module:
    """The module above, in the current Context (which must have sparse3d loaded)."""
    f32 = ir.F32Type.get()
    i64 = ir.IntegerType.get_signless(64)
    input_type = ir.RankedTensorType.get(list(spec.input_shape), f32)
    out_type = ir.RankedTensorType.get(list(spec.output_shape(kgs.weight_shape)), f32)

    def constant(array: np.ndarray, element_type: ir.Type) -> ir.Value:
        tensor_type = ir.RankedTensorType.get([array.size], element_type)
        return arith.ConstantOp(tensor_type, ir.DenseElementsAttr.get(np.ascontiguousarray(array), type=tensor_type)).result

    module = ir.Module.create()
    with ir.InsertionPoint(module.body):

        @func.FuncOp.from_py_func(input_type, out_type, name=FUNCTION_NAME)
        def conv(input_tensor: ir.Value, init: ir.Value) -> ir.Value:
            values = constant(kgs.values.astype(np.float32), f32)
            offsets = constant(kgs.group_offsets.astype(np.int64), i64)
            positions = constant(kgs.positions.astype(np.int64), i64)
            attributes = {
                "group_shape": [kgs.group_shape.filters, kgs.group_shape.channels],
                "kernel_size": list(kgs.weight_shape[2:]),
                "strides": list(spec.strides),
                "padding": list(spec.padding),
                "dilations": list(spec.dilations),
            }
            op = ir.Operation.create(
                OP_NAME,
                results=[out_type],
                operands=[input_tensor, values, offsets, positions, init],
                attributes={name: ir.DenseI64ArrayAttr.get(v) for name, v in attributes.items()},
            )
            return op.result

    return module


def find_kgs_convs(module: ir.Module) -> list[ir.Operation]:
    """Every sparse3d.kgs_conv3d in the module, in walk order."""
    found: list[ir.Operation] = []

    def visit(operation: ir.Operation) -> ir.WalkResult:
        if operation.name == OP_NAME:
            found.append(operation)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return found


class CompiledConv:
    """One KGS conv JIT-compiled for the host: ``conv(input, init) -> init + conv3d(input, W)``."""

    def __init__(
        self,
        kgs: CompactKGS,
        spec: ConvSpec,
        schedule: Schedule | None = None,
        target: Target | None = None,
        openmp: bool = True,
    ) -> None:
        self.spec = spec
        self.output_shape = spec.output_shape(kgs.weight_shape)
        self.context = make_context()
        with self.context, ir.Location.unknown():
            module = build_kgs_conv3d_module(kgs, spec)
            (op,) = find_kgs_convs(module)
            self.geometry = ConvGeometry.of(op)
            self.schedule = schedule or choose_schedule(target or host_target(), self.geometry)
            op.attributes[SCHEDULE_ATTR] = self.schedule.to_attr()
            emit_kgs_conv3d(op, self.schedule)
            self.kernel_ir = str(module)
            self.jit = JitModule(module, openmp=openmp and self.schedule.threads > 1)

    def __call__(self, input_tensor: np.ndarray | torch.Tensor, init: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        if init is None:
            init = np.zeros(self.output_shape, np.float32)
        return self.jit.call(FUNCTION_NAME, input_tensor, init, result_rank=5)
