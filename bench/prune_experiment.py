"""The pruning experiment of docs/pruning.md: the paper's comparisons, scaled to run on 2 CPU cores.

A C3D at width 0.125 (8 to 64 channels) on 16x16x16 clips of the synthetic
motion set is trained dense once, then pruned to equal FLOPs pruning rates
with every scheme (reweighted regularization) and with every algorithm (KGS).
The schemes the fast-convolution work compares (kgs-row, kgs, vanilla, filter)
run with three pruning seeds each; the table and the plot show their mean and
standard deviation.
Runs whose checkpoint exists are skipped, so an interrupted experiment
continues where it stopped. It writes a results table (Markdown) and a plot
(SVG) of accuracy against FLOPs pruning rate.

    python bench/prune_experiment.py --work runs/prune-experiment --docs docs

With ``--shard K/N`` a process does only every N-th run (from the K-th) and
writes no report: start N shards side by side, one thread each, then run the
command once more without ``--shard`` to collect the report.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import torch

from rt3d_mlir.errors import UserError
from rt3d_mlir.prune.checkpoint import MODEL_FORMAT, read_checkpoint
from rt3d_mlir.prune.commands import register

MODEL = ["--model", "c3d", "--width", "0.125", "--input-size", "16x16x16"]
DATA = ["--train-clips", "2000", "--test-clips", "500"]
DENSE = ["train", *MODEL, *DATA, "--epochs", "30", "--lr", "2e-3"]
REGULARIZE_EPOCHS, FINETUNE_EPOCHS = 4, 6
# Penalty strengths: on the dense model the group-Lasso gradient is about 5x smaller than the
# reweighted one at equal lambda, so it gets 5x the lambda (equal initial push on the weights).
PENALTY = {"regularization": "1e-2", "reweighted": "2e-3"}
RATES = (2.6, 3.6)
SCHEMES = ("filter", "vanilla", "kgs", "kgs-row", "balanced-kgs")
ALGORITHMS = ("heuristic", "regularization", "reweighted")
SEEDED_SCHEMES, SEEDS = ("filter", "vanilla", "kgs", "kgs-row"), (0, 1, 2)


@dataclass(frozen=True)
class Run:
    scheme: str
    algorithm: str
    rate: float
    seed: int = 0  # of the pruning run (initialisation of the masks' fine-tuning order, dropout); the dense model is one

    @property
    def name(self) -> str:
        return f"{self.scheme}-{self.algorithm}-{self.rate:g}x" + (f"-seed{self.seed}" if self.seed else "")

    @property
    def setting(self) -> str:
        """The run without its seed: the rows of the table."""
        return f"{self.scheme}-{self.algorithm}-{self.rate:g}x"

    def argv(self, dense: Path, out: Path) -> list[str]:
        # The heuristic has no regularization stage: it fine-tunes for as many epochs in total.
        if self.algorithm == "heuristic":
            schedule = ["--epochs", str(REGULARIZE_EPOCHS + FINETUNE_EPOCHS)]
        else:
            schedule = [
                "--regularize-epochs", str(REGULARIZE_EPOCHS), "--epochs", str(FINETUNE_EPOCHS),
                "--penalty", PENALTY[self.algorithm],
            ]  # fmt: skip
        return [
            "prune", "--dense", str(dense), "--scheme", self.scheme, "--algorithm", self.algorithm,
            "--target-rate", str(self.rate), *schedule, "--lr", "1e-3", *DATA, "--seed", str(self.seed), "--out", str(out),
        ]  # fmt: skip


# Algorithms compared on KGS, schemes compared with reweighted regularization; the highest rate and seed 0 first.
RUNS = (
    [Run("kgs", algorithm, rate) for rate in reversed(RATES) for algorithm in ALGORITHMS]
    + [Run(scheme, "reweighted", rate) for rate in reversed(RATES) for scheme in SCHEMES if scheme != "kgs"]
    + [Run(scheme, "reweighted", rate, seed) for seed in SEEDS[1:] for rate in reversed(RATES) for scheme in SEEDED_SCHEMES]
)
SETTINGS = list(dict.fromkeys(run.setting for run in RUNS))  # in RUNS order


def _settings(results: dict[str, dict]) -> dict[str, dict]:
    """Per setting (a run without its seed): the first run, mean and standard deviation of what was reached, seeds."""
    summary: dict[str, dict] = {}
    for setting in SETTINGS:
        runs = [run for run in RUNS if run.setting == setting and run.name in results]
        reached = [results[run.name] for run in runs if "accuracy" in results[run.name]]
        entry: dict = {"run": next(run for run in RUNS if run.setting == setting), "seeds": len(reached)}
        if runs and not reached:
            entry["unreachable"] = results[runs[0].name]["unreachable"]
        elif reached:
            for key in ("accuracy", "flops_rate"):
                values = torch.tensor([result[key] for result in reached], dtype=torch.float64)
                entry[key] = float(values.mean())
                entry[f"{key}_std"] = float(values.std()) if len(reached) > 1 else 0.0
        summary[setting] = entry
    return summary


def _rt3d(argv: list[str], execution: list[str]) -> None:
    print("rt3d " + shlex.join(argv), flush=True)
    parser = argparse.ArgumentParser(prog="rt3d")
    register(parser.add_subparsers(required=True))
    args = parser.parse_args(argv + execution)
    args.handler(args)


def _metrics(path: Path) -> dict:
    payload = read_checkpoint(path, MODEL_FORMAT)
    return {"accuracy": payload["metrics"]["accuracy"], "flops_rate": payload["profile"]["flops_rate"]}


def _svg(dense: dict, results: dict[str, dict]) -> str:
    """Accuracy against FLOPs pruning rate: one line per scheme (reweighted; mean over seeds, bars of one standard
    deviation), markers per algorithm (KGS)."""
    width, height, left, right, top, bottom = 640, 400, 60, 170, 20, 50
    x_min, x_max = 1.0, 4.0
    summary = {setting: entry for setting, entry in _settings(results).items() if "accuracy" in entry}  # reached rates only
    accuracies = [dense["accuracy"]] + [e["accuracy"] - e["accuracy_std"] for e in summary.values()]
    y_min = max(0.0, min(accuracies) * 100 - 5) // 10 * 10
    y_max = min(100.0, max(dense["accuracy"], *(e["accuracy"] + e["accuracy_std"] for e in summary.values())) * 100 + 2)

    def x(rate: float) -> float:
        return left + (rate - x_min) / (x_max - x_min) * (width - left - right)

    def y(accuracy: float) -> float:
        return top + (y_max - accuracy * 100) / (y_max - y_min) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 12}" text-anchor="middle">FLOPs pruning rate (dense MACs / remaining MACs)</text>',
        f'<text x="15" y="{(top + height - bottom) / 2:.0f}" text-anchor="middle" transform="rotate(-90 15 {(top + height - bottom) / 2:.0f})">test accuracy (%)</text>',
    ]
    for tick in (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - bottom + 16}" text-anchor="middle">{tick:g}x</text>')
    tick, step = y_min, 5 if y_max - y_min <= 40 else 10
    while tick <= y_max:
        parts.append(f'<line x1="{left}" y1="{y(tick / 100):.1f}" x2="{width - right}" y2="{y(tick / 100):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick / 100) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    colours = {"filter": "#d62728", "vanilla": "#ff7f0e", "kgs": "#1f77b4", "kgs-row": "#9467bd", "balanced-kgs": "#2ca02c"}
    legend_y = top + 10
    for scheme, colour in colours.items():
        entries = [e for e in summary.values() if e["run"].scheme == scheme and e["run"].algorithm == "reweighted"]
        points = sorted([(1.0, dense["accuracy"], 0.0)] + [(e["flops_rate"], e["accuracy"], e["accuracy_std"]) for e in entries])
        path = " ".join(f"{x(rate):.1f},{y(accuracy):.1f}" for rate, accuracy, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for rate, accuracy, spread in points:
            parts.append(f'<circle cx="{x(rate):.1f}" cy="{y(accuracy):.1f}" r="3.5" fill="{colour}"/>')
            if spread:
                parts.append(f'<line x1="{x(rate):.1f}" y1="{y(accuracy - spread):.1f}" x2="{x(rate):.1f}" '
                             f'y2="{y(accuracy + spread):.1f}" stroke="{colour}" stroke-width="1.5"/>')
        parts.append(f'<line x1="{width - right + 15}" y1="{legend_y}" x2="{width - right + 35}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 40}" y="{legend_y + 4}">{scheme} (reweighted)</text>')
        legend_y += 18
    for algorithm, marker in (("heuristic", "M -4 -4 L 4 4 M -4 4 L 4 -4"), ("regularization", "M -4 0 L 0 -4 L 4 0 L 0 4 Z")):
        for entry in summary.values():
            if entry["run"].algorithm == algorithm:
                parts.append(
                    f'<path d="{marker}" transform="translate({x(entry["flops_rate"]):.1f} {y(entry["accuracy"]):.1f})" '
                    f'fill="none" stroke="#1f77b4" stroke-width="1.5"/>'
                )
        parts.append(f'<path d="{marker}" transform="translate({width - right + 25} {legend_y})" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
        parts.append(f'<text x="{width - right + 40}" y="{legend_y + 4}">kgs ({algorithm})</text>')
        legend_y += 18
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _table(dense: dict, results: dict[str, dict]) -> str:
    rows = [
        "| scheme | algorithm | target rate | seeds | FLOPs rate reached | test accuracy (%) | change vs dense (points) |",
        "|---|---|---|---|---|---|---|",
        f"| dense | - | 1x | 1 | 1.00x | {dense['accuracy'] * 100:.1f} | - |",
    ]
    summary = _settings(results)
    order = sorted(summary.values(), key=lambda e: (e["run"].rate, e["run"].algorithm != "reweighted",
                                                    SCHEMES.index(e["run"].scheme), e["run"].algorithm))
    for entry in order:
        run = entry["run"]
        if "unreachable" in entry:
            rows.append(f"| {run.scheme} | {run.algorithm} | {run.rate:g}x | - | not reachable: {entry['unreachable']} | - | - |")
        elif "accuracy" in entry:
            change = (entry["accuracy"] - dense["accuracy"]) * 100
            spread = f" ± {entry['accuracy_std'] * 100:.1f}" if entry["seeds"] > 1 else ""
            rows.append(
                f"| {run.scheme} | {run.algorithm} | {run.rate:g}x | {entry['seeds']} | {entry['flops_rate']:.2f}x | "
                f"{entry['accuracy'] * 100:.1f}{spread} | {change:+.1f} |"
            )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/prune-experiment"), help="checkpoints and run states")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where the table and the plot go")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per process (default: 1)")
    parser.add_argument("--shard", default="0/1", help="K/N: do runs K, K+N, K+2N, ... only (default: all)")
    options = parser.parse_args()
    shard, shards = (int(part) for part in options.shard.split("/"))
    execution = ["--threads", str(options.threads), "--no-progress"]
    options.work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(options.threads)

    dense_path = options.work / "dense.pt"
    if shards > 1 and not dense_path.exists():
        raise SystemExit(f"train the dense model first (run without --shard until {dense_path} exists)")
    if not dense_path.exists():
        _rt3d([*DENSE, "--out", str(dense_path)], execution + (["--resume"] if dense_path.with_suffix(".work").exists() else []))
    results = {}
    for run in RUNS[shard::shards]:
        out = options.work / f"{run.name}.pt"
        unreachable = out.with_suffix(".unreachable")
        if not out.exists() and not unreachable.exists():
            resume = ["--resume"] if out.with_suffix(".work").exists() else []
            try:
                _rt3d(run.argv(dense_path, out), execution + resume)
            except UserError as error:  # e.g. a rate the scheme cannot reach at this width: a row, not a crash
                unreachable.write_text(str(error) + "\n")
        results[run.name] = {"unreachable": unreachable.read_text().strip()} if unreachable.exists() else _metrics(out)
    if shards > 1:
        return
    dense = _metrics(dense_path)
    options.docs.mkdir(parents=True, exist_ok=True)
    (options.docs / "pruning-results.md").write_text(_table(dense, results))
    (options.docs / "pruning-results.json").write_text(json.dumps({"dense": dense, "runs": results}, indent=2) + "\n")
    (options.docs / "pruning-results.svg").write_text(_svg(dense, results))
    print(_table(dense, results))


if __name__ == "__main__":
    main()
