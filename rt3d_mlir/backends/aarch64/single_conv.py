"""One KGS conv compiled for AArch64: what the qemu tests and the llvm-mca estimate take.

The module is :func:`rt3d_mlir.conv_module.build_kgs_conv3d_module`'s
(``conv(input, init) -> init + conv3d(input, W)``) with the function renamed
``@main``, so the artifacts and the header are those of a whole model with two inputs.
"""

from __future__ import annotations

from torch_mlir import ir

from rt3d_mlir.backends.aarch64.build import Aarch64Build, build_artifacts, check_build_options
from rt3d_mlir.conv_module import FUNCTION_NAME, ConvSpec, build_kgs_conv3d_module
from rt3d_mlir.dialect import make_context
from rt3d_mlir.kgs import CompactKGS
from rt3d_mlir.report import conv_reports


def compile_conv(
    kgs: CompactKGS,
    spec: ConvSpec,
    cpu: str | None = None,
    prefix: str = "rt3d_conv",
    platforms: tuple[str, ...] = ("linux-gnu",),
) -> Aarch64Build:
    """The artifacts of one conv; its header takes (input, init) and returns init + conv."""
    core = check_build_options(cpu, None, prefix, platforms)
    with make_context(), ir.Location.unknown():
        module = build_kgs_conv3d_module(kgs, spec)
        for op in module.body.operations:
            if op.operation.name == "func.func" and op.attributes["sym_name"].value == FUNCTION_NAME:
                op.attributes["sym_name"] = ir.StringAttr.get("main")
        return build_artifacts(module, conv_reports(module), core, prefix, f"one KGS conv {kgs.weight_shape}", platforms)
