"""Code generation mechanisms for ``sparse3d.kgs_conv3d``, pooling and matmuls (docs/cpu-codegen.md; the GPU kernel: docs/vulkan.md).

- ``cpu_kgs_kernel``: :func:`emit_kgs_conv3d` (op + Schedule -> upstream scf/vector/memref/linalg code),
  dispatching to ``w_vector_kernel`` or ``filter_vector_kernel``.
- ``gpu_kgs_kernel``: :func:`emit_gpu_kgs_function` (the ``gpu.launch`` function ``sparse3d-to-gpu`` calls).
- ``kernel_ir``: the IR-building helpers both kernels use (index math, loops, buffers, inits);
  ``padded_input``, ``kernel_init``: the padded input, what sums start from.
- ``pooling``, ``matmul``, ``elementwise``, ``filter_order``: the other ops the passes rewrite.

What a conv is (its geometry, its kept pattern) is read in :mod:`rt3d_mlir.dialect`; the strategy
that picks a Schedule for a target lives in :mod:`rt3d_mlir.targets.strategy`; lowering to LLVM and
the JIT belong to the host back end (:mod:`rt3d_mlir.backends.host`). Submodules are imported
explicitly, so importing this package stays cheap.
"""
