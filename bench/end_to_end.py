"""Benchmark: whole models, our KGS code vs our dense code vs every dense peer that runs here.

    python bench/end_to_end.py [--models c3d,r2plus1d_18] [--threads 1,2] [--rounds 5]
                               [--input-size 16x112x112] [--no-inductor] [--json results.json]

Each model gets the RT3D paper's pruning profile as random KGS patterns (8x4
groups): C3D 3.6x (conv2a 0.85, conv3a 0.80, conv3b 0.85, conv4b 0.80 of the
weights pruned), R(2+1)D-18 3.2x (stages layer1 0.9 and layer2 0.8, the rest
dense). The variants run interleaved, round by round, in this one process, on
the same thread count: our compiled KGS model, our compiled dense model (same
weights before pruning), and the dense peers: torch eager (oneDNN),
torch.compile (inductor), ONNX Runtime, OpenVINO and MNN (bench/baselines.py),
plus the FMA peak microkernel of bench/conv_layers.py. Our outputs and the
peers' are checked against torch eager first. It prints, under the target and
CPU, medians with min-max, the ratio of every variant to our KGS and our dense code, effective GFLOP/s
(FLOP = 2 x MAC, on the MACs each variant computes), the FLOPs pruning rate
next to our sparse-over-dense speedup, and the target checks: our KGS model at
least 2.5x (C3D) / 2.2x (R(2+1)D) faster than the fastest dense peer. Not a
test: read the ratios, not the absolute times, on a shared machine.

How the profile is read. MACs are counted as the compiler costs them
(rt3d_mlir.prune.flops): every Conv3d (R(2+1)D's 1x3x3 spatial and 3x1x1
temporal convs with their mid channels, the 1x1x1 downsample convs) and the
Linear layers; batch norm, ReLU, pooling and the residual adds are not counted.
R(2+1)D-18 is 41.5 GMAC at 16x112x112, 53% of it in layer1 and 26% in layer2.
A rate is read as the fraction of the layer's (kernel group, position) pairs
that are pruned, chosen at random over the whole layer, so groups keep
different numbers of positions (some none), as reweighted group regularization
leaves them. Keeping the same number of positions in every group instead
(round(kept fraction x positions), at least one) cannot express these rates on
R(2+1)D's small kernels: a 3x1x1 temporal kernel keeps 1 of 3 positions (67%
pruned) at both 0.9 and 0.8, a 1x3x3 one keeps 2 of 9 (78%) at 0.8, and a
1x1x1 downsample conv nothing can be pruned from; that reading gives 2.75x on
the whole model, the layer-wide one 3.18x, which is the paper's 3.2x. Applying
the rates to the spatial convs only would give 2.0x. C3D's 3x3x3 kernels give
3.6x either way (3.64x per group, 3.57x layer-wide). The script prints the rate
it measured on the pruned weights.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Callable

import torch

from rt3d_mlir import kgs
from rt3d_mlir.compiler import check_against_eager, compile as compile_model
from rt3d_mlir.demo import C3D_PAPER_PRUNING, last_name
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.prune.flops import kept_macs, measure_layers
from rt3d_mlir.targets import host_target
from rt3d_mlir.timing import time_interleaved

sys.path.insert(0, str(Path(__file__).parent))
from baselines import (  # noqa: E402
    FMA_PEAK, OURS_DENSE, OURS_KGS, DensePeers, check_target, current_commit, machine_description, print_report,
    summarize,
)
# The FMA peak microkernel and R(2+1)D's profile, shared with the layer benchmark.
from conv_layers import R2PLUS1D_PAPER_PRUNING, FmaPeak, stage_name  # noqa: E402

GROUP = kgs.GroupShape(8, 4)

PROFILES: dict[str, tuple[dict[str, float], Callable[[str], str], float]] = {
    # model: (pruning rate per layer key, module path -> layer key, target speedup over the fastest dense peer)
    "c3d": (C3D_PAPER_PRUNING, last_name, 2.5),
    "r2plus1d_18": (R2PLUS1D_PAPER_PRUNING, stage_name, 2.2),
}


def prune_layer_wide(model: torch.nn.Module, pruning: dict[str, float], layer_key: Callable[[str], str], seed: int = 0) -> None:
    """Zeroes, in each Conv3d that ``pruning`` names, a random ``rate`` share of its (group, position) pairs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for path, module in model.named_modules():
            if isinstance(module, torch.nn.Conv3d) and layer_key(path) in pruning:
                grid_m, grid_n = GROUP.grid(module.out_channels, module.in_channels)
                pairs = grid_m * grid_n * module.weight[0, 0].numel()
                kept = torch.zeros(pairs, dtype=torch.bool)
                kept[torch.randperm(pairs, generator=generator)[: round((1 - pruning[layer_key(path)]) * pairs)]] = True
                module.weight.copy_(kgs.apply_kept_positions(module.weight, GROUP, kept.reshape(grid_m, grid_n, -1)))


def model_macs(model: torch.nn.Module, clip_size: tuple[int, int, int]) -> tuple[int, int]:
    """(dense, kept) multiply-accumulates of the conv and linear layers, costed as the compiler does."""
    costs = measure_layers(model, clip_size)
    return sum(c.macs_dense for c in costs), sum(kept_macs(c, GROUP) for c in costs)


def bench_model(
    name: str, clip_size: tuple[int, int, int], thread_counts: list[int], rounds: int, inductor: bool
) -> tuple[list[dict], list[dict], dict[str, str]]:
    """(rows, summaries, skipped peers with the reason) for one model."""
    pruning, layer_key, target = PROFILES[name]
    dense_model = build_model(name, input_size=clip_size)
    sparse_model = copy.deepcopy(dense_model)
    prune_layer_wide(sparse_model, pruning, layer_key)
    clip = example_input(name, input_size=clip_size)
    dense_macs, kept = model_macs(sparse_model, clip_size)
    print(f"{name}: {dense_macs / 1e9:.2f} GMAC dense, {kept / 1e9:.2f} GMAC kept: FLOPs pruning rate "
          f"{dense_macs / kept:.2f}x", flush=True)
    print(f"{name}: compiling (KGS, dense{', inductor' if inductor else ''}), exporting to ONNX and MNN ...",
          file=sys.stderr, flush=True)
    ours_sparse = compile_model(sparse_model, clip)
    ours_dense = compile_model(dense_model, clip)
    for compiled, model in ((ours_sparse, sparse_model), (ours_dense, dense_model)):
        check_against_eager(compiled, model, clip)
    inductor_model = torch.compile(dense_model) if inductor else None
    peers = DensePeers(dense_model, clip)
    macs = {OURS_KGS: kept}
    rows, summaries = [], []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        ours_sparse.set_threads(threads)
        ours_dense.set_threads(threads)
        peak = FmaPeak(host_target(), threads)
        runs = {OURS_KGS: lambda: ours_sparse(clip), OURS_DENSE: lambda: ours_dense(clip), "torch eager": lambda: dense_model(clip)}
        if inductor_model is not None:
            runs["torch.compile"] = lambda: inductor_model(clip)
        runs.update(peers.runners(threads))
        runs[FMA_PEAK] = peak
        with torch.no_grad():
            times = time_interleaved(runs, rounds)
        macs.update({variant: dense_macs for variant in runs if variant != OURS_KGS})
        case_rows, summary = summarize({"model": name, "threads": threads}, times, macs, peak.flops)
        summary["peer_errors"] = dict(peers.errors)
        summary["fma_peak_clock"] = peak.clock(summary["fma_peak_gflops"])
        check_target(summary, f"KGS over the fastest dense peer >= {target}x", summary["kgs_over_fastest_peer"], target)
        rows += case_rows
        summaries.append(summary)
    peers.close()
    return rows, summaries, dict(peers.skipped)


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
    commit = current_commit()
    machine = machine_description(host_target())
    print(f"commit {commit}; {machine}")
    report = {"commit": commit, "input_size": list(clip_size), "target": host_target().name, "machine": machine,
              "rows": [], "summaries": [], "skipped": {}}
    for name in args.models.split(","):
        rows, summaries, skipped = bench_model(
            name, clip_size, [int(t) for t in args.threads.split(",")], args.rounds, not args.no_inductor
        )
        report["rows"] += rows
        report["summaries"] += summaries
        report["skipped"].update({f"{name} {peer}": reason for peer, reason in skipped.items()})
    print(f"\ncommit {commit}, clip {args.input_size}, {args.rounds} rounds")
    print_report(lambda case: f"{case['model']} {case['threads']} thr", report["rows"], report["summaries"], machine)
    for peer, reason in report["skipped"].items():
        print(f"skipped {peer}: {reason}")
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
