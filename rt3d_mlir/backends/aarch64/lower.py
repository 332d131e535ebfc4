"""From the module after ``--kgs-lower`` to LLVM IR text and the weight arrays, for one threading variant.

What changes on the way, compared with the host JIT:
- ``@main`` becomes ``@PREFIX_forward`` (a C program has its own ``main``; two
  models can share an app) with a C interface (``_mlir_ciface_PREFIX_forward``).
- ``@PREFIX_set_threads(i32) -> i32`` is added: it calls ``omp_set_num_threads``
  in the OpenMP variant and returns 1 in the single-threaded one.
- After bufferization every constant ``memref.global`` with at least
  ``MIN_EXTRACTED_ELEMENTS`` elements loses its initializer and becomes the
  external symbol ``PREFIX_wN``; its data is returned apart, so the weights
  never go through LLVM IR text (``emit`` places them in the object).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, func
from torch_mlir.dialects import llvm as llvm_dialect

from rt3d_mlir.constants import resource_array
from rt3d_mlir.entry_point import entry_function
from rt3d_mlir.errors import UserError
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.pipelines import BUFFERIZE, to_llvm_steps
from rt3d_mlir.pipeline import run_pipeline

MIN_EXTRACTED_ELEMENTS = 64  # smaller constants (and splats) stay in the IR


@dataclass
class LoweredModel:
    """One variant as LLVM IR (LLVM 24 text, see ``emit.llvm22_compatible``) plus its weights."""

    llvm_ir: str
    weights: dict[str, np.ndarray]  # symbol -> contents, in symbol order
    exports: tuple[str, ...]  # the functions the object exports


def forward_symbol(prefix: str) -> str:
    return f"{prefix}_forward"


def set_threads_symbol(prefix: str) -> str:
    return f"{prefix}_set_threads"


def _body(module: ir.Operation) -> ir.Block:
    return module.regions[0].blocks[0]


def _rename_entry(module: ir.Operation, prefix: str) -> None:
    entry = entry_function(module)
    entry.attributes["sym_name"] = ir.StringAttr.get(forward_symbol(prefix))
    entry.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()


def _add_set_threads(module: ir.Operation, prefix: str, openmp: bool) -> None:
    i32 = ir.IntegerType.get_signless(32)
    with ir.InsertionPoint(_body(module)):
        if openmp:
            func.FuncOp("omp_set_num_threads", ([i32], []), visibility="private")
        set_threads = func.FuncOp(set_threads_symbol(prefix), ([i32], [i32]))
        with ir.InsertionPoint(set_threads.add_entry_block()):
            (threads,) = set_threads.arguments
            if openmp:
                func.CallOp([], ir.FlatSymbolRefAttr.get("omp_set_num_threads"), [threads])
                func.ReturnOp([threads])
            else:
                func.ReturnOp([arith.ConstantOp(i32, 1).result])


def _global_array(op: ir.Operation) -> np.ndarray | None:
    """The contents of a constant memref.global, or None if it stays in the IR (small, splat, uninitialized)."""
    if "initial_value" not in op.attributes or "constant" not in op.attributes:
        return None
    memref_type = ir.MemRefType(ir.TypeAttr(op.attributes["type"]).value)
    if np.prod(memref_type.shape, dtype=np.int64) < MIN_EXTRACTED_ELEMENTS:
        return None
    value = op.attributes["initial_value"]
    if isinstance(value, ir.DenseElementsAttr):
        dense = ir.DenseElementsAttr(value)
        return None if dense.is_splat else np.array(dense)
    return resource_array(op, memref_type)


def extract_weights(module: ir.Operation, prefix: str) -> dict[str, np.ndarray]:
    """Turns the large constant memref.globals into external ``PREFIX_wN`` declarations; returns their data."""
    weights: dict[str, np.ndarray] = {}
    renamed: dict[str, str] = {}
    for op in list(_body(module).operations):
        if op.operation.name != "memref.global":
            continue
        array = _global_array(op.operation)
        if array is None:
            continue
        symbol = f"{prefix}_w{len(weights)}"
        renamed[op.attributes["sym_name"].value] = symbol
        weights[symbol] = np.ascontiguousarray(array)
        op.attributes["sym_name"] = ir.StringAttr.get(symbol)
        for name in ("initial_value", "sym_visibility"):
            del op.attributes[name]
    for use in ops_named(module, "memref.get_global"):
        old = ir.FlatSymbolRefAttr(use.attributes["name"]).value
        if old in renamed:
            use.attributes["name"] = ir.FlatSymbolRefAttr.get(renamed[old])
    return weights


def _check_lowered(module: ir.Operation) -> None:
    left: set[str] = set()

    def visit(op: ir.Operation) -> ir.WalkResult:
        if op.name.split(".")[0] not in ("builtin", "llvm", "omp"):
            left.add(op.name)
        return ir.WalkResult.ADVANCE

    module.walk(visit)
    if left:
        raise UserError(f"the AArch64 back end cannot lower {', '.join(sorted(left))} to LLVM: "
                        "these ops are not supported (yet); the model's other ops are")


def lower_variant(kernel_module: ir.Module, prefix: str, openmp: bool) -> LoweredModel:
    """Lowers a copy of ``kernel_module`` (after --kgs-lower) for one variant; ``kernel_module`` is left as it is."""
    module = kernel_module.operation.clone()
    with module.context, ir.Location.unknown():
        _rename_entry(module, prefix)
        _add_set_threads(module, prefix, openmp)
        run_pipeline(module, ", ".join(BUFFERIZE))
        weights = extract_weights(module, prefix)
        run_pipeline(module, ", ".join(to_llvm_steps(openmp)))
        _check_lowered(module)
        llvm_ir = llvm_dialect.translate_module_to_llvmir(module.operation)
    exports = (f"_mlir_ciface_{forward_symbol(prefix)}", set_threads_symbol(prefix))
    return LoweredModel(llvm_ir, weights, exports)
