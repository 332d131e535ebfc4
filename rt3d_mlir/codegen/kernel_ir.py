"""IR-building helpers shared by the kernel emitters, CPU and GPU: index arithmetic, memref types, loops, symbols, inits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from torch_mlir import ir
from torch_mlir.dialects import arith, bufferization, memref, scf

from rt3d_mlir.codegen.kernel_init import InitKind, KernelInit

# Large enough for the widest vector (AVX-512: 64 bytes) so vector rows start aligned when W is.
BUFFER_ALIGNMENT = 64

# ir.Value is Any to mypy (the bindings ship no types): without TypeAlias the union is a variable.
Index: TypeAlias = int | ir.Value


class IndexMath:
    """Index arithmetic that folds Python ints and emits arith ops only for run-time values."""

    def __init__(self) -> None:
        self.type = ir.IndexType.get()

    def value(self, x: Index) -> ir.Value:
        return arith.constant(self.type, x) if isinstance(x, int) else x

    def add(self, *terms: Index) -> Index:
        static = sum(t for t in terms if isinstance(t, int))
        dynamic = [t for t in terms if not isinstance(t, int)]
        if not dynamic:
            return static
        total = dynamic[0]
        for term in dynamic[1:]:
            total = arith.addi(total, term)
        return arith.addi(total, self.value(static)) if static else total

    def mul(self, x: Index, factor: int) -> Index:
        if isinstance(x, int):
            return x * factor
        if factor == 0:
            return 0
        return x if factor == 1 else arith.muli(x, self.value(factor))

    def div(self, x: Index, divisor: int) -> Index:
        if isinstance(x, int):
            return x // divisor
        return x if divisor == 1 else arith.divui(x, self.value(divisor))

    def rem(self, x: Index, divisor: int) -> Index:
        if isinstance(x, int):
            return x % divisor
        return 0 if divisor == 1 else arith.remui(x, self.value(divisor))


def identity_memref(shape: Sequence[int], element_type: ir.Type) -> ir.MemRefType:
    return ir.MemRefType.get(list(shape), element_type)


def row_major_strides(shape: Sequence[int]) -> list[int]:
    strides = [1]
    for size in reversed(shape[1:]):
        strides.insert(0, strides[0] * size)
    return strides


def flat(buffer: ir.Value, size: int) -> ir.Value:
    """A 1-D view of a contiguous buffer: the kernel does its own address arithmetic."""
    rank = ir.MemRefType(buffer.type).rank
    element_type = ir.MemRefType(buffer.type).element_type
    return memref.collapse_shape(identity_memref([size], element_type), buffer, [list(range(rank))])


def for_loop(
    lower: Index, upper: Index, step: int, carried: Sequence[ir.Value],
    body: Callable[[ir.Value, list[ir.Value]], Sequence[ir.Value]], ix: IndexMath,
) -> list[ir.Value]:
    """An scf.for whose body(iv, carried) returns the new carried values; returns the results."""
    loop = scf.ForOp(ix.value(lower), ix.value(upper), ix.value(step), list(carried))
    with ir.InsertionPoint(loop.body):
        scf.YieldOp(list(body(loop.induction_variable, list(loop.inner_iter_args))))
    return list(loop.results)


def for_each(lower: Index, upper: Index, step: int, body: Callable[[ir.Value], None], ix: IndexMath) -> None:
    """An scf.for that carries no values: body(iv) emits the loop's ops."""

    def step_body(iv: ir.Value, _: list[ir.Value]) -> list[ir.Value]:
        body(iv)
        return []

    for_loop(lower, upper, step, [], step_body, ix)


def loop_nest(bounds: Sequence[int], body: Callable[..., None], ix: IndexMath, ivs: tuple = ()) -> None:
    """Sequential scf.for loops over [0, bound) for each bound, calling body(*ivs) innermost."""
    if not bounds:
        body(*ivs)
        return
    for_each(0, bounds[0], 1, lambda iv: loop_nest(bounds[1:], body, ix, (*ivs, iv)), ix)


def if_else(condition: ir.Value, then: Callable[[], None], otherwise: Callable[[], None]) -> None:
    """An scf.if without results: ``then()`` builds its then-region, ``otherwise()`` its else-region."""
    branch = scf.IfOp(condition, [], has_else=True)
    with ir.InsertionPoint(branch.then_block):
        then()
        scf.YieldOp([])
    with ir.InsertionPoint(branch.else_block):
        otherwise()
        scf.YieldOp([])


def in_range(value: Index, bounds: range, ix: IndexMath) -> ir.Value:
    """``bounds.start <= value < bounds.stop`` as an i1."""
    return arith.andi(
        arith.cmpi(arith.CmpIPredicate.sge, ix.value(value), ix.value(bounds.start)),
        arith.cmpi(arith.CmpIPredicate.slt, ix.value(value), ix.value(bounds.stop)),
    )


def accumulate_if(condition: ir.Value, accumulate: Callable[[list[ir.Value]], list[ir.Value]],
                  accumulators: Sequence[ir.Value]) -> list[ir.Value]:
    """``accumulate(accumulators)`` where ``condition`` holds, the accumulators unchanged elsewhere."""
    branch = scf.IfOp(condition, [acc.type for acc in accumulators], has_else=True)
    with ir.InsertionPoint(branch.then_block):
        scf.YieldOp(accumulate(list(accumulators)))
    with ir.InsertionPoint(branch.else_block):
        scf.YieldOp(list(accumulators))
    return list(branch.results)


def unused_symbol(symbol_table_op: ir.Operation, stem: str) -> str:
    taken = {
        ir.StringAttr(op.attributes["sym_name"]).value
        for op in symbol_table_op.regions[0].blocks[0].operations
        if "sym_name" in op.attributes
    }
    return next(f"{stem}_{k}" for k in range(len(taken) + 1) if f"{stem}_{k}" not in taken)


def enclosing_function(operation: ir.Operation) -> ir.Operation:
    """The ``func.func`` that holds ``operation``: a kernel's private function goes before it."""
    function = operation.parent
    while function.name != "func.func":
        function = function.parent
    return function


def read_only_buffer(tensor: ir.Value) -> ir.Value:
    """The identity-layout memref of a tensor argument, read only (one-shot bufferization sees the call)."""
    tensor_type = ir.RankedTensorType(tensor.type)
    return bufferization.to_buffer(identity_memref(tensor_type.shape, tensor_type.element_type), tensor, read_only=True)


def kernel_init(kind: InitKind, arguments: Sequence[ir.Value], output_size: int) -> KernelInit:
    """The init a kernel function reads from its init ``arguments`` (what ``kernel_init.init_source`` found, passed in).

    A full-size init tensor is read as a 1-D buffer of ``output_size`` elements, like the output.
    """
    if kind == InitKind.SCALAR:
        return KernelInit(kind, scalar=arguments[0])
    if kind == InitKind.BIAS:
        return KernelInit(kind, bias=read_only_buffer(arguments[0]))
    bias = read_only_buffer(arguments[1]) if kind == InitKind.TENSOR_PLUS_BIAS else None
    return KernelInit(kind, tensor=flat(read_only_buffer(arguments[0]), output_size), bias=bias)


def outlined_parallel_loop(
    name: str, at: ir.InsertionPoint, operands: Sequence[ir.Value], bounds: Sequence[int], parallel: bool,
    body: Callable[[list[ir.Value], list[ir.Value]], None], ix: IndexMath,
) -> None:
    """Loops over ``bounds`` calling a private function ``name`` (inserted at ``at``) per iteration.

    ``body(operands_inside, ivs)`` builds that function's body. With ``parallel`` the loops are one
    ``scf.parallel`` (the iterations must be independent); the body is outlined because the OpenMP
    lowering wraps a parallel body in a single-block ``memref.alloca_scope``, which the body's own
    loops would otherwise break into several blocks.
    """
    from torch_mlir.dialects import func

    with at:
        kernel = func.FuncOp(name, ([o.type for o in operands] + [ix.type] * len(bounds), []), visibility="private")
    with ir.InsertionPoint(kernel.add_entry_block()):
        arguments = list(kernel.arguments)
        body(arguments[: len(operands)], arguments[len(operands):])
        func.ReturnOp([])

    def call(*ivs: ir.Value) -> None:
        func.CallOp(kernel, [*operands, *ivs])

    if parallel:
        loop = scf.ParallelOp([], [ix.value(0)] * len(bounds), [ix.value(b) for b in bounds], [ix.value(1)] * len(bounds), [])
        block = loop.region.blocks.append(*[ix.type] * len(bounds))
        with ir.InsertionPoint(block):
            call(*block.arguments)
            scf.ReduceOp([], 0)
    else:
        loop_nest(bounds, call, ix)


def erase_if_dead_fill(value: ir.Value) -> None:
    """Erases the ``linalg.fill`` (and its ``tensor.empty``) that produced ``value`` once nothing reads it.

    A kernel that takes a fill init's scalar leaves the fill behind; one-shot bufferization (which
    runs before any clean-up) would turn it into a full write of the output on every call.
    """
    fill = value.owner
    if not isinstance(fill, ir.OpView) or fill.operation.name != "linalg.fill" or list(value.uses):
        return
    empty = fill.operands[1].owner
    fill.operation.erase()
    if isinstance(empty, ir.OpView) and empty.operation.name == "tensor.empty" and not list(empty.results[0].uses):
        empty.operation.erase()
