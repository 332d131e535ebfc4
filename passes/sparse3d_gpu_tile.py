"""``sparse3d-gpu-tile``: choose each KGS conv's GPU schedule from the module's GPU target and record it.

Input (the GPU target is a module attribute; ``target=NAME`` sets or replaces it)::

  module attributes {sparse3d.gpu_target = {name = "mali-valhall", subgroup_size = 16 : i64, ...}} {
    func.func @f(%x: tensor<1x64x16x56x56xf32>, %init: tensor<1x128x16x56x56xf32>) -> tensor<1x128x16x56x56xf32> {
      ...
      %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, ...}
      ...

Output: the same, each conv carrying its schedule (a schedule already on an op is checked and kept)::

      %y = "sparse3d.kgs_conv3d"(...) {..., sparse3d.gpu_schedule = {outputs_per_thread = 2 : i64, workgroup_size = 64 : i64}}

The choice is :func:`rt3d_mlir.targets.gpu_strategy.choose_gpu_schedule`; every schedule is checked
against the target's limits (:func:`~rt3d_mlir.targets.gpu_strategy.check_gpu_schedule`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass, TargetOptions, option
from rt3d_mlir.targets import dictionary_attribute
from rt3d_mlir.targets.gpu import GPU_PRESETS, GPU_TARGET_ATTR, module_gpu_target, resolve_gpu, set_module_gpu_target
from rt3d_mlir.targets.gpu_strategy import GPU_SCHEDULE_ATTR, GpuSchedule, check_gpu_schedule, choose_gpu_schedule

GPU_TARGETS = TargetOptions(GPU_TARGET_ATTR, resolve_gpu, set_module_gpu_target, module_gpu_target)


@dataclass(frozen=True)
class Sparse3DGpuTile(ModulePass):
    name = "sparse3d-gpu-tile"
    summary = "Record a workgroup/thread schedule on each sparse3d.kgs_conv3d from the module's GPU target"

    target: str | None = option(None, f"GPU target to record on the module first ({', '.join(GPU_PRESETS)}, each also +fp16 or +fp16-math); "
                                      f"unset: use its {GPU_TARGET_ATTR}")

    default_target: str | None = option(None, f"GPU target to record when the module has no {GPU_TARGET_ATTR} (unset: that is an error)")

    def __post_init__(self) -> None:
        GPU_TARGETS.check(self.name, self.target, self.default_target)

    def apply(self, module: ir.Operation) -> None:
        target = GPU_TARGETS.module_target(module, self.target, self.default_target)
        for op in find_kgs_convs(module):
            try:
                geometry = ConvGeometry.of(op)
                if GPU_SCHEDULE_ATTR in op.attributes:
                    check_gpu_schedule(target, geometry, GpuSchedule.from_attr(dictionary_attribute(op, GPU_SCHEDULE_ATTR)))
                    continue
                op.attributes[GPU_SCHEDULE_ATTR] = choose_gpu_schedule(target, geometry).to_attr()
            except UserError as error:
                raise PassError(str(error), op.location) from None
