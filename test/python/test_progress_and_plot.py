"""The compile progress bar (terminal only, --quiet) and the SVG plots of rt3d demo and the bench scripts."""

import io
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import torch
from torch import nn

import rt3d_mlir
import rt3d_mlir.compiler
from rt3d_mlir import cli, progress
from rt3d_mlir.errors import UserError
from rt3d_mlir.plot import BarChart, render_svg, write_svg

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from plot import report_charts  # noqa: E402  (bench/plot.py)

SVG = "{http://www.w3.org/2000/svg}"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def two_convs() -> tuple[nn.Module, torch.Tensor]:
    return nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 4, 1)).eval(), torch.randn(1, 2, 3, 6, 6)


def test_progress_bar_counts_stages_and_convs_on_a_terminal(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    rt3d_mlir.compile(*two_convs(), progress=True)
    shown = terminal.getvalue()
    from rt3d_mlir.backends.host import HostBackend

    for stage in (*rt3d_mlir.compiler.FRONT_STAGES, *HostBackend.stages):
        assert stage in shown
    assert "6/6" in shown  # four stages and the two convs of sparse3d-from-linalg


def test_no_progress_bar_off_a_terminal_or_unasked(monkeypatch, capfd):
    rt3d_mlir.compile(*two_convs(), progress=True)  # pytest's stderr is no terminal
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0)
    rt3d_mlir.compile(*two_convs())
    assert capfd.readouterr().err == "" and terminal.getvalue() == ""


@pytest.mark.parametrize("argv, shown", [(["compile", "c3d"], True), (["compile", "c3d", "--quiet"], False)])
def test_rt3d_compile_asks_for_progress_unless_quiet(argv, shown, monkeypatch):
    asked = []

    def stop(*args, progress, **kwargs):
        asked.append(progress)
        raise UserError("stopped before compiling")

    monkeypatch.setattr(rt3d_mlir.compiler, "compile", stop)
    assert cli.main([*argv, "--input-size", "16x16x16", "--width", "0.125"]) == 1
    assert asked == [shown]


def bar_titles(svg_text: str) -> list[str]:
    root = ElementTree.fromstring(svg_text)
    return [rect.find(f"{SVG}title").text for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]


def test_grouped_bars_one_per_measured_value():
    chart = BarChart("latency", "ms", ["1 thr", "2 thr"], {"ours": [30.0, 16.5], "peer": [90.0, None]})
    assert bar_titles(render_svg([chart, chart])) == ["ours, 1 thr: 30 ms", "peer, 1 thr: 90 ms", "ours, 2 thr: 16.5 ms"] * 2


def test_writing_a_plot_where_it_cannot_go_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot write"):
        write_svg(tmp_path / "missing" / "plot.svg", [])


def test_bench_report_plots_latency_and_speedups():
    report = {
        "commit": "abc1234", "input_size": [16, 112, 112],
        "rows": [{"model": "x3d_s", "threads": t, "variant": v, "median_ms": ms}
                 for t, times in ((1, (10.0, 20.0, 30.0)), (2, (6.0, 11.0, 16.0)))
                 for v, ms in zip(("ours, KGS", "ours, dense", "ONNX Runtime"), times)],
        "summaries": [{"model": "x3d_s", "threads": t, "flops_pruning_rate": 2.5, "kgs_over_ours_dense": d, "kgs_over_fastest_peer": p}
                      for t, d, p in ((1, 2.0, 3.0), (2, 11 / 6, 16 / 6))],
    }
    latency, speedups = report_charts(report)
    assert latency.categories == speedups.categories == ["x3d_s, 1 thr", "x3d_s, 2 thr"]
    assert latency.series["ONNX Runtime"] == [30.0, 16.0]
    assert speedups.series == {"FLOPs pruning rate": [2.5, 2.5], "KGS over our dense code": [2.0, 11 / 6],
                               "KGS over the fastest dense peer": [3.0, 16 / 6]}
