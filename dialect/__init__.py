"""The ``sparse3d`` dialect (see docs/sparse3d-dialect.md)."""

from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects.ext import DialectAlreadyLoadedError

from rt3d_mlir.dialect.sparse3d import (
    ARRAY_ATTRIBUTE_SIZES,
    KgsConv3dOp,
    Sparse3D,
    array_attribute,
    irdl_module,
    output_size,
    verified_attributes,
)


def load_sparse3d(context: ir.Context) -> None:
    """Makes ``sparse3d`` ops parse, verify and build in ``context`` (idempotent)."""
    with context, ir.Location.unknown():
        try:
            Sparse3D.load()
        except DialectAlreadyLoadedError:
            pass


def make_context() -> ir.Context:
    """A Context with every upstream dialect registered and ``sparse3d`` loaded."""
    context = ir.Context()
    load_sparse3d(context)
    return context


def irdl_definition() -> str:
    """The dialect's IRDL module, for tools that load dialects from IRDL (``rt3d-opt --emit-irdl``)."""
    with ir.Context(), ir.Location.unknown():
        return str(irdl_module())


__all__ = [
    "ARRAY_ATTRIBUTE_SIZES",
    "KgsConv3dOp",
    "Sparse3D",
    "array_attribute",
    "irdl_definition",
    "load_sparse3d",
    "make_context",
    "output_size",
    "verified_attributes",
]
