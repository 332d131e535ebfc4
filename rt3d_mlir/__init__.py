"""rt3d-mlir: an MLIR compiler and pruning toolkit for KGS-sparse 3D CNNs.

The names below load lazily, so that ``import rt3d_mlir`` (and rt3d-opt) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "import_model": "rt3d_mlir.importer",
    "run_pipeline": "rt3d_mlir.pipeline",
    "make_context": "rt3d_mlir.dialect",
    "compile": "rt3d_mlir.compiler",
    "load_pruned_model": "rt3d_mlir.prune",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rt3d_mlir' has no attribute '{name}'")


__all__ = ["__version__", *_LAZY]
