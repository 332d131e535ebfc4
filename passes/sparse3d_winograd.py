"""``sparse3d-winograd``: rewrite each KGS conv whose ``algorithm`` is Winograd into transforms around per-tap KGS convs.

Input (constant weights and tables; the algorithm written by ``sparse3d-choose-algorithm`` or by hand)::

  %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %bias) {group_shape = array<i64: 8, 4>,
         kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>,
         padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>,
         activation = "relu", algorithm = "winograd<w, 4>"}
       : (tensor<1x64x8x28x28xf32>, ...) -> tensor<1x128x8x28x28xf32>

Output: the input transform (six results of 1x64x8x30x7: per channel plane, the plane zero-padded
along W to 4*7 + 2 columns and along H by the conv's padding, so the per-tap convs pad only along
D and read their inputs in place, then one ``linalg.generic`` over six strided slices of it), six
``sparse3d.kgs_conv3d`` ops with kernel 3x3x1, padding 1 along D only, and the transformed weights (one per tap),
and the output transform (one ``linalg.generic`` over 1x128x8x28x7x4, collapsed to W = 28)
with the bias and the ReLU applied in the same loop. See :mod:`rt3d_mlir.codegen.winograd`.

Only the kernel rows that keep enough taps go through the transforms
(:func:`rt3d_mlir.dialect.algorithm.split_rows`: with F(4, 3), (kd, kh) rows keeping 2 or 3 of
their kw taps). When some kept positions are left, one direct ``sparse3d.kgs_conv3d`` with
the conv's own kernel, padding and activation computes them, starting from the output transform's
result (which then applies the init but not the activation). When no row qualifies, the conv
just loses its ``algorithm`` and runs direct.

Convs with ``algorithm = "direct"`` or none are left alone. The per-tap convs get no
``algorithm``: ``sparse3d-tile`` schedules them like any other conv.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, tensor

from rt3d_mlir import kgs
from rt3d_mlir.codegen.kernel_init import init_source
from rt3d_mlir.codegen.winograd import Epilogue, crop_and_finish, input_transform, output_transform
from rt3d_mlir.codegen.winograd_transforms import transform_weight, winograd_matrices
from rt3d_mlir.constants import ResourceNames, constant_array, defining_op, weights_attribute
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.dialect.algorithm import Algorithm, split_rows
from rt3d_mlir.dialect.geometry import OP_NAME, ConvGeometry, find_kgs_convs
from rt3d_mlir.dialect.kept_pattern import constant_tables, group_pattern
from rt3d_mlir.dialect.sparse3d import ACTIVATION, ALGORITHM, FILTER_PERMUTATION, activation, algorithm
from rt3d_mlir.dialect.tables import check_tables
from rt3d_mlir.passes.base import ModulePass
from rt3d_mlir.passes.sparse3d_compact import narrowest_width


def _constant(array: np.ndarray, element_type: ir.Type, attribute: ir.Attribute | None = None) -> ir.Value:
    tensor_type = ir.RankedTensorType.get([array.size], element_type)
    if attribute is None:
        attribute = ir.DenseElementsAttr.get(np.ascontiguousarray(array), type=tensor_type)
    return arith.ConstantOp(tensor_type, attribute).result


def _kgs_conv(op: ir.Operation, geometry: ConvGeometry, source: ir.Value, weight: np.ndarray, init: ir.Value,
              kernel_size: list[int], padding: list[int], names: ResourceNames) -> ir.Value:
    """A KGS conv of ``source`` with ``weight`` (M, C, kernel) in ``op``'s group shape, from ``init``."""
    compact = kgs.compact(weight, geometry.group_shape)
    f32 = ir.F32Type.get()
    values = _constant(compact.values, f32,
                       weights_attribute(compact.values, ir.RankedTensorType.get([compact.values.size], f32),
                                         names.fresh("kgs_winograd_values")))
    tables = [
        _constant(table.astype(f"int{bits}"), ir.IntegerType.get_signless(bits))
        for table in (compact.group_offsets, compact.positions)
        for bits in [narrowest_width(int(table.max(initial=0)))]
    ]
    attributes = {
        "group_shape": ir.DenseI64ArrayAttr.get([geometry.group_shape.filters, geometry.group_shape.channels]),
        "kernel_size": ir.DenseI64ArrayAttr.get(kernel_size),
        "strides": ir.DenseI64ArrayAttr.get(list(geometry.strides)),
        "padding": ir.DenseI64ArrayAttr.get(padding),
        "dilations": ir.DenseI64ArrayAttr.get(list(geometry.dilations)),
    }
    if FILTER_PERMUTATION in op.attributes:
        attributes[FILTER_PERMUTATION] = op.attributes[FILTER_PERMUTATION]
    conv = ir.Operation.create(OP_NAME, results=[init.type], operands=[source, values, *tables, init],
                               attributes=attributes)
    return conv.result


def _tap_conv(op: ir.Operation, geometry: ConvGeometry, chosen: Algorithm, tap_input: ir.Value,
              weight: np.ndarray, names: ResourceNames) -> ir.Value:
    """One per-tap product: a KGS conv of ``tap_input`` with the transformed weight (M, C, K') from zero."""
    kernel_size, padding = list(geometry.kernel_size), list(geometry.padding)
    for axis in chosen.axes:
        kernel_size[axis] = 1
    for axis in chosen.pre_padded_axes:
        padding[axis] = padding[axis + 3] = 0
    tap_shape = ir.RankedTensorType(tap_input.type).shape
    out_size = [
        tap_shape[2 + axis] if axis in chosen.axes else geometry.out_size[axis] for axis in range(3)
    ]
    f32 = ir.F32Type.get()
    out_type = ir.RankedTensorType.get([geometry.batch, geometry.out_channels, *out_size], f32)
    zeros = linalg.fill(arith.constant(f32, 0.0), outs=[tensor.EmptyOp(out_type.shape, f32).result])
    return _kgs_conv(op, geometry, tap_input, weight, zeros, kernel_size, padding, names)


# What the replaced conv's operands may be built by (no side effects): erased once unused.
_PURE_PRODUCERS = ("arith.constant", "tensor.empty", "linalg.fill", "linalg.broadcast", "linalg.generic")


def _erase_dead(value: ir.Value) -> None:
    """Erases the op that defines ``value`` when nothing uses it any more, then its operands' definers likewise."""
    owner = defining_op(value)
    if owner is None or owner.name not in _PURE_PRODUCERS or any(list(result.uses) for result in owner.results):
        return
    operands = list(owner.operands)
    owner.erase()
    for operand in operands:
        _erase_dead(operand)


def rewrite_winograd(op: ir.Operation, chosen: Algorithm, names: ResourceNames) -> None:
    """Replaces ``op`` by the Winograd form of the module docstring."""
    geometry = ConvGeometry.of(op)
    problem = chosen.problem(geometry.kernel_size, geometry.strides, geometry.dilations)
    if problem is not None:
        raise PassError(f"'{OP_NAME}' op {problem}", op.location)
    tables = constant_tables(op)
    values = constant_array(op.operands[1])
    if tables is None or values is None:
        raise PassError(f"{ALGORITHM} {chosen} needs constant weights and index tables: the weights are "
                        "transformed at compile time", op.location)
    offsets, positions = tables
    rows, remainder = split_rows(group_pattern(geometry, offsets, positions), geometry.kernel_size, chosen)
    if not rows.any():  # every kept position runs direct: so does the conv
        del op.attributes[ALGORITHM]
        return
    weight = kgs.expand(kgs.CompactKGS(geometry.group_shape, (geometry.out_channels, geometry.in_channels,
                                                              *geometry.kernel_size), offsets, positions, values))
    direct_weight = kgs.apply_kept_positions(torch.from_numpy(weight), geometry.group_shape,
                                             torch.from_numpy(remainder)).numpy()
    tap_weights = transform_weight(weight - direct_weight, chosen)  # exact: each weight is in one part
    matrices = winograd_matrices(chosen.tile)
    tile = chosen.tile
    tiles = {axis: math.ceil(geometry.out_size[axis] / tile) for axis in chosen.axes}
    low, high = [0] * 5, [0] * 5
    for axis in chosen.pre_padded_axes:
        low[2 + axis] = geometry.padding[axis]
        high[2 + axis] = (tiles[axis] * tile + 2 - geometry.in_size[axis] - geometry.padding[axis] if axis in chosen.axes
                          else geometry.padding[axis + 3])
    init = op.operands[4]
    old_operands = list(op.operands)
    with op.context, op.location, ir.InsertionPoint(op):
        transformed: dict[tuple[int, ...], ir.Value] = {(): op.operands[0]}
        for count, axis in enumerate(chosen.axes):
            pads = (low, high) if count == 0 else ()  # the first transform pads each plane it reads
            transformed = {
                key + (t,): value
                for key, tensor_value in transformed.items()
                for t, value in enumerate(input_transform(tensor_value, 2 + axis, matrices.input_transform, tile, *pads))
            }
        products = {key: _tap_conv(op, geometry, chosen, value, tap_weights[key], names)
                    for key, value in transformed.items()}
        kind, init_values = init_source(init)
        # With a direct remainder, the remainder's conv applies the activation after adding its share.
        epilogue = Epilogue(kind, init_values, activation(op) == "relu" and not remainder.any())
        exact = all(tiles[axis] * tile == geometry.out_size[axis] for axis in chosen.axes)
        for count, axis in reversed(list(enumerate(chosen.axes))):
            last = count == 0
            products = {
                prefix: output_transform([products[prefix + (t,)] for t in range(chosen.taps_per_axis)], 2 + axis,
                                         matrices.output_transform, epilogue if last and exact else None)
                for prefix in {key[:-1] for key in products}
            }
        result = products[()]
        if not exact:
            result = crop_and_finish(result, ir.RankedTensorType(op.results[0].type).shape, epilogue)
        if remainder.any():
            result = _kgs_conv(op, geometry, op.operands[0], direct_weight, result,
                               list(geometry.kernel_size), list(geometry.padding), names)
            if ACTIVATION in op.attributes:
                result.owner.attributes[ACTIVATION] = op.attributes[ACTIVATION]
    op.results[0].replace_all_uses_with(result)
    op.erase()
    for operand in old_operands:
        _erase_dead(operand)


@dataclass(frozen=True)
class Sparse3DWinograd(ModulePass):
    name = "sparse3d-winograd"
    summary = "Rewrite each sparse3d.kgs_conv3d with a Winograd algorithm into input transform, per-tap KGS convs, output transform"

    def apply(self, module: ir.Operation) -> None:
        names = ResourceNames(module)
        for op in find_kgs_convs(module):
            chosen = algorithm(op)
            if chosen.is_direct:
                continue
            check_tables(op)
            rewrite_winograd(op, chosen, names)
