"""The AArch64 back end: a model -> LLVM IR, AArch64 objects (Linux and Android), a C header, shared libraries.

    build = rt3d_mlir.compile(model, clip, target="aarch64-a55")
    build.save("out/")                                 # rt3d compile MODEL --target aarch64 -o out/

Pieces: ``build`` (the artifacts), ``lower`` (MLIR -> LLVM IR and weights), ``emit``
(llvmlite: optimize, object, assembly), ``header``, ``toolchain`` (cross gcc, qemu),
``mca`` (the llvm-mca performance model), ``command`` (``rt3d compile --qemu-check``).
The cores it knows are described in :mod:`rt3d_mlir.targets.aarch64`. Guide: docs/aarch64.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rt3d_mlir.backends.base import Backend, CliOption, CompileOptions
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets.aarch64 import PRESET_CPUS, cpu_from_target

if TYPE_CHECKING:
    from torch_mlir import ir

    from rt3d_mlir.backends.aarch64.build import Aarch64Build
    from rt3d_mlir.report import ConvReport


class Aarch64Backend(Backend):
    name = "aarch64"
    summary = "AArch64 (NEON) objects for Linux and Android and a C header (docs/aarch64.md)"
    cli_targets = "aarch64 or aarch64-<cpu>"
    options = frozenset({"prefix", "cpu", "features", "platforms", "description"})
    option_notes = {"threads": "on aarch64 the thread count is chosen at run time (PREFIX_set_threads, docs/aarch64.md)"}
    cli_options = (
        CliOption("--cpu", "text", "a76 (default), a55, or an LLVM AArch64 cpu such as cortex-a78", field="cpu"),
        CliOption("--features", "text", "extra LLVM features, e.g. +dotprod,+fullfp16", field="features"),
        CliOption("--name", "text", "C name prefix of the artifacts (default: rt3d_MODEL)", field="prefix"),
        CliOption("--qemu-check", "flag", "run the single-threaded object under qemu-aarch64, compare to torch eager"),
    )
    runs_here = False
    output = "folder"
    writes = "the folder for the objects and the header"
    stages = ("KGS kernels",)

    def target_names(self) -> tuple[str, ...]:
        return ("aarch64", *(f"aarch64-{cpu}" for cpu in PRESET_CPUS))

    def _cpu(self, target: str, options: CompileOptions) -> str:
        preset = cpu_from_target(target)  # checks the target even when a cpu is given
        if options.cpu and target != "aarch64":
            raise UserError(f"--target {target} already names the cpu: use --target aarch64 --cpu {options.cpu}")
        return options.cpu or preset

    def check(self, target: str, options: CompileOptions) -> None:
        from rt3d_mlir.backends.aarch64.build import check_build_options

        check_build_options(self._cpu(target, options), options.features, options.prefix, options.platforms)

    def prepare(self, module: ir.Module, target: str, options: CompileOptions) -> None:
        from rt3d_mlir.backends.aarch64.build import entry_signature

        entry_signature(module)  # static f32 shapes, before the front step's work

    def finish(self, module: ir.Module, convs: list[ConvReport], target: str, options: CompileOptions) -> Aarch64Build:
        from rt3d_mlir.backends.aarch64.build import build_artifacts
        from rt3d_mlir.progress import stage
        from rt3d_mlir.targets.aarch64 import resolve_cpu

        stage("KGS kernels")
        core = resolve_cpu(self._cpu(target, options), options.features)  # check() validated it before the import
        description = options.description or f"{options.prefix} compiled by rt3d-mlir"
        return build_artifacts(module, convs, core, options.prefix, description, options.platforms)
