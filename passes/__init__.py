"""Our passes, by name, imported lazily (the named pipelines built from them: :mod:`rt3d_mlir.pipelines`).

Each pass lives in its own module named after it (``sparse3d-from-linalg`` in
``sparse3d_from_linalg.py``). Importing this package imports no pass.
"""

from __future__ import annotations

import importlib

from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass

# pass name -> "module:class", relative to this package
_PASSES: dict[str, str] = {
    "fold-constant-transpose": "fold_constant_transpose:FoldConstantTranspose",
    "gpu-spirv-abi": "gpu_spirv_abi:GpuSpirvAbi",
    "gpu-spirv-embed": "gpu_spirv_embed:GpuSpirvEmbed",
    "matmul-to-vector": "matmul_to_vector:MatmulToVector",
    "memref-copy-to-linalg": "memref_copy_to_linalg:MemrefCopyToLinalg",
    "outline-parallel-bodies": "outline_parallel_bodies:OutlineParallelBodies",
    "pooling-to-vector": "pooling_to_vector:PoolingToVector",
    "parallel-loops-to-gpu-grid": "parallel_loops_to_gpu_grid:ParallelLoopsToGpuGrid",
    "sparse3d-choose-algorithm": "sparse3d_choose_algorithm:Sparse3DChooseAlgorithm",
    "sparse3d-compact": "sparse3d_compact:Sparse3DCompact",
    "sparse3d-from-linalg": "sparse3d_from_linalg:Sparse3DFromLinalg",
    "sparse3d-gpu-tile": "sparse3d_gpu_tile:Sparse3DGpuTile",
    "sparse3d-fuse-epilogue": "sparse3d_fuse_epilogue:Sparse3DFuseEpilogue",
    "sparse3d-tile": "sparse3d_tile:Sparse3DTile",
    "sparse3d-to-gpu": "sparse3d_to_gpu:Sparse3DToGpu",
    "sparse3d-vectorize": "sparse3d_vectorize:Sparse3DVectorize",
    "sparse3d-winograd": "sparse3d_winograd:Sparse3DWinograd",
    "ungroup-convolution": "ungroup_convolution:UngroupConvolution",
}


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


__all__ = ["ModulePass", "is_pass", "pass_class", "pass_names"]
