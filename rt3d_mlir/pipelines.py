"""The named pipelines, as data: what ``rt3d-opt --kgs-lower`` and the back ends run.

A :class:`Pipeline` is a summary and its steps; a step is one of our passes (with
``{key=value}`` options), another named pipeline, or upstream pipeline text. The
parser and runner that turn steps into a PassManager are in :mod:`rt3d_mlir.pipeline`;
this module imports nothing of ours, so any layer may read it.

Each back end's pipeline is the shared front step (:data:`DETECT`, which turns
constant-filter 3D convs into ``sparse3d.kgs_conv3d``) followed by its own steps
(:func:`cpu_kernel_steps` on the CPUs, :data:`GPU_STEPS` on Vulkan).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pipeline:
    summary: str  # one line, for --help and docs/passes.md
    steps: tuple[str, ...]


# The front step every target shares.
DETECT = "sparse3d-from-linalg"

# What follows sparse3d-from-linalg on every CPU target before the schedules are chosen.
KGS_BEFORE_TILE = ("sparse3d-compact", "sparse3d-fuse-epilogue")


def algorithm_steps(choose_options: str = "default-target=host") -> tuple[str, ...]:
    """After :data:`KGS_BEFORE_TILE`: direct or Winograd per conv (``sparse3d-choose-algorithm`` with ``choose_options``), then Winograd applied."""
    choose = f"sparse3d-choose-algorithm{{{choose_options}}}" if choose_options else "sparse3d-choose-algorithm"
    return (choose, "sparse3d-winograd")


def schedule_steps(tile_options: str = "default-target=host") -> tuple[str, ...]:
    """After :func:`algorithm_steps`: choose the schedules (``sparse3d-tile`` with ``tile_options``), emit the kernels."""
    tile = f"sparse3d-tile{{{tile_options}}}" if tile_options else "sparse3d-tile"
    return (tile, "sparse3d-vectorize", "canonicalize", "cse")


def cpu_kernel_steps(target_options: str = "default-target=host") -> tuple[str, ...]:
    """What follows ``sparse3d-from-linalg`` on every CPU target: compact, fuse epilogues, choose direct or
    Winograd and apply it, schedule, emit kernels (``target_options`` go to both choosing passes)."""
    return (*KGS_BEFORE_TILE, *algorithm_steps(target_options), *schedule_steps(target_options))


# The CPU lowering after --kgs-lower (checked with the torch-mlir 20261001 wheel): the tensor-level
# clean-ups that keep linear layers fast and vectorise pooling, bufferize, then every dialect to LLVM.
BUFFERIZE = (
    "fold-constant-transpose",
    "matmul-to-vector",
    "pooling-to-vector",
    "one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}",
    # one-shot-bufferize frees nothing: without this every intermediate activation leaks on every call.
    "buffer-deallocation-pipeline",
    "canonicalize",
    "cse",
    "memref-copy-to-linalg",
)
TO_LLVM = (
    "convert-linalg-to-loops",
    "loop-invariant-code-motion",
    "convert-vector-to-scf{full-unroll=true}",
    "lower-affine",
    "convert-scf-to-cf",
    "expand-strided-metadata",
    "lower-affine",
    "convert-vector-to-llvm",
    "finalize-memref-to-llvm",
    "convert-to-llvm",
    "reconcile-unrealized-casts",
)


def to_llvm_steps(openmp: bool) -> tuple[str, ...]:
    """From bufferized code to the LLVM dialect; ``openmp``: scf.parallel (and the Winograd transforms'
    scf.forall, made one first, its body outlined) as OpenMP, else as serial loops."""
    return ("scf-forall-to-parallel", "outline-parallel-bodies", "convert-scf-to-openmp" if openmp else "convert-scf-to-cf",
            *TO_LLVM)


def cpu_lowering_steps(openmp: bool) -> tuple[str, ...]:
    """Bufferization, then :func:`to_llvm_steps`."""
    return (*BUFFERIZE, *to_llvm_steps(openmp))


# What follows sparse3d-from-linalg on Vulkan: KGS convs as GPU kernels over compact buffers, the rest
# as GPU loops, all outlined and serialised to SPIR-V.
GPU_STEPS = (
    "sparse3d-gpu-tile{default-target=desktop}", "sparse3d-to-gpu",
    "fold-constant-transpose",
    "one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}",
    "canonicalize", "cse", "memref-copy-to-linalg", "inline", "symbol-dce",
    "convert-linalg-to-parallel-loops", "canonicalize", "parallel-loops-to-gpu-grid", "convert-parallel-loops-to-gpu",
    "canonicalize", "gpu-launch-sink-index-computations", "gpu-kernel-outlining", "lower-affine", "canonicalize", "cse",
    "gpu-spirv-abi", "convert-math-to-spirv", "convert-gpu-to-spirv", "gpu-spirv-embed",
    "gpu.module(spirv.module(spirv-lower-abi-attrs, spirv-update-vce))", "gpu-module-to-binary",
)

PIPELINES: dict[str, Pipeline] = {
    "kgs-lower": Pipeline(
        "Turn constant-filter 3D convs into KGS kernels written in upstream dialects only",
        (DETECT, *cpu_kernel_steps()),
    ),
    "kgs-to-llvm": Pipeline(
        "--kgs-lower, then bufferization and lowering to the LLVM dialect (scf.parallel as OpenMP)",
        ("kgs-lower", *cpu_lowering_steps(openmp=True)),
    ),
    "kgs-to-spirv": Pipeline(
        "KGS convs as GPU kernels over compact buffers, the rest as GPU loops, all outlined and serialised to SPIR-V",
        (DETECT, *GPU_STEPS),
    ),
}
