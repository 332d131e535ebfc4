"""The kept pattern of a ``sparse3d.kgs_conv3d`` whose tables are constants, read at compile time."""

from __future__ import annotations

import numpy as np
from torch_mlir import ir

from rt3d_mlir.constants import defining_op
from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.dialect.tables import index_table


def constant_tables(op: ir.Operation) -> tuple[np.ndarray, np.ndarray] | None:
    """(group_offsets, positions) as int64 when both are constants, else None (read as the kernels read them)."""
    offsets, positions = (index_table(op.operands[i]) for i in (2, 3))
    if offsets is None or positions is None:
        return None
    return offsets, positions


def has_constant_values(op: ir.Operation) -> bool:
    """Whether ``values`` is an ``arith.constant`` (checked without reading it)."""
    owner = defining_op(op.operands[1])
    return owner is not None and owner.name == "arith.constant"


def group_pattern(geometry: ConvGeometry, offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(GM, GN, Ks) bool: position p is kept in group (i, j)."""
    grid_m, grid_n = geometry.group_grid
    kept = np.zeros((grid_m * grid_n, geometry.num_positions), bool)
    groups = np.repeat(np.arange(grid_m * grid_n), np.diff(offsets))
    kept[groups, positions[: offsets[-1]]] = True
    return kept.reshape(grid_m, grid_n, geometry.num_positions)


def constant_pattern(op: ir.Operation, geometry: ConvGeometry) -> np.ndarray | None:
    """The group pattern when the tables and the weights are constants (what filter-vectors needs), else None."""
    tables = constant_tables(op)
    if tables is None or not has_constant_values(op):
        return None
    return group_pattern(geometry, *tables)
