"""``sparse3d-compact``: regroup the filters of each KGS conv and shrink its index tables.

Input (after ``sparse3d-from-linalg``; constant tables)::

  %values = arith.constant dense_resource<kgs_values_0> : tensor<3456xf32>
  %offsets = arith.constant dense<[0, 27, 27, 54, ...]> : tensor<33xi64>
  %positions = arith.constant dense<[0, 1, 2, ...]> : tensor<1728xi64>
  %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, ...}

Output: the same conv with

- its filters regrouped when that computes fewer MACs (``reorder=auto``):
  filters with similar kept patterns share a filter block, so groups shrink
  and all-zero filters land in empty groups; new ``values``/tables and a
  ``filter_permutation = array<i64: ...>`` saying which output channel each
  compact filter writes (composed with one already there). See
  :mod:`rt3d_mlir.codegen.filter_order` for the choice;
- ``group_offsets`` and ``positions``, each in the narrowest signed integer
  type that holds its values (i8, i16, i32 or i64)::

    %offsets = arith.constant dense<[0, 27, 27, 54, ...]> : tensor<33xi16>
    %positions = arith.constant dense<[0, 1, 2, ...]> : tensor<1728xi8>

Empty groups need no rewriting: a group without kept positions adds no table
entries, and the kernels walk a channel chunk's entries in one flat loop, so
it costs nothing there. Convs whose tables are not constants are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith

from rt3d_mlir import kgs
from rt3d_mlir.codegen.filter_order import choose_filter_order
from rt3d_mlir.dialect.geometry import find_kgs_convs
from rt3d_mlir.constants import ResourceNames, constant_array, defining_op, weights_attribute
from rt3d_mlir.dialect.sparse3d import FILTER_PERMUTATION, filter_permutation
from rt3d_mlir.dialect.tables import check_tables, index_table
from rt3d_mlir.passes.base import ModulePass, option

_SIGNED_WIDTHS = (8, 16, 32, 64)


def narrowest_width(largest: int) -> int:
    """Bits of the narrowest signed integer type that holds 0..largest (so that readers taking them as signed, like numpy, agree)."""
    return next(bits for bits in _SIGNED_WIDTHS if largest < 2 ** (bits - 1))


def _constant(
    array: np.ndarray, element_type: ir.Type, insertion: ir.InsertionPoint, resource_name: str | None = None
) -> ir.Value:
    tensor_type = ir.RankedTensorType.get([array.size], element_type)
    if resource_name is not None:  # weights: a blob, like sparse3d-from-linalg writes them
        attribute = weights_attribute(array, tensor_type, resource_name)
    else:
        attribute = ir.DenseElementsAttr.get(np.ascontiguousarray(array), type=tensor_type)
    return arith.ConstantOp(tensor_type, attribute, ip=insertion).result


@dataclass(frozen=True)
class Sparse3DCompact(ModulePass):
    name = "sparse3d-compact"
    summary = "Regroup the filters of each sparse3d.kgs_conv3d where that saves MACs and narrow its index tables"

    # the modes of rt3d_mlir.codegen.filter_order.choose_filter_order
    reorder: Literal["auto", "always", "never"] = option("auto", "regroup filters: auto (when it computes fewer MACs), always, never")
    narrow: bool = option(True, "store group_offsets and positions in the narrowest integer type that holds them")

    def apply(self, module: ir.Operation) -> None:
        names = ResourceNames(module)
        for op in find_kgs_convs(module):
            self._compact(op, names)

    def _compact(self, op: ir.Operation, names: ResourceNames) -> None:
        # As the kernels read them (an i8 position may be 146).
        offsets, positions = index_table(op.operands[2]), index_table(op.operands[3])
        if offsets is None or positions is None:
            return
        check_tables(op)
        regrouping = None  # (filter order, the weight compacted in that order) when the pass regroups
        if self.reorder != "never":
            # Reading the weights back is most of this pass's time: only when it may regroup.
            values = constant_array(op.operands[1])
            if values is None:
                return
            group_shape = kgs.GroupShape(*ir.DenseI64ArrayAttr(op.attributes["group_shape"]))
            out_channels = ir.RankedTensorType(op.operands[4].type).shape[1]
            kernel = tuple(ir.DenseI64ArrayAttr(op.attributes["kernel_size"]))
            weight_shape = (out_channels, ir.RankedTensorType(op.operands[0].type).shape[1], *kernel)
            current = kgs.CompactKGS(group_shape, weight_shape, offsets, positions, values)
            weight = kgs.expand(current)
            order = choose_filter_order(weight, group_shape, self.reorder)
            if order is not None:
                regrouped = kgs.compact(weight[order], group_shape)
                regrouping = order, regrouped
                offsets, positions = regrouped.group_offsets, regrouped.positions
        widths = [64, 64]
        if self.narrow:
            widths = [narrowest_width(int(offsets[-1])), narrowest_width(int(positions.max(initial=0)))]
        current_widths = [ir.IntegerType(ir.RankedTensorType(op.operands[i].type).element_type).width for i in (2, 3)]
        if regrouping is None and current_widths == widths:
            return
        with op.context, op.location:
            old = [op.operands[i] for i in (1, 2, 3)]
            insertion = ir.InsertionPoint(op)
            if regrouping is not None:
                order, regrouped = regrouping
                element_type = ir.RankedTensorType(old[0].type).element_type
                op.operands[1] = _constant(regrouped.values, element_type, insertion, names.fresh("kgs_compact_values"))
                previous = filter_permutation(op)
                permutation = [previous[i] for i in order] if previous is not None else [int(i) for i in order]
                op.attributes[FILTER_PERMUTATION] = ir.DenseI64ArrayAttr.get(permutation)
            for index, table, bits in ((2, offsets, widths[0]), (3, positions, widths[1])):
                op.operands[index] = _constant(table.astype(f"int{bits}"), ir.IntegerType.get_signless(bits), insertion)
        for value in old:
            owner = defining_op(value)
            if owner is not None and not list(owner.results[0].uses):
                owner.erase()
