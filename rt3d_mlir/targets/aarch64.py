"""AArch64 CPUs: what llvmlite is told (cpu, features) and what the schedule strategy is told (a Target).

Presets:

| preset | LLVM cpu | what | L1d |
|---|---|---|---|
| ``a76`` (default) | ``cortex-a76`` | the big cores of a Snapdragon 855/865 class phone, Neoverse-N1 boards | 64 KiB |
| ``a55`` | ``cortex-a55`` | the little cores of the same phones, low-end boards | 32 KiB |

Both have NEON with 32 128-bit vector registers (4 f32 lanes), which is what the
strategy sees (``aarch64-neon`` with the core's L1d). Any other AArch64 CPU LLVM
knows can be named too (``--cpu neoverse-n1``); it is scheduled like the A76.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rt3d_mlir.errors import UserError
from rt3d_mlir.targets import PRESETS, Target

NEON = PRESETS["aarch64-neon"]
_FEATURE = re.compile(r"^[+-][a-z0-9][a-z0-9.-]*$")


@dataclass(frozen=True)
class Cpu:
    """One AArch64 core as the back end sees it."""

    name: str  # preset or LLVM cpu name
    llvm_cpu: str
    features: str  # LLVM feature string, e.g. "+neon,+dotprod"
    l1_bytes: int

    def target(self, threads: int) -> Target:
        """The strategy's view: NEON (4 lanes, 32 registers), this core's L1d; ``threads`` > 1 emits parallel loops."""
        return replace(NEON, name=f"aarch64-{self.name}", l1_bytes=self.l1_bytes, cores=threads)


PRESET_CPUS: dict[str, Cpu] = {
    "a76": Cpu("a76", "cortex-a76", "+neon", 64 << 10),
    "a55": Cpu("a55", "cortex-a55", "+neon", 32 << 10),
}
DEFAULT_CPU = "a76"


def parse_features(text: str) -> str:
    """Checks the spelling of a feature list (``+dotprod,-crypto``); LLVM checks the names (``emit.check_cpu``)."""
    features = [part.strip() for part in text.split(",") if part.strip()]
    for feature in features:
        if not _FEATURE.match(feature):
            raise UserError(f"bad AArch64 feature '{feature}': write features as +name or -name, comma-separated (e.g. +neon,+dotprod)")
    return ",".join(features)


def resolve_cpu(name: str | None = None, features: str | None = None) -> Cpu:
    """A preset (``a76``, ``a55``) or an LLVM AArch64 cpu name, with extra ``features`` appended.

    Names LLVM does not know are rejected later, when the target machine is made
    (:func:`rt3d_mlir.backends.aarch64.emit.check_cpu`): LLVM itself is the list.
    """
    name = name or DEFAULT_CPU
    cpu = PRESET_CPUS.get(name.removeprefix("cortex-")) or Cpu(name, name, "+neon", NEON.l1_bytes)
    if features:
        cpu = replace(cpu, features=",".join(filter(None, (cpu.features, parse_features(features)))))
    if "-neon" in cpu.features.split(","):
        raise UserError("the AArch64 back end emits NEON code: '-neon' cannot be used")
    return cpu


def cpu_from_target(target: str) -> str:
    """``aarch64`` -> the default preset, ``aarch64-a55`` -> ``a55``; the target names rt3d_mlir.compile takes."""
    if target == "aarch64":
        return DEFAULT_CPU
    preset = target.removeprefix("aarch64-")
    if preset not in PRESET_CPUS:
        raise UserError(f"unknown AArch64 target '{target}'; use aarch64 or {', '.join('aarch64-' + p for p in PRESET_CPUS)}")
    return preset
