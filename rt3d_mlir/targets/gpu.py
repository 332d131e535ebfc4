"""GPU targets (Vulkan compute): the limits the schedule must respect, and how they are spelled in IR.

A :class:`GpuTarget` travels in the IR as the module attribute ``sparse3d.gpu_target``,
like the CPU's ``sparse3d.target``, so every pass after import reads the same facts::

    module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64,
        max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>,
        max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64,
        subgroup_size = 16 : i64}} {...}

The precision variants ``NAME+fp16`` and ``NAME+fp16-math`` add ``fp16 = true`` (f16 weights)
and ``fp16_math = true`` (f16 sums inside each kernel group); absent flags mean f32.

MLIR does not check SPIR-V resource limits, so the strategy
(:mod:`rt3d_mlir.targets.gpu_strategy`) checks every schedule against these and the
Vulkan runner checks the manifest against the real device before dispatching.
:meth:`GpuTarget.spirv_target_env` gives the ``#spirv.target_env`` the SPIR-V
conversion needs (SPIR-V 1.3, Vulkan 1.1 environment).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TypedDict

from torch_mlir import ir

from rt3d_mlir.errors import UserError
from rt3d_mlir.targets import (
    bool_field,
    check_range,
    dict_fields,
    int_array_field,
    int_field,
    module_attribute,
    set_module_attribute,
    string_field,
)

GPU_TARGET_ATTR = "sparse3d.gpu_target"

_TRIPLES = ("max_workgroup_size", "max_workgroup_count")
_FLAGS = ("fp16", "fp16_math")  # optional in the attribute: absent means false
MAX_LIMIT = 2**31 - 1  # the SPIR-V resource limits the target becomes are 32-bit signed
MAX_STORAGE_BUFFER_BYTES = 2**32 - 1  # maxStorageBufferRange is a 32-bit unsigned


@dataclass(frozen=True)
class GpuTarget:
    """A Vulkan GPU as the code generator sees it."""

    name: str
    subgroup_size: int  # threads that execute in lock step (warp / wave / Mali quad-warp)
    max_invocations: int  # maxComputeWorkGroupInvocations
    max_workgroup_size: tuple[int, int, int]  # maxComputeWorkGroupSize
    max_workgroup_count: tuple[int, int, int]  # maxComputeWorkGroupCount
    shared_memory_bytes: int  # maxComputeSharedMemorySize
    max_storage_buffer_bytes: int  # maxStorageBufferRange
    compute_units: int  # shader cores / SMs: the strategy wants a few workgroups per unit
    fp16: bool = False  # store KGS weights as f16 (needs shaderFloat16 and storageBuffer16BitAccess)
    fp16_math: bool = False  # also multiply-accumulate in f16 within each kernel group (implies fp16)

    def __post_init__(self) -> None:
        what = f"GPU target '{self.name}'"
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in ("name", *_FLAGS):
                continue
            if field.name in _TRIPLES and len(value) != 3:
                raise UserError(f"{what}: {field.name} must have 3 entries (x, y, z), got {list(value)}")
            high = MAX_STORAGE_BUFFER_BYTES if field.name == "max_storage_buffer_bytes" else MAX_LIMIT
            for entry in value if field.name in _TRIPLES else (value,):
                check_range(what, field.name, entry, 1, high)
        if self.fp16_math and not self.fp16:
            raise UserError(f"GPU target '{self.name}': fp16_math needs fp16 (f16 weights)")
        if self.subgroup_size > self.max_invocations:
            raise UserError(f"GPU target '{self.name}': subgroup_size {self.subgroup_size} exceeds max_invocations {self.max_invocations}")

    def to_attr(self) -> ir.DictAttr:
        """The ``sparse3d.gpu_target`` attribute (needs an active Context)."""
        i64 = ir.IntegerType.get_signless(64)
        entries: dict[str, ir.Attribute] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "name":
                entries[field.name] = ir.StringAttr.get(value)
            elif field.name in _FLAGS:
                if value:  # absent means false, so f32 targets print as before
                    entries[field.name] = ir.BoolAttr.get(value)
            elif field.name in _TRIPLES:
                entries[field.name] = ir.DenseI64ArrayAttr.get(list(value))
            else:
                entries[field.name] = ir.IntegerAttr.get(i64, value)
        return ir.DictAttr.get(entries)

    @classmethod
    def from_attr(cls, attr: ir.Attribute) -> GpuTarget:
        names = tuple(field.name for field in fields(cls) if field.name not in _FLAGS)
        values = dict_fields(attr, GPU_TARGET_ATTR, names)
        dictionary = ir.DictAttr(attr)
        flags = dict_fields(attr, GPU_TARGET_ATTR, tuple(flag for flag in _FLAGS if flag in dictionary))
        kwargs: dict[str, object] = {flag: bool_field(flags, flag, GPU_TARGET_ATTR) for flag in flags}
        for name in names:
            if name == "name":
                kwargs[name] = string_field(values, name, GPU_TARGET_ATTR)
            elif name in _TRIPLES:
                kwargs[name] = int_array_field(values, name, GPU_TARGET_ATTR, 3)
            else:
                kwargs[name] = int_field(values, name, GPU_TARGET_ATTR)
        return cls(**kwargs)  # type: ignore[arg-type]

    def spirv_target_env(self) -> str:
        """``#spirv.target_env`` text: SPIR-V 1.3 (Vulkan 1.1) with this target's workgroup limits (and f16 storage)."""
        x, y, z = self.max_workgroup_size
        capabilities, extensions = ["Shader"], ["SPV_KHR_storage_buffer_storage_class"]
        if self.fp16:
            capabilities += ["Float16", "StorageBuffer16BitAccess"]
            extensions += ["SPV_KHR_16bit_storage"]
        return (
            f"#spirv.target_env<#spirv.vce<v1.3, [{', '.join(capabilities)}], [{', '.join(extensions)}]>, api=Vulkan, "
            f"#spirv.resource_limits<max_compute_shared_memory_size = {self.shared_memory_bytes}, "
            f"max_compute_workgroup_invocations = {self.max_invocations}, max_compute_workgroup_size = [{x}, {y}, {z}], "
            f"subgroup_size = {self.subgroup_size}>>"
        )


# Limits as the vendors' Vulkan drivers report them (vulkan.gpuinfo.org); compute units are
# typical mid/high-end parts: Mali-G78 MP14-MP24, Adreno 650 (2 SPs x 4 clusters), a desktop GPU's SMs/CUs.
_COUNT = (65535, 65535, 65535)
GPU_PRESETS: dict[str, GpuTarget] = {
    "mali-valhall": GpuTarget("mali-valhall", subgroup_size=16, max_invocations=512, max_workgroup_size=(512, 512, 512),
                              max_workgroup_count=_COUNT, shared_memory_bytes=32 << 10, max_storage_buffer_bytes=1 << 27,
                              compute_units=16),
    "adreno-6xx": GpuTarget("adreno-6xx", subgroup_size=64, max_invocations=1024, max_workgroup_size=(1024, 1024, 64),
                            max_workgroup_count=_COUNT, shared_memory_bytes=32 << 10, max_storage_buffer_bytes=1 << 27,
                            compute_units=8),
    "desktop": GpuTarget("desktop", subgroup_size=32, max_invocations=1024, max_workgroup_size=(1024, 1024, 64),
                         max_workgroup_count=_COUNT, shared_memory_bytes=48 << 10, max_storage_buffer_bytes=(1 << 32) - 1,
                         compute_units=40),
}
DEFAULT_GPU = "desktop"


# Precision variants of every preset: f16 weights, and f16 weights with f16 arithmetic inside kernel groups.
class _PrecisionFlags(TypedDict, total=False):
    fp16: bool
    fp16_math: bool


PRECISION_SUFFIXES: dict[str, _PrecisionFlags] = {"+fp16": {"fp16": True}, "+fp16-math": {"fp16": True, "fp16_math": True}}


def resolve_gpu(name: str) -> GpuTarget:
    """A preset by name (``mali-valhall``, ``adreno-6xx``, ``desktop``), optionally with ``+fp16`` or ``+fp16-math``."""
    preset, plus, suffix = name.partition("+")
    if preset not in GPU_PRESETS or (plus and plus + suffix not in PRECISION_SUFFIXES):
        raise UserError(f"unknown GPU target '{name}'; known: {', '.join(GPU_PRESETS)} (each also as NAME+fp16 or NAME+fp16-math)")
    return replace(GPU_PRESETS[preset], name=name, **PRECISION_SUFFIXES[plus + suffix]) if plus else GPU_PRESETS[preset]


def set_module_gpu_target(module: ir.Module | ir.Operation, target: GpuTarget) -> None:
    """Records ``target`` as the module's ``sparse3d.gpu_target`` attribute."""
    set_module_attribute(module, GPU_TARGET_ATTR, target.to_attr)


def module_gpu_target(module: ir.Module | ir.Operation) -> GpuTarget:
    """The module's ``sparse3d.gpu_target``; a missing one is an error."""
    return GpuTarget.from_attr(module_attribute(module, GPU_TARGET_ATTR, f"a GPU target ({', '.join(GPU_PRESETS)})"))
