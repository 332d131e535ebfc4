"""Back ends, one per family of targets, looked up by target name (the interface: :mod:`rt3d_mlir.backends.base`).

| back end | targets | finishes with |
|---|---|---|
| ``host`` (:mod:`rt3d_mlir.backends.host`) | ``host``, ``host-avx512``, ``host-avx2`` | KGS kernels, LLVM JIT: a callable :class:`~rt3d_mlir.backends.host.compiled_model.CompiledModel` |
| ``aarch64`` (:mod:`rt3d_mlir.backends.aarch64`) | ``aarch64``, ``aarch64-a76``, ``aarch64-a55`` | objects for Linux and Android, a C header (docs/aarch64.md) |
| ``vulkan`` (:mod:`rt3d_mlir.backends.vulkan`) | ``vulkan``, ``vulkan-<gpu>`` | SPIR-V modules and a manifest, runnable on a local device (docs/vulkan.md) |

A back end's module is imported on first use and imports neither torch nor LLVM
itself, so listing the targets (``rt3d compile --help``) stays cheap. Adding a
target family means adding its module and one line here.
"""

from __future__ import annotations

import importlib
from functools import cache

from rt3d_mlir.backends.base import Backend, CompileOptions, unsupported_target
from rt3d_mlir.errors import UserError

# family -> "module:class"
_BACKENDS = {
    "host": "rt3d_mlir.backends.host:HostBackend",
    "aarch64": "rt3d_mlir.backends.aarch64:Aarch64Backend",
    "vulkan": "rt3d_mlir.backends.vulkan:VulkanBackend",
}


@cache
def all_backends() -> tuple[Backend, ...]:
    """Every back end, in the order of the table above."""
    instances = []
    for path in _BACKENDS.values():
        module_name, _, class_name = path.partition(":")
        instances.append(getattr(importlib.import_module(module_name), class_name)())
    return tuple(instances)


def backend_for(target: str) -> Backend:
    """The back end that owns ``target``; a UserError naming every supported target otherwise."""
    for backend in all_backends():
        if backend.owns(target):
            return backend
    raise unsupported_target(target, list(all_backends()))


def check_options(backend: Backend, target: str, options: CompileOptions) -> None:
    """A UserError for an option ``target`` does not take (it would be ignored silently), then the back end's own checks."""
    owners: dict[str, list[Backend]] = {}
    for other in all_backends():
        for name in other.options:
            owners.setdefault(name, []).append(other)
    problem = backend.misplaced(target, options, owners)
    if problem:
        raise UserError(problem)
    backend.check(target, options)


__all__ = ["Backend", "CompileOptions", "all_backends", "backend_for", "check_options"]
