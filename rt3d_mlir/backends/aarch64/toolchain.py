"""The cross tools around the artifacts: link with ``aarch64-linux-gnu-gcc``, run under ``qemu-aarch64``.

None of them is needed to produce the objects and the header; they make a
shared library (``link_shared``) and run the C driver of ``examples/aarch64``
on this machine (``build_driver``, ``run_driver``). The OpenMP variants need an
AArch64 build of LLVM's OpenMP runtime (``libomp.so.5``): ``./dev.sh setup``
unpacks Debian's ``libomp5-19:arm64`` into ``.venv/aarch64-libomp``; set
``RT3D_AARCH64_OPENMP_DIR`` to use another one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from collections.abc import Mapping, Sequence

import numpy as np

from rt3d_mlir.errors import UserError

CROSS_GCC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64"
SYSROOT = "/usr/aarch64-linux-gnu"  # Debian's cross libc (libc6-arm64-cross), what qemu -L needs
OPENMP_DIR_ENV = "RT3D_AARCH64_OPENMP_DIR"
DRIVER_SOURCE = Path(__file__).resolve().parents[3] / "examples" / "aarch64" / "driver.c"
_ELF_AARCH64 = 183


def cross_gcc() -> str:
    """The cross compiler, or a UserError saying how to get one."""
    found = shutil.which(CROSS_GCC)
    if found is None:
        raise UserError(f"{CROSS_GCC} not found on PATH: install the cross toolchain (Debian/Ubuntu: "
                        "apt-get install gcc-aarch64-linux-gnu), or link the objects with the Android NDK's clang")
    return found


def qemu() -> str:
    found = shutil.which(QEMU)
    if found is None:
        raise UserError(f"{QEMU} not found on PATH: install QEMU's user-mode emulator (Debian/Ubuntu: apt-get install qemu-user)")
    return found


def _is_aarch64_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as elf:
            header = elf.read(20)
    except OSError:
        return False
    return header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == _ELF_AARCH64


def openmp_dir() -> Path | None:
    """A folder holding an AArch64 ``libomp.so.5``: $RT3D_AARCH64_OPENMP_DIR, the one dev.sh unpacks, multiarch."""
    explicit = os.environ.get(OPENMP_DIR_ENV)
    candidates = [Path(explicit)] if explicit else [Path(sys.prefix) / "aarch64-libomp", Path("/usr/lib/aarch64-linux-gnu")]
    for folder in candidates:
        if _is_aarch64_elf(folder / "libomp.so.5"):
            return folder
    if explicit:
        raise UserError(f"{OPENMP_DIR_ENV}={explicit} holds no AArch64 libomp.so.5")
    return None


def require_openmp_dir() -> Path:
    folder = openmp_dir()
    if folder is None:
        raise UserError("no AArch64 OpenMP runtime (libomp.so.5) found: run ./dev.sh setup (it unpacks Debian's "
                        f"libomp5-19:arm64), set {OPENMP_DIR_ENV}, or use the single-threaded (-st) objects")
    return folder


def _run(
    command: Sequence[str], what: str, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(list(command), capture_output=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise UserError(f"{what} did not finish in {error.timeout:.0f} s") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()
        raise UserError(f"{what} failed (exit {result.returncode}): {detail[-1] if detail else 'no output'}")
    return result


def _openmp_link_flags(openmp: bool) -> list[str]:
    if not openmp:
        return []
    folder = require_openmp_dir()
    # -rpath: the driver finds the runtime when run (qemu looks under its -L prefix, then on this machine)
    return [f"-L{folder}", "-l:libomp.so.5", f"-Wl,-rpath,{folder}"]


def link_shared(objects: Sequence[Path], output: Path, openmp: bool) -> Path:
    """``libPREFIX.so`` from code and weights objects; the OpenMP variant records its need of libomp when one is found."""
    folder = openmp_dir() if openmp else None
    flags = [f"-L{folder}", "-l:libomp.so.5"] if folder else []
    _run([cross_gcc(), "-shared", "-o", str(output), *map(str, objects), *flags, "-lm"], f"linking {output.name}")
    return output


def driver_source() -> Path:
    """examples/aarch64/driver.c; it ships with the source tree, not with an installed package."""
    if not DRIVER_SOURCE.exists():
        raise UserError(f"the C driver {DRIVER_SOURCE} is missing: it ships with the rt3d-mlir source tree")
    return DRIVER_SOURCE


def build_driver(header: Path, prefix: str, objects: Sequence[Path], output: Path, openmp: bool) -> Path:
    """Links the example C driver (examples/aarch64/driver.c, in the source tree) with a model's objects."""
    _run(
        [cross_gcc(), "-O2", "-std=c11", "-Wall", "-Werror", f"-I{header.parent}",
         f'-DRT3D_MODEL_HEADER="{header.name}"', f"-DRT3D_PREFIX={prefix}",
         "-o", str(output), str(driver_source()), *map(str, objects), *_openmp_link_flags(openmp), "-lm"],
        f"linking the driver with {objects[0].name}",
    )
    return output


def run_driver(
    driver: Path, inputs: Sequence[np.ndarray], output_shape: tuple[int, ...], threads: int = 1, timeout: float = 300
) -> np.ndarray:
    """Runs the driver under qemu-aarch64 on ``inputs``; returns the model's output."""
    folder = driver.parent
    paths = []
    for index, array in enumerate(inputs):
        path = folder / f"input{index}.bin"
        np.ascontiguousarray(array, dtype=np.float32).tofile(path)
        paths.append(str(path))
    result_path = folder / "output.bin"
    environment = {**os.environ, "KMP_BLOCKTIME": "0"}  # idle OpenMP workers sleep (qemu threads are host threads)
    _run([qemu(), "-L", SYSROOT, str(driver), "-t", str(threads), str(result_path), *paths],
         f"running {driver.name} under {QEMU}", env=environment, timeout=timeout)
    return np.fromfile(result_path, dtype=np.float32).reshape(output_shape)
