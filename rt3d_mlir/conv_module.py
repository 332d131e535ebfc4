"""One KGS conv as a module: the unit the tests, benchmarks and the tuner compile.

``build_kgs_conv3d_module`` writes::

    func.func @conv(%input: tensor<NxCxDxHxWxf32>, %init: tensor<NxMxDoxHoxWoxf32>) -> tensor<...> {
      %values = arith.constant dense<...> : tensor<Vxf32>      // and offsets, positions
      %r = "sparse3d.kgs_conv3d"(%input, %values, %offsets, %positions, %init) {...}
      return %r
    }

or, with ``zero_init``, takes only ``%input`` and accumulates into a zero
``linalg.fill`` (as torch-mlir imports a conv without bias). The host back end
JIT-compiles it (:class:`rt3d_mlir.backends.host.single_conv.CompiledConv`), the
AArch64 back end emits objects for it (:mod:`rt3d_mlir.backends.aarch64.single_conv`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import torch
from torch_mlir import ir
from torch_mlir.dialects import arith, func, linalg, tensor

from rt3d_mlir.dialect.geometry import OP_NAME
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import CompactKGS, GroupShape

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


def random_kgs_weight(
    weight_shape: Sequence[int], group_shape: GroupShape, kept_fraction: float, generator: torch.Generator
) -> torch.Tensor:
    """A random (M, C, Kd, Kh, Kw) weight whose groups each keep a random set of positions.

    Each group keeps ``round(kept_fraction * Kd*Kh*Kw)`` positions (at least one when the
    fraction is positive), chosen independently per group: the KGS pattern of a pruned layer.
    """
    out_channels, in_channels, *kernel = weight_shape
    num_positions = math.prod(kernel)
    grid_m, grid_n = group_shape.grid(out_channels, in_channels)
    keep = 0 if kept_fraction <= 0 else max(1, round(kept_fraction * num_positions))
    ranks = torch.rand(grid_m, grid_n, num_positions, generator=generator).argsort(dim=2).argsort(dim=2)
    kept = (ranks < keep).float()
    mask = kept.repeat_interleave(group_shape.filters, 0)[:out_channels].repeat_interleave(group_shape.channels, 1)
    weight = torch.randn(out_channels, in_channels, num_positions, generator=generator)
    return (weight * mask[:, :in_channels]).reshape(weight_shape)


def build_kgs_conv3d_module(kgs: CompactKGS, spec: ConvSpec, index_bits: int = 64, zero_init: bool = False) -> ir.Module:
    """The module above, in the current Context (which must have sparse3d loaded).

    ``index_bits`` is the integer width of the index tables (the kernels accept i8 to i64).
    """
    f32 = ir.F32Type.get()
    index_type = ir.IntegerType.get_signless(index_bits)
    index_dtypes: dict[int, type[np.integer]] = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.int64}
    index_dtype = index_dtypes[index_bits]
    largest = max(int(kgs.group_offsets[-1]), int(kgs.positions.max(initial=0)))
    if largest > np.iinfo(index_dtype).max:
        raise UserError(f"index tables need values up to {largest}, more than i{index_bits} holds")
    input_type = ir.RankedTensorType.get(list(spec.input_shape), f32)
    out_type = ir.RankedTensorType.get(list(spec.output_shape(kgs.weight_shape)), f32)

    def constant(array: np.ndarray, element_type: ir.Type) -> ir.Value:
        tensor_type = ir.RankedTensorType.get([array.size], element_type)
        return arith.ConstantOp(tensor_type, ir.DenseElementsAttr.get(np.ascontiguousarray(array), type=tensor_type)).result

    def conv_op(input_tensor: ir.Value, init: ir.Value) -> ir.Value:
        values = constant(kgs.values.astype(np.float32), f32)
        offsets = constant(kgs.group_offsets.astype(index_dtype), index_type)
        positions = constant(kgs.positions.astype(index_dtype), index_type)
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

    module = ir.Module.create()
    with ir.InsertionPoint(module.body):
        if zero_init:

            @func.FuncOp.from_py_func(input_type, name=FUNCTION_NAME)
            def conv_from_zero(input_tensor: ir.Value) -> ir.Value:
                empty = tensor.EmptyOp(out_type.shape, f32).result
                zero = linalg.fill(arith.constant(f32, 0.0), outs=[empty])
                return conv_op(input_tensor, zero)

        else:

            @func.FuncOp.from_py_func(input_type, out_type, name=FUNCTION_NAME)
            def conv(input_tensor: ir.Value, init: ir.Value) -> ir.Value:
                return conv_op(input_tensor, init)

    return module
