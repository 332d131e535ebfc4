"""``sparse3d-from-linalg``: detect KGS sparsity in constant-filter 3D convs and compact it.

Input::

  %padded = tensor.pad %x low[0, 0, 1, 1, 1] high[0, 0, 1, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index, %m: index):
    tensor.yield %zero : f32
  } : tensor<1x64x16x56x56xf32> to tensor<1x64x18x58x58xf32>
  %w = arith.constant dense_resource<conv2a_weight> : tensor<128x64x3x3x3xf32>
  %y = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>}
         ins(%padded, %w : tensor<1x64x18x58x58xf32>, tensor<128x64x3x3x3xf32>)
         outs(%bias : tensor<1x128x16x56x56xf32>) -> tensor<1x128x16x56x56xf32>

Output: one ``sparse3d.kgs_conv3d`` on the unpadded input (a zero ``tensor.pad``
in front of the conv becomes the op's ``padding``) with the weight in compact
form (values in a ``dense_resource`` constant, index tables as dense constants).
The group shape is the ``group-shape`` option, or by default the candidate that
leaves the fewest computed MACs; a block-diagonal filter (a grouped conv,
see ``ungroup-convolution``) shrinks it to fit inside the blocks. Each conv gets a remark with the group shape
and kept fraction chosen (and, for ``kgs-row`` pruning, the kernel axes along which the kept
positions form whole rows, the rows ``sparse3d-winograd`` computes with fewer multiplications); a conv the pass cannot take is left as it is, with a
remark saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from rt3d_mlir import kgs, progress
from rt3d_mlir.constants import ResourceNames, constant_array, defining_op, weights_attribute
from rt3d_mlir.diagnostics import remark
from rt3d_mlir.dialect.algorithm import AXIS_NAMES, whole_row_axes
from rt3d_mlir.dialect import KgsConv3dOp
from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import DEFAULT_CANDIDATES, GroupShape
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass, option

CONV_OP = "linalg.conv_3d_ncdhw_fcdhw"


def _attribute_ints(op: ir.Operation, name: str, default: int) -> list[int]:
    if name not in op.attributes:
        return [default] * 3
    return [int(v) for v in ir.DenseIntElementsAttr(op.attributes[name])]


def _is_zero_constant(value: ir.Value) -> bool:
    owner = defining_op(value)
    if owner is None or owner.name != "arith.constant":
        return False
    attribute = owner.attributes["value"]
    return isinstance(attribute, ir.FloatAttr) and attribute.value == 0.0 and str(attribute).lstrip()[0] != "-"


def _zero_padding(value: ir.Value) -> tuple[ir.Value, list[int]] | None:
    """If ``value`` is a static zero ``tensor.pad`` of D, H, W only: (its source, [lo d h w, hi d h w])."""
    pad = defining_op(value)
    if pad is None or pad.name != "tensor.pad":
        return None
    low = list(ir.DenseI64ArrayAttr(pad.attributes["static_low"]))
    high = list(ir.DenseI64ArrayAttr(pad.attributes["static_high"]))
    if len(pad.operands) != 1 or low[:2] != [0, 0] or high[:2] != [0, 0] or min(low + high) < 0:
        return None
    terminator = pad.regions[0].blocks[0].operations[0]
    if terminator.name != "tensor.yield" or not _is_zero_constant(terminator.operands[0]):
        return None
    return pad.operands[0], low[2:] + high[2:]


def _rows_note(weight: np.ndarray, group_shape: GroupShape, kept_fraction: float) -> str:
    """For a pruned filter whose groups keep whole kernel rows (``kgs-row``): along which axes, for the remark."""
    if not 0 < kept_fraction < 1:
        return ""
    axes = whole_row_axes(kgs.kept_positions(weight, group_shape).numpy(), weight.shape[2:])
    if not axes:
        return ""
    return f"; its kept positions are whole kernel rows along {', '.join(AXIS_NAMES[axis] for axis in axes)} (Winograd can take them)"


def _unsupported(conv: ir.Operation) -> str | None:
    """Why ``sparse3d.kgs_conv3d`` cannot represent this conv, or None."""
    types = [ir.RankedTensorType(value.type) for value in conv.operands[:3]]
    if not all(isinstance(t, ir.RankedTensorType) and t.has_static_shape for t in types):
        return "it has dynamic shapes"
    element_types = {str(t.element_type) for t in types}
    if len(element_types) != 1 or not isinstance(types[0].element_type, ir.FloatType):
        return f"input, filter and init must share one float type, got {', '.join(sorted(element_types))}"
    return None


@dataclass(frozen=True)
class Sparse3DFromLinalg(ModulePass):
    name = "sparse3d-from-linalg"
    summary = "Rewrite constant-filter linalg.conv_3d_ncdhw_fcdhw ops into compact sparse3d.kgs_conv3d"

    group_shape: GroupShape | None = option(
        None, "kernel group as FILTERSxCHANNELS (e.g. 8x4); auto: the candidate that leaves the fewest computed MACs",
        unset="auto",
    )
    candidates: tuple[GroupShape, ...] = option(DEFAULT_CANDIDATES, "group shapes auto chooses among, by fewest computed MACs")

    def __post_init__(self) -> None:
        # Checked when the pipeline is built, not when the pass first meets a conv.
        if self.group_shape is None and not self.candidates:
            raise UserError(f"pass '{self.name}': option 'candidates' lists no group shape")

    def shape_choices(self) -> list[GroupShape]:
        return list(self.candidates) if self.group_shape is None else [self.group_shape]

    def apply(self, module: ir.Operation) -> None:
        convs = ops_named(module, CONV_OP)
        progress.expect(len(convs))
        names = ResourceNames(module)
        for conv in convs:
            self._rewrite(conv, names)
            progress.conv_done()

    def _rewrite(self, conv: ir.Operation, names: ResourceNames) -> None:
        conv_data, filter_value, init = conv.operands[0], conv.operands[1], conv.operands[2]
        data = conv_data
        problem = _unsupported(conv)
        if problem is not None:
            remark(conv.location, f"not converted to sparse3d.kgs_conv3d: {problem}")
            return
        weight = constant_array(filter_value)
        if weight is None:
            owner = defining_op(filter_value)
            source = "a constant numpy cannot read" if owner is not None and owner.name == "arith.constant" else (
                f"not a constant (it comes from {owner.name if owner is not None else 'a block argument'})"
            )
            remark(conv.location, f"not converted to sparse3d.kgs_conv3d: the filter is {source}")
            return
        padding = [0] * 6
        folded = _zero_padding(data)
        if folded is not None:
            data, padding = folded
        groups = kgs.conv_groups(weight)
        fitted = [kgs.fit_to_conv_groups(shape, weight.shape, groups) for shape in self.shape_choices()]
        group_shape = kgs.choose_group_shape(weight, list(dict.fromkeys(fitted)))
        compact = kgs.compact(weight, group_shape)
        element_type = ir.RankedTensorType(filter_value.type).element_type
        with conv.context, conv.location:
            insertion = ir.InsertionPoint(conv)
            values = self._constant_resource(compact.values, element_type, names.fresh("kgs_values"), insertion)
            offsets = self._constant_table(compact.group_offsets, insertion)
            positions = self._constant_table(compact.positions, insertion)
            kgs_conv = KgsConv3dOp(
                input=data,
                values=values,
                group_offsets=offsets,
                positions=positions,
                init=init,
                group_shape=ir.DenseI64ArrayAttr.get([group_shape.filters, group_shape.channels]),
                kernel_size=ir.DenseI64ArrayAttr.get(list(weight.shape[2:])),
                strides=ir.DenseI64ArrayAttr.get(_attribute_ints(conv, "strides", 1)),
                padding=ir.DenseI64ArrayAttr.get(padding),
                dilations=ir.DenseI64ArrayAttr.get(_attribute_ints(conv, "dilations", 1)),
                result=conv.results[0].type,
                ip=insertion,
            )
        conv.results[0].replace_all_uses_with(kgs_conv.result)
        conv.erase()
        # The dense filter and a folded pad are dead now; dropping them here keeps large
        # weights from lingering until the next canonicalization.
        for dead in (defining_op(filter_value), defining_op(conv_data) if folded is not None else None):
            if dead is not None and not list(dead.results[0].uses):
                dead.erase()
        shape = "x".join(str(d) for d in weight.shape)
        remark(
            kgs_conv.location,
            f"{shape} filter{f' ({groups} conv groups)' if groups > 1 else ''} as {group_shape} kernel groups: {compact.kept_fraction:.1%} of MACs kept "
            f"({f'{1 / compact.kept_fraction:.2f}x fewer' if compact.kept_fraction else 'all pruned'}){_rows_note(weight, group_shape, compact.kept_fraction)}",
        )

    @staticmethod
    def _constant_resource(
        array: np.ndarray, element_type: ir.Type, resource_name: str, insertion: ir.InsertionPoint
    ) -> ir.Value:
        tensor_type = ir.RankedTensorType.get([array.size], element_type)
        attribute = weights_attribute(array, tensor_type, resource_name)
        return arith.ConstantOp(tensor_type, attribute, ip=insertion).result

    @staticmethod
    def _constant_table(array: np.ndarray, insertion: ir.InsertionPoint) -> ir.Value:
        tensor_type = ir.RankedTensorType.get([array.size], ir.IntegerType.get_signless(64))
        attribute = ir.DenseElementsAttr.get(np.ascontiguousarray(array, dtype=np.int64), type=tensor_type)
        return arith.ConstantOp(tensor_type, attribute, ip=insertion).result
