"""From upstream tensor/scf/vector code (what ``--kgs-lower`` leaves) to the LLVM dialect.

The pass lists live with the named pipelines (:mod:`rt3d_mlir.pipelines`). Two traps they avoid, checked with the torch-mlir 20261001 wheel:
- ``memref.copy`` between strided buffers needs the ``memrefCopy`` runtime
  function, which the wheel's runtime lacks: ``memref-copy-to-linalg`` turns
  every copy into ``linalg.copy``, which lowers to loops.
- ``scf.parallel`` is turned into OpenMP (``omp.parallel`` + ``omp.wsloop``)
  before the loops go to ``cf``: the JIT then needs an LLVM OpenMP runtime
  (``rt3d_mlir.backends.host.jit`` loads one).
"""

from __future__ import annotations

from torch_mlir import ir

from rt3d_mlir.pipelines import cpu_lowering_steps
from rt3d_mlir.pipeline import run_pipeline


def to_llvm_pipeline(openmp: bool = True) -> str:
    """The pipeline; ``openmp`` maps scf.parallel to OpenMP (else it runs sequentially)."""
    return ", ".join(cpu_lowering_steps(openmp))


def lower_to_llvm(module: ir.Module, openmp: bool = True) -> None:
    """Bufferizes and lowers ``module`` in place to the LLVM dialect."""
    run_pipeline(module, to_llvm_pipeline(openmp))
