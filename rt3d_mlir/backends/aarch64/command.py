"""``rt3d compile MODEL --target aarch64 -o DIR --qemu-check``: run the written artifacts under qemu against torch.

The option is declared by the back end (:class:`rt3d_mlir.backends.aarch64.Aarch64Backend`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from rt3d_mlir.backends.aarch64 import toolchain
from rt3d_mlir.backends.aarch64.build import Aarch64Build
from rt3d_mlir.errors import UserError


def check_qemu_prerequisites() -> None:
    """Missing tools (and the driver source, absent from an installed package) are errors before the slow compile."""
    toolchain.cross_gcc()
    toolchain.qemu()
    toolchain.driver_source()


def qemu_check(build: Aarch64Build, model: torch.nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], folder: Path) -> None:
    """Links the single-threaded object saved in ``folder`` with the C driver, runs it under qemu, compares to eager."""
    examples = example if isinstance(example, tuple) else (example,)
    with torch.no_grad():
        expected = model.eval()(*examples).numpy()
    objects = [folder / f"{build.prefix}-linux-gnu-st.o", folder / f"{build.prefix}-weights.o"]
    with tempfile.TemporaryDirectory(prefix="rt3d-qemu-") as scratch:
        driver = toolchain.build_driver(folder / f"{build.prefix}.h", build.prefix, objects, Path(scratch) / "driver", openmp=False)
        got = toolchain.run_driver(driver, [e.numpy() for e in examples], build.output_shape)
    error, scale = float(np.abs(got - expected).max()), float(np.abs(expected).max())
    print(f"qemu-aarch64: max |compiled - torch eager| = {error:.3g} (outputs up to {scale:.3g})")
    if error > 1e-3 * max(scale, 1.0):
        raise UserError(f"the AArch64 build differs from torch eager by {error:.3g}: please report this bug")
