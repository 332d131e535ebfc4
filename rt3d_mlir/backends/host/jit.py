"""Host JIT: run a function of a lowered module on numpy arrays or torch tensors.

Functions take ranked f32/int tensors (memrefs after bufferization) and return
one tensor. The returned buffer is allocated by the JIT-compiled code with
``malloc``; :meth:`JitModule.call` copies it into a numpy array and frees it.

Threads: ``scf.parallel`` loops are lowered to OpenMP, so the engine loads an
LLVM OpenMP runtime (``libomp``; Debian package ``libomp5-19``), found by
:func:`find_openmp_runtime`. The thread count is set through that runtime
(``omp_set_num_threads``), so one compiled module can be timed at 1 and N threads.

Memory: every call allocates its activations with ``malloc`` and frees them (the
lowering's buffer deallocation). glibc serves blocks over 32 MiB with fresh ``mmap``
pages and gives them back at ``free``, so a full-size C3D call page-faulted ~120 MB
(30,000 faults, as much system time as compute on a fast core). :func:`keep_freed_memory`
(called once, when the first module is built; ``RT3D_KEEP_FREED_MEMORY=0`` skips it)
makes glibc serve large blocks from the heap and keep freed memory: from the second
call on, a model reuses its pages and faults none. The process keeps its peak heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import math
import os
import weakref
import numpy as np
import torch
from torch_mlir import execution_engine, ir, runtime

from rt3d_mlir.backends.host.lowering import lower_to_llvm
from rt3d_mlir.errors import UserError

OPENMP_ENV = "RT3D_OPENMP_LIB"

_LIBC = ctypes.CDLL(None)
_LIBC.free.argtypes = [ctypes.c_void_p]
KEEP_FREED_MEMORY_ENV = "RT3D_KEEP_FREED_MEMORY"
# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_memory_kept = False


def keep_freed_memory() -> bool:
    """Makes glibc keep freed memory in the heap instead of returning it (see the module docstring).

    Returns whether the setting is in force (False without glibc, or when the environment
    variable is ``0``). Idempotent.
    """
    global _memory_kept
    if not _memory_kept and os.environ.get(KEEP_FREED_MEMORY_ENV, "1") != "0" and hasattr(_LIBC, "mallopt"):
        # No mmap for large blocks (they come from the heap) and no trimming of the heap's top.
        _memory_kept = bool(_LIBC.mallopt(_M_MMAP_MAX, 0)) and bool(_LIBC.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _memory_kept


def find_openmp_runtime() -> str | None:
    """Path of an LLVM OpenMP runtime: $RT3D_OPENMP_LIB, the system's libomp, or None."""
    explicit = os.environ.get(OPENMP_ENV)
    if explicit:
        if not os.path.exists(explicit):
            raise UserError(f"{OPENMP_ENV}={explicit} does not exist")
        return explicit
    candidates = sorted(glob.glob("/usr/lib/llvm-*/lib/libomp.so.5"), reverse=True)
    candidates += glob.glob("/usr/lib/*-linux-gnu/libomp.so.5")
    found = ctypes.util.find_library("omp")
    candidates += [found] if found else []
    return next((path for path in candidates if os.path.exists(path)), None)


class JitModule:
    """A module compiled for the host; lowers ``module`` (tensor-level, upstream dialects) in place."""

    def __init__(self, module: ir.Module, opt_level: int = 3, openmp: bool = True) -> None:
        self._openmp_path = find_openmp_runtime() if openmp else None
        if openmp and self._openmp_path is None:
            raise UserError("no LLVM OpenMP runtime found: install libomp5-19 or set " + OPENMP_ENV)
        for func in module.body.operations:
            is_public = "sym_visibility" not in func.attributes or str(func.attributes["sym_visibility"]) == '"public"'
            if func.operation.name == "func.func" and is_public:
                func.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get(module.context)
        lower_to_llvm(module, openmp=openmp)
        keep_freed_memory()
        # Idle OpenMP workers spin for 1 ms (not libomp's 200 ms) before they sleep: long enough to
        # bridge the short serial stretches between a model's parallel loops (waking a sleeping
        # worker cost ~0.1 ms per loop on a 2-core VM: a Winograd conv has ~70 loops, and sleeping
        # at once made C3D on 2 threads 1.2x slower), short enough not to steal the cores from
        # whatever runs after a call (torch's own thread pool, another model).
        os.environ.setdefault("KMP_BLOCKTIME", "1")
        shared_libs = [self._openmp_path] if self._openmp_path else []
        self._engine = execution_engine.ExecutionEngine(module, opt_level=opt_level, shared_libs=shared_libs)
        self._openmp = ctypes.CDLL(self._openmp_path) if self._openmp_path else None

    @property
    def max_threads(self) -> int:
        return self._openmp.omp_get_max_threads() if self._openmp else 1

    def set_threads(self, threads: int) -> None:
        """Threads for the following calls (1 when the module was built without OpenMP)."""
        if self._openmp:
            self._openmp.omp_set_num_threads(threads)
        elif threads != 1:
            raise UserError("this module was compiled without OpenMP: only 1 thread")

    def dump_object(self, path: str | os.PathLike) -> None:
        """Writes the compiled code as an object file (for profilers: see ``bench/profile_model.py``)."""
        self._engine.dump_to_object_file(str(path))

    def address_of(self, name: str) -> int:
        """Where the JIT placed the symbol ``name`` (``main`` resolves to its packed wrapper, ``_mlir_main``)."""
        return self._engine.raw_lookup(name)

    def invoke(self, name: str, *pointers: ctypes._Pointer) -> None:
        """Calls @name with raw ctypes pointers (one per argument, memref descriptors as pointer-to-pointer)."""
        self._engine.invoke(name, *pointers)

    def call(self, name: str, *arguments: np.ndarray | torch.Tensor, result_rank: int) -> np.ndarray:
        """Calls @name with tensors; returns its one f32 result of rank ``result_rank`` as a numpy array.

        The array views the buffer the compiled code allocated (no copy) and frees it when
        the array (and every view of it) is gone.
        """
        arrays = [np.ascontiguousarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a) for a in arguments]
        descriptors = [runtime.get_ranked_memref_descriptor(a) for a in arrays]
        result = runtime.make_nd_memref_descriptor(result_rank, ctypes.c_float)()
        pointers = [ctypes.pointer(ctypes.pointer(d)) for d in descriptors]
        self._engine.invoke(name, ctypes.pointer(ctypes.pointer(result)), *pointers)
        if any(result.allocated == d.allocated for d in descriptors):
            # The code returned an argument's buffer unchanged: it is not ours to free.
            return runtime.ranked_memref_to_numpy([result]).copy()
        shape = tuple(result.shape)
        element_strides = tuple(result.strides)
        if element_strides != tuple(np.cumprod((1, *shape[:0:-1]))[::-1]):
            raise RuntimeError(f"expected a contiguous result, got strides {element_strides} for shape {shape}")
        address = ctypes.addressof(result.aligned.contents) + result.offset * ctypes.sizeof(ctypes.c_float)
        array = np.ctypeslib.as_array((ctypes.c_float * max(1, math.prod(shape))).from_address(address))
        array = array[: math.prod(shape)].reshape(shape)
        weakref.finalize(array, _LIBC.free, result.allocated)
        return array
