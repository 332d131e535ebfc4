"""The function every compiled model exposes: ``@main``, as the importers name it and the back ends export it."""

from __future__ import annotations

from torch_mlir import ir

from rt3d_mlir.errors import UserError

ENTRY_POINT = "main"


def entry_function(module: ir.Module | ir.Operation, what: str = "module") -> ir.Operation:
    """The module's ``func.func @main``; a module without one is a UserError naming ``what`` it is."""
    operation = module.operation if isinstance(module, ir.Module) else module
    for op in operation.regions[0].blocks[0].operations:
        if op.operation.name == "func.func" and ir.StringAttr(op.attributes["sym_name"]).value == ENTRY_POINT:
            return op.operation
    raise UserError(f"the {what} has no @{ENTRY_POINT} function")


def entry_type(module: ir.Module | ir.Operation, what: str = "module") -> ir.FunctionType:
    """The type of the module's ``@main`` (see :func:`entry_function`)."""
    return ir.FunctionType(ir.TypeAttr(entry_function(module, what).attributes["function_type"]).value)


def entry_shapes(function_type: ir.FunctionType) -> tuple[list[tuple[int, ...]], tuple[int, ...]]:
    """Input shapes and output shape of ``@main``'s type; a model with other than one output is a UserError."""
    if len(function_type.results) != 1:
        raise UserError(f"only models with one output tensor compile for now, this one has {len(function_type.results)}")
    inputs = [tuple(ir.RankedTensorType(t).shape) for t in function_type.inputs]
    return inputs, tuple(ir.RankedTensorType(function_type.results[0]).shape)
