"""Benchmark: whole models, our KGS code vs our dense code vs torch eager vs torch.compile.

    python bench/end_to_end.py [--models c3d,r2plus1d_18] [--threads 1,2] [--rounds 5]
                               [--input-size 16x112x112] [--no-inductor] [--json results.json]

Each model gets the RT3D paper's pruning profile as random KGS patterns (8x4
groups): C3D 3.6x (conv2a 0.85, conv3a 0.80, conv3b 0.85, conv4b 0.80 of the
positions pruned), R(2+1)D-18 3.2x (layer1 0.9, layer2 0.8). The variants run
interleaved, round by round, in this one process: our compiled KGS model, our
compiled dense model (same weights before pruning), torch eager (oneDNN) and
torch.compile (inductor) on the dense model, plus the FMA peak microkernel of
bench/conv_layers.py. It prints medians with min-max, the ratio of every
variant to our KGS code, effective GFLOP/s on the MACs each computes, and the
FLOPs pruning rate next to our sparse-over-dense speedup. Not a test: read the
ratios, not the absolute times, on a shared machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

import torch

from rt3d_mlir import kgs
from rt3d_mlir.compiler import compile as compile_model
from rt3d_mlir.demo import C3D_PAPER_PRUNING, prune_randomly
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.prune.flops import kept_macs, measure_layers
from rt3d_mlir.targets import host_target
from rt3d_mlir.timing import time_interleaved

sys.path.insert(0, str(Path(__file__).parent))
from conv_layers import FmaPeak  # noqa: E402  (the FMA peak microkernel, shared with the layer benchmark)

GROUP = kgs.GroupShape(8, 4)
R2PLUS1D_PAPER_PRUNING = {"layer1": 0.9, "layer2": 0.8}


def model_macs(model: torch.nn.Module, clip_size: tuple[int, int, int]) -> tuple[int, int]:
    """(dense, kept) multiply-accumulates of the conv and linear layers, costed as the compiler does."""
    costs = measure_layers(model, clip_size)
    return sum(c.macs_dense for c in costs), sum(kept_macs(c, GROUP) for c in costs)


def bench_model(name: str, clip_size: tuple[int, int, int], thread_counts: list[int], rounds: int, inductor: bool) -> list[dict]:
    dense_model = build_model(name, input_size=clip_size) if name == "c3d" else build_model(name)
    sparse_model = copy.deepcopy(dense_model)
    if name == "c3d":
        prune_randomly(sparse_model, C3D_PAPER_PRUNING, GROUP)
    else:  # R(2+1)D's profile names whole stages: layer1.0.conv1.0.0 belongs to layer1
        prune_randomly(sparse_model, R2PLUS1D_PAPER_PRUNING, GROUP, layer_key=lambda path: path.split(".", 1)[0])
    clip = example_input(name, input_size=clip_size)
    dense_macs, kept = model_macs(sparse_model, clip_size)
    print(f"{name}: compiling (KGS, dense{', inductor' if inductor else ''}) ...", file=sys.stderr, flush=True)
    ours_sparse = compile_model(sparse_model, clip)
    ours_dense = compile_model(dense_model, clip)
    inductor_model = torch.compile(dense_model) if inductor else None
    results = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        ours_sparse.set_threads(threads)
        ours_dense.set_threads(threads)
        peak = FmaPeak(host_target().vector_lanes, threads)
        runs = {
            "ours KGS": lambda: ours_sparse(clip),
            "ours dense": lambda: ours_dense(clip),
            "torch eager": lambda: dense_model(clip),
            "peak": peak,
        }
        if inductor_model is not None:
            runs["torch.compile"] = lambda: inductor_model(clip)
        with torch.no_grad():
            times = time_interleaved(runs, rounds)
        macs = {"ours KGS": kept, "ours dense": dense_macs, "torch eager": dense_macs, "torch.compile": dense_macs}
        medians = {variant: statistics.median(samples) for variant, samples in times.items()}
        peak_gflops = peak.flops / medians["peak"] / 1e9
        for variant, samples in times.items():
            if variant == "peak":
                continue
            results.append({
                "model": name, "threads": threads, "variant": variant,
                "median_ms": medians[variant] * 1e3, "min_ms": min(samples) * 1e3, "max_ms": max(samples) * 1e3,
                "ours_kgs_speedup": medians[variant] / medians["ours KGS"],
                "gflops": 2 * macs[variant] / medians[variant] / 1e9, "fma_peak_gflops": peak_gflops,
                "flops_pruning_rate": dense_macs / kept,
            })
    return results


def print_table(results: list[dict]) -> None:
    header = f"{'model':<12} {'thr':>3} {'variant':<14} {'median ms':>10} {'min-max ms':>19} {'KGS faster':>10} {'GFLOP/s':>8} {'peak':>6}"
    print(header)
    print("-" * len(header))
    for row in results:
        print(f"{row['model']:<12} {row['threads']:>3} {row['variant']:<14} {row['median_ms']:>10.1f} "
              f"{row['min_ms']:>9.1f}-{row['max_ms']:<9.1f} {row['ours_kgs_speedup']:>9.2f}x {row['gflops']:>8.1f} "
              f"{row['fma_peak_gflops']:>6.0f}")
    for model in dict.fromkeys(r["model"] for r in results):
        for threads in dict.fromkeys(r["threads"] for r in results if r["model"] == model):
            rows = {r["variant"]: r for r in results if r["model"] == model and r["threads"] == threads}
            print(f"{model}, {threads} thread(s): FLOPs pruning rate {rows['ours KGS']['flops_pruning_rate']:.2f}x, "
                  f"our KGS over our dense {rows['ours dense']['ours_kgs_speedup']:.2f}x, over the fastest dense peer "
                  f"{min(r['ours_kgs_speedup'] for v, r in rows.items() if v not in ('ours KGS', 'ours dense')):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="c3d,r2plus1d_18")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--input-size", default="16x112x112")
    parser.add_argument("--no-inductor", action="store_true", help="skip torch.compile (its compile takes minutes)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    clip_size = tuple(int(d) for d in args.input_size.split("x"))
    results = []
    for name in args.models.split(","):
        results += bench_model(name, clip_size, [int(t) for t in args.threads.split(",")], args.rounds, not args.no_inductor)
    print_table(results)
    print(json.dumps(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
