"""Finding ops in IR before rewriting them (a rewrite must not run inside the walk that finds its op)."""

from __future__ import annotations

from torch_mlir import ir


def ops_named(root: ir.Operation, name: str) -> list[ir.Operation]:
    """Every op called ``name`` nested in ``root`` (``root`` included), in walk order."""
    found: list[ir.Operation] = []

    def visit(operation: ir.Operation) -> ir.WalkResult:
        if operation.name == name:
            found.append(operation)
        return ir.WalkResult.ADVANCE

    root.walk(visit)
    return found
