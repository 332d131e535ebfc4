"""``rt3d compile MODEL --target aarch64 -o DIR``: write the artifacts, optionally run them under qemu against torch.

The options (``--cpu``, ``--features``, ``--name``, ``--qemu-check``) are declared in ``rt3d_mlir.cli``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from rt3d_mlir.backends.aarch64 import toolchain
from rt3d_mlir.backends.aarch64.build import compile_model
from rt3d_mlir.backends.aarch64.cpus import cpu_from_target
from rt3d_mlir.errors import UserError


def default_prefix(model_argument: str) -> str:
    return "rt3d_" + re.sub(r"\W", "_", Path(model_argument).stem)


def run(args: argparse.Namespace, model: object, example: object) -> int:
    if not args.output:
        raise UserError("--target aarch64 writes a folder of artifacts: name it with -o DIR")
    if args.threads is not None or args.repeat is not None:
        raise UserError("--threads and --repeat are for host targets; on aarch64 the thread count is chosen at run "
                        "time (PREFIX_set_threads, or the driver's -t)")
    if args.qemu_check and not isinstance(model, torch.nn.Module):
        raise UserError("--qemu-check compares with torch eager: it needs a zoo model or a pruned checkpoint, not a .pt2 program or an ONNX model")
    if args.qemu_check:  # missing tools (and the driver source, absent from an installed package) before the slow compile
        toolchain.cross_gcc()
        toolchain.qemu()
        toolchain.driver_source()
    preset = cpu_from_target(args.target)  # checks the target even when --cpu is given
    if args.cpu and args.target != "aarch64":
        raise UserError(f"--target {args.target} already names the cpu: use --target aarch64 --cpu {args.cpu}")
    prefix = args.name or default_prefix(args.model)
    build = compile_model(model, example, cpu=args.cpu or preset, features=args.features, prefix=prefix)
    print(f"compiled {args.model} for AArch64 ({build.cpu.llvm_cpu}, {build.cpu.features}) in {build.compile_seconds:.1f} s",
          file=sys.stderr)
    from rt3d_mlir.report import format_table

    print(format_table([f"conv{i}" for i in range(len(build.convs))], build.convs))
    for path in build.save(args.output):
        print(f"wrote {path}", file=sys.stderr)
    if shutil.which(toolchain.CROSS_GCC) is None:
        print(f"no {toolchain.CROSS_GCC} on PATH: shared libraries not linked (link the objects with your toolchain)", file=sys.stderr)
    if args.qemu_check:
        examples = example if isinstance(example, tuple) else (example,)
        with torch.no_grad():
            expected = model.eval()(*examples).numpy()  # type: ignore[union-attr]
        folder = Path(args.output)
        objects = [folder / f"{prefix}-linux-gnu-st.o", folder / f"{prefix}-weights.o"]
        with tempfile.TemporaryDirectory(prefix="rt3d-qemu-") as scratch:
            driver = toolchain.build_driver(folder / f"{prefix}.h", prefix, objects, Path(scratch) / "driver", openmp=False)
            got = toolchain.run_driver(driver, [e.numpy() for e in examples], build.output_shape)
        error, scale = float(np.abs(got - expected).max()), float(np.abs(expected).max())
        print(f"qemu-aarch64: max |compiled - torch eager| = {error:.3g} (outputs up to {scale:.3g})")
        if error > 1e-3 * max(scale, 1.0):
            raise UserError(f"the AArch64 build differs from torch eager by {error:.3g}: please report this bug")
    return 0
