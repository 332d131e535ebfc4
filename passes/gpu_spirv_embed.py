"""``gpu-spirv-embed``: move each ``spirv.module`` that ``convert-gpu-to-spirv`` made into its ``gpu.module``.

Input (after ``convert-gpu-to-spirv``, which leaves the SPIR-V next to the GPU module)::

  spirv.module @__spv__main_kernel Logical GLSL450 {...}
  gpu.module @main_kernel attributes {spirv.target_env = ..., targets = [...]} {
    gpu.func @main_kernel(...) kernel {...}
  }

Output: ``gpu.module @main_kernel {spirv.module @__spv__main_kernel ...; gpu.func ...}``, so that
``spirv-lower-abi-attrs`` / ``spirv-update-vce`` can run nested in it and
``gpu-module-to-binary`` serialises that SPIR-V into a ``gpu.binary``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.passes.base import ModulePass

_PREFIX = "__spv__"


@dataclass(frozen=True)
class GpuSpirvEmbed(ModulePass):
    name = "gpu-spirv-embed"
    summary = "Move each top-level spirv.module into the gpu.module it was converted from"

    def apply(self, module: ir.Operation) -> None:
        top = list(module.regions[0].blocks[0].operations)
        gpu_modules = {ir.StringAttr(op.attributes["sym_name"]).value: op for op in top if op.operation.name == "gpu.module"}
        for op in top:
            if op.operation.name != "spirv.module":
                continue
            if "sym_name" not in op.attributes:  # optional on spirv.module
                raise PassError(f"spirv.module without a name has no gpu.module to go into "
                                f"(convert-gpu-to-spirv names it @{_PREFIX}NAME after gpu.module @NAME)", op.location)
            name = ir.StringAttr(op.attributes["sym_name"]).value.removeprefix(_PREFIX)
            if name not in gpu_modules:
                raise PassError(f"spirv.module @{_PREFIX}{name} has no gpu.module @{name} to go into", op.location)
            ir.InsertionPoint.at_block_begin(gpu_modules[name].regions[0].blocks[0]).insert(op.operation.detach_from_parent())
