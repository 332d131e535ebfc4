"""Winograd convolution as tensor IR: the input and output transforms around per-tap KGS convs.

A conv with ``algorithm = "winograd<AXES, M>"`` becomes (``sparse3d-winograd``)::

  input (N, C, D, H, W)
    -> zero-padded along the transformed axes to T*M + 2 (T = ceil(out / M) tiles per axis)
    -> input transform, one axis at a time: per tile, alpha = M + 2 values BT @ d   (alpha**k tensors)
    -> per tap, a sparse3d.kgs_conv3d with the transformed weights G @ g (kernel 1 on the
       transformed axes, T outputs there): the products of the Winograd algorithm, summed over
       channels and the untransformed kernel axes by the KGS kernels
    -> output transform, one axis at a time: per tile, M outputs AT @ m
    -> the conv's epilogue: init (scalar, bias, residual + bias or a tensor) and the activation,
       fused into the last transform when no axis has a tail (T*M = out), after a crop otherwise.

Everything here is upstream tensor/linalg/arith IR: the transforms are elementwise
``linalg.generic`` ops over strided slices (input) and with the tile position as a loop
(output), which the rest of the pipeline bufferizes and lowers like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from rt3d_mlir.codegen.kernel_init import InitKind

_PARALLEL = "#linalg.iterator_type<parallel>"


@dataclass(frozen=True)
class Epilogue:
    """What the conv adds to its sums and applies after: the kernel's init kinds, and a ReLU."""

    kind: InitKind
    values: Sequence[ir.Value]  # as rt3d_mlir.codegen.kernel_init.init_source returns them
    relu: bool


def _tensor_type(shape: Sequence[int], element_type: ir.Type) -> ir.RankedTensorType:
    return ir.RankedTensorType.get(list(shape), element_type)


def _generic(inputs: Sequence[ir.Value], output_shapes: Sequence[Sequence[int]], maps: Sequence[ir.AffineMap],
             loops: int, element_type: ir.Type) -> linalg.GenericOp:
    """An all-parallel generic over ``loops`` dims with fresh empty outputs; its body is left for the caller."""
    outputs = [tensor.EmptyOp(list(shape), element_type).result for shape in output_shapes]
    op = linalg.GenericOp(
        [_tensor_type(shape, element_type) for shape in output_shapes], list(inputs), outputs,
        ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps]),
        ir.ArrayAttr.get([ir.Attribute.parse(_PARALLEL)] * loops),
    )
    op.regions[0].blocks.append(*([element_type] * (len(inputs) + len(output_shapes))))
    return op


def _linear_combination(coefficients: Sequence[float], terms: Sequence[ir.Value], element_type: ir.Type) -> ir.Value:
    """sum_i c_i * t_i, skipping zero coefficients and multiplying by no +-1 (the transforms' many small integers)."""
    total: ir.Value | None = None
    for coefficient, term in zip(coefficients, terms):
        if coefficient == 0.0:
            continue
        negative = coefficient < 0
        if abs(coefficient) != 1.0:
            term = arith.mulf(term, arith.constant(element_type, abs(coefficient)))
        if total is None:
            total = arith.negf(term) if negative else term
        else:
            total = arith.subf(total, term) if negative else arith.addf(total, term)
    if total is None:
        return arith.constant(element_type, 0.0)
    return total


def zero_pad(value: ir.Value, low: Sequence[int], high: Sequence[int]) -> ir.Value:
    """``value`` (rank 5) inside zeros: ``low[d]`` before and ``high[d]`` after it along each dim ``d``."""
    source = ir.RankedTensorType(value.type)
    if not any(low) and not any(high):
        return value
    shape = [size + lo + hi for size, lo, hi in zip(source.shape, low, high)]
    empty = tensor.EmptyOp(shape, source.element_type).result
    zeros = linalg.fill(arith.constant(source.element_type, 0.0), outs=[empty])
    return tensor.InsertSliceOp(value, zeros, [], [], [], list(low), list(source.shape), [1] * source.rank).result


def input_transform(value: ir.Value, dim: int, input_transform_matrix: np.ndarray, tile: int) -> list[ir.Value]:
    """The alpha transformed tensors of ``value`` along ``dim`` (size T*tile + 2 there, T afterwards)."""
    source = ir.RankedTensorType(value.type)
    alpha = input_transform_matrix.shape[0]
    tiles = (source.shape[dim] - alpha) // tile + 1
    shape = list(source.shape)
    shape[dim] = tiles
    strides = [1] * source.rank
    strides[dim] = tile
    slices = []
    for i in range(alpha):  # d[i] of every tile: a strided view
        offsets = [0] * source.rank
        offsets[dim] = i
        slices.append(tensor.ExtractSliceOp(
            _tensor_type(shape, source.element_type), value, [], [], [], offsets, shape, strides).result)
    identity = ir.AffineMap.get_identity(source.rank)
    op = _generic(slices, [shape] * alpha, [identity] * (2 * alpha), source.rank, source.element_type)
    body = op.regions[0].blocks[0]
    with ir.InsertionPoint(body):
        terms = list(body.arguments)[:alpha]
        linalg.YieldOp([_linear_combination(row, terms, source.element_type) for row in input_transform_matrix])
    return list(op.results)


def output_transform(taps: Sequence[ir.Value], dim: int, output_transform_matrix: np.ndarray,
                     epilogue: Epilogue | None = None) -> ir.Value:
    """The outputs along ``dim`` (T per-tile sums there -> T*tile outputs) from alpha tap tensors.

    With ``epilogue``, the init is added and the activation applied in the same loop; the caller
    passes one only when T*tile is the conv's output size along every axis (the init's shape).
    """
    source = ir.RankedTensorType(taps[0].type)
    element_type = source.element_type
    tile, alpha = output_transform_matrix.shape
    rank = source.rank
    loops = rank + 1  # dim splits into (tile index j, position s in the tile)

    def dims(*indices: int) -> list[ir.AffineExpr]:
        return [ir.AffineDimExpr.get(index) for index in indices]

    without_s = [*range(dim + 1), *range(dim + 2, loops)]
    tap_map = ir.AffineMap.get(loops, 0, dims(*without_s))
    coefficient_map = ir.AffineMap.get(loops, 0, dims(dim + 1))
    out_shape = [*source.shape[:dim], source.shape[dim], tile, *source.shape[dim + 1:]]
    coefficients = [
        arith.ConstantOp(_tensor_type([tile], element_type),
                         ir.DenseElementsAttr.get(np.ascontiguousarray(column, np.float32),
                                                  type=_tensor_type([tile], element_type))).result
        for column in output_transform_matrix.T
    ]
    inputs = [*taps, *coefficients]
    maps = [tap_map] * alpha + [coefficient_map] * alpha
    scalar = None
    if epilogue is not None:
        full = dims(*range(dim)) + [ir.AffineDimExpr.get(dim) * tile + ir.AffineDimExpr.get(dim + 1)]
        full += dims(*range(dim + 2, loops))
        for kind_value in _epilogue_operands(epilogue):
            name, value = kind_value
            if name == "scalar":
                scalar = value
            elif name == "tensor":
                inputs.append(value)
                maps.append(ir.AffineMap.get(loops, 0, full))
            else:  # bias, by output channel
                inputs.append(value)
                maps.append(ir.AffineMap.get(loops, 0, dims(1)))
    maps.append(ir.AffineMap.get_identity(loops))
    op = _generic(inputs, [out_shape], maps, loops, element_type)
    body = op.regions[0].blocks[0]
    with ir.InsertionPoint(body):
        arguments = list(body.arguments)
        result = arith.mulf(arguments[0], arguments[alpha])
        for t in range(1, alpha):
            result = arith.addf(result, arith.mulf(arguments[t], arguments[alpha + t]))
        if epilogue is not None:
            result = _apply_epilogue(result, scalar, arguments[2 * alpha : len(arguments) - 1], epilogue.relu)
        linalg.YieldOp([result])
    collapsed = [[d] for d in range(dim)] + [[dim, dim + 1]] + [[d + 1] for d in range(dim + 1, rank)]
    merged = [*source.shape[:dim], source.shape[dim] * tile, *source.shape[dim + 1:]]
    return tensor.CollapseShapeOp(_tensor_type(merged, element_type), op.result,
                                  ir.ArrayAttr.get([ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), d)
                                                                      for d in group]) for group in collapsed])).result


def _epilogue_operands(epilogue: Epilogue) -> list[tuple[str, ir.Value]]:
    """(role, value) of each init value: "scalar", "tensor" (full size) or "bias" (per output channel)."""
    roles = {
        InitKind.SCALAR: ("scalar",),
        InitKind.BIAS: ("bias",),
        InitKind.TENSOR: ("tensor",),
        InitKind.TENSOR_PLUS_BIAS: ("tensor", "bias"),
    }[epilogue.kind]
    return list(zip(roles, epilogue.values))


def _apply_epilogue(result: ir.Value, scalar: ir.Value | None, read: Sequence[ir.Value], relu: bool) -> ir.Value:
    if scalar is not None:
        result = arith.addf(result, scalar)
    for value in read:
        result = arith.addf(result, value)
    if relu:
        result = arith.maximumf(result, arith.constant(result.type, 0.0))
    return result


def crop_and_finish(value: ir.Value, out_shape: Sequence[int], epilogue: Epilogue) -> ir.Value:
    """The first ``out_shape`` outputs of ``value`` with the epilogue applied (for tiles past the output's end)."""
    source = ir.RankedTensorType(value.type)
    element_type = source.element_type
    cropped = value
    if list(source.shape) != list(out_shape):
        cropped = tensor.ExtractSliceOp(_tensor_type(out_shape, element_type), value, [], [], [],
                                        [0] * source.rank, list(out_shape), [1] * source.rank).result
    identity = ir.AffineMap.get_identity(source.rank)
    inputs, maps, scalar = [cropped], [identity], None
    for role, init_value in _epilogue_operands(epilogue):
        if role == "scalar":
            scalar = init_value
        else:
            inputs.append(init_value)
            maps.append(identity if role == "tensor" else ir.AffineMap.get(source.rank, 0, [ir.AffineDimExpr.get(1)]))
    op = _generic(inputs, [out_shape], [*maps, identity], source.rank, element_type)
    body = op.regions[0].blocks[0]
    with ir.InsertionPoint(body):
        arguments = list(body.arguments)
        linalg.YieldOp([_apply_epilogue(arguments[0], scalar, arguments[1:-1], epilogue.relu)])
    return op.result
