"""A static performance model of the inner kernel: llvm-mca over the hot loop of the generated assembly.

This is a model, not a measurement. ``llvm-mca-19 -mcpu=neoverse-n1`` simulates
the loop on Neoverse-N1's scheduling model (LLVM has no Cortex-A76 model and
silently falls back to the A57 for ``cortex-a76``; the N1 is the A76's server
sibling: same core, two 128-bit FP/ASIMD pipes that each issue one FMA per
cycle). It sees no cache misses, no loop overheads outside the block, no
memory bandwidth; the projection scales its cycles per iteration by the number
of inner-loop iterations of a layer.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from rt3d_mlir.errors import UserError

LLVM_MCA = "llvm-mca-19"
MCA_CPU = "neoverse-n1"
FMA_PIPES = 2  # Cortex-A76 / Neoverse-N1: two ASIMD pipes, one 4-lane FMA each per cycle
_LABEL = re.compile(r"^(\.?L\w+):")
_BRANCH = re.compile(r"^\s*(?:b(?:\.\w+)?|cbn?z|tbn?z)\s+(?:[^,]+,\s*)*(\.?L\w+)\s*$")
_LANE_FMA = re.compile(r"^\s*fmla\s+v\d+\.4s,\s*v\d+\.4s,\s*v\d+\.s\[\d\]")
_VECTOR_FMA = re.compile(r"^\s*fmla\s+v\d+\.4s,")  # lane or full-vector operand (LLVM may pick ld1r + fmla)
_STACK_ACCESS = re.compile(r"^\s*(?:ld|st)\w*\s+.*\[sp\b")


def inner_loop(assembly: str) -> list[str]:
    """The instructions of the hot loop: the self-branching block with the most lane FMAs."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in assembly.splitlines():
        line = raw.split("//")[0].rstrip()
        label = _LABEL.match(line)
        if label:
            blocks.append((label[1], []))
        elif blocks and line.strip() and not line.strip().startswith("."):
            blocks[-1][1].append(line.strip())
    loops = []
    for name, body in blocks:
        # the block runs up to its branch back to its own label (code after that is the loop's exit)
        ends = [i for i, instruction in enumerate(body) if (m := _BRANCH.match(instruction)) and m[1] == name]
        if ends:
            loops.append(body[: ends[0] + 1])
    if not loops:
        raise UserError("no loop found in the assembly: is it the output of the AArch64 back end?")
    return max(loops, key=vector_fmas)


def lane_fmas(loop: list[str]) -> int:
    return sum(bool(_LANE_FMA.match(instruction)) for instruction in loop)


def vector_fmas(loop: list[str]) -> int:
    return sum(bool(_VECTOR_FMA.match(instruction)) for instruction in loop)


def stack_accesses(loop: list[str]) -> list[str]:
    """Loads and stores addressing the stack (spills) in the loop."""
    return [instruction for instruction in loop if _STACK_ACCESS.match(instruction)]


@dataclass(frozen=True)
class LoopEstimate:
    instructions: int
    fmas: int  # 4-lane FMAs per iteration
    cycles: float  # per iteration, in llvm-mca's steady state

    @property
    def fma_utilisation(self) -> float:
        """Fraction of the FMA pipes' peak (FMA_PIPES per cycle) the loop keeps busy."""
        return self.fmas / (self.cycles * FMA_PIPES)


def estimate_loop(loop: list[str], iterations: int = 200) -> LoopEstimate:
    """Runs llvm-mca over ``loop``; cycles per iteration from its Total Cycles."""
    mca = shutil.which(LLVM_MCA)
    if mca is None:
        raise UserError(f"{LLVM_MCA} not found on PATH: install LLVM 19's tools (Debian/Ubuntu: apt-get install llvm-19)")
    result = subprocess.run(
        [mca, "-mtriple=aarch64", f"-mcpu={MCA_CPU}", f"-iterations={iterations}"],
        input="\n".join(loop) + "\n", capture_output=True, text=True,
    )
    total = re.search(r"^Total Cycles:\s+(\d+)", result.stdout, re.MULTILINE)
    if result.returncode != 0 or total is None:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise UserError(f"{LLVM_MCA} failed: {detail[0] if detail else 'no output'}")
    return LoopEstimate(len(loop), vector_fmas(loop), int(total[1]) / iterations)
