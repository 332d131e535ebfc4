"""rt3d command line, model import errors, the demo and the model zoo."""

import io
from xml.etree import ElementTree

import pytest
import torch

from rt3d_mlir import cli
from rt3d_mlir.demo import run_demo
from rt3d_mlir.errors import UserError
from rt3d_mlir.importer import import_model, load_exported_program
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.models.r2plus1d import mid_channels


class DataDependent(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # torch.export cannot trace a branch on data
            return x * 2
        return x


def test_untraceable_model_is_a_user_error():
    with pytest.raises(UserError, match="torch.export cannot trace DataDependent"):
        import_model(DataDependent(), torch.randn(2, 2))


def test_corrupt_program_file_is_a_user_error(tmp_path):
    path = tmp_path / "broken.pt2"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(UserError, match="is not a saved torch.export program"):
        load_exported_program(path)


class SpectrumMagnitude(torch.nn.Module):
    def forward(self, x):
        return torch.fft.rfft(x, dim=-1).abs()  # torch-mlir's linalg lowering has no complex abs


class Median(torch.nn.Module):
    def forward(self, x):
        return x.median(dim=-1).values  # torch-mlir keeps it as an opaque torch.operator


@pytest.mark.parametrize(
    "model, cause",
    [
        (SpectrumMagnitude(), "'math.absf' op operand #0 must be floating-point-like, but got 'complex<f32>'"),
        (Median(), "failed to legalize operation 'torch.aten.median.dim' that was explicitly marked illegal"),
    ],
)
def test_lowering_failure_is_one_line_on_stderr(model, cause, tmp_path, capfd):
    # MLIR's own diagnostic (a "loc(...): error: ..." line) must not precede our error on the C stderr
    path = tmp_path / "model.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(1, 2, 8),)), str(path))
    assert cli.main(["import", str(path)]) == 1
    err = capfd.readouterr().err.strip()
    assert err == f"rt3d: error: torch-mlir cannot lower the model to linalg: {cause}"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["import", "resnet50"], "'resnet50' is neither a zoo model (c3d, r2plus1d_18, s3d, x3d_xs, x3d_s, x3d_m), an ONNX model (.onnx), a .pt2 program nor a pruned checkpoint (.pt)"),
        (["import", "missing.pt2"], "no such file: 'missing.pt2'"),
        (["import", "c3d", "--input-size", "8x32x32"], "clip is too small for C3D"),
        (["compile", "c3d", "--cpu", "a55"], "--cpu: only for --target aarch64 or aarch64-<cpu>, not host"),
        (["compile", "c3d", "--target", "vulkan", "--features", "+dotprod", "--qemu-check"], "--features, --qemu-check: only for"),
        (["compile", "c3d", "--target", "host-avx2", "--no-run"], "--no-run: only for --target vulkan, not host-avx2"),
        (["compile", "c3d", "--target", "vulkan", "--no-run", "--repeat", "3"], "--no-run and --repeat contradict each other"),
    ],
)
def test_rt3d_user_errors_exit_1_with_one_line(argv, message, capsys):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["import", "c3d", "--width", "-1"], "argument --width: width multiplier must be positive and at most 8, got -1.0"),
        (["import", "c3d", "--width", "nan"], "argument --width: width multiplier must be positive and at most 8, got nan"),
        (["compile", "c3d", "--width", "inf"], "argument --width: width multiplier must be positive and at most 8, got inf"),
        (["demo", "--width", "1e9"], "argument --width: width multiplier must be positive and at most 8"),
        (["train", "--width", "nan", "--out", "unused.pt"], "argument --width: width multiplier must be positive"),
        (["import", "c3d", "--input-size", "-1x32x32"], "argument --input-size: clip size must look like 16x112x112 (frames x height x width, each a positive whole number), got '-1x32x32'"),
        (["import", "c3d", "--input-size", "99999999x99999999x99999999"], "a 99999999x99999999x99999999 clip is too large"),
    ],
)
def test_rt3d_usage_errors_exit_1_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("clip", [(0, 16, 16), (16, 2**20, 2**20)])
def test_zoo_refuses_empty_or_huge_clips(clip):
    with pytest.raises(UserError, match="each size at least 1" if 0 in clip else "too large"):
        build_model("c3d", input_size=clip)


@pytest.mark.parametrize("width", [float("nan"), float("inf"), 0.0, 1e9])
def test_zoo_refuses_unusable_widths(width):
    with pytest.raises(UserError, match="width multiplier must be positive and at most 8"):
        build_model("r2plus1d_18", width=width)


@pytest.mark.parametrize("kind", ["empty", "garbage", "pickle", "directory"])
@pytest.mark.parametrize("command", ["import", "compile"])
def test_bad_program_file_is_one_line_without_torch_traceback(command, kind, tmp_path, capfd):
    import pickle

    path = tmp_path / "model.pt2"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes({"empty": b"", "garbage": b"\x00garbage\xff", "pickle": pickle.dumps({"weights": [1.0]})}[kind])
    assert cli.main([command, str(path)]) == 1
    err = capfd.readouterr().err.strip()
    assert err.startswith("rt3d: error: ") and len(err.splitlines()) == 1, err
    assert ("is a directory" in err) == (kind == "directory")


def test_directory_as_checkpoint_says_so(tmp_path, capsys):
    folder = tmp_path / "pruned.pt"
    folder.mkdir()
    assert cli.main(["compile", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == f"rt3d: error: checkpoint {folder} is a directory: name the .pt file"


def test_rt3d_import_writes_linalg(tmp_path, capsys):
    output = tmp_path / "c3d.mlir"
    assert cli.main(["import", "c3d", "--input-size", "16x32x32", "--width", "0.125", "-o", str(output)]) == 0
    text = output.read_text()
    assert text.count("linalg.conv_3d_ncdhw_fcdhw") == 8 and "dense_resource" in text


def test_demo_compiles_checks_and_times_both_variants(tmp_path):
    out = io.StringIO()
    table = run_demo(input_size=(16, 32, 32), width=0.125, repeat=1, out=out, plot=str(tmp_path / "demo.svg"))
    rows = table.splitlines()
    assert [row.split()[0] for row in rows[2:10]] == [
        "conv1a", "conv2a", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"
    ]
    conv2a = rows[3].split()
    assert conv2a[3] == "8x4" and conv2a[4] == "14.8%"  # 4 of 27 positions kept (85% pruned)
    total_rate = float(rows[-1].split()[-1].rstrip("x"))
    assert 2.5 < total_rate < 4.0
    printed = out.getvalue()
    for label in ("KGS", "dense"):
        assert f"{label}: max |compiled - torch eager| = " in printed
    assert "ours, KGS" in printed and "torch eager, dense" in printed and "speedup over our dense code" in printed
    timing_rows = {line.split(" ms")[0].rsplit(None, 1)[0].strip(): line for line in printed.splitlines() if " ms" in line and "," in line}
    assert "faster" not in timing_rows["ours, KGS"]  # not "1.00x faster" than itself
    assert "ours KGS is" in timing_rows["ours, dense"] and "ours KGS is" in timing_rows["torch eager, dense"]
    svg = ElementTree.parse(tmp_path / "demo.svg").getroot()
    bars = [rect.find("{http://www.w3.org/2000/svg}title").text for rect in svg.iter("{http://www.w3.org/2000/svg}rect")
            if rect.find("{http://www.w3.org/2000/svg}title") is not None]
    assert len(bars) == 3 + 8 and bars[0].startswith("ours, KGS, ") and bars[4].startswith("FLOPs pruning rate, conv2a: 6.75 x")


def test_report_of_an_all_zero_layer_says_all_pruned():
    from rt3d_mlir.report import ConvReport, format_table

    empty = ConvReport((1, 4, 2, 8, 8), (8, 4, 3, 3, 3), (1, 8, 2, 8, 8), "8x4", dense_macs=1000, kept_macs=0)
    rows = format_table(["conv0"], [empty]).splitlines()
    assert rows[2].endswith("all pruned") and rows[-1].endswith("all pruned")


def test_rt3d_compile_takes_a_pt2_program_and_checks_it_against_itself(tmp_path, capsys):
    model = torch.nn.Sequential(torch.nn.Conv3d(3, 8, 3, padding=1), torch.nn.ReLU()).eval()
    path = tmp_path / "small.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(1, 3, 4, 8, 8),)), str(path))
    assert cli.main(["compile", str(path), "--repeat", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "max |compiled - the exported program| = " in printed and "the exported program" in printed.splitlines()[-1]


def test_zoo_models_have_the_papers_shapes():
    assert [mid_channels(64, 128), mid_channels(256, 512)] == [230, 921]
    r2plus1d = build_model("r2plus1d_18", width=0.25)
    assert r2plus1d(example_input("r2plus1d_18", input_size=(4, 32, 32))).shape == (1, 101)
    c3d = build_model("c3d", num_classes=10, width=0.125, input_size=(16, 32, 32))
    assert c3d(example_input("c3d", batch=2, input_size=(16, 32, 32))).shape == (2, 10)
    with pytest.raises(UserError, match="unknown model 'i3d'"):
        build_model("i3d")


def test_rt3d_compile_takes_a_pruned_checkpoint(tmp_path, capsys):
    from rt3d_mlir import kgs
    from rt3d_mlir.demo import C3D_PAPER_PRUNING, prune_randomly
    from rt3d_mlir.prune.checkpoint import build_profile, save_model_checkpoint
    from rt3d_mlir.prune.flops import measure_layers

    clip = (16, 32, 32)
    kwargs = {"num_classes": 5, "width": 0.125, "input_size": clip}
    model = build_model("c3d", **kwargs)
    prune_randomly(model, C3D_PAPER_PRUNING, kgs.GroupShape(8, 4))
    schemes = {f"features.{name}": ("kgs", kgs.GroupShape(8, 4)) for name in C3D_PAPER_PRUNING}
    profile = build_profile("c3d", clip, measure_layers(model, clip), schemes)
    save_model_checkpoint(tmp_path / "pruned.pt", "c3d", kwargs, model, profile, {})
    assert cli.main(["compile", str(tmp_path / "pruned.pt")]) == 0
    out = capsys.readouterr().out
    assert "max |compiled - torch eager| = " in out
    assert out.count(" 14.8% ") == 2  # conv2a and conv3b keep 4 of 27 positions


def test_rt3d_compile_help_names_every_target(capsys):
    from rt3d_mlir.backends.host import HostBackend
    from rt3d_mlir.targets.aarch64 import PRESET_CPUS
    from rt3d_mlir.targets.gpu import GPU_PRESETS, PRECISION_SUFFIXES

    with pytest.raises(SystemExit):
        cli.main(["compile", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    targets = [*HostBackend().target_names(), "vulkan", *(f"vulkan-{gpu}" for gpu in GPU_PRESETS), *PRECISION_SUFFIXES,
               "aarch64", *(f"aarch64-{cpu}" for cpu in PRESET_CPUS)]
    assert [target for target in targets if target not in help_text] == []
