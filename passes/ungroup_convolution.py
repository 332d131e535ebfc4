"""``ungroup-convolution``: grouped and depthwise 3D convs with constant filters as dense convs (torch dialect).

torch-mlir cannot lower a 3D ``torch.aten.convolution`` with ``groups > 1`` to
linalg. With a constant filter it is the dense conv whose filter is block
diagonal: filter ``f`` of group ``f // (M/g)`` sees only that group's
``C/g`` channels, every other weight is an exact zero. ``sparse3d-from-linalg``
then finds the blocks and fits its kernel groups inside them
(``kgs.fit_to_conv_groups``), so the zeros cost no MACs; a depthwise conv
(one channel per group) gets 1x1 kernel groups.

Input (backend-contract torch IR, as torch-mlir's importers produce it)::

  %w = torch.vtensor.literal(dense_resource<w> : tensor<8x1x3x3x3xf32>) : !torch.vtensor<[8,1,3,3,3],f32>
  %int8 = torch.constant.int 8
  %y = torch.aten.convolution %x, %w, %b, %stride, %padding, %dilation, %false, %output_padding, %int8
       : !torch.vtensor<[1,8,4,8,8],f32>, !torch.vtensor<[8,1,3,3,3],f32>, ... -> !torch.vtensor<[1,8,4,8,8],f32>

Output: the same conv with ``groups`` 1 and a ``!torch.vtensor<[8,8,3,3,3],f32>``
literal holding the block-diagonal filter. A conv whose filter or group count
is not a constant, a transposed conv, or a 1D/2D conv (torch-mlir lowers those
itself) is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir

from rt3d_mlir.constants import ResourceNames, constant_array, defining_op
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass

CONVOLUTION = "torch.aten.convolution"
_WEIGHT, _TRANSPOSED, _GROUPS = 1, 6, 8  # operand positions of aten.convolution


def block_diagonal(weight: np.ndarray, groups: int) -> np.ndarray:
    """The (M, C, ...) dense filter of a grouped conv's (M, C/groups, ...) filter."""
    filters, group_channels = weight.shape[:2]
    dense = np.zeros((filters, group_channels * groups, *weight.shape[2:]), dtype=weight.dtype)
    group_filters = filters // groups
    for group in range(groups):
        rows = slice(group * group_filters, (group + 1) * group_filters)
        dense[rows, group * group_channels:(group + 1) * group_channels] = weight[rows]
    return dense


def _constant_int(value: ir.Value) -> int | None:
    owner = defining_op(value)
    if owner is None or owner.name != "torch.constant.int":
        return None
    return ir.IntegerAttr(owner.attributes["value"]).value


def _constant_bool(value: ir.Value) -> bool | None:
    owner = defining_op(value)
    if owner is None or owner.name != "torch.constant.bool":
        return None
    return ir.BoolAttr(owner.attributes["value"]).value


@dataclass(frozen=True)
class UngroupConvolution(ModulePass):
    name = "ungroup-convolution"
    summary = "Rewrite grouped 3D torch.aten.convolution ops with constant filters into dense ones with block-diagonal filters"

    def apply(self, module: ir.Operation) -> None:
        names = ResourceNames(module)
        for conv in ops_named(module, CONVOLUTION):
            self._rewrite(conv, names)

    @staticmethod
    def _rewrite(conv: ir.Operation, names: ResourceNames) -> None:
        groups = _constant_int(conv.operands[_GROUPS])
        if groups is None or groups == 1 or _constant_bool(conv.operands[_TRANSPOSED]) is not False:
            return
        weight_value = conv.operands[_WEIGHT]
        weight_op, groups_op = defining_op(weight_value), defining_op(conv.operands[_GROUPS])
        weight = constant_array(weight_value)
        # constants always have defining ops: the None checks only tell the type checker so
        if weight is None or weight.ndim != 5 or weight_op is None or groups_op is None:
            return
        dense = np.ascontiguousarray(block_diagonal(weight, groups))
        element_type = ir.RankedTensorType(weight_op.attributes["value"].type).element_type
        shape = ",".join(str(d) for d in dense.shape)
        with conv.context, conv.location, ir.InsertionPoint(conv):
            tensor_type = ir.RankedTensorType.get(dense.shape, element_type)
            literal = ir.Operation.create(
                "torch.vtensor.literal",
                results=[ir.Type.parse(f"!torch.vtensor<[{shape}],{element_type}>")],
                attributes={"value": ir.DenseResourceElementsAttr.get_from_buffer(dense, names.fresh("ungrouped"), tensor_type)},
            )
            one = ir.Operation.create(
                "torch.constant.int", results=[ir.Type.parse("!torch.int")],
                attributes={"value": ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 1)},
            )
        conv.operands[_WEIGHT] = literal.result
        conv.operands[_GROUPS] = one.result
        for dead in (weight_op, groups_op):
            if not list(dead.results[0].uses):
                dead.erase()
