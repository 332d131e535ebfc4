"""rt3d-opt driver behaviour that lit cannot easily show: internal errors, atomic output, user errors."""

import re
from pathlib import Path

import pytest

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.passes.sparse3d_from_linalg import Sparse3DFromLinalg
from rt3d_mlir.tools import rt3d_opt

CONV = Path(__file__).parents[1] / "Passes" / "sparse3d-from-linalg.mlir"


def test_internal_error_prints_a_reproducer_not_a_traceback(monkeypatch, tmp_path, capsys):
    def broken(self, conv, names):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(Sparse3DFromLinalg, "_rewrite", broken)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    output = tmp_path / "out.mlir"
    status = rt3d_opt.main([str(CONV), "--split-input-file", "--sparse3d-from-linalg=group-shape=1x1", "-o", str(output)])
    err = capsys.readouterr().err
    assert status == 1
    assert "internal error: RuntimeError: simulated bug" in err and "Traceback" not in err
    command = re.search(r"Reproduce it with:\n  (rt3d-opt (\S+) --pass-pipeline='(.*)')", err)
    assert command is not None
    assert command[3] == "builtin.module(sparse3d-from-linalg{group-shape=1x1})"
    assert "linalg.conv_3d_ncdhw_fcdhw" in Path(command[2]).read_text()
    assert not output.exists()


def test_reproducers_go_to_the_user_cache_and_only_the_newest_are_kept(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(Sparse3DFromLinalg, "_rewrite", lambda self, conv, names: 1 / 0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "rt3d-mlir" / "reproducers"
    written = []
    for _ in range(rt3d_opt.KEPT_REPRODUCERS + 2):
        assert rt3d_opt.main([str(CONV), "--sparse3d-from-linalg=group-shape=1x1"]) == 1
        err = capsys.readouterr().err
        assert f"({folder} keeps the last {rt3d_opt.KEPT_REPRODUCERS} reproducers)" in err
        written.append(Path(re.search(r"Reproduce it with:\n  rt3d-opt (\S+) ", err)[1]))
    assert all(path.parent == folder for path in written)
    assert sorted(folder.iterdir()) == sorted(written[-rt3d_opt.KEPT_REPRODUCERS:])  # the oldest are gone


def test_failure_leaves_an_existing_output_untouched(tmp_path, capsys):
    source = tmp_path / "bad.mlir"
    source.write_text("func.func @f() {\n  %0 = arith.constant 1 : i33x\n}\n")
    output = tmp_path / "out.mlir"
    output.write_text("previous contents")
    assert rt3d_opt.main([str(source), "-o", str(output)]) == 1
    assert output.read_text() == "previous contents"
    assert f"{source}:2:26: error: expected non-function type" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rt3d-")]


def test_success_writes_the_output(tmp_path):
    output = tmp_path / "out.mlir"
    assert rt3d_opt.main([str(CONV), "--split-input-file", "--sparse3d-from-linalg=group-shape=1x1", "-o", str(output)]) == 0
    assert output.read_text().count('"sparse3d.kgs_conv3d"') == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sparse3d-from-linalg=candidates="], "option 'candidates' lists no group shape"),
        (["--sparse3d-from-linalg=group-shape"], "group shape must look like 8x4"),
        (["--kgs-lower=x=1"], "pipeline 'kgs-lower' takes no options"),
        (["-p", "canonicalize", "--cse"], "either with --pass-pipeline or as flags"),
    ],
)
def test_bad_pass_options_are_one_line_errors(args, message, capsys):
    assert rt3d_opt.main([str(CONV), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_output_to_a_device_is_written_in_place(capsys):
    assert rt3d_opt.main([str(CONV), "--split-input-file", "-o", "/dev/null"]) == 0
    assert Path("/dev/null").is_char_device()


def test_new_output_files_follow_the_umask(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        output = tmp_path / "out.mlir"
        assert rt3d_opt.main([str(CONV), "--split-input-file", "-o", str(output)]) == 0
    finally:
        os.umask(previous)
    assert output.stat().st_mode & 0o777 == 0o644


def test_unwritable_output_and_binary_input_are_user_errors(tmp_path, capsys):
    assert rt3d_opt.main([str(CONV), "-o", str(tmp_path / "missing-dir" / "out.mlir")]) == 1
    assert "cannot write" in capsys.readouterr().err
    binary = tmp_path / "model.mlirbc"
    binary.write_bytes(b"ML\xefR\xff\x00")
    assert rt3d_opt.main([str(binary)]) == 1
    assert "is not UTF-8 text" in capsys.readouterr().err


def test_errors_of_the_implicit_module_are_at_its_first_operation(tmp_path, capsys):
    source = tmp_path / "implicit.mlir"
    source.write_text("// a comment\n\n  func.func @f() {\n    return\n  }\n")
    assert rt3d_opt.main([str(source), "--sparse3d-gpu-tile"]) == 1
    assert capsys.readouterr().err.startswith(f"{source}:3:3: error: the module has no sparse3d.gpu_target attribute")


def test_a_missing_expected_diagnostic_is_reported_at_its_annotation(tmp_path, capsys):
    source = tmp_path / "expects.mlir"
    source.write_text("func.func @f() {\n  // expected-error @+1 {{never emitted}}\n  return\n}\n")
    assert rt3d_opt.main([str(source), "--verify-diagnostics"]) == 1
    assert capsys.readouterr().err == f'{source}:2:6: error: expected error "never emitted" was not produced\n'


@pytest.mark.parametrize("where", ["parse", "pass"])
def test_out_of_memory_is_a_one_line_error(where, monkeypatch, tmp_path, capsys):
    def exhausted(*args):
        raise MemoryError("std::bad_alloc")

    if where == "parse":  # MLIR's parser raises MemoryError for std::bad_alloc
        monkeypatch.setattr(rt3d_opt, "crashing_syntax", exhausted)
    else:
        monkeypatch.setattr(Sparse3DFromLinalg, "_rewrite", exhausted)
    output = tmp_path / "out.mlir"
    assert rt3d_opt.main([str(CONV), "--sparse3d-from-linalg=group-shape=1x1", "-o", str(output)]) == 1
    assert capsys.readouterr().err == "rt3d-opt: error: out of memory: the input needs more memory than this process can have\n"
    assert not output.exists()


def test_errors_at_an_unknown_location_are_at_the_first_operation(monkeypatch, tmp_path, capsys):
    def unlocated(self, conv, names):
        raise PassError("no location")

    monkeypatch.setattr(Sparse3DFromLinalg, "_rewrite", unlocated)
    assert rt3d_opt.main([str(CONV), "--split-input-file", "--sparse3d-from-linalg=group-shape=1x1"]) == 1
    first = next(i for i, line in enumerate(CONV.read_text().splitlines(), 1) if line.startswith("func.func"))
    assert capsys.readouterr().err.splitlines()[0] == f"{CONV}:{first}:1: error: no location"


TORCH_FREE_RUN = """
import sys
from rt3d_mlir.tools import rt3d_opt
status = rt3d_opt.main([sys.argv[1], "--split-input-file", "--sparse3d-vectorize", "-o", "/dev/null"])
print(status, "torch" in sys.modules)
"""


def test_scheduling_and_emitting_kernels_do_not_import_torch() -> None:
    # torch takes seconds to import; the dialect and the kernel emitters need only numpy
    import subprocess
    import sys

    source = Path(__file__).parents[1] / "Passes" / "sparse3d-vectorize.mlir"
    done = subprocess.run([sys.executable, "-c", TORCH_FREE_RUN, str(source)], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["0", "False"], done.stdout + done.stderr[-2000:]
