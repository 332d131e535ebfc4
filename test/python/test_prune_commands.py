"""The train / prune / prune-report subcommands end to end, their errors, and DDP with 2 gloo processes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, kept_positions
from rt3d_mlir.prune import load_pruned_model
from rt3d_mlir.prune.commands import register

TINY_DATA = ["--input-size", "16x16x16", "--train-clips", "32", "--test-clips", "10", "--batch-size", "8"]
QUIET = ["--no-progress", "--threads", "1"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rt3d")
    register(parser.add_subparsers(required=True))
    return parser


def run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return args.handler(args)


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dense") / "dense.pt"
    assert run("train", "--model", "c3d", "--width", "0.125", "--epochs", "1", "--out", str(out), *TINY_DATA, *QUIET) == 0
    return out


def _prune_args(dense: Path, out: Path, *extra: str) -> list[str]:
    return [
        "prune", "--dense", str(dense), "--model", "c3d", "--scheme", "kgs", "--algorithm", "reweighted",
        "--target-rate", "2.0", "--regularize-epochs", "1", "--epochs", "1", "--out", str(out),
        "--train-clips", "32", "--test-clips", "10", "--batch-size", "8", *QUIET, *extra,
    ]  # fmt: skip


def _assert_kgs_checkpoint(path: Path, target_rate: float) -> dict:
    model, profile = load_pruned_model(path)
    assert profile["flops_rate"] >= target_rate
    for layer in profile["layers"]:
        if layer["scheme"] == "kgs":
            weight = dict(model.named_modules())[layer["name"]].weight
            shape = GroupShape.parse(layer["group_shape"])
            assert (~kept_positions(weight, shape)).any()  # whole (group, position) pairs are exact zeros
    return profile


def test_train_prune_and_report(dense: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "kgs.pt"
    assert run(*_prune_args(dense, out)) == 0
    printed = capsys.readouterr().out
    assert "FLOPs pruning rate" in printed and "kgs/reweighted: test accuracy" in printed
    profile = _assert_kgs_checkpoint(out, 2.0)
    assert json.loads(out.with_suffix(".profile.json").read_text()) == profile
    assert not out.with_suffix(".work").exists()  # a finished run leaves no state to resume or to refuse a new run
    assert run("prune-report", str(out), "--json") == 0
    assert json.loads(capsys.readouterr().out) == profile  # recomputed from the weights, identical


def test_prune_to_rows_of_kernel_taps(dense: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.pt"
    assert run(*_prune_args(dense, out, "--scheme", "kgs-row", "--row-axis", "h")) == 0
    assert "kgs-row-h/reweighted: test accuracy" in capsys.readouterr().out
    model, profile = load_pruned_model(out)
    pruned = [layer for layer in profile["layers"] if layer["scheme"] == "kgs-row-h"]
    assert pruned and profile["flops_rate"] >= 2.0
    for layer in pruned:
        weight = dict(model.named_modules())[layer["name"]].weight
        kept = kept_positions(weight, GroupShape.parse(layer["group_shape"]))  # (GM, GN, Kd*Kh*Kw)
        rows = kept.reshape(*kept.shape[:2], *weight.shape[2:]).movedim(3, -1)  # rows along h last
        assert torch.all(rows.all(-1) | ~rows.any(-1)) and (~rows).any()


def test_prune_resumes_after_interruption(dense: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "kgs.pt"
    assert run(*_prune_args(dense, out, "--max-steps", "3")) == 0
    assert "continue with the same command and --resume" in capsys.readouterr().out and not out.exists()
    with pytest.raises(UserError, match="holds an earlier run: pass --resume"):
        run(*_prune_args(dense, out))
    assert run(*_prune_args(dense, out, "--resume")) == 0
    _assert_kgs_checkpoint(out, 2.0)
    assert not out.with_suffix(".work").exists()
    capsys.readouterr()
    assert run("train", "--model", "c3d", "--width", "0.125", "--epochs", "0", "--out", str(out), *TINY_DATA, *QUIET) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scheme", "kgz"], "unknown sparsity scheme 'kgz'"),
        (["--algorithm", "admm"], "unknown pruning algorithm 'admm'"),
        (["--group-shape", "8by4"], "group shape must look like 8x4"),
        (["--layers", "features.conv1a"], "group shape 8x4 is larger than layer features.conv1a"),
        (["--target-rate", "500"], "cannot be met"),
        (["--model", "s3d"], "does not match the dense checkpoint's model c3d"),
        (["--row-axis", "h"], "--row-axis is for --scheme kgs-row, not kgs"),
        (["--scheme", "kgs-row", "--row-axis", "t"], "unknown row axis 't'"),
    ],
)
def test_bad_prune_options_are_user_errors(dense: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    args = _prune_args(dense, tmp_path / "out.pt")
    # Later options win in argparse, so the bad value replaces the good one.
    with pytest.raises(UserError, match=message):
        run(*args, *extra)


@pytest.mark.parametrize(
    ("output", "extra", "message"),
    [
        ("folder", [], "--out {out} is a directory: name a file"),
        ("file", ["--profile-out", "{folder}"], "--profile-out {folder} is a directory: name a file"),
        ("file", ["--work-dir", "{file}"], "--work-dir {file} is a file: name a folder"),
    ],
)
def test_unwritable_outputs_fail_before_pruning(dense: Path, tmp_path: Path, output: str, extra: list[str], message: str) -> None:
    folder, file = tmp_path / "taken", tmp_path / "state.txt"
    folder.mkdir()
    file.write_text("")
    out = folder if output == "folder" else tmp_path / "kgs.pt"
    names = {"out": out, "folder": folder, "file": file}
    with pytest.raises(UserError, match=message.format(**names)):
        run(*_prune_args(dense, out, *[option.format(**names) for option in extra]))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["state.txt", "taken"]  # no .partial, no .work
    assert not any(folder.iterdir())


def test_train_to_a_directory_fails_before_training(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory: name a file"):
        run("train", "--model", "c3d", "--width", "0.125", "--epochs", "1", "--out", str(tmp_path), *TINY_DATA, *QUIET)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_dense_checkpoint_is_a_user_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "dense.pt"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="not a readable rt3d checkpoint"):
        run(*_prune_args(corrupt, tmp_path / "out.pt"))


def test_distributed_prune_with_two_gloo_processes(dense: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp.pt"
    # Few steps (2 per epoch on each process) keep it quick on a busy machine; they are all collectives.
    small = ["--train-clips", "16", "--test-clips", "4"]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "rt3d_mlir.cli",
        *_prune_args(dense, out), *small, "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def torchrun(*extra: str) -> str:
        try:
            result = subprocess.run([*command, *extra], capture_output=True, text=True, env=env, timeout=600)
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(f"torchrun did not finish:\n{timeout.stdout}\n{timeout.stderr}")
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    torchrun("--max-steps", "1")  # stopped: the run state holds both processes' generators
    state = torch.load(out.with_suffix(".work") / "state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert torchrun("--resume").count("kgs/reweighted: test accuracy") == 1  # only rank 0 reports and writes
    _assert_kgs_checkpoint(out, 2.0)
    assert not out.with_suffix(".work").exists()
