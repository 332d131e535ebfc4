"""The AArch64 back end: a model -> LLVM IR, AArch64 objects (Linux and Android), a C header, shared libraries.

    build = compile_model(model, clip, cpu="a55")     # or rt3d_mlir.compile(model, clip, target="aarch64-a55")
    build.save("out/")                                 # rt3d compile MODEL --target aarch64 -o out/

Pieces: ``cpus`` (presets, the strategy's target), ``lower`` (MLIR -> LLVM IR and
weights), ``emit`` (llvmlite: optimize, object, assembly), ``header``, ``build``
(the artifacts), ``toolchain`` (cross gcc, qemu), ``mca`` (the llvm-mca
performance model). Guide: docs/aarch64.md.
"""

from rt3d_mlir.backends.aarch64.build import Aarch64Build, compile_model, compile_module
from rt3d_mlir.backends.aarch64.cpus import PRESET_CPUS, Cpu, cpu_from_target, resolve_cpu

__all__ = ["Aarch64Build", "Cpu", "PRESET_CPUS", "compile_model", "compile_module", "cpu_from_target", "resolve_cpu"]
