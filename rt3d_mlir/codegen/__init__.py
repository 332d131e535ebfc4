"""CPU code generation for ``sparse3d.kgs_conv3d`` (docs/cpu-codegen.md).

- ``geometry``: :class:`ConvGeometry` (static sizes of one op), :func:`find_kgs_convs`.
- ``kgs_kernel``: :func:`emit_kgs_conv3d` (op + Schedule -> upstream scf/vector/memref/linalg code).
- ``lowering``: :func:`lower_to_llvm` (bufferize, scf.parallel -> OpenMP, LLVM dialect).
- ``jit``: :class:`JitModule` (host JIT on numpy/torch arrays, thread count), :func:`find_openmp_runtime`.
- ``single_conv``: :class:`CompiledConv`, :class:`ConvSpec`, :func:`build_kgs_conv3d_module`,
  :func:`random_kgs_weight` (one conv end to end: tests and benchmarks).

The strategy that picks a Schedule for a target lives in :mod:`rt3d_mlir.targets.strategy`.
Submodules are imported explicitly, so importing this package stays cheap.
"""
