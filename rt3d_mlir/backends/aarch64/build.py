"""A whole model to AArch64 artifacts: objects for Linux and Android, OpenMP and single-threaded, a C header.

``compile_model`` (a torch module or program) and ``compile_module`` (an MLIR
module with ``@main``, e.g. ``rt3d import``'s output) return an
:class:`Aarch64Build`; ``save(directory)`` writes it (see docs/aarch64.md)::

    PREFIX.h                      entry points, shapes, tensor layout
    PREFIX-linux-gnu.o            code, OpenMP (LLVM's libomp), aarch64-unknown-linux-gnu
    PREFIX-linux-gnu-st.o         code, single-threaded, only libc
    PREFIX-android.o / -st.o      the same for aarch64-unknown-linux-android
    PREFIX-weights.o              the weights (ELF, AArch64): link it with any one code object
    PREFIX.ll, PREFIX-st.ll       LLVM IR of both variants (the weights are external symbols)
    PREFIX-st.s                   assembly of the single-threaded variant
    libPREFIX.so, libPREFIX-st.so shared libraries (code + weights), when aarch64-linux-gnu-gcc is on PATH
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch_mlir import ir

from rt3d_mlir.backends.aarch64 import toolchain
from rt3d_mlir.backends.aarch64.cpus import Cpu, resolve_cpu
from rt3d_mlir.backends.aarch64.emit import TRIPLES, check_cpu, emit_assembly, emit_object, llvm22_compatible, optimize
from rt3d_mlir.backends.aarch64.header import generate_header
from rt3d_mlir.backends.aarch64.lower import LoweredModel, lower_variant
from rt3d_mlir.backends.aarch64.weights_object import weights_object
from rt3d_mlir.entry_point import ENTRY_POINT, entry_shapes, entry_type
from rt3d_mlir.errors import UserError
from rt3d_mlir.fold import fold_batch_norms
from rt3d_mlir.importer import import_model
from rt3d_mlir.passes import kgs_kernel_steps
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.report import ConvReport, conv_reports
from rt3d_mlir.targets import set_module_target

# Loops are emitted parallel when the schedule has more than one thread; the count itself is
# chosen at run time (PREFIX_set_threads), so any value above 1 gives the same code.
PARALLEL_THREADS = 8
VARIANTS = {"": True, "-st": False}  # file suffix -> OpenMP
_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Aarch64Build:
    """The artifacts of one model, in memory until :meth:`save`."""

    prefix: str
    description: str
    cpu: Cpu
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    convs: list[ConvReport]
    lowered: dict[str, LoweredModel] = field(repr=False)  # by file suffix
    objects: dict[str, bytes] = field(repr=False)  # by "linux-gnu", "linux-gnu-st", "android", ...
    assembly: str = field(repr=False)  # of the single-threaded variant: the kernels without OpenMP plumbing
    header: str = field(repr=False)
    compile_seconds: float = 0.0

    @property
    def platforms(self) -> set[str]:
        return {name.removesuffix("-st") for name in self.objects}

    def save(self, directory: str | Path, shared_library: bool = True) -> list[Path]:
        """Writes the artifacts; links the shared libraries if asked and the cross gcc is on PATH. Returns the paths."""
        folder = Path(directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot create the output folder {folder}: {error.strerror}") from None
        written: list[Path] = []

        def write(name: str, data: str | bytes) -> Path:
            path = folder / name
            try:
                path.write_bytes(data.encode() if isinstance(data, str) else data)
            except OSError as error:
                raise UserError(f"cannot write {path}: {error.strerror}") from None
            written.append(path)
            return path

        write(f"{self.prefix}.h", self.header)
        weights = write(f"{self.prefix}-weights.o", weights_object(self.lowered[""].weights))
        for suffix, lowered in self.lowered.items():
            write(f"{self.prefix}{suffix}.ll", llvm22_compatible(lowered.llvm_ir))
        for name, code in self.objects.items():
            write(f"{self.prefix}-{name}.o", code)
        write(f"{self.prefix}-st.s", self.assembly)
        if shared_library and shutil.which(toolchain.CROSS_GCC) and "linux-gnu" in self.platforms:
            for suffix, openmp in VARIANTS.items():
                code = folder / f"{self.prefix}-linux-gnu{suffix}.o"
                written.append(toolchain.link_shared([code, weights], folder / f"lib{self.prefix}{suffix}.so", openmp))
        return written


def _signature(module: ir.Module) -> tuple[list[tuple[int, ...]], tuple[int, ...]]:
    """``@main``'s input and output shapes, which must be static f32 tensors."""
    function_type = entry_type(module)
    types = [*function_type.inputs, *function_type.results]
    if len(function_type.results) != 1 or not all(
        isinstance(t, ir.RankedTensorType) and isinstance(t.element_type, ir.F32Type) and t.has_static_shape for t in types
    ):
        # static shapes: the header's sizes and the driver's buffers are fixed at compile time
        raise UserError(f"@{ENTRY_POINT} must take f32 tensors of static shape and return one, it is {function_type}")
    return entry_shapes(function_type)


def check_prefix(prefix: str) -> str:
    if not _C_IDENTIFIER.match(prefix):
        raise UserError(f"the name '{prefix}' is not a C identifier: use letters, digits and underscores (e.g. rt3d_c3d)")
    return prefix


def compile_module(
    module: ir.Module,
    prefix: str = "rt3d_model",
    cpu: str | None = None,
    features: str | None = None,
    group_shape: str = "auto",
    description: str = "a model compiled by rt3d-mlir",
    platforms: tuple[str, ...] = tuple(TRIPLES),
) -> Aarch64Build:
    """Compiles ``module`` (linalg on tensors, or after --kgs-lower; sparse3d loaded) in place into artifacts.

    ``platforms``: which of ``linux-gnu`` and ``android`` to emit objects for (both by default).
    """
    start = time.perf_counter()
    check_prefix(prefix)
    unknown = [p for p in platforms if p not in TRIPLES]
    if unknown or not platforms:
        raise UserError(f"unknown platform(s) {', '.join(unknown) or '(none given)'}; use {', '.join(TRIPLES)}")
    core = resolve_cpu(cpu, features)
    check_cpu(core)
    inputs, output = _signature(module)
    run_pipeline(module, f"sparse3d-from-linalg{{group-shape={group_shape}}}")
    convs = conv_reports(module)
    set_module_target(module, core.target(PARALLEL_THREADS))
    # as for the host (rt3d_mlir.compiler): regroup, fuse bias/ReLU epilogues, then schedule for this core
    run_pipeline(module, ", ".join(kgs_kernel_steps(tile_options="")))
    lowered = {suffix: lower_variant(module, prefix, openmp) for suffix, openmp in VARIANTS.items()}
    # one weights object serves both variants: their extracted symbols must be the same arrays
    first, *others = (variant.weights for variant in lowered.values())
    if any(other.keys() != first.keys() or not all(np.array_equal(first[s], array) for s, array in other.items()) for other in others):
        raise RuntimeError("the OpenMP and single-threaded variants extracted different weights")
    objects, assembly = {}, ""
    for suffix, variant in lowered.items():
        optimized = optimize(variant.llvm_ir, set(variant.weights), variant.exports, core)
        for platform in platforms:
            objects[f"{platform}{suffix}"] = emit_object(optimized, core, TRIPLES[platform])
        if suffix == "-st":
            assembly = emit_assembly(optimized, core, TRIPLES[platforms[0]])
    header = generate_header(prefix, description, inputs, output)
    return Aarch64Build(prefix, description, core, inputs, output, convs, lowered, objects, assembly, header,
                        time.perf_counter() - start)


def compile_model(
    model: torch.nn.Module | torch.export.ExportedProgram,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    cpu: str | None = None,
    features: str | None = None,
    prefix: str = "rt3d_model",
    group_shape: str = "auto",
    platforms: tuple[str, ...] = tuple(TRIPLES),
) -> Aarch64Build:
    """Folds batch norms, imports ``model`` for the shapes of ``example_input`` and compiles it for AArch64."""
    check_prefix(prefix)
    check_cpu(resolve_cpu(cpu, features))  # before the slow import
    if isinstance(model, torch.nn.Module):
        model, _ = fold_batch_norms(model)
    module = import_model(model, example_input)
    return compile_module(module, prefix, cpu, features, group_shape, f"{prefix} compiled by rt3d-mlir", platforms)
