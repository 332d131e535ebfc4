"""Code generation for ``sparse3d.kgs_conv3d`` (docs/cpu-codegen.md; the GPU kernel: docs/vulkan.md).

- ``geometry``: :class:`ConvGeometry` (static sizes of one op), :func:`find_kgs_convs`.
- ``cpu_kgs_kernel``: :func:`emit_kgs_conv3d` (op + Schedule -> upstream scf/vector/memref/linalg code).
- ``gpu_kgs_kernel``: :func:`emit_gpu_kgs_function` (the ``gpu.launch`` function ``sparse3d-to-gpu`` calls).
- ``kernel_ir``: the IR-building helpers both kernels use (index math, loops, buffers, inits).
- ``lowering``: :func:`lower_to_llvm` (bufferize, scf.parallel -> OpenMP, LLVM dialect).
- ``jit``: :class:`JitModule` (host JIT on numpy/torch arrays, thread count), :func:`find_openmp_runtime`.
- ``single_conv``: :class:`CompiledConv`, :class:`ConvSpec`, :func:`build_kgs_conv3d_module`,
  :func:`random_kgs_weight` (one conv end to end: tests and benchmarks).

The strategy that picks a Schedule for a target lives in :mod:`rt3d_mlir.targets.strategy`.
Submodules are imported explicitly, so importing this package stays cheap.
"""
