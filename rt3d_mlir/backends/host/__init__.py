"""The host back end: KGS kernels for the CPU this process runs on, JIT-compiled with LLVM, run on OpenMP threads.

Pieces: ``compiled_model`` (the kernel pipeline, the JIT, :class:`CompiledModel`), ``jit``
(:class:`JitModule`, the OpenMP runtime), ``lowering`` (to the LLVM dialect), ``tuning``
(timing schedules here, ``rt3d tune``), ``single_conv`` (one conv, for tests and benchmarks).
Guide: docs/cpu-codegen.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rt3d_mlir.backends.base import Backend, CliOption, CompileOptions
from rt3d_mlir.errors import UserError

if TYPE_CHECKING:
    from torch_mlir import ir

    from rt3d_mlir.backends.host.compiled_model import CompiledModel
    from rt3d_mlir.report import ConvReport


class HostBackend(Backend):
    name = "host"
    summary = "this machine's CPU (AVX-512, AVX2 or NEON): a callable JIT-compiled model"
    cli_targets = "host or host-<isa>"
    options = frozenset({"threads", "tune", "tuning_cache", "direct_only"})
    cli_options = (
        CliOption("--threads", "thread-count", "OpenMP threads (default: all cores)", field="threads"),
        CliOption("--direct-only", "flag", "direct convolution everywhere: no Winograd, whatever the cost model picks",
                  field="direct_only"),
    )
    runs_here = True
    output = "file"
    writes = "a file for the IR after --kgs-lower"
    stages = ("KGS kernels", "LLVM JIT")

    def target_names(self) -> tuple[str, ...]:
        from rt3d_mlir.targets import PRESETS

        return ("host", *(name for name in PRESETS if name.startswith("host-")))

    def owns(self, target: str) -> bool:
        return target in self.target_names()

    def check(self, target: str, options: CompileOptions) -> None:
        if options.threads is not None and options.threads < 1:
            raise UserError(f"thread count must be at least 1, got {options.threads}")

    def finish(self, module: ir.Module, convs: list[ConvReport], target: str, options: CompileOptions) -> CompiledModel:
        from rt3d_mlir.backends.host.compiled_model import compile_for_host

        return compile_for_host(module, convs, target, options)
