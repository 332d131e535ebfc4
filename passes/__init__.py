"""Our passes, by name, imported lazily; and the named pipelines built from them.

Each pass lives in its own module named after it (``sparse3d-from-linalg`` in
``sparse3d_from_linalg.py``). Importing this package imports no pass.
"""

from __future__ import annotations

import importlib

from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass

# pass name -> "module:class", relative to this package
_PASSES: dict[str, str] = {
    "sparse3d-from-linalg": "sparse3d_from_linalg:Sparse3DFromLinalg",
}

# pipeline name -> (summary, elements); an element is one of our passes or upstream pipeline text
PIPELINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "kgs-lower": (
        "Turn constant-filter 3D convs into KGS kernels written in upstream dialects only",
        ("sparse3d-from-linalg", "sparse3d-compact", "sparse3d-tile", "sparse3d-vectorize", "canonicalize", "cse"),
    ),
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


__all__ = ["ModulePass", "PIPELINES", "is_pass", "pass_class", "pass_names"]
