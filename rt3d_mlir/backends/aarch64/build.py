"""A whole model to AArch64 artifacts: objects for Linux and Android, OpenMP and single-threaded, a C header.

``rt3d_mlir.compile(model, clip, target="aarch64")`` (and ``rt3d-translate`` for an MLIR
module with ``@main``) end in :func:`build_artifacts`, which returns an
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
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch_mlir import ir

from rt3d_mlir.backends.aarch64 import toolchain
from rt3d_mlir.targets.aarch64 import Cpu, resolve_cpu
from rt3d_mlir.backends.aarch64.emit import TRIPLES, check_cpu, emit_assembly, emit_object, llvm22_compatible, optimize
from rt3d_mlir.backends.aarch64.header import generate_header
from rt3d_mlir.backends.aarch64.lower import LoweredModel, lower_variant
from rt3d_mlir.backends.aarch64.weights_object import weights_object
from rt3d_mlir.entry_point import ENTRY_POINT, entry_shapes, entry_type
from rt3d_mlir.errors import UserError
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.pipelines import cpu_kernel_steps
from rt3d_mlir.report import ConvReport
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
        if shared_library and "linux-gnu" in self.platforms and shutil.which(toolchain.CROSS_GCC) is None:
            print(f"no {toolchain.CROSS_GCC} on PATH: shared libraries not linked (link the objects with your toolchain)",
                  file=sys.stderr)
        elif shared_library and "linux-gnu" in self.platforms:
            for suffix, openmp in VARIANTS.items():
                linux_object = folder / f"{self.prefix}-linux-gnu{suffix}.o"
                written.append(toolchain.link_shared([linux_object, weights], folder / f"lib{self.prefix}{suffix}.so", openmp))
        return written


def entry_signature(module: ir.Module) -> tuple[list[tuple[int, ...]], tuple[int, ...]]:
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


def check_build_options(cpu: str | None, features: str | None, prefix: str, platforms: tuple[str, ...]) -> Cpu:
    """The core to compile for; a UserError for a bad prefix, platform, cpu or feature (before anything slow)."""
    check_prefix(prefix)
    unknown = [p for p in platforms if p not in TRIPLES]
    if unknown or not platforms:
        raise UserError(f"unknown platform(s) {', '.join(unknown) or '(none given)'}; use {', '.join(TRIPLES)}")
    core = resolve_cpu(cpu, features)
    check_cpu(core)
    return core


def build_artifacts(
    module: ir.Module,
    convs: list[ConvReport],
    core: Cpu,
    prefix: str,
    description: str,
    platforms: tuple[str, ...],
) -> Aarch64Build:
    """The artifacts of ``module`` after the front step (sparse3d loaded): kernels scheduled for ``core``, both variants."""
    inputs, output = entry_signature(module)
    set_module_target(module, core.target(PARALLEL_THREADS))
    # as for the host: regroup, fuse bias/ReLU epilogues, direct or Winograd, then schedule for this core
    run_pipeline(module, ", ".join(cpu_kernel_steps(target_options="")))
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
    return Aarch64Build(prefix, description, core, inputs, output, convs, lowered, objects, assembly, header)
