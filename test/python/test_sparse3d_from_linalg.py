"""sparse3d-from-linalg on imported models: every conv converted, weights exact, numerics preserved."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_mlir import ir

from rt3d_mlir import kgs
from rt3d_mlir.demo import C3D_PAPER_PRUNING, prune_randomly
from rt3d_mlir.diagnostics import collecting
from rt3d_mlir.dialect import make_context
from rt3d_mlir.importer import import_model
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.report import compact_weights, conv_reports

BIN = Path(sys.executable).parent
CLIP = (16, 32, 32)


@pytest.fixture(scope="module")
def pruned_c3d():
    model = build_model("c3d", width=0.25, input_size=CLIP)
    prune_randomly(model, C3D_PAPER_PRUNING, kgs.GroupShape(8, 4), seed=3)
    return model


def conv_weights(model):
    return [m.weight.detach().numpy() for m in model.modules() if isinstance(m, torch.nn.Conv3d)]


def test_imported_pruned_c3d_round_trips_bit_for_bit(pruned_c3d):
    module = import_model(pruned_c3d, example_input("c3d", input_size=CLIP))
    remarks = []
    with collecting(remarks.append):
        run_pipeline(module, "sparse3d-from-linalg")
    assert "linalg.conv_3d_ncdhw_fcdhw" not in str(module)
    weights = compact_weights(module)
    originals = conv_weights(pruned_c3d)
    assert len(weights) == len(originals) == 8
    for compact, original in zip(weights, originals):
        assert np.array_equal(kgs.expand(compact), original)  # bit for bit, zeros included
    kept = [r.kept_fraction for r in conv_reports(module)]
    assert kept[1] == pytest.approx(4 / 27) and kept[0] == 1.0  # conv2a pruned 85%, conv1a dense
    assert len(remarks) == 8 and all("kernel groups" in r.message for r in remarks)


def test_rt3d_import_then_rt3d_opt_on_a_saved_program(pruned_c3d, tmp_path):
    program = torch.export.export(pruned_c3d, (example_input("c3d", input_size=CLIP),))
    torch.export.save(program, tmp_path / "c3d.pt2")
    subprocess.run([BIN / "rt3d", "import", tmp_path / "c3d.pt2", "-o", tmp_path / "c3d.mlir"], check=True)
    result = subprocess.run(
        [BIN / "rt3d-opt", tmp_path / "c3d.mlir", "--sparse3d-from-linalg", "-o", tmp_path / "kgs.mlir"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(": remark: ") == 8
    with make_context():
        module = ir.Module.parseFile(str(tmp_path / "kgs.mlir"))
    assert str(module).count('"sparse3d.kgs_conv3d"') == 8
    for compact, original in zip(compact_weights(module), conv_weights(pruned_c3d), strict=True):
        assert np.array_equal(kgs.expand(compact), original)


@pytest.mark.parametrize("name, clip", [("r2plus1d_18", (4, 32, 32)), ("s3d", (8, 64, 64))])
def test_every_conv_of_the_factored_models_converts(name, clip):
    model = build_model(name, width=0.125)
    module = import_model(model, example_input(name, input_size=clip))
    run_pipeline(module, "sparse3d-from-linalg{group-shape=8x4}")
    reports = conv_reports(module)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    assert len(reports) == len(convs)
    assert {r.weight_shape[2:] for r in reports} >= {(1, 3, 3), (3, 1, 1), (1, 1, 1)}
    # program order need not be module order (a block's shortcut conv may run first)
    assert sorted(r.weight_shape for r in reports) == sorted(tuple(c.weight.shape) for c in convs)
    assert all(r.kept_fraction == 1.0 for r in reports)  # random init has no all-zero group
