"""``outline-parallel-bodies``: the body of each ``scf.parallel`` as a call of a private function.

Input (after bufferization and ``scf-forall-to-parallel``: the Winograd transforms' per-plane
loop, whose body is still a ``linalg.generic``)::

  scf.parallel (%plane) = (%c0) to (%c64) step (%c1) {
    %in = memref.subview %taps[0, %plane, 0, 0, 0] [1, 1, 4, 6, 7] [1, 1, 1, 1, 1] : ...
    %out = memref.subview %result[0, %plane, 0, 0, 0] [1, 1, 4, 6, 7] [1, 1, 1, 1, 1] : ...
    linalg.generic {...} ins(%in : ...) outs(%out : ...) {...}
    scf.reduce
  }

Output: ``scf.parallel (%plane) ... { func.call @parallel_body_N(%taps, %result, %plane) ; scf.reduce }``
with the subviews and the generic moved into ``@parallel_body_N``, whose arguments are the
values the body used from outside it, then the loop's induction variables. Why:
``convert-scf-to-openmp`` wraps a loop body in a ``memref.alloca_scope``, which must stay one
block, and the loops a ``linalg.generic`` later becomes are blocks once ``convert-scf-to-cf``
runs. Our kernels are outlined when they are built; this covers every other parallel loop.
A body that is already one call (and the loop's ``scf.reduce``) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import func

from rt3d_mlir.codegen.kernel_ir import enclosing_function, unused_symbol
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass


def _is_inside(operation: ir.Operation, ancestor: ir.Operation) -> bool:
    """Whether ``operation`` is nested (at any depth) in a region of ``ancestor``."""
    current = operation.parent
    while current is not None:
        if current == ancestor:
            return True
        current = current.parent
    return False


def _defined_inside(value: ir.Value, loop: ir.Operation) -> bool:
    owner = value.owner
    if isinstance(owner, ir.Block):  # a block argument: the loop's induction variables, or a nested block's
        parent = owner.owner
        return parent == loop or _is_inside(parent, loop)
    return _is_inside(owner.operation, loop)


def _nested_ops(operations: list[ir.Operation]) -> list[ir.Operation]:
    found: list[ir.Operation] = []

    def visit(operation: ir.Operation) -> ir.WalkResult:
        found.append(operation)
        return ir.WalkResult.ADVANCE

    for operation in operations:
        operation.walk(visit)
    return found


@dataclass(frozen=True)
class OutlineParallelBodies(ModulePass):
    name = "outline-parallel-bodies"
    summary = "Move each scf.parallel body that is more than one call into a private function it calls"

    def apply(self, module: ir.Operation) -> None:
        for loop in ops_named(module, "scf.parallel"):
            body = loop.regions[0].blocks[0]
            *work, terminator = [op.operation for op in body.operations]
            if not work or (len(work) == 1 and work[0].name == "func.call"):
                continue
            if terminator.name != "scf.reduce" or len(terminator.operands):
                continue  # a reduction carries values out of the body: not a plain parallel loop
            self._outline(module, loop, body, work)

    @staticmethod
    def _outline(module: ir.Operation, loop: ir.Operation, body: ir.Block, work: list[ir.Operation]) -> None:
        nested = _nested_ops(work)
        induction = list(body.arguments)
        captured: list[ir.Value] = []
        for op in nested:
            for operand in op.operands:
                if not _defined_inside(operand, loop) and operand not in captured:
                    captured.append(operand)
        parameters = captured + induction
        with loop.context, loop.location:
            name = unused_symbol(module, "parallel_body")
            with ir.InsertionPoint(enclosing_function(loop)):
                function = func.FuncOp(name, ([value.type for value in parameters], []), visibility="private")
            entry = function.add_entry_block()
            with ir.InsertionPoint(entry):
                end = func.ReturnOp([])
            for op in work:
                op.move_before(end)
            replacement = dict(zip(parameters, entry.arguments))
            for op in nested:
                for index, operand in enumerate(op.operands):
                    if operand in replacement:
                        op.operands[index] = replacement[operand]
            with ir.InsertionPoint.at_block_terminator(body):
                func.CallOp(function, parameters)
