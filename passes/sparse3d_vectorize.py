"""``sparse3d-vectorize``: replace each scheduled KGS conv by its inner kernel in upstream dialects.

Input (after ``sparse3d-tile``)::

  %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>,
         kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>,
         padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>,
         sparse3d.schedule = {filters = 4 : i64, rows = 1 : i64, threads = 2 : i64,
                              vector_lanes = 8 : i64, w_vectors = 3 : i64}}
       : (tensor<1x64x16x56x56xf32>, tensor<Vxf32>, tensor<513xi64>, tensor<Pxi64>,
          tensor<1x128x16x56x56xf32>) -> tensor<1x128x16x56x56xf32>

Output: ``bufferization.to_buffer`` of the operands, a zero-padded, stride-phase-split
copy of the input (``linalg.fill`` + ``linalg.copy``), a scalar loop that builds
per-entry offset tables from ``group_offsets``/``positions``, and an ``scf.parallel``
(or ``scf.for`` nest) over (batch, output depth, row block) calling a private
``@kgs_conv3d_block_N`` whose loops hold ``vector.load``/``vector.broadcast``/
``vector.fma`` register blocks; the result is ``bufferization.to_tensor``. The
accumulators start from what ``init`` was built from (a ``linalg.fill`` scalar, a
bias ``linalg.broadcast``, a fused ``residual + bias``) rather than a full init
tensor; the op's optional ``activation`` and ``filter_permutation`` are applied at
the stores. See :mod:`rt3d_mlir.codegen.cpu_kgs_kernel`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from rt3d_mlir.dialect.geometry import find_kgs_convs
from rt3d_mlir.codegen.cpu_kgs_kernel import emit_kgs_conv3d
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.dialect.tables import check_tables
from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass
from rt3d_mlir.targets import dictionary_attribute
from rt3d_mlir.targets.strategy import SCHEDULE_ATTR, schedule_from_attr


@dataclass(frozen=True)
class Sparse3DVectorize(ModulePass):
    name = "sparse3d-vectorize"
    summary = "Emit each scheduled sparse3d.kgs_conv3d as register-blocked scf/vector/memref code"

    def apply(self, module: ir.Operation) -> None:
        for op in find_kgs_convs(module):
            if SCHEDULE_ATTR not in op.attributes:
                raise PassError(f"sparse3d.kgs_conv3d has no {SCHEDULE_ATTR}: run sparse3d-tile first", op.location)
            check_tables(op)
            try:
                emit_kgs_conv3d(op, schedule_from_attr(dictionary_attribute(op, SCHEDULE_ATTR)))
            except UserError as error:
                raise PassError(str(error), op.location) from None
