"""The compile driver: ``rt3d_mlir.compile(model, example_input, target=...)`` for every target.

The front half is the same for all of them: batch norms are folded into the convs
(``rt3d_mlir.fold``), the model is imported with torch-mlir, and ``sparse3d-from-linalg``
turns every constant-filter 3D conv into ``sparse3d.kgs_conv3d`` (dense convs too: a
dense conv is KGS with every position kept). The back end that owns the target name
(:mod:`rt3d_mlir.backends`) finishes: the host JIT-compiles a callable, AArch64 emits
objects and a header, Vulkan emits SPIR-V and a manifest.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Literal, overload
from collections.abc import Callable

import torch

from rt3d_mlir.backends import CompileOptions, backend_for, check_options
from rt3d_mlir.backends.base import Backend
from rt3d_mlir.errors import UserError
from rt3d_mlir.fold import fold_batch_norms
from rt3d_mlir.importer import import_model
from rt3d_mlir.onnx_import import OnnxModel
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.pipelines import DETECT
from rt3d_mlir.progress import compile_progress, expect, stage
from rt3d_mlir.report import conv_reports

if TYPE_CHECKING:
    from torch_mlir import ir

    from rt3d_mlir.backends.aarch64.build import Aarch64Build
    from rt3d_mlir.backends.host.compiled_model import CompiledModel
    from rt3d_mlir.backends.host.tuning import TuningOptions
    from rt3d_mlir.backends.vulkan.compiler import VulkanCompiledModel

# The host back end's targets (rt3d_mlir.backends.host): compile returns a CompiledModel for them.
HostTarget = Literal["host", "host-avx512", "host-avx2"]

# what the progress bar names before the back end's own stages (the convs of sparse3d-from-linalg count too)
FRONT_STAGES = ("torch-mlir import", "sparse3d-from-linalg")


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


@overload
def compile(
    model: torch.nn.Module | torch.export.ExportedProgram | OnnxModel,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    target: HostTarget = "host",
    threads: int | None = None,
    group_shape: str = "auto",
    tune: bool | TuningOptions = False,
    tuning_cache: str | os.PathLike | None = None,
    progress: bool = False,
    **backend_options: Any,
) -> CompiledModel: ...


@overload
def compile(  # tuning applies to host targets only: any other target is a UserError
    model: torch.nn.Module | torch.export.ExportedProgram | OnnxModel,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    target: str = "host",
    threads: int | None = None,
    group_shape: str = "auto",
    *,
    tune: Literal[True] | TuningOptions,
    tuning_cache: str | os.PathLike | None = None,
    progress: bool = False,
    **backend_options: Any,
) -> CompiledModel: ...


@overload
def compile(
    model: torch.nn.Module | torch.export.ExportedProgram | OnnxModel,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    target: str = "host",
    threads: int | None = None,
    group_shape: str = "auto",
    tune: bool | TuningOptions = False,
    tuning_cache: str | os.PathLike | None = None,
    progress: bool = False,
    **backend_options: Any,
) -> CompiledModel | VulkanCompiledModel | Aarch64Build: ...


def compile(
    model: torch.nn.Module | torch.export.ExportedProgram | OnnxModel,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    target: str = "host",
    threads: int | None = None,
    group_shape: str = "auto",
    tune: bool | TuningOptions = False,
    tuning_cache: str | os.PathLike | None = None,
    progress: bool = False,
    **backend_options: Any,
) -> CompiledModel | VulkanCompiledModel | Aarch64Build:
    """Compiles ``model`` for the shapes of ``example_input``; returns a callable on torch tensors or artifacts.

    Targets (``rt3d compile --help`` lists them all): ``host`` (detected) or ``host-avx512`` /
    ``host-avx2`` give a callable :class:`~rt3d_mlir.backends.host.compiled_model.CompiledModel`;
    ``vulkan`` or ``vulkan-<gpu preset>`` SPIR-V plus a manifest
    (:class:`~rt3d_mlir.backends.vulkan.compiler.VulkanCompiledModel`, docs/vulkan.md);
    ``aarch64``, ``aarch64-a55`` AArch64 objects and a C header
    (:class:`~rt3d_mlir.backends.aarch64.build.Aarch64Build`, ``.save(folder)``, docs/aarch64.md).

    Host targets: each conv's schedule comes from the tuning cache ``tuning_cache`` (default:
    :func:`rt3d_mlir.targets.tuning_cache.default_cache_path`) when it holds one for that conv, else
    from the cost model; ``tune=True`` first times the best candidates of every conv the cache lacks
    and adds the winners to it (:mod:`rt3d_mlir.backends.host.tuning`).

    ``backend_options`` are the other fields of :class:`~rt3d_mlir.backends.base.CompileOptions`
    (AArch64: ``prefix``, ``cpu``, ``features``, ``platforms``); an option the target does not
    take is an error, not ignored.

    ``progress=True`` shows a bar over the stages and convs on stderr when it is a terminal
    and the compile takes more than a second.
    """
    options = make_options(group_shape=group_shape, threads=threads, tune=tune, tuning_cache=tuning_cache, **backend_options)
    backend = backend_for(target)
    check_options(backend, target, options)
    with compile_progress(progress, f"rt3d: compiling for {target}"):
        start = time.perf_counter()
        expect(1)
        stage(FRONT_STAGES[0])
        if isinstance(model, torch.nn.Module):
            model, _ = fold_batch_norms(model)
        module = import_model(model, example_input)
        return _finish(module, backend, target, options, start)


def compile_module(module: ir.Module, target: str, options: CompileOptions) -> Any:
    """The same for a module already imported (linalg on tensors, sparse3d ops, or after --kgs-lower), in place."""
    backend = backend_for(target)
    check_options(backend, target, options)
    return _finish(module, backend, target, options, time.perf_counter())


def make_options(**fields: Any) -> CompileOptions:
    """CompileOptions from keyword arguments; an unknown one is a UserError that lists the known ones."""
    known = CompileOptions.__dataclass_fields__
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise UserError(f"unknown compile option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if isinstance(fields.get("platforms"), list):
        fields["platforms"] = tuple(fields["platforms"])
    return CompileOptions(**fields)


def _finish(module: ir.Module, backend: Backend, target: str, options: CompileOptions, start: float) -> Any:
    expect(1 + len(backend.stages))
    backend.prepare(module, target, options)
    stage(FRONT_STAGES[1])
    run_pipeline(module, f"{DETECT}{{group-shape={options.group_shape}}}")
    compiled = backend.finish(module, conv_reports(module), target, options)
    compiled.compile_seconds = time.perf_counter() - start
    return compiled
