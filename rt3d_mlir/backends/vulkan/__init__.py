"""The Vulkan back end: SPIR-V modules plus a manifest an app can load, and a runner for a local device.

Pieces: ``compiler`` (the rest of ``--kgs-to-spirv``, the host function read into a
program), ``program`` (buffers, dispatches, the manifest), ``runner`` (runs a program on
a Vulkan device). The GPUs it knows are described in :mod:`rt3d_mlir.targets.gpu`. Guide: docs/vulkan.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rt3d_mlir.backends.base import Backend, CliOption, CompileOptions

if TYPE_CHECKING:
    from torch_mlir import ir

    from rt3d_mlir.backends.vulkan.compiler import VulkanCompiledModel
    from rt3d_mlir.report import ConvReport


def gpu_name(target: str) -> str:
    """``vulkan`` -> the default GPU preset, ``vulkan-mali-valhall+fp16`` -> ``mali-valhall+fp16``."""
    from rt3d_mlir.targets.gpu import DEFAULT_GPU

    return DEFAULT_GPU if target == "vulkan" else target.removeprefix("vulkan-")  # "vulkan-" alone is an unknown GPU


class VulkanBackend(Backend):
    name = "vulkan"
    summary = "a Vulkan GPU: SPIR-V modules and a manifest, run on a local device when there is one (docs/vulkan.md)"
    cli_targets = "vulkan"
    cli_options = (CliOption("--no-run", "flag", "only compile, do not run on a local Vulkan device"),)
    runs_here = True
    output = "folder"
    writes = "the folder for the SPIR-V modules, manifest.json and constants.bin"
    stages = ("SPIR-V",)

    def target_names(self) -> tuple[str, ...]:
        from rt3d_mlir.targets.gpu import GPU_PRESETS, PRECISION_SUFFIXES

        return ("vulkan", *(f"vulkan-{gpu}" for gpu in GPU_PRESETS), *(f"vulkan-<gpu>{suffix}" for suffix in PRECISION_SUFFIXES))

    def check(self, target: str, options: CompileOptions) -> None:
        from rt3d_mlir.targets.gpu import resolve_gpu

        resolve_gpu(gpu_name(target))

    def prepare(self, module: ir.Module, target: str, options: CompileOptions) -> None:
        from rt3d_mlir.targets.gpu import resolve_gpu, set_module_gpu_target

        set_module_gpu_target(module, resolve_gpu(gpu_name(target)))

    def finish(self, module: ir.Module, convs: list[ConvReport], target: str, options: CompileOptions) -> VulkanCompiledModel:
        from rt3d_mlir.backends.vulkan.compiler import compile_for_vulkan
        from rt3d_mlir.progress import stage
        from rt3d_mlir.targets.gpu import resolve_gpu

        stage("SPIR-V")
        return compile_for_vulkan(module, convs, resolve_gpu(gpu_name(target)))
