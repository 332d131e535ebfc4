"""The table analysis of ``sparse3d.kgs_conv3d``: the checks that read what its constant index tables hold.

The verifier looks at the op's own operands, types and attributes only, so an op verifies
wherever its tables come from. When ``group_offsets`` and ``positions`` are constants, what they
hold must agree with the op too; that is checked here, by the code that reads them: ``rt3d-opt``
after parsing, and the passes that consume the tables (``sparse3d-compact``, ``sparse3d-tile``,
``sparse3d-vectorize``, ``sparse3d-to-gpu``), since a pass or a rewrite may have made them constants.
"""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from rt3d_mlir.constants import constant_array
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.dialect.sparse3d import OPERATION_NAME, array_attribute
from rt3d_mlir.groups import GroupShape, kernels_per_group


def index_table(value: ir.Value) -> np.ndarray | None:
    """A constant ``group_offsets`` or ``positions`` as int64, read as the kernels read it, or None if not a constant.

    A narrow table is read as unsigned (an i8 position may be 146); a blob of the wrong size is a PassError.
    """
    table = constant_array(value)
    if table is None:
        return None
    return table.view(f"u{table.dtype.itemsize}").astype(np.int64)


def table_problem(op: ir.Operation | ir.OpView) -> str | None:
    """The first disagreement between the op's constant tables and the op, as a message naming it, or None.

    None too where a table is not a constant (nothing to read). ``op`` must verify.
    """
    operation = op.operation
    input_value, values, offsets_value, positions_value, init = operation.operands
    contents = {}
    for name, value in (("group_offsets", offsets_value), ("positions", positions_value)):
        try:
            contents[name] = index_table(value)
        except PassError as error:  # a dense_resource blob of the wrong size
            return f"'{name}': {error}"
    offsets, positions = contents["group_offsets"], contents["positions"]
    if offsets is None:
        return None
    num_positions = ir.RankedTensorType(positions_value.type).shape[0]
    if offsets[0] != 0 or offsets[-1] != num_positions or np.any(np.diff(offsets) < 0):
        return (
            f"group_offsets must start at 0, never decrease and end at P = {num_positions} (the positions size), "
            f"got {offsets[0]} ... {offsets[-1]}"
        )
    channels = ir.RankedTensorType(input_value.type).shape[1]
    filters = ir.RankedTensorType(init.type).shape[1]
    group_shape = GroupShape(*array_attribute(operation, "group_shape"))
    kept_per_group = np.diff(offsets)
    expected_values = int((kept_per_group * kernels_per_group(filters, channels, group_shape).reshape(-1)).sum())
    num_values = ir.RankedTensorType(values.type).shape[0]
    if num_values != expected_values:
        return (
            f"'values' must have {expected_values} entries (kept positions x kernels per group, summed), "
            f"got {num_values}"
        )
    if positions is None:
        return None
    kernel_size = array_attribute(operation, "kernel_size")
    kernel_volume = int(np.prod(kernel_size))
    if num_positions and (positions.min() < 0 or positions.max() >= kernel_volume):
        return f"positions must lie in [0, {kernel_volume}) for kernel {kernel_size}, got {positions.min()} ... {positions.max()}"
    starts_group = np.zeros(num_positions, dtype=bool)
    starts_group[offsets[:-1][kept_per_group > 0]] = True
    not_ascending = (np.diff(positions) <= 0) & ~starts_group[1:]
    if np.any(not_ascending):
        index = int(np.argmax(not_ascending)) + 1
        group = int(np.searchsorted(offsets, index, side="right")) - 1
        return f"positions of group {group} must be strictly ascending, got {positions[index - 1]} then {positions[index]}"
    return None


def check_tables(op: ir.Operation | ir.OpView) -> None:
    """Raises PassError at the op, naming the problem, when its constant tables disagree with it."""
    problem = table_problem(op)
    if problem is not None:
        raise PassError(f"'{OPERATION_NAME}' op {problem}", op.location)
