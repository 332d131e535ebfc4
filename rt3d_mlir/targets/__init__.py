"""CPU targets: what the code generator needs to know about a machine, and how it is spelled in IR.

A :class:`Target` is a small description (vector width in f32 lanes, vector
registers, per-core L1 data cache, cores, full-width FMAs issued per cycle). It
travels in the IR as a dictionary attribute on the module, so every pass after
import reads the same facts::

    module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2",
                                          vector_fmas_per_cycle = 2 : i64, vector_lanes = 8 : i64,
                                          vector_registers = 16 : i64}} {...}

(``vector_fmas_per_cycle`` may be left out: it is 2 then.)

The strategy that turns a target and a conv into a schedule lives in
:mod:`rt3d_mlir.targets.strategy`; the code that applies a schedule lives in
:mod:`rt3d_mlir.codegen`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from dataclasses import dataclass, replace
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from torch_mlir import ir

from rt3d_mlir.attributes import UnreadableAttribute, lookup
from rt3d_mlir.errors import UserError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

TARGET_ATTR = "sparse3d.target"
MAX_VECTOR_LANES = 64  # f32 lanes: 2048-bit vectors
MAX_CORES = 1 << 16
_Record = TypeVar("_Record", bound="DataclassInstance")


@dataclass(frozen=True)
class Target:
    """A CPU as the code generator sees it."""

    name: str
    vector_lanes: int  # f32 lanes of one SIMD register (a power of two)
    vector_registers: int  # architectural SIMD registers
    l1_bytes: int  # per-core L1 data cache: the strategy sizes the input slab of a channel chunk to it
    cores: int  # threads the generated code may use
    # Full-width vector FMAs one core issues per cycle: 2 on most cores (two FMA pipes), 1 where a
    # full-width FMA issues as two halves (Zen 4's 512-bit, Zen 1's 256-bit). The cost models count
    # vector FMA issue slots; work that is not FMAs (transforms, weights streamed from memory) costs
    # cycles, this many slots each.
    vector_fmas_per_cycle: int = 2

    def __post_init__(self) -> None:
        what = f"target '{self.name}'"
        lanes = self.vector_lanes
        if not 1 <= lanes <= MAX_VECTOR_LANES or lanes & (lanes - 1):
            raise UserError(f"{what}: vector_lanes must be a power of two from 1 to {MAX_VECTOR_LANES}, got {lanes}")
        check_range(what, "vector_registers", self.vector_registers, 4, 256)
        check_range(what, "l1_bytes", self.l1_bytes, 4 << 10, 1 << 30)
        check_range(what, "cores", self.cores, 1, MAX_CORES)
        check_range(what, "vector_fmas_per_cycle", self.vector_fmas_per_cycle, 1, 4)

    def to_attr(self) -> ir.DictAttr:
        """The ``sparse3d.target`` attribute (needs an active Context)."""
        i64 = ir.IntegerType.get_signless(64)
        return ir.DictAttr.get(
            {
                "name": ir.StringAttr.get(self.name),
                "vector_lanes": ir.IntegerAttr.get(i64, self.vector_lanes),
                "vector_registers": ir.IntegerAttr.get(i64, self.vector_registers),
                "l1_bytes": ir.IntegerAttr.get(i64, self.l1_bytes),
                "cores": ir.IntegerAttr.get(i64, self.cores),
                "vector_fmas_per_cycle": ir.IntegerAttr.get(i64, self.vector_fmas_per_cycle),
            }
        )

    @classmethod
    def from_attr(cls, attr: ir.Attribute) -> Target:
        fields = dict_fields(attr, TARGET_ATTR, ("name", "vector_lanes", "vector_registers", "l1_bytes", "cores"))
        optional = "vector_fmas_per_cycle"  # IR written before it existed leaves it out: the default then
        if optional in ir.DictAttr(attr):
            fields.update(dict_fields(attr, TARGET_ATTR, (optional,)))
        integers = {name: int_field(fields, name, TARGET_ATTR) for name in fields if name != "name"}
        return cls(name=string_field(fields, "name", TARGET_ATTR), **integers)


def dict_fields(attr: ir.Attribute, what: str, names: tuple[str, ...]) -> dict[str, ir.Attribute]:
    """The entries ``names`` of the dictionary attribute ``attr`` (called ``what`` in errors); a missing one is an error."""
    if not isinstance(attr, ir.DictAttr):
        try:
            attr = ir.DictAttr(attr)
        except ValueError:
            raise UserError(f"{what} must be a dictionary attribute, got {attr}") from None
    missing = [name for name in names if name not in attr]
    if missing:
        raise UserError(f"{what} lacks {', '.join(missing)}: {attr}")
    return {name: _entry(attr, name, what) for name in names}


def _entry(attr: ir.DictAttr, name: str, what: str) -> ir.Attribute:
    try:
        return lookup(attr, name)
    except UnreadableAttribute as error:
        raise UserError(f"{what}: {name} cannot be {error}") from None


def check_range(what: str, name: str, value: int, low: int, high: int) -> None:
    """A UserError unless ``low <= value <= high``; ``what`` names the record, ``name`` the field."""
    if not low <= value <= high:
        raise UserError(f"{what}: {name} must be from {low} to {high}, got {value}")


def string_field(fields: dict[str, ir.Attribute], name: str, what: str) -> str:
    """The string entry ``name`` of a dictionary attribute (called ``what`` in errors)."""
    try:
        return ir.StringAttr(fields[name]).value
    except ValueError:
        raise UserError(f"{what}: {name} must be a string, got {fields[name]}") from None


def int_field(fields: dict[str, ir.Attribute], name: str, what: str) -> int:
    """The integer entry ``name`` (any integer type but i1: ``true`` is not a count)."""
    attr = fields[name]
    try:
        integer = ir.IntegerAttr(attr)
    except ValueError:
        integer = None
    if integer is None or (isinstance(integer.type, ir.IntegerType) and integer.type.width == 1):
        raise UserError(f"{what}: {name} must be an integer such as 8 : i64, got {attr}")
    return integer.value


def int_array_field(fields: dict[str, ir.Attribute], name: str, what: str, length: int) -> tuple[int, ...]:
    """The ``array<i64: ...>`` entry ``name`` with exactly ``length`` elements."""
    attr = fields[name]
    try:
        values = tuple(ir.DenseI64ArrayAttr(attr))
    except ValueError:
        values = None
    if values is None or len(values) != length:
        example = ", ".join(["1"] * length)
        raise UserError(f"{what}: {name} must be an array of {length} integers such as array<i64: {example}>, got {attr}")
    return values


def bool_field(fields: dict[str, ir.Attribute], name: str, what: str) -> bool:
    """The ``true``/``false`` entry ``name``."""
    try:
        return ir.BoolAttr(fields[name]).value
    except ValueError:
        raise UserError(f"{what}: {name} must be true or false, got {fields[name]}") from None


def int_fields_attr(record: DataclassInstance) -> ir.DictAttr:
    """A dataclass of whole numbers as a dictionary of i64 attributes (needs an active Context)."""
    i64 = ir.IntegerType.get_signless(64)
    return ir.DictAttr.get({f.name: ir.IntegerAttr.get(i64, getattr(record, f.name)) for f in dataclasses.fields(record)})


def int_fields_from_attr(cls: type[_Record], attr: ir.Attribute, what: str) -> _Record:
    """The dataclass ``cls`` back from :func:`int_fields_attr`'s dictionary."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    values = dict_fields(attr, what, names)
    return cls(**{name: int_field(values, name, what) for name in names})


# Cores and cache are properties of the machine the code runs on, not of the ISA: presets
# say 1 core and a typical L1d (Skylake-SP and Zen 32 KiB, Cortex-A76 64 KiB);
# "host" reads both from the running machine.
PRESETS: dict[str, Target] = {
    "host-avx512": Target("host-avx512", vector_lanes=16, vector_registers=32, l1_bytes=32 << 10, cores=1),
    "host-avx2": Target("host-avx2", vector_lanes=8, vector_registers=16, l1_bytes=32 << 10, cores=1),
    "aarch64-neon": Target("aarch64-neon", vector_lanes=4, vector_registers=32, l1_bytes=64 << 10, cores=1),
}


def _cpuinfo() -> dict[str, str]:
    """The first processor's entries of /proc/cpuinfo (empty where there is none)."""
    entries: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                entries[key.strip()] = value.strip()
    except OSError:
        pass
    return entries


def _host_isa_preset(cpuinfo: dict[str, str]) -> str:
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return "aarch64-neon"
    flags = set(cpuinfo.get("flags", "").split())
    if "avx512f" in flags:
        return "host-avx512"
    if "avx2" in flags and "fma" in flags:
        return "host-avx2"
    raise UserError(f"the host CPU ({machine}) has neither AVX2+FMA nor AVX-512 nor NEON; name a target explicitly")


def _host_l1d_bytes() -> int | None:
    """The per-core L1 data cache size from sysfs (Linux), or None."""
    for index in range(8):
        folder = f"/sys/devices/system/cpu/cpu0/cache/index{index}"
        try:
            with open(f"{folder}/level", encoding="ascii") as level, open(f"{folder}/type", encoding="ascii") as kind:
                if level.read().strip() != "1" or kind.read().strip() != "Data":
                    continue
            with open(f"{folder}/size", encoding="ascii") as size:
                text = size.read().strip()
        except OSError:
            return None
        scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
        return int(text.rstrip("KM")) * scale
    return None


def vector_fmas_per_cycle(preset: str, cpuinfo: dict[str, str]) -> int:
    """Full-width FMAs per cycle of the host's cores at ``preset``'s width: 1 on AMD Zen 4 with AVX-512
    (family 25) and Zen 1 / Zen+ with AVX2 (family 23, models below 0x30), whose FMA pipes are half as
    wide; 2 everywhere else (Intel cores with AVX-512 or AVX2, Zen 2, Zen 3, Zen 5, NEON cores)."""
    if cpuinfo.get("vendor_id") != "AuthenticAMD":
        return 2
    try:
        family, model = int(cpuinfo.get("cpu family", "")), int(cpuinfo.get("model", ""))
    except ValueError:
        return 2
    if (preset == "host-avx512" and family == 25) or (preset == "host-avx2" and family == 23 and model < 0x30):
        return 1
    return 2


def host_target() -> Target:
    """The machine this process runs on: its best preset, with its L1d size, its FMA rate and the cores this
    process may use."""
    cpuinfo = _cpuinfo()
    name = _host_isa_preset(cpuinfo)
    preset = PRESETS[name]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return replace(preset, cores=cores, l1_bytes=_host_l1d_bytes() or preset.l1_bytes,
                   vector_fmas_per_cycle=vector_fmas_per_cycle(name, cpuinfo))


def resolve(name: str) -> Target:
    """``"host"`` (detected) or a preset name."""
    if name == "host":
        return host_target()
    if name not in PRESETS:
        raise UserError(f"unknown target '{name}'; known: host, {', '.join(PRESETS)}")
    return PRESETS[name]


def set_module_attribute(module: ir.Module | ir.Operation, name: str, attribute: Callable[[], ir.Attribute]) -> None:
    """Sets the module attribute ``name`` to ``attribute()`` (built inside the module's Context)."""
    operation = module.operation if isinstance(module, ir.Module) else module
    with operation.context:
        operation.attributes[name] = attribute()


def module_attribute(module: ir.Module | ir.Operation, name: str, what_to_set: str) -> ir.Attribute:
    """The module attribute ``name``; a missing one is an error that says what to set."""
    operation = module.operation if isinstance(module, ir.Module) else module
    if name not in operation.attributes:
        raise UserError(f"the module has no {name} attribute: set {what_to_set}")
    return dictionary_attribute(operation, name)


def dictionary_attribute(operation: ir.Operation | ir.OpView, name: str) -> ir.Attribute:
    """The attribute ``name`` of ``operation``, which holds a dictionary (:func:`dict_fields` checks that it does).

    One the bindings cannot represent (``array<si32: ...>``) is a UserError here.
    """
    try:
        return lookup(operation.attributes, name)
    except UnreadableAttribute as error:
        raise UserError(f"{name} must be a dictionary attribute, got {error}") from None


def set_module_target(module: ir.Module | ir.Operation, target: Target) -> None:
    """Records ``target`` as the module's ``sparse3d.target`` attribute."""
    set_module_attribute(module, TARGET_ATTR, target.to_attr)


def module_target(module: ir.Module | ir.Operation) -> Target:
    """The module's ``sparse3d.target``; a missing one is an error (set it, or run with --target)."""
    return Target.from_attr(module_attribute(module, TARGET_ATTR, "a target (e.g. host, host-avx2, aarch64-neon)"))
