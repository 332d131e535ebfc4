"""Our passes, by name, imported lazily; and the named pipelines built from them.

Each pass lives in its own module named after it (``sparse3d-from-linalg`` in
``sparse3d_from_linalg.py``). Importing this package imports no pass.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass

if TYPE_CHECKING:
    from torch_mlir.ir import Context
    from torch_mlir.passmanager import PassManager

# pass name -> "module:class", relative to this package
_PASSES: dict[str, str] = {
    "fold-constant-transpose": "fold_constant_transpose:FoldConstantTranspose",
    "gpu-spirv-abi": "gpu_spirv_abi:GpuSpirvAbi",
    "gpu-spirv-embed": "gpu_spirv_embed:GpuSpirvEmbed",
    "matmul-to-vector": "matmul_to_vector:MatmulToVector",
    "memref-copy-to-linalg": "memref_copy_to_linalg:MemrefCopyToLinalg",
    "pooling-to-vector": "pooling_to_vector:PoolingToVector",
    "parallel-loops-to-gpu-grid": "parallel_loops_to_gpu_grid:ParallelLoopsToGpuGrid",
    "sparse3d-compact": "sparse3d_compact:Sparse3DCompact",
    "sparse3d-from-linalg": "sparse3d_from_linalg:Sparse3DFromLinalg",
    "sparse3d-gpu-tile": "sparse3d_gpu_tile:Sparse3DGpuTile",
    "sparse3d-fuse-epilogue": "sparse3d_fuse_epilogue:Sparse3DFuseEpilogue",
    "sparse3d-tile": "sparse3d_tile:Sparse3DTile",
    "sparse3d-to-gpu": "sparse3d_to_gpu:Sparse3DToGpu",
    "sparse3d-vectorize": "sparse3d_vectorize:Sparse3DVectorize",
    "ungroup-convolution": "ungroup_convolution:UngroupConvolution",
}

# The CPU lowering after --kgs-lower (checked with the torch-mlir 20261001 wheel): the tensor-level
# clean-ups that keep linear layers fast and vectorise pooling, bufferize, map scf.parallel to OpenMP, then every dialect to LLVM.
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



# What follows sparse3d-from-linalg on every CPU target before the schedules are chosen.
KGS_BEFORE_TILE = ("sparse3d-compact", "sparse3d-fuse-epilogue")


def kgs_kernel_steps(tile_options: str = "default-target=host") -> tuple[str, ...]:
    """What follows ``sparse3d-from-linalg`` on every CPU target: compact, fuse epilogues, schedule, emit kernels."""
    tile = f"sparse3d-tile{{{tile_options}}}" if tile_options else "sparse3d-tile"
    return (*KGS_BEFORE_TILE, tile, "sparse3d-vectorize", "canonicalize", "cse")


# pipeline name -> (summary, elements); an element is one of our passes or upstream pipeline text
PIPELINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "kgs-lower": (
        "Turn constant-filter 3D convs into KGS kernels written in upstream dialects only",
        ("sparse3d-from-linalg", *kgs_kernel_steps()),
    ),
    "kgs-to-llvm": (
        "--kgs-lower, then bufferization and lowering to the LLVM dialect (scf.parallel as OpenMP)",
        ("kgs-lower", *BUFFERIZE, "convert-scf-to-openmp", *TO_LLVM),
    ),
    "kgs-to-spirv": (
        "KGS convs as GPU kernels over compact buffers, the rest as GPU loops, all outlined and serialised to SPIR-V",
        (
            "sparse3d-from-linalg", "sparse3d-gpu-tile{default-target=desktop}", "sparse3d-to-gpu",
            "fold-constant-transpose",
            "one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}", "canonicalize", "cse", "memref-copy-to-linalg", "inline", "symbol-dce",
            "convert-linalg-to-parallel-loops", "canonicalize", "parallel-loops-to-gpu-grid", "convert-parallel-loops-to-gpu", "canonicalize",
            "gpu-launch-sink-index-computations", "gpu-kernel-outlining", "lower-affine", "canonicalize", "cse",
            "gpu-spirv-abi", "convert-math-to-spirv", "convert-gpu-to-spirv", "gpu-spirv-embed",
            "gpu.module(spirv.module(spirv-lower-abi-attrs, spirv-update-vce))", "gpu-module-to-binary",
        ),
    ),
}


def add_kgs_lower(manager: PassManager, context: Context | None = None) -> None:
    """Appends ``--kgs-lower`` to a PassManager on builtin.module, so another MLIR pipeline can embed it."""
    _add_named_pipeline(manager, "kgs-lower", context)


def add_kgs_to_llvm(manager: PassManager, context: Context | None = None) -> None:
    """Appends ``--kgs-to-llvm`` (``--kgs-lower``, bufferization, lowering to LLVM) to a PassManager."""
    _add_named_pipeline(manager, "kgs-to-llvm", context)


def _add_named_pipeline(manager: PassManager, name: str, context: Context | None) -> None:
    from torch_mlir import ir

    from rt3d_mlir.dialect import load_sparse3d
    from rt3d_mlir.pipeline import add_steps, parse_element

    context = context or ir.Context.current
    load_sparse3d(context)
    with context:
        add_steps(manager, parse_element(name))


def pass_names() -> list[str]:
    return sorted(_PASSES)


def is_pass(name: str) -> bool:
    return name in _PASSES


def pass_class(name: str) -> type[ModulePass]:
    """The class of pass ``name``, importing its module on first use."""
    if name not in _PASSES:
        raise UserError(f"unknown pass '{name}'")
    module_name, _, class_name = _PASSES[name].partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)


__all__ = ["ModulePass", "PIPELINES", "add_kgs_lower", "add_kgs_to_llvm", "is_pass", "pass_class", "pass_names"]
