"""LLVM IR text -> optimized AArch64 object and assembly, through llvmlite (LLVM 22 with the AArch64 back end).

MLIR in the torch-mlir wheel is LLVM 24: its IR text prints float literals in two
spellings LLVM 22 cannot read (``f0x3FAB4F31``, and shortest decimals such as
``-5.518340e-01`` that are not exact doubles). :func:`llvm22_compatible` rewrites
them as LLVM 22's exact hex doubles; lines holding ``double`` are left alone, as
there a decimal means a double (our models are f32 throughout).

Weights do not go through the text: the ``PREFIX_wN`` symbols the lowered IR
declares are defined by the weights object (``weights_object``); here they are
marked hidden, so code reaches them PC-relative and a shared library does not
export them.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from contextlib import contextmanager
from collections.abc import Iterator

import llvmlite.binding as llvm
import numpy as np

from rt3d_mlir.targets.aarch64 import Cpu
from rt3d_mlir.errors import UserError

# what the artifacts are built for: name -> LLVM triple
TRIPLES = {
    "linux-gnu": "aarch64-unknown-linux-gnu",
    "android": "aarch64-unknown-linux-android",
}

_FLOAT_LITERAL = re.compile(
    r"\bf0x([0-9A-Fa-f]{8})\b|(?<![\w.%@$-])([-+]?\d+\.\d+e[-+]\d+)\b|(?<![\w.%@$-])([-+]?)q?(inf|nan)\b"
)
_LLVM_WARNING = re.compile(r"'([^']+)' is not a recognized (processor|feature) for this target")


def _exact_hex(value: np.float32) -> str:
    return f"0x{struct.unpack('<Q', struct.pack('<d', float(value)))[0]:016X}"


def _float_literal(match: re.Match[str]) -> str:
    if match[1]:
        return _exact_hex(np.frombuffer(bytes.fromhex(match[1])[::-1], np.float32)[0])
    if match[2]:
        return _exact_hex(np.float32(match[2]))
    return _exact_hex(np.float32(match[3] + match[4]))


def llvm22_compatible(llvm_ir: str) -> str:
    """Rewrites the f32 literals of LLVM 24 IR text so that LLVM 22 parses them (see the module docstring)."""
    lines = llvm_ir.splitlines()
    for index, line in enumerate(lines):
        if "double" not in line and ("f0x" in line or "e-" in line or "e+" in line or "inf" in line or "nan" in line):
            lines[index] = _FLOAT_LITERAL.sub(_float_literal, line)
    return "\n".join(lines) + "\n"


def _initialize() -> None:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


@contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """LLVM reports unknown cpus and features on the C stderr: collect those lines."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode(errors="replace").splitlines())


def target_machine(cpu: Cpu, triple: str) -> llvm.TargetMachine:
    _initialize()
    # PIC: the same object links into an executable, a shared library (Android needs .so) or a PIE.
    return llvm.Target.from_triple(triple).create_target_machine(
        cpu=cpu.llvm_cpu, features=cpu.features, opt=3, reloc="pic", codemodel="default"
    )


def check_cpu(cpu: Cpu) -> None:
    """Raises UserError if LLVM does not know the cpu or a feature (it would silently ignore them)."""
    with _captured_stderr() as messages:  # LLVM warns when the machine is made and again when it emits
        machine = target_machine(cpu, TRIPLES["linux-gnu"])
        probe = llvm.parse_assembly("define void @probe() {\n  ret void\n}\n")
        probe.triple = TRIPLES["linux-gnu"]
        machine.emit_object(probe)
    unknown = {(kind, name) for kind, name in ((m[2], m[1]) for m in map(_LLVM_WARNING.search, messages) if m)}
    if unknown:
        kind, name = sorted(unknown)[0]
        hint = "a preset (a76, a55) or an LLVM AArch64 cpu such as cortex-a78" if kind == "processor" else \
            "AArch64 features such as +neon, +dotprod, +fullfp16, +i8mm"
        raise UserError(f"LLVM's AArch64 back end does not know the {'cpu' if kind == 'processor' else 'feature'} "
                        f"'{name.lstrip('+-')}': use {hint}")


def optimize(llvm_ir: str, weight_symbols: set[str], exports: tuple[str, ...], cpu: Cpu) -> llvm.ModuleRef:
    """Parses and optimizes (O3) one variant; only ``exports`` stay visible. The result is the same for every triple."""
    machine = target_machine(cpu, TRIPLES["linux-gnu"])
    module = llvm.parse_assembly(llvm22_compatible(llvm_ir))
    module.triple = TRIPLES["linux-gnu"]
    module.data_layout = str(machine.target_data)
    for function in module.functions:
        if not function.is_declaration and function.name not in exports:
            function.linkage = "internal"
    for variable in module.global_variables:
        if variable.name in weight_symbols:
            variable.visibility = "hidden"
    module.verify()
    builder = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=3))
    builder.getModulePassManager().run(module, builder)
    return module


def emit_object(module: llvm.ModuleRef, cpu: Cpu, triple: str) -> bytes:
    retargeted = module.clone()
    retargeted.triple = triple
    return target_machine(cpu, triple).emit_object(retargeted)


def emit_assembly(module: llvm.ModuleRef, cpu: Cpu, triple: str) -> str:
    retargeted = module.clone()
    retargeted.triple = triple
    return target_machine(cpu, triple).emit_assembly(retargeted)
