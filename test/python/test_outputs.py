"""Every command checks its output path before the work: a one-line error, nothing compiled, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from rt3d_mlir import cli
from rt3d_mlir.errors import UserError
from rt3d_mlir.outputs import check_output_file, check_output_folder, write_output
from rt3d_mlir.tools import rt3d_opt, rt3d_translate

TRANSLATE_INPUT = Path(__file__).parents[1] / "Target" / "AArch64" / "rt3d-translate.mlir"
SMALL_C3D = ["c3d", "--width", "0.125", "--input-size", "16x16x16"]


def test_output_file_checks(tmp_path: Path) -> None:
    check_output_file(str(tmp_path / "new.mlir"))
    check_output_file("/dev/null")
    check_output_file(str(tmp_path / "a" / "b.pt"), create_parents=True)
    with pytest.raises(UserError, match="is a directory: name a file"):
        check_output_file(str(tmp_path))
    with pytest.raises(UserError, match="folder .* does not exist"):
        check_output_file(str(tmp_path / "a" / "b.mlir"))
    with pytest.raises(UserError, match="cannot create files in /proc"):
        check_output_file("/proc/x")
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="is not a folder"):
        check_output_file(str(tmp_path / "file" / "b.pt"), create_parents=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # the probes leave nothing


def test_output_folder_checks(tmp_path: Path) -> None:
    check_output_folder(str(tmp_path))
    check_output_folder(str(tmp_path / "new" / "deeper"))
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="is a file: name a folder"):
        check_output_folder(str(tmp_path / "file"))
    with pytest.raises(UserError, match="cannot create files in /proc"):
        check_output_folder("/proc/x")


def test_binary_output_is_written_whole(tmp_path: Path) -> None:
    write_output(str(tmp_path / "code.o"), b"\x7fELF\x00")
    assert (tmp_path / "code.o").read_bytes() == b"\x7fELF\x00"


def _one_line_error(capfd: pytest.CaptureFixture, program: str, message: str) -> None:
    error = capfd.readouterr().err.strip()
    assert error.startswith(f"{program}: error:") and message in error and "\n" not in error, error


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--target", "aarch64", "-o", "/proc/x"], "cannot create files in /proc"),
        (["-o", "{tmp}"], "is a directory: name a file"),
        (["--target", "vulkan", "--no-run", "-o", "{tmp}/file"], "is a file: name a folder"),
    ],
)
def test_rt3d_compile_checks_the_output_before_compiling(options, message, tmp_path, monkeypatch, capfd) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(cli, "load_model_argument", lambda args: pytest.fail("loaded the model before the check"))
    assert cli.main(["compile", *SMALL_C3D, *[o.format(tmp=tmp_path) for o in options]]) == 1
    _one_line_error(capfd, "rt3d", message)


def test_rt3d_import_and_tune_check_the_output_first(tmp_path, monkeypatch, capfd) -> None:
    monkeypatch.setattr(cli, "load_model_argument", lambda args: pytest.fail("loaded the model before the check"))
    assert cli.main(["import", *SMALL_C3D, "-o", str(tmp_path)]) == 1
    _one_line_error(capfd, "rt3d", "is a directory: name a file")
    assert cli.main(["tune", *SMALL_C3D, "--cache", "/proc/x/tuning.json"]) == 1
    _one_line_error(capfd, "rt3d", "cannot write '/proc/x/tuning.json'")
    assert cli.main(["demo", "--plot", str(tmp_path)]) == 1
    _one_line_error(capfd, "rt3d", "--plot")


@pytest.mark.parametrize(("emit", "output", "message"), [
    ("asm", "{tmp}", "is a directory: name a file"),
    ("artifacts", "/proc/x", "cannot create files in /proc"),
    ("obj", "{tmp}/missing/conv.o", "does not exist"),
])
def test_rt3d_translate_checks_the_output_before_compiling(emit, output, message, tmp_path, monkeypatch, capfd) -> None:
    from rt3d_mlir import compiler

    monkeypatch.setattr(compiler, "compile_module", lambda *args: pytest.fail("compiled before the check"))
    assert rt3d_translate.main([str(TRANSLATE_INPUT), f"--emit={emit}", "-o", output.format(tmp=tmp_path)]) == 1
    _one_line_error(capfd, "rt3d-translate", message)


def test_rt3d_opt_checks_the_output_before_parsing(tmp_path, capfd) -> None:
    source = tmp_path / "bad.mlir"
    source.write_text("this is not MLIR")  # the output error comes first: nothing was parsed
    assert rt3d_opt.main([str(source), "-o", str(tmp_path)]) == 1
    _one_line_error(capfd, "rt3d-opt", "is a directory: name a file")
