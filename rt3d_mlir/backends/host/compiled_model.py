"""A module after the front step, compiled for the host: schedules (cost model or tuning cache), kernels, LLVM JIT.

``scf.parallel`` loops run on the LLVM OpenMP runtime, so the thread count can change
between calls (:meth:`CompiledModel.set_threads`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch_mlir import ir

from rt3d_mlir.backends.base import CompileOptions
from rt3d_mlir.backends.host.jit import JitModule
from rt3d_mlir.backends.host.tuning import TuneResult, TuningOptions, tune_algorithms, tune_module
from rt3d_mlir.dialect.geometry import find_kgs_convs
from rt3d_mlir.dialect.sparse3d import ALGORITHM
from rt3d_mlir.entry_point import ENTRY_POINT, entry_shapes, entry_type
from rt3d_mlir.errors import UserError
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.pipelines import KGS_BEFORE_TILE, algorithm_steps, schedule_steps
from rt3d_mlir.progress import stage
from rt3d_mlir.report import ConvReport, conv_reports
from rt3d_mlir.targets import resolve
from rt3d_mlir.targets.tuning_cache import TuningCache, apply_algorithm_cache, apply_cache, default_cache_path


@dataclass
class CompiledModel:
    """A model compiled for the host CPU; call it like the torch module (one output tensor)."""

    jit: JitModule
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    convs: list[ConvReport]
    kernel_ir: str = field(repr=False)  # the module after --kgs-lower, for inspection
    compile_seconds: float = 0.0
    tuning: list[TuneResult] = field(default_factory=list)  # the schedules compile(tune=...) measured or found cached, per conv
    algorithm_tuning: list[TuneResult] = field(default_factory=list)  # its algorithms, per conv that can take Winograd
    algorithms: list[str] = field(default_factory=list)  # per conv of `algorithm_convs`: "direct" or "winograd<AXES, M>"
    # The convs in the kernel module's order, which sparse3d-fuse-epilogue may change from `convs`' (it
    # moves a residual's producer before the conv that adds it); the kernels are numbered in this order.
    algorithm_convs: list[ConvReport] = field(default_factory=list)
    kernel_macs: int = 0  # multiply-accumulates the conv kernels perform (after Winograd: the per-tap convs')

    @property
    def threads(self) -> int:
        return self.jit.max_threads

    def set_threads(self, threads: int) -> None:
        if threads < 1:
            raise UserError(f"thread count must be at least 1, got {threads}")
        self.jit.set_threads(threads)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self.input_shapes):
            raise UserError(f"the compiled model takes {len(self.input_shapes)} input(s), got {len(inputs)}")
        for index, (tensor, shape) in enumerate(zip(inputs, self.input_shapes)):
            if tuple(tensor.shape) != shape or tensor.dtype != torch.float32:
                raise UserError(
                    f"input {index} must be a float32 tensor of shape {shape} (the shape it was compiled for), "
                    f"got {tensor.dtype} {tuple(tensor.shape)}"
                )
        output = self.jit.call(ENTRY_POINT, *inputs, result_rank=len(self.output_shape))
        return torch.from_numpy(output)


def compile_for_host(module: ir.Module, convs: list[ConvReport], target: str, options: CompileOptions) -> CompiledModel:
    """Regroups filters, fuses epilogues, picks direct or Winograd and schedules every conv for ``target`` (tuning
    each first if asked), JIT-compiles."""
    stage("KGS kernels")
    run_pipeline(module, ", ".join(KGS_BEFORE_TILE))
    cache_path = Path(options.tuning_cache) if options.tuning_cache is not None else default_cache_path()
    cache = TuningCache.load(cache_path)  # read once: a foreign file is reported once
    tune = options.tune if isinstance(options.tune, TuningOptions) else TuningOptions()
    host = resolve(target)
    algorithm_tuning: list[TuneResult] = []
    if not options.direct_only:
        if options.tune:
            algorithm_tuning = tune_algorithms(module, host, cache, tune)
        else:
            with module.context:
                apply_algorithm_cache(module.operation, host, cache)
    choose, winograd = algorithm_steps(f"target={target}" + (" allow=direct" if options.direct_only else ""))
    run_pipeline(module, choose)
    algorithms = [ir.StringAttr(op.attributes[ALGORITHM]).value for op in find_kgs_convs(module.operation)]
    algorithm_convs = conv_reports(module)
    run_pipeline(module, winograd)
    kernel_macs = sum(report.kept_macs for report in conv_reports(module))
    tuning: list[TuneResult] = []
    if options.tune:
        tuning = tune_module(module, host, cache, tune)
        if cache.changed:
            cache.save()
    else:
        with module.context:
            apply_cache(module.operation, host, cache)
    run_pipeline(module, ", ".join(schedule_steps(f"target={target}")))
    inputs, output = entry_shapes(entry_type(module, "imported module"))
    kernel_ir = module.operation.get_asm(large_elements_limit=16, assume_verified=True)
    stage("LLVM JIT")
    with module.context:
        jit = JitModule(module)
    compiled = CompiledModel(jit, inputs, output, convs, kernel_ir, tuning=tuning, algorithm_tuning=algorithm_tuning,
                             algorithms=algorithms, algorithm_convs=algorithm_convs, kernel_macs=kernel_macs)
    if options.threads is not None:
        compiled.set_threads(options.threads)
    return compiled
