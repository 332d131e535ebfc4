"""The AArch64 back end: objects linked with the cross gcc and run under qemu-aarch64 against torch.

Needs aarch64-linux-gnu-gcc and qemu-aarch64 (./dev.sh setup installs them); the
OpenMP variant also needs an AArch64 libomp (./dev.sh unpacks Debian's).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import rt3d_mlir
from rt3d_mlir.errors import UserError
from rt3d_mlir.backends.aarch64 import emit, mca, toolchain
from rt3d_mlir.backends.aarch64.build import Aarch64Build
from rt3d_mlir.backends.aarch64.single_conv import compile_conv
from rt3d_mlir.conv_module import ConvSpec, random_kgs_weight
from rt3d_mlir.demo import C3D_PAPER_PRUNING, prune_randomly
from rt3d_mlir.kgs import GroupShape, compact
from rt3d_mlir.models import build_model, example_input

pytestmark = pytest.mark.skipif(
    not (shutil.which(toolchain.CROSS_GCC) and shutil.which(toolchain.QEMU)), reason="needs aarch64-linux-gnu-gcc and qemu-aarch64"
)
G84 = GroupShape(8, 4)


@functools.cache
def qemu_runs_threads() -> bool:
    """Whether qemu-aarch64 can start a second thread here (some sandboxes hang in its clone emulation)."""
    folder = Path(__file__).parent / "Output"
    folder.mkdir(exist_ok=True)
    source, probe = folder / "thread_probe.c", folder / "thread_probe"
    source.write_text(
        "#include <pthread.h>\nstatic void *run(void *a) { return a; }\n"
        "int main(void) { pthread_t t; return pthread_create(&t, 0, run, 0) || pthread_join(t, 0); }\n"
    )
    subprocess.run([toolchain.CROSS_GCC, str(source), "-o", str(probe), "-lpthread"], check=True)
    try:
        return subprocess.run([toolchain.QEMU, "-L", toolchain.SYSROOT, str(probe)], timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def run_build(build: Aarch64Build, folder: Path, inputs: list[np.ndarray], threads: tuple[int, ...] = (1,), openmp: bool = False) -> list[np.ndarray]:
    """Saves ``build``, links the example driver with one variant, runs it under qemu at each thread count."""
    build.save(folder, shared_library=False)
    suffix = "" if openmp else "-st"
    objects = [folder / f"{build.prefix}-linux-gnu{suffix}.o", folder / f"{build.prefix}-weights.o"]
    driver = toolchain.build_driver(folder / f"{build.prefix}.h", build.prefix, objects, folder / f"driver{suffix}", openmp)
    return [toolchain.run_driver(driver, inputs, build.output_shape, threads=t) for t in threads]


CONV_CASES = {
    # name: (weight shape, kept, input NCDHW, strides, padding (d,h,w lo then hi))
    "tails: 12 filters, 10 channels, W 21": ((12, 10, 3, 3, 3), 0.4, (1, 10, 5, 7, 21), (1, 1, 1), (1, 1, 1, 1, 1, 1)),
    "stride 2, 1x7x7, batch 2": ((8, 4, 1, 7, 7), 0.3, (2, 4, 2, 11, 19), (1, 2, 2), (0, 3, 3, 0, 3, 3)),
    "no padding, odd kernel, W 9": ((16, 8, 3, 1, 3), 0.5, (1, 8, 4, 5, 9), (1, 1, 1), (0, 0, 0, 0, 0, 0)),
}


@pytest.mark.parametrize("name", CONV_CASES)
def test_single_conv_under_qemu_matches_torch(name: str, tmp_path: Path) -> None:
    shape, kept, input_shape, strides, padding = CONV_CASES[name]
    generator = torch.Generator().manual_seed(1)
    weight = random_kgs_weight(shape, G84, kept, generator)
    spec = ConvSpec(input_shape, strides, padding)
    x = torch.randn(input_shape, generator=generator)
    init = torch.randn(spec.output_shape(shape), generator=generator)
    build = compile_conv(compact(weight, G84), spec)
    (got,) = run_build(build, tmp_path, [x.numpy(), init.numpy()])
    d_lo, h_lo, w_lo, d_hi, h_hi, w_hi = padding
    padded = torch.nn.functional.pad(x, (w_lo, w_hi, h_lo, h_hi, d_lo, d_hi))
    expected = (init + torch.nn.functional.conv3d(padded, weight, stride=strides)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-5 * (1 + np.abs(expected).max()))


def test_driver_refuses_an_input_of_another_size(tmp_path: Path) -> None:
    weight = random_kgs_weight((8, 4, 1, 1, 1), G84, 1.0, torch.Generator().manual_seed(0))
    spec = ConvSpec((1, 4, 1, 2, 4), (1, 1, 1), (0, 0, 0, 0, 0, 0))
    build = compile_conv(compact(weight, G84), spec)
    inputs = [np.zeros(33, np.float32), np.zeros(64, np.float32)]  # the first holds one float too many
    with pytest.raises(UserError, match="input0.bin holds more than 32 floats"):
        run_build(build, tmp_path, inputs)


@pytest.fixture(scope="module")
def small_c3d() -> tuple[torch.nn.Module, torch.Tensor, Aarch64Build]:
    clip = (16, 16, 16)
    model = build_model("c3d", width=0.125, input_size=clip)
    prune_randomly(model, C3D_PAPER_PRUNING, G84, seed=1)  # KGS at the paper's 3.6x profile rates
    example = example_input("c3d", input_size=clip)
    return model, example, rt3d_mlir.compile(model, example, target="aarch64", prefix="rt3d_c3d", platforms=("linux-gnu",))


def test_whole_model_both_variants_match_eager(small_c3d, tmp_path: Path) -> None:
    model, example, build = small_c3d
    with torch.no_grad():
        expected = model(example).numpy()
    (single,) = run_build(build, tmp_path / "st", [example.numpy()])
    (openmp,) = run_build(build, tmp_path / "omp", [example.numpy()], openmp=True)
    assert [round(c.kept_fraction, 2) for c in build.convs][1:4] == [0.15, 0.19, 0.15]
    tolerance = 1e-4 * np.abs(expected).max()
    np.testing.assert_allclose(single, expected, atol=tolerance)
    np.testing.assert_allclose(openmp, expected, atol=tolerance)


def test_openmp_variant_at_two_threads(small_c3d, tmp_path: Path) -> None:
    if not qemu_runs_threads():
        pytest.skip("qemu-aarch64 cannot start a thread on this machine (its clone emulation hangs)")
    _, example, build = small_c3d
    one, two = run_build(build, tmp_path, [example.numpy()], threads=(1, 2), openmp=True)
    np.testing.assert_allclose(two, one, rtol=1e-6, atol=1e-6 * np.abs(one).max())


def test_artifacts_objects_header_and_libraries(small_c3d, tmp_path: Path) -> None:
    _, _, build = small_c3d
    names = {path.name for path in build.save(tmp_path)}
    expected = {f"rt3d_c3d{s}" for s in (".h", "-weights.o", ".ll", "-st.ll", "-st.s", "-linux-gnu.o", "-linux-gnu-st.o")}
    assert expected | {"librt3d_c3d.so", "librt3d_c3d-st.so"} <= names
    for name in ("rt3d_c3d-linux-gnu.o", "rt3d_c3d-weights.o", "librt3d_c3d-st.so"):
        described = subprocess.run(["aarch64-linux-gnu-objdump", "-f", str(tmp_path / name)], capture_output=True, text=True, check=True)
        assert "elf64-littleaarch64" in described.stdout and "architecture: aarch64" in described.stdout
    exported = subprocess.run(["aarch64-linux-gnu-nm", "-D", "--defined-only", str(tmp_path / "librt3d_c3d-st.so")],
                              capture_output=True, text=True, check=True).stdout.split()
    assert {"_mlir_ciface_rt3d_c3d_forward", "rt3d_c3d_set_threads"} <= set(exported)
    assert not [s for s in exported if s.startswith(("rt3d_c3d_w", "kgs_conv3d"))]  # weights and kernels stay hidden
    # the header compiles as C and as C++ (-x c++ with the C compiler's front end is not available: C only)
    subprocess.run([toolchain.CROSS_GCC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c",
                    str(tmp_path / "rt3d_c3d.h")], check=True)
    assert "#define RT3D_C3D_INPUT0_SHAPE {1, 3, 16, 16, 16}" in build.header
    jdk = sorted(Path("/usr/lib/jvm").glob("*/include/jni.h"))
    if jdk:  # the Android JNI glue of examples/aarch64 compiles against this model's header
        include = jdk[0].parent
        subprocess.run([toolchain.CROSS_GCC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", f"-I{include}",
                        f"-I{include / 'linux'}", f"-I{tmp_path}", '-DRT3D_MODEL_HEADER="rt3d_c3d.h"', "-DRT3D_PREFIX=rt3d_c3d",
                        str(toolchain.DRIVER_SOURCE.parent / "android" / "rt3d_jni.c")], check=True)


def test_inner_loop_is_lane_fmas_without_spills_for_linux_and_android(tmp_path: Path) -> None:
    # a C3D-like layer, narrower: 16 -> 16 channels, W 28 (7 vectors), 20% of positions kept
    weight = random_kgs_weight((16, 16, 3, 3, 3), G84, 0.2, torch.Generator().manual_seed(0))
    spec = ConvSpec((1, 16, 3, 6, 28), (1, 1, 1), (1, 1, 1, 1, 1, 1))
    build = compile_conv(compact(weight, G84), spec, platforms=("linux-gnu", "android"))
    build.save(tmp_path, shared_library=False)
    for name in ("rt3d_conv-android.o", "rt3d_conv-android-st.o"):
        described = subprocess.run(["aarch64-linux-gnu-objdump", "-f", str(tmp_path / name)], capture_output=True, text=True, check=True)
        assert "elf64-littleaarch64" in described.stdout
    assert emit.target_machine(build.cpu, emit.TRIPLES["android"]).triple == "aarch64-unknown-linux-android"
    loop = mca.inner_loop(build.assembly)
    assert mca.lane_fmas(loop) >= 0.9 * mca.vector_fmas(loop) >= 16
    assert mca.stack_accesses(loop) == []
    if shutil.which(mca.LLVM_MCA):
        assert mca.estimate_loop(loop).fma_utilisation >= 0.85


def test_rt3d_compile_target_aarch64_a55_with_threads_is_an_error() -> None:
    model = build_model("c3d", width=0.125, input_size=(16, 16, 16))
    with pytest.raises(UserError, match="thread count is chosen at run time"):
        rt3d_mlir.compile(model, example_input("c3d", input_size=(16, 16, 16)), target="aarch64-a55", threads=2)
    with pytest.raises(UserError, match="unknown AArch64 target 'aarch64-a99'"):
        rt3d_mlir.compile(model, example_input("c3d", input_size=(16, 16, 16)), target="aarch64-a99")


@pytest.mark.parametrize(
    "options, message",
    [
        (["--cpu", "cortex-a99"], "does not know the cpu 'cortex-a99'"),
        (["--features", "+bogus"], "does not know the feature 'bogus'"),
        (["--features", "dotprod"], "write features as +name or -name"),
        (["--name", "3d-model"], "not a C identifier"),
        (["--target", "aarch64-a99", "--cpu", "a55"], "unknown AArch64 target 'aarch64-a99'"),
        (["--target", "aarch64-a55", "--cpu", "a76"], "--target aarch64-a55 already names the cpu"),
    ],
)
def test_cli_bad_options_are_one_line_errors(options: list[str], message: str, tmp_path: Path, capfd) -> None:
    from rt3d_mlir.cli import main

    arguments = ["compile", "c3d", "--width", "0.125", "--input-size", "16x16x16", "--target", "aarch64", "-o", str(tmp_path)]
    assert main([*arguments, *options]) == 1
    error = capfd.readouterr().err.strip()  # fd 2 too: LLVM's own warnings must not get through
    assert message in error and "\n" not in error and error.startswith("rt3d: error:")


def test_missing_cross_gcc_says_how_to_get_it(tmp_path: Path, monkeypatch, capsys) -> None:
    from rt3d_mlir.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no cross gcc, no qemu
    arguments = ["compile", "c3d", "--width", "0.125", "--input-size", "16x16x16", "--target", "aarch64", "-o", str(tmp_path)]
    assert main([*arguments, "--qemu-check"]) == 1
    error = capsys.readouterr().err.strip()
    assert "apt-get install gcc-aarch64-linux-gnu" in error and "\n" not in error
    with pytest.raises(UserError, match="apt-get install qemu-user"):
        toolchain.qemu()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--emit=asm", "--cpu=cortex-a99"], "LLVM's AArch64 back end does not know the cpu 'cortex-a99'"),
        (["--emit=asm", "--features=+sve9"], "does not know the feature 'sve9'"),
        (["--emit=obj"], "--emit=obj writes a binary file: name it with -o"),
        (["--emit=asm", "--openmp"], "drop --openmp"),
        (["--emit=header", "--openmp"], "--openmp is for --emit=llvm-ir or obj"),
        (["--emit=llvm-ir", "--triple=android"], "drop --triple"),
    ],
)
def test_rt3d_translate_errors_are_one_line(options: list[str], message: str, capfd) -> None:
    from rt3d_mlir.tools.rt3d_translate import main

    source = Path(__file__).parents[1] / "Target" / "AArch64" / "rt3d-translate.mlir"
    assert main([str(source), *options]) == 1
    error = capfd.readouterr().err.strip()
    assert error.startswith("rt3d-translate: error:") and message in error and "\n" not in error


@pytest.mark.parametrize("signature", ["(%a: tensor<?xf32>) -> tensor<?xf32>", "(%a: tensor<2xi64>) -> tensor<2xi64>"])
def test_rt3d_translate_refuses_dynamic_or_non_f32_signatures(signature: str, tmp_path: Path, capsys) -> None:
    from rt3d_mlir.tools.rt3d_translate import main

    source = tmp_path / "model.mlir"
    source.write_text(f"func.func @main{signature} {{\n  return %a : {signature.rsplit('-> ', 1)[1]}\n}}\n")
    assert main([str(source), "--emit=header"]) == 1
    assert "must take f32 tensors of static shape" in capsys.readouterr().err


def test_rt3d_translate_unparsable_input(tmp_path: Path, capsys) -> None:
    from rt3d_mlir.tools.rt3d_translate import main

    source = tmp_path / "bad.mlir"
    source.write_text("func.func @main( {\n")
    assert main([str(source), "--emit=asm"]) == 1
    assert capsys.readouterr().err == f"rt3d-translate: error: cannot parse {source}:1:17: expected non-function type\n"


def test_rt3d_translate_internal_error_is_not_a_traceback(monkeypatch, capsys) -> None:
    from rt3d_mlir import compiler
    from rt3d_mlir.tools.rt3d_translate import main

    def broken(*args: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(compiler, "compile_module", broken)
    source = Path(__file__).parents[1] / "Target" / "AArch64" / "rt3d-translate.mlir"
    assert main([str(source), "--emit=header"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("rt3d-translate: internal error: RuntimeError: simulated bug") and "Traceback" not in error


def test_qemu_check_without_the_driver_source_fails_before_compiling(tmp_path: Path, monkeypatch, capsys) -> None:
    from rt3d_mlir import compiler
    from rt3d_mlir.cli import main

    monkeypatch.setattr(toolchain, "DRIVER_SOURCE", tmp_path / "driver.c")  # as in an installed package
    monkeypatch.setattr(compiler, "compile", lambda *args, **kwargs: pytest.fail("compiled before the check"))
    arguments = ["compile", "c3d", "--width", "0.125", "--input-size", "16x16x16", "--target", "aarch64", "-o", str(tmp_path)]
    assert main([*arguments, "--qemu-check"]) == 1
    assert "driver.c is missing" in capsys.readouterr().err
