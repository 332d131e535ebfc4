"""Whole models to host code: ``rt3d_mlir.compile(model, example_input)`` returns a callable.

Batch norms are folded into the convs before import (``rt3d_mlir.fold``), the
model is imported with torch-mlir, every 3D conv goes through
``--kgs-lower`` (dense convs too: a dense conv is KGS with every position
kept), everything is lowered to LLVM and JIT-compiled. ``scf.parallel`` loops
run on the LLVM OpenMP runtime, so the thread count can change between calls.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from rt3d_mlir.codegen.jit import JitModule
from rt3d_mlir.entry_point import ENTRY_POINT, entry_shapes, entry_type
from rt3d_mlir.errors import UserError
from rt3d_mlir.fold import fold_batch_norms
from rt3d_mlir.importer import import_model
from rt3d_mlir.onnx_import import OnnxModel
from rt3d_mlir.passes import KGS_BEFORE_TILE, kgs_kernel_steps
from rt3d_mlir.progress import compile_progress, expect, stage
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.report import ConvReport, conv_reports
from rt3d_mlir.targets import PRESETS, resolve
from rt3d_mlir.tuning import TuneResult, TuningCache, TuningOptions, default_cache_path, tune_module

if TYPE_CHECKING:
    from rt3d_mlir.backends.aarch64 import Aarch64Build
    from rt3d_mlir.backends.vulkan.compiler import VulkanCompiledModel

HOST_TARGETS = ("host", *(name for name in PRESETS if name.startswith("host-")))
# what the progress bar names while a host compile runs (the convs of sparse3d-from-linalg count too)
HOST_STAGES = ("torch-mlir import", "sparse3d-from-linalg", "KGS kernels", "LLVM JIT")


@dataclass
class CompiledModel:
    """A model compiled for the host CPU; call it like the torch module (one output tensor)."""

    jit: JitModule
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    convs: list[ConvReport]
    kernel_ir: str = field(repr=False)  # the module after --kgs-lower, for inspection
    compile_seconds: float = 0.0
    tuning: list[TuneResult] = field(default_factory=list)  # what compile(tune=...) measured or found cached, per conv

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


def check_against_eager(
    compiled: Callable[..., torch.Tensor],
    model: torch.nn.Module | Callable[..., torch.Tensor],
    example: torch.Tensor | tuple[torch.Tensor, ...],
) -> tuple[float, float]:
    """(max |compiled - eager|, max |eager|) on ``example``; a mismatch beyond fp32 noise is an error.

    ``model`` is the torch module, or another reference such as an OnnxModel (ONNX Runtime).
    """
    inputs = example if isinstance(example, tuple) else (example,)
    with torch.no_grad():
        expected = (model.eval() if isinstance(model, torch.nn.Module) else model)(*inputs)
    scale = float(expected.abs().max())
    error = float((compiled(*inputs) - expected).abs().max())
    if error > 1e-3 * max(scale, 1.0):
        raise UserError(f"the compiled model differs from torch eager by {error:.3g}: please report this bug")
    return error, scale


def compile(
    model: torch.nn.Module | torch.export.ExportedProgram | OnnxModel,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    target: str = "host",
    threads: int | None = None,
    group_shape: str = "auto",
    tune: "bool | TuningOptions" = False,
    tuning_cache: str | os.PathLike | None = None,
    progress: bool = False,
) -> "CompiledModel | VulkanCompiledModel | Aarch64Build":
    """Compiles ``model`` for the shapes of ``example_input``; returns a callable on torch tensors.

    ``target="vulkan"`` or ``"vulkan-<gpu preset>"`` compiles to SPIR-V plus a manifest instead
    (a :class:`~rt3d_mlir.backends.vulkan.compiler.VulkanCompiledModel`; docs/vulkan.md);
    ``"aarch64"``, ``"aarch64-a55"`` compile to AArch64 objects and a C header
    (a :class:`~rt3d_mlir.backends.aarch64.Aarch64Build`, ``.save(folder)``; docs/aarch64.md).

    Host targets: each conv's schedule comes from the tuning cache ``tuning_cache`` (default:
    :func:`rt3d_mlir.tuning.default_cache_path`) when it holds one for that conv, else from the
    cost model; ``tune=True`` first times the best candidates of every conv the cache lacks and
    adds the winners to it (:mod:`rt3d_mlir.tuning`).

    ``progress=True`` shows a bar over the stages and convs on stderr when it is a terminal
    and the compile takes more than a second.
    """
    if tune and target not in HOST_TARGETS:
        raise UserError(f"tuning times kernels on this machine: it applies to host targets only, not to '{target}'")
    with compile_progress(progress, f"rt3d: compiling for {target}"):
        return _compile(model, example_input, target, threads, group_shape, tune, tuning_cache)


def _compile(
    model: torch.nn.Module | torch.export.ExportedProgram | OnnxModel,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None,
    target: str,
    threads: int | None,
    group_shape: str,
    tune: "bool | TuningOptions",
    tuning_cache: str | os.PathLike | None,
) -> "CompiledModel | VulkanCompiledModel | Aarch64Build":
    if target == "vulkan" or target.startswith("vulkan-"):
        from rt3d_mlir.backends.vulkan.compiler import compile_vulkan

        if threads is not None:
            raise UserError("threads apply to host targets only, not to Vulkan")
        gpu = "desktop" if target == "vulkan" else target.removeprefix("vulkan-")  # "vulkan-" alone is an unknown GPU
        return compile_vulkan(model, example_input, target=gpu, group_shape=group_shape)
    if target == "aarch64" or target.startswith("aarch64-"):
        from rt3d_mlir.backends.aarch64 import compile_model as compile_aarch64, cpu_from_target

        if threads is not None:
            raise UserError("on aarch64 the thread count is chosen at run time (PREFIX_set_threads, docs/aarch64.md)")
        return compile_aarch64(model, example_input, cpu=cpu_from_target(target), group_shape=group_shape)
    if target not in HOST_TARGETS:
        raise UserError(f"target '{target}' is not supported by rt3d_mlir.compile yet; use one of {', '.join(HOST_TARGETS)}, vulkan, aarch64")
    start = time.perf_counter()
    expect(len(HOST_STAGES))
    stage(HOST_STAGES[0])
    if isinstance(model, torch.nn.Module):
        model, _ = fold_batch_norms(model)
    module = import_model(model, example_input)
    stage(HOST_STAGES[1])
    run_pipeline(module, f"sparse3d-from-linalg{{group-shape={group_shape}}}")
    convs = conv_reports(module)
    stage(HOST_STAGES[2])
    run_pipeline(module, ", ".join(KGS_BEFORE_TILE))
    cache_path = Path(tuning_cache) if tuning_cache is not None else default_cache_path()
    tuning: list[TuneResult] = []
    if tune:
        options = tune if isinstance(tune, TuningOptions) else TuningOptions()
        tuning = tune_module(module, resolve(target), TuningCache.load(cache_path), options)
    tile_options = f"target={target}" + (f" tuning-cache={shlex.quote(str(cache_path))}" if cache_path.exists() else "")
    run_pipeline(module, ", ".join(kgs_kernel_steps(tile_options)[len(KGS_BEFORE_TILE):]))
    inputs, output = entry_shapes(entry_type(module, "imported module"))
    kernel_ir = module.operation.get_asm(large_elements_limit=16, assume_verified=True)
    stage(HOST_STAGES[3])
    with module.context:
        jit = JitModule(module)
    compiled = CompiledModel(jit, inputs, output, convs, kernel_ir, time.perf_counter() - start, tuning)
    if threads is not None:
        compiled.set_threads(threads)
    return compiled
