"""``gpu-spirv-abi``: give every ``gpu.module`` the SPIR-V target environment and every kernel its entry ABI.

Input (after ``gpu-kernel-outlining``; the module carries ``sparse3d.gpu_target``)::

  gpu.module @main_kernel {
    gpu.func @main_kernel(%arg0: memref<64xf32>) kernel attributes {known_block_size = array<i32: 64, 1, 1>} {...}
  }

Output: ``spirv.target_env`` (SPIR-V 1.3 / Vulkan 1.1 with the target's limits) on the
``gpu.module`` and in its ``targets`` (for ``gpu-module-to-binary``), and
``spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>`` on the kernel,
as ``convert-gpu-to-spirv`` requires. The workgroup size is the launch's (``known_block_size``);
it is checked against the target's limits here, since MLIR does not check them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass
from rt3d_mlir.targets.gpu import module_gpu_target


@dataclass(frozen=True)
class GpuSpirvAbi(ModulePass):
    name = "gpu-spirv-abi"
    summary = "Attach #spirv.target_env (from sparse3d.gpu_target) and entry-point ABIs to outlined GPU kernels"

    def apply(self, module: ir.Operation) -> None:
        try:
            target = module_gpu_target(module)
        except UserError as error:
            raise PassError(str(error), module.location) from None
        environment = ir.Attribute.parse(target.spirv_target_env())
        for gpu_module in ops_named(module, "gpu.module"):
            gpu_module.attributes["spirv.target_env"] = environment
            gpu_module.attributes["targets"] = ir.ArrayAttr.get([environment])
        for kernel in ops_named(module, "gpu.func"):
            if "known_block_size" not in kernel.attributes:
                raise PassError("a GPU kernel without a static workgroup size (known_block_size) cannot become SPIR-V", kernel.location)
            size = list(ir.DenseI32ArrayAttr(kernel.attributes["known_block_size"]))
            limits = target.max_workgroup_size
            if math.prod(size) > target.max_invocations or any(s > limit for s, limit in zip(size, limits)):
                raise PassError(
                    f"workgroup size {size} exceeds {target.name}'s limits (max_invocations {target.max_invocations}, "
                    f"max_workgroup_size {list(limits)})",
                    kernel.location,
                )
            kernel.attributes["spirv.entry_point_abi"] = ir.Attribute.parse(f"#spirv.entry_point_abi<workgroup_size = {size}>")
