"""From upstream tensor/scf/vector code (what ``--kgs-lower`` leaves) to the LLVM dialect.

Checked with the torch-mlir 20261001 wheel. Two traps it avoids:
- ``memref.copy`` between strided buffers needs the ``memrefCopy`` runtime
  function, which the wheel's runtime lacks; the kernel copies with
  ``linalg.copy``, which lowers to loops here.
- ``scf.parallel`` is turned into OpenMP (``omp.parallel`` + ``omp.wsloop``)
  before the loops go to ``cf``: the JIT then needs an LLVM OpenMP runtime
  (``rt3d_mlir.codegen.jit`` loads one).
"""

from __future__ import annotations

from torch_mlir import ir, passmanager

BUFFERIZE = (
    "one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}",
    "canonicalize",
    "cse",
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


def to_llvm_pipeline(openmp: bool = True) -> str:
    """The textual pipeline; ``openmp`` maps scf.parallel to OpenMP (else it runs sequentially)."""
    parallel = ("convert-scf-to-openmp",) if openmp else ("convert-scf-to-cf",)
    return "builtin.module(" + ",".join((*BUFFERIZE, *parallel, *TO_LLVM)) + ")"


def lower_to_llvm(module: ir.Module, openmp: bool = True) -> None:
    """Bufferizes and lowers ``module`` in place to the LLVM dialect."""
    with module.context:
        passmanager.PassManager.parse(to_llvm_pipeline(openmp)).run(module.operation)
