"""SVG plots of a bench report (the dict that conv_layers.py and end_to_end.py print as JSON and --json writes).

Two charts: the median latency of every variant in every case (model or layer, and
thread count), and per case the FLOPs pruning rate next to the speedups KGS gets
from it, over our dense code and over the fastest dense peer.

    python bench/plot.py results.json plot.svg     # from a saved report
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rt3d_mlir.plot import BarChart, write_svg


def case_label(case: dict) -> str:
    """``c3d, 2 thr`` or ``conv3a, 1 thr``."""
    return f"{case.get('model', case.get('layer'))}, {case['threads']} thr"


def report_charts(report: dict) -> list[BarChart]:
    cases = [case_label(summary) for summary in report["summaries"]]
    variants = list(dict.fromkeys(row["variant"] for row in report["rows"]))
    latency = {variant: [None] * len(cases) for variant in variants}
    for row in report["rows"]:
        latency[row["variant"]][cases.index(case_label(row))] = row["median_ms"]
    clip = "x".join(map(str, report.get("input_size", [])))
    speedups = {
        "FLOPs pruning rate": [s["flops_pruning_rate"] for s in report["summaries"]],
        "KGS over our dense code": [s["kgs_over_ours_dense"] for s in report["summaries"]],
        "KGS over the fastest dense peer": [s["kgs_over_fastest_peer"] for s in report["summaries"]],
    }
    return [
        BarChart(f"median latency per variant (clip {clip}, commit {report.get('commit', '?')})", "ms", cases, latency),
        BarChart("FLOPs pruning rate and measured speedups", "x", cases, speedups),
    ]


def write_report_plot(report: dict, path: str | Path) -> None:
    write_svg(path, report_charts(report))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/plot.py REPORT.json PLOT.svg")
    write_report_plot(json.loads(Path(sys.argv[1]).read_text()), sys.argv[2])
