"""Bad input to every rt3d subcommand and to rt3d-translate: one table, one test.

Each row must exit 1 (the tools' convention, usage errors included) with one line on
stderr that names the option or file, write nothing, and refuse within ROW_SECONDS,
i.e. before any compiling, data rendering or training. Most rows call ``main``
in-process (fast); the rows marked ``process`` run the installed entry points, for the
inputs that once killed the whole process (OpenMP's abort, an unbounded allocation).
Rows already in test_outputs.py, test_cli_and_import.py and test_prune_commands.py
are not repeated here.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from rt3d_mlir import cli
from rt3d_mlir.tools import rt3d_translate

ROW_SECONDS = 20
PROCESS_SECONDS = 60  # a fresh process also imports torch, slow on a loaded machine
TRANSLATE_INPUT = Path(__file__).parents[1] / "Target" / "AArch64" / "rt3d-translate.mlir"
# Root reads through chmod 000, so for root the unreadable file is a write-only sysctl, which the kernel refuses even to root.
WRITE_ONLY_SYSCTL = Path("/proc/sys/vm/compact_memory")


class Row(NamedTuple):
    argv: tuple[str, ...]  # argv[0] is rt3d or rt3d-translate; {name} fields are the paths of the fixture `paths`
    message: str  # what the one error line must contain
    process: bool = False


def row(command: str, message: str, process: bool = False) -> Row:
    return Row(tuple(command.split()), message, process)


SMALL = "c3d --width 0.125 --input-size 16x16x16"
TRAIN = "rt3d train --out {out_pt} --input-size 16x16x16 --train-clips 16 --test-clips 4 --batch-size 4 --epochs 0"
PRUNE = "rt3d prune --dense {dense} --out {out_pt} --train-clips 16 --test-clips 4 --batch-size 4 --epochs 0"
TRANSLATE = "rt3d-translate {translate_input} --emit=header"

COUNT = ("0", "-1", "nan", "inf", "1e9", "99999999", "many")  # counts of at least 1
COUNT_FROM_0 = ("-1", "nan", "inf", "1e9", "99999999", "many")
SEED = ("-1", "nan", "1e9", "99999999999", "many")  # 0 to 2^32 - 1
POSITIVE = ("0", "-0.5", "nan", "inf", "many")
WHOLE, FINITE = "expected a whole number from", "expected a finite number"

# (command, option, bad values, message after "argument OPTION: ")
NUMERIC = [
    (f"rt3d import {SMALL}", "--batch", COUNT, WHOLE),
    (f"rt3d compile {SMALL}", "--num-classes", COUNT, WHOLE),
    (f"rt3d compile {SMALL}", "--threads", COUNT, WHOLE),
    (f"rt3d compile {SMALL}", "--repeat", COUNT, WHOLE),
    (f"rt3d tune {SMALL}", "--candidates", COUNT, WHOLE),
    (f"rt3d tune {SMALL}", "--rounds", COUNT, WHOLE),
    (f"rt3d tune {SMALL}", "--batch", ("0", "99999999"), WHOLE),
    ("rt3d demo", "--repeat", COUNT, WHOLE),
    ("rt3d demo", "--threads", COUNT, WHOLE),
    (f"rt3d import {SMALL}", "--width", ("many",), "expected a number such as 0.5"),
    ("rt3d tune c3d", "--width", ("0", "-0.5"), "width multiplier must be positive"),
    (f"rt3d compile {SMALL}", "--input-size", ("0x16x16", "16x16", "nanxnanxnan", "many"), "clip size must look like"),
    ("rt3d demo", "--input-size", ("0x0x0", "1e9x1x1"), "clip size must look like"),
    ("rt3d demo", "--input-size", ("99999999x112x112",), "a 99999999x112x112 clip is too large"),
    ("rt3d demo", "--group-shape", ("0x4", "many", "99999999x99999999"), "group shape must"),
    *[
        (command, option, values, message)
        for command in (TRAIN, PRUNE + " --target-rate 2")
        for option, values, message in [
            ("--train-clips", COUNT, WHOLE),
            ("--test-clips", COUNT, WHOLE),
            ("--checkpoint-every", COUNT, WHOLE),
            ("--max-steps", COUNT, WHOLE),
            ("--batch-size", COUNT, WHOLE),
            ("--threads", COUNT, WHOLE),
            ("--epochs", COUNT_FROM_0, WHOLE),
            ("--workers", COUNT_FROM_0, WHOLE),
            ("--seed", SEED, WHOLE),
            ("--data-seed", SEED, WHOLE),
            ("--split", ("0", "4", "many"), ""),
            ("--lr", POSITIVE, FINITE),
        ]
    ],
    ("rt3d train --out {out_pt}", "--width", ("0",), "width multiplier must be positive"),
    (PRUNE, "--target-rate", ("0", "0.5", "-1", "nan", "inf", "many"), "expected a finite number at least 1"),
    (PRUNE, "--threshold", ("-0.1", "1", "nan", "inf", "many"), "expected a finite number at least 0 and below 1"),
    *[(PRUNE + " --target-rate 2", option, POSITIVE, FINITE)
      for option in ("--finetune-lr", "--penalty", "--eps", "--temperature")],
    (PRUNE + " --target-rate 2", "--distill-weight", ("-1", "nan", "inf", "many"), "expected a finite number at least 0"),
    (PRUNE + " --target-rate 2", "--reweight-steps", COUNT, WHOLE),
    (PRUNE + " --target-rate 2", "--regularize-epochs", COUNT_FROM_0, WHOLE),
]

ROWS = [
    *[row(f"{command} {option} {value}", f"argument {option}: {message}")
      for command, option, values, message in NUMERIC for value in values],
    # values that are checked by the command, not its parser
    row(f"{TRAIN} --input-size 16x16", "clip size must look like 16x112x112"),
    row(f"{TRAIN} --input-size 99999999x99999999x99999999", "a 99999999x99999999x99999999 clip is too large"),
    row(f"{TRAIN} --train-clips 1000000 --input-size 16x112x112", "1000000 synthetic clips of 16x112x112 need"),
    row(f"{TRAIN} --batch-size 17", "--batch-size 17 is larger than the training set (16 clips)"),
    row(f"rt3d import {SMALL} --batch 1000000", "a batch of 1000000 16x16x16 clips is too large"),
    # names and choices
    row(f"rt3d compile {SMALL} --target host-garbage", "target 'host-garbage' is not supported"),
    row(f"rt3d compile {SMALL} --target vulkan-garbage --no-run", "unknown GPU target 'garbage'"),
    row(f"rt3d compile {SMALL} --target aarch64 --cpu garbage -o {{missing}}", "does not know the cpu 'garbage'"),
    row(f"rt3d compile {SMALL} --target aarch64 --features garbage -o {{missing}}", "bad AArch64 feature 'garbage'"),
    row(f"rt3d compile {SMALL} --target aarch64 --name 1x -o {{missing}}", "the name '1x' is not a C identifier"),
    row(f"rt3d tune {SMALL} --target vulkan --cache {{missing}}", "applies to host targets only"),
    row(f"{TRAIN} --model garbage", "unknown model 'garbage'"),
    row(f"{TRAIN} --device garbage", "argument --device: invalid choice: 'garbage'"),
    row(f"{TRAIN} --dataset garbage", "unknown data set 'garbage'"),
    row(f"{TRAIN} --resume", "--resume: {folder}/out.work holds no saved run (state.pt)"),
    row(f"{TRAIN} --work-dir {{earlier_run}}", "{earlier_run} holds an earlier run: pass --resume"),
    row(f"{PRUNE} --target-rate 2 --resume", "--resume: {folder}/out.work holds no saved run (state.pt)"),
    row(f"{TRAIN} --device cuda", "--device cuda was asked for but PyTorch sees no CUDA device", process=True),
    row(f"rt3d tune {SMALL} --cache {{garbage_pt}}", "{garbage_pt} is not a tuning cache"),
    row(f"rt3d tune {SMALL} --cache {{empty_pt}}", "{empty_pt} is not a tuning cache"),
    row(f"{PRUNE} --target-rate 2 --layers garbage", "no prunable Conv3d named garbage"),
    row(f"{PRUNE} --target-rate 2 --group-shape 0x4", "rt3d: error: group shape must be positive"),
    row(f"{PRUNE} --target-rate 2 --group-shape 99999999x99999999", "group shape must be at most 1024x1024"),
    row(f"{TRANSLATE} --group-shape many", "group shape must look like 8x4"),
    row(f"{TRANSLATE} --group-shape 0x0", "group shape must be positive"),
    row(f"{TRANSLATE} --name 1x", "the name '1x' is not a C identifier"),
    row(f"{TRANSLATE} --cpu garbage", "does not know the cpu 'garbage'"),
    row(f"{TRANSLATE} --features garbage", "bad AArch64 feature 'garbage'"),
    row(f"{TRANSLATE} --triple garbage", "argument --triple: invalid choice: 'garbage'"),
    row(f"{TRANSLATE} --emit=bogus", "argument --emit: invalid choice: 'bogus'"),
    # input files: a directory, missing, unreadable, foreign
    *[row(f"rt3d {command} {{{kind}_{ext}}}", message)
      for command in ("import", "compile")
      for ext, kinds in [
          ("onnx", {"dir": "is a directory, not an ONNX model", "missing": "no such file", "unreadable": "cannot read",
                    "garbage": "is not an ONNX model", "empty": "is not an ONNX model: it has no IR version",
                    "pickle": "is not an ONNX model", "text": "is not an ONNX model"}),
          ("pt", {"missing": "does not exist", "unreadable": "cannot read checkpoint", "garbage": "is not a readable rt3d checkpoint",
                  "empty": "is not a readable rt3d checkpoint", "pickle": "is not a readable rt3d checkpoint",
                  "text": "is not a readable rt3d checkpoint"}),
          ("pt2", {"unreadable": "cannot read", "text": "is not a saved torch.export program"}),
      ]
      for kind, message in kinds.items()],
    row("rt3d import {dir_pt}", "is a directory: name the .pt file"),
    row("rt3d tune {garbage_onnx} --cache {missing}", "is not an ONNX model"),
    row("rt3d tune {pickle_pt} --cache {missing}", "is not a readable rt3d checkpoint"),
    row("rt3d tune {text_pt2} --cache {missing}", "is not a saved torch.export program"),
    *[row(f"rt3d prune-report {{{kind}_pt}}", message) for kind, message in [
        ("dir", "is a directory"), ("missing", "does not exist"), ("unreadable", "cannot read checkpoint"),
        ("garbage", "is not a readable rt3d checkpoint"), ("empty", "is not a readable rt3d checkpoint"),
        ("pickle", "is not a readable rt3d checkpoint"), ("text", "is not a readable rt3d checkpoint"),
    ]],
    *[row(f"rt3d prune --dense {{{kind}_pt}} --target-rate 2 --out {{out_pt}}", message) for kind, message in [
        ("dir", "is a directory"), ("missing", "does not exist"), ("unreadable", "cannot read checkpoint"),
        ("empty", "is not a readable rt3d checkpoint"), ("pickle", "is not a readable rt3d checkpoint"),
        ("text", "is not a readable rt3d checkpoint"),
    ]],
    *[row(f"rt3d-translate {{{kind}_mlir}} --emit=header", message) for kind, message in [
        ("dir", "Is a directory"), ("missing", "No such file or directory"), ("unreadable", "Permission denied"),
        ("garbage", "is not UTF-8 MLIR text"), ("empty", "has no @main function"), ("pickle", "is not UTF-8 MLIR text"),
        ("text", "cannot parse"),
    ]],
    *[row(f"{TRAIN} --dataset ucf101 --data-root {{folder}} --splits-root {splits}", message) for splits, message in [
        ("{missing}", "classInd.txt does not exist"),
        ("{unreadable_splits}", "cannot read split file"),
        ("{garbage_splits}", "is not text"),
        ("{text_splits}", "has the line 'hello world, not a split', expected 'NUMBER CLASS'"),
    ]],
    row(f"{TRAIN} --dataset hmdb51 --data-root {{folder}} --splits-root {{text_splits}}", "has the line 'hello world, not a split', expected 'VIDEO 0|1|2'"),
    row(f"{TRAIN} --dataset ucf101 --data-root {{garbage_pt}} --splits-root {{folder}}", "is not a directory"),
    row(f"{TRAIN} --dataset ucf101 --data-root {{missing}} --splits-root {{folder}}", "is not a directory"),
    # outputs that cannot be written
    row(f"rt3d import {SMALL} -o /proc/x", "cannot create files in /proc"),
    row(f"rt3d import {SMALL} -o {{missing}}/x.mlir", "does not exist"),
    row(f"rt3d compile {SMALL} -o /proc/x", "cannot create files in /proc"),
    row(f"rt3d compile {SMALL} -o {{missing}}/x.mlir", "does not exist"),
    row(f"rt3d compile {SMALL} --target vulkan --no-run -o /proc/x", "cannot create files in /proc"),
    row(f"rt3d compile {SMALL} --target aarch64 -o {{garbage_pt}}", "is a file: name a folder"),
    row(f"rt3d tune {SMALL} --cache {{dir_pt}}", "--cache {dir_pt} is a directory"),
    row(f"rt3d tune {SMALL} --cache {{missing}}/x.json", "does not exist"),
    row("rt3d demo --plot /proc/x", "cannot create files in /proc"),
    row("rt3d demo --plot {missing}/x.svg", "does not exist"),
    row("rt3d train --out /proc/x/t.pt", "cannot create files in /proc"),
    row("rt3d train --out {garbage_pt}/t.pt", "is not a folder"),
    row("rt3d train --out {out_pt} --work-dir /proc/x", "cannot create files in /proc"),
    row("rt3d train --out {out_pt} --work-dir {garbage_pt}", "--work-dir {garbage_pt} is a file"),
    row("rt3d prune --dense {dense} --target-rate 2 --out /proc/x", "cannot create files in /proc"),
    row("rt3d prune --dense {dense} --target-rate 2 --out {out_pt} --profile-out /proc/x", "cannot create files in /proc"),
    row("rt3d prune --dense {dense} --target-rate 2 --out {out_pt} --profile-out {garbage_pt}/x.json", "is not a folder"),
    row("rt3d prune --dense {dense} --target-rate 2 --out {out_pt} --work-dir /proc/x", "cannot create files in /proc"),
    row(f"{TRANSLATE} -o /proc/x", "cannot create files in /proc"),
    row("rt3d-translate {translate_input} --emit=llvm-ir -o {dir_mlir}", "is a directory: name a file"),
    row("rt3d-translate {translate_input} --emit=asm -o {missing}/x.s", "does not exist"),
    row("rt3d-translate {translate_input} --emit=artifacts -o {text_mlir}", "is a file: name a folder"),
    row("rt3d-translate {translate_input} --emit=obj", "--emit=obj writes a binary file: name it with -o"),
    # the installed entry points, for inputs that once killed the process or grew without bound
    row(f"rt3d compile {SMALL} --threads 99999999", "argument --threads: expected a whole number", process=True),
    row("rt3d train --out {out_pt} --train-clips 99999999", "argument --train-clips: expected a whole number", process=True),
    row("rt3d import {unreadable_onnx}", "cannot read", process=True),
    row(f"{TRANSLATE} --group-shape 99999999x99999999", "group shape must be at most 1024x1024", process=True),
    row("rt3d prune-report {pickle_pt}", "is not a readable rt3d checkpoint", process=True),
]


def _unreadable(path: Path) -> None:
    if os.geteuid() == 0:
        assert WRITE_ONLY_SYSCTL.exists(), "root needs a file it cannot read"
        path.symlink_to(WRITE_ONLY_SYSCTL)
    else:
        path.write_text("secret")
        path.chmod(0)


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Foreign, missing, unreadable and directory paths of each kind, a tiny dense checkpoint, and output names."""
    from rt3d_mlir.prune.checkpoint import build_from_kwargs, dense_profile, model_kwargs, save_model_checkpoint

    folder = tmp_path_factory.mktemp("bad-input")
    found = {"folder": folder, "missing": folder / "missing", "out_pt": folder / "out.pt", "translate_input": TRANSLATE_INPUT}
    contents = {"garbage": b"\x00garbage\xff" * 8, "empty": b"", "pickle": pickle.dumps({"weights": [1.0]}),
                "text": b"hello world, not a split\n"}
    for ext in ("onnx", "pt", "pt2", "mlir"):
        for kind, data in contents.items():
            found[f"{kind}_{ext}"] = folder / f"{kind}.{ext}"
            found[f"{kind}_{ext}"].write_bytes(data)
        found[f"dir_{ext}"] = folder / f"dir.{ext}"
        found[f"dir_{ext}"].mkdir()
        found[f"missing_{ext}"] = folder / f"missing.{ext}"
        found[f"unreadable_{ext}"] = folder / f"unreadable.{ext}"
        _unreadable(found[f"unreadable_{ext}"])
    for kind in ("garbage", "text", "unreadable"):  # split folders whose classInd.txt and HMDB51 split file are bad
        splits = found[f"{kind}_splits"] = folder / f"{kind}-splits"
        splits.mkdir()
        for name in ("classInd.txt", "brush_hair_test_split1.txt"):
            if kind == "unreadable":
                _unreadable(splits / name)
            else:
                (splits / name).write_bytes(contents[kind])
    found["earlier_run"] = folder / "earlier-run"  # a work dir whose saved state a new run must not overwrite
    found["earlier_run"].mkdir()
    (found["earlier_run"] / "state.pt").write_bytes(contents["garbage"])
    kwargs = model_kwargs(10, 0.125, (16, 16, 16))
    model = build_from_kwargs("c3d", kwargs)
    found["dense"] = folder / "dense.pt"
    save_model_checkpoint(found["dense"], "c3d", kwargs, model, dense_profile("c3d", model, (16, 16, 16)), {"accuracy": None})
    return {name: str(path) for name, path in found.items()}


def _tree(folder: Path) -> dict[str, int]:
    return {str(path): path.lstat().st_size for path in folder.rglob("*")}


def _timeout(signum: int, frame: object) -> None:
    pytest.fail(f"no refusal within {ROW_SECONDS} s: the check does not come before the work")


def _run_in_process(argv: list[str], capfd: pytest.CaptureFixture) -> tuple[int, str, str]:
    main = cli.main if argv[0] == "rt3d" else rt3d_translate.main
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(ROW_SECONDS)
    try:
        status = main(argv[1:])
    except SystemExit as exited:  # argparse's usage errors
        status = exited.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    captured = capfd.readouterr()
    return status, captured.out, captured.err


def _run_process(argv: list[str]) -> tuple[int, str, str]:
    program = Path(sys.executable).parent / argv[0]  # the console script of this environment
    environment = {key: value for key, value in os.environ.items() if key != "RT3D_DEBUG"}
    environment["CUDA_VISIBLE_DEVICES"] = ""  # no row needs a GPU; the --device cuda row needs none to be seen
    done = subprocess.run([str(program), *argv[1:]], capture_output=True, text=True, timeout=PROCESS_SECONDS, env=environment)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("case", ROWS, ids=[("process: " if case.process else "") + " ".join(case.argv) for case in ROWS])
def test_bad_input_is_refused_at_once_in_one_line(case: Row, paths: dict[str, str], capfd: pytest.CaptureFixture) -> None:
    argv = [part.format(**paths) for part in case.argv]
    folder = Path(paths["folder"])
    before = _tree(folder)
    started = time.monotonic()
    status, out, err = _run_process(argv) if case.process else _run_in_process(argv, capfd)
    seconds = time.monotonic() - started
    lines = err.strip().splitlines()
    assert status == 1, (status, err)
    assert len(lines) == 1 and lines[0].startswith(argv[0]), err
    assert ": error: " in lines[0] and "internal error" not in lines[0] and "Traceback" not in err, err
    assert case.message.format(**paths) in lines[0], lines[0]
    assert out == "", out  # nothing on stdout either (the default output of import and rt3d-translate)
    assert _tree(folder) == before  # nothing written, no probe or temporary file left
    assert seconds < (PROCESS_SECONDS if case.process else ROW_SECONDS)
