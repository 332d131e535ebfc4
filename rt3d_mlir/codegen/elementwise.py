"""Matchers for the elementwise ``linalg.generic`` ops torch-mlir imports around a conv (ReLU, add).

``sparse3d-fuse-epilogue`` uses them to find what to fuse; the KGS kernel, to see
through the ``residual + bias`` init that pass builds.
"""

from __future__ import annotations

from torch_mlir import ir

from rt3d_mlir.constants import defining_op


def elementwise_body(op: ir.Operation, inputs: int) -> list[ir.Operation] | None:
    """The body ops of an all-parallel, identity-map ``linalg.generic`` with ``inputs`` inputs and one init, or None."""
    if op.name != "linalg.generic" or len(op.operands) != inputs + 1 or len(op.results) != 1:
        return None
    rank = ir.RankedTensorType(op.results[0].type).rank
    maps = [ir.AffineMapAttr(m).value for m in ir.ArrayAttr(op.attributes["indexing_maps"])]
    if any(m != ir.AffineMap.get_identity(rank) for m in maps):
        return None
    return [o.operation for o in op.regions[0].blocks[0].operations]


def _is_zero(value: ir.Value) -> bool:
    owner = defining_op(value)
    if owner is None or owner.name != "arith.constant":
        return False
    attribute = owner.attributes["value"]
    return isinstance(attribute, ir.FloatAttr) and attribute.value == 0.0


def is_relu(op: ir.Operation) -> bool:
    """max(x, 0) as torch-mlir writes it (``select(cmpf ugt x 0, x, 0)``) or as ``arith.maximumf(x, 0)``."""
    body = elementwise_body(op, 1)
    if body is None:
        return False
    x = op.regions[0].blocks[0].arguments[0]
    *computation, terminator = body
    result = terminator.operands[0]
    if len(computation) == 1 and computation[0].name == "arith.maximumf":
        operands = list(computation[0].operands)
        return result == computation[0].results[0] and x in operands and any(_is_zero(v) for v in operands)
    if len(computation) != 2 or [o.name for o in computation] != ["arith.cmpf", "arith.select"]:
        return False
    compare, select = computation
    # ugt: a NaN input is returned as it is, like torch.relu; arith.maximumf does the same.
    predicate = ir.IntegerAttr(compare.attributes["predicate"]).value
    return (
        predicate == 9  # arith.cmpf ugt
        and compare.operands[0] == x and _is_zero(compare.operands[1])
        and select.operands[0] == compare.results[0] and select.operands[1] == x and _is_zero(select.operands[2])
        and result == select.results[0]
    )


def added_operands(op: ir.Operation) -> tuple[ir.Value, ir.Value] | None:
    """(a, b) if ``op`` computes ``a + b`` elementwise, else None."""
    body = elementwise_body(op, 2)
    if body is None or len(body) != 2 or body[0].name != "arith.addf":
        return None
    arguments = list(op.regions[0].blocks[0].arguments)
    if set(body[0].operands) != {arguments[0], arguments[1]} or body[1].operands[0] != body[0].results[0]:
        return None
    return op.operands[0], op.operands[1]


def added_operand(op: ir.Operation, value: ir.Value) -> ir.Value | None:
    """If ``op`` computes ``value + other`` elementwise (other not ``value`` itself), ``other``; else None."""
    operands = added_operands(op)
    if operands is None or operands[0] == operands[1] or value not in operands:
        return None
    return operands[1] if operands[0] == value else operands[0]
