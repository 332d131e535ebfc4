"""``sparse3d-tile``: choose each KGS conv's schedule from the module's target and record it.

Input (the target is a module attribute; ``target=NAME`` sets or replaces it)::

  module attributes {sparse3d.target = {name = "host-avx2", vector_lanes = 8 : i64,
                                        vector_registers = 16 : i64, cores = 2 : i64}} {
    func.func @f(%x: tensor<1x64x16x56x56xf32>, %init: tensor<1x128x16x56x56xf32>) -> tensor<1x128x16x56x56xf32> {
      ...
      %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, ...}
      ...

Output: the same, each conv carrying its schedule (a schedule already on an op is kept)::

      %y = "sparse3d.kgs_conv3d"(...) {..., sparse3d.schedule = {filters = 4 : i64, rows = 1 : i64,
                                        threads = 2 : i64, vector_lanes = 8 : i64, w_vectors = 3 : i64}}

The choice itself is :func:`rt3d_mlir.targets.strategy.choose_kernel_schedule` (the cheaper of the
w-vectors and filter-vectors kernels by the cost model), or, with ``tuning-cache=FILE``, the schedule
``rt3d tune`` measured fastest for a conv of that shape and kept pattern on this target
(:mod:`rt3d_mlir.targets.tuning_cache`); this pass only records it.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass, TargetOptions, option
from rt3d_mlir.targets import TARGET_ATTR, module_target, resolve, set_module_target
from rt3d_mlir.dialect.kept_pattern import constant_pattern
from rt3d_mlir.dialect.tables import check_tables
from rt3d_mlir.dialect.sparse3d import filter_permutation
from rt3d_mlir.targets.strategy import SCHEDULE_ATTR, choose_kernel_schedule

CPU_TARGETS = TargetOptions(TARGET_ATTR, resolve, set_module_target, module_target)


@dataclass(frozen=True)
class Sparse3DTile(ModulePass):
    name = "sparse3d-tile"
    summary = "Record a register-block/vector/thread schedule on each sparse3d.kgs_conv3d from the module's target"

    target: str | None = option(None, f"target to record on the module first (host, host-avx512, host-avx2, aarch64-neon); unset: use its {TARGET_ATTR}")

    default_target: str | None = option(None, f"target to record when the module has no {TARGET_ATTR} (unset: that is an error)")

    tuning_cache: str | None = option(None, "a tuning cache (rt3d tune) whose measured schedules win over the cost model (unset: none)")

    def __post_init__(self) -> None:
        CPU_TARGETS.check(self.name, self.target, self.default_target)

    def apply(self, module: ir.Operation) -> None:
        target = CPU_TARGETS.module_target(module, self.target, self.default_target)
        if self.tuning_cache is not None:
            from rt3d_mlir.targets.tuning_cache import TuningCache, apply_cache

            apply_cache(module, target, TuningCache.load(self.tuning_cache))
        for op in find_kgs_convs(module):
            if SCHEDULE_ATTR in op.attributes:
                continue
            check_tables(op)
            try:
                geometry = ConvGeometry.of(op)
                schedule = choose_kernel_schedule(target, geometry, constant_pattern(op, geometry), filter_permutation(op))
            except UserError as error:
                raise PassError(str(error), op.location) from None
            op.attributes[SCHEDULE_ATTR] = schedule.to_attr()
