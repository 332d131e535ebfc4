"""Benchmark: whole models, our KGS code vs our dense code vs every dense peer that runs here.

    python bench/end_to_end.py [--models c3d,r2plus1d_18] [--threads 1,2] [--rounds 5]
                               [--input-size 16x112x112] [--no-inductor] [--compare-direct] [--kgs-row] [--tune]
                               [--json results.json]

Each model gets the RT3D paper's pruning profile as random KGS patterns (8x4
groups): C3D 3.6x (conv2a 0.85, conv3a 0.80, conv3b 0.85, conv4b 0.80 of the
weights pruned), R(2+1)D-18 3.2x (stages layer1 0.9 and layer2 0.8, the rest
dense). The variants run interleaved, round by round, in this one process, on
the same thread count: our compiled KGS model, our compiled dense model (same
weights before pruning), each compiled as ``rt3d_mlir.compile`` does by default
(the strategy picks direct or Winograd per conv), and the dense peers: torch eager (oneDNN),
torch.compile (inductor), ONNX Runtime, OpenVINO and MNN (bench/baselines.py),
plus the FMA peak microkernel of bench/conv_layers.py. ``--compare-direct`` adds
both of ours compiled with direct convolution only ("ours KGS direct", "ours
dense direct"); ``--kgs-row`` adds the model pruned at the same rates in whole
kernel rows along W ("ours kgs-row", the ``kgs-row`` scheme's pattern, which
Winograd along W computes with fewer multiplications). For each of ours it prints
how many convs took which algorithm, the MACs its conv kernels perform next to the
direct-equivalent MACs, and the compile time. Our outputs and the
peers' are checked against torch eager first. It prints, under the target and
CPU, medians with min-max, the ratio of every variant to our KGS and our dense code, effective GFLOP/s
(FLOP = 2 x MAC, on the direct-equivalent MACs of each variant), the FLOPs pruning rate
next to our sparse-over-dense speedup, each of ours over MNN, issue 10's targets: our KGS model at
least 3.2x (C3D 3.6x) / 2.8x (R(2+1)D 3.2x) faster than the fastest
direct-convolution peer (every peer but MNN, whose Winograd convolutions do
fewer multiplications), and issue 11's: over MNN, C3D KGS >= 2.5x, C3D kgs-row >= 3.5x,
R(2+1)D KGS >= 2.2x. Then, per variant and call (the timed calls, not the
warm-up; see ``MeteredRun``): user and system CPU seconds, minor and major page
faults, the process's peak resident memory during the call and how far it rose
above the resident memory just before the call. Not a
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
import resource
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from rt3d_mlir import kgs
from rt3d_mlir.backends.host.compiled_model import CompiledModel
from rt3d_mlir.compiler import check_against_eager, compile as compile_model
from rt3d_mlir.demo import C3D_PAPER_PRUNING, last_name
from rt3d_mlir.errors import UserError
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.models.x3d import KGS_PRUNING as X3D_KGS_PRUNING, block_layer
from rt3d_mlir.prune.flops import kept_macs, measure_layers
from rt3d_mlir.targets import host_target
from rt3d_mlir.timing import time_interleaved

sys.path.insert(0, str(Path(__file__).parent))
from baselines import (  # noqa: E402
    FMA_PEAK, OURS_DENSE, OURS_KGS, DensePeers, check_target, current_commit, machine_description, print_report,
    summarize,
)
# The FMA peak microkernel and R(2+1)D's profile, shared with the layer benchmark.
from conv_layers import R2PLUS1D_PAPER_PRUNING, FmaPeak, parse_clip, stage_name  # noqa: E402
from plot import write_report_plot  # noqa: E402

GROUP = kgs.GroupShape(8, 4)

OURS_KGS_DIRECT, OURS_DENSE_DIRECT = "ours KGS direct", "ours dense direct"  # --compare-direct
OURS_KGS_ROW = "ours kgs-row"  # --kgs-row
ROW_AXIS_W = 2  # kgs-row rows run along the kernel's W


@dataclass(frozen=True)
class ModelProfile:
    pruning: dict[str, float]  # pruning rate per layer key
    layer_key: Callable[[str], str]  # module path -> layer key
    over_direct_peer: float  # issue 10: our KGS model over the fastest direct-convolution peer
    over_mnn: float | None = None  # issue 11: our KGS model over MNN
    row_over_mnn: float | None = None  # issue 11: our kgs-row model over MNN


PROFILES: dict[str, ModelProfile] = {
    "c3d": ModelProfile(C3D_PAPER_PRUNING, last_name, 3.2, over_mnn=2.5, row_over_mnn=3.5),
    "r2plus1d_18": ModelProfile(R2PLUS1D_PAPER_PRUNING, stage_name, 2.8, over_mnn=2.2),
    **{name: ModelProfile(X3D_KGS_PRUNING, block_layer, 1.0) for name in ("x3d_xs", "x3d_s", "x3d_m")},
}


def prune_layer_wide(model: torch.nn.Module, profile: ModelProfile, seed: int = 0, row_axis: int | None = None) -> None:
    """Zeroes, in each Conv3d the profile names, a random ``rate`` share of its (group, position) pairs,
    or with ``row_axis`` of its (group, kernel row along that axis) pairs (:func:`kgs.random_layer_pattern`)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for path, module in model.named_modules():
            if isinstance(module, torch.nn.Conv3d) and profile.layer_key(path) in profile.pruning:
                rate = profile.pruning[profile.layer_key(path)]
                kept = kgs.random_layer_pattern(module.weight.shape, GROUP, 1 - rate, generator, row_axis)
                module.weight.copy_(kgs.apply_kept_positions(module.weight, GROUP, kept))


def print_algorithms(label: str, compiled: CompiledModel, direct_macs: int) -> None:
    """Each conv's algorithm, the MACs its kernels perform next to the direct-equivalent ones, the compile time."""
    counts = Counter(compiled.algorithms)
    print(f"{label}: {', '.join(f'{n} x {algorithm}' for algorithm, n in counts.items())}; "
          f"{compiled.kernel_macs / 1e9:.2f} GMAC performed in the convs, {direct_macs / 1e9:.2f} GMAC direct-equivalent "
          f"(convs and linear layers); compile {compiled.compile_seconds:.0f} s", flush=True)


def model_macs(model: torch.nn.Module, clip_size: tuple[int, int, int]) -> tuple[int, int]:
    """(dense, kept) multiply-accumulates of the conv and linear layers, costed as the compiler does."""
    costs = measure_layers(model, clip_size)
    return sum(c.macs_dense for c in costs), sum(kept_macs(c, GROUP) for c in costs)


class MeteredRun:
    """A runner that records what its calls after the first (the warm-up) cost the process.

    Per call: user and system CPU seconds and minor/major page faults (``getrusage(RUSAGE_SELF)``
    around the call: every thread of the process, so a runtime's worker threads count, and so does
    a spin-wait another runtime's idle threads do during it), and the process's peak resident set
    during the call (Linux ``VmHWM``, reset to the current RSS before each call by writing 5 to
    /proc/self/clear_refs), with its growth over the RSS just before the call: the memory the call
    itself touches (activations, scratch) beyond what is resident between calls (weights, code,
    the other variants). Where /proc is not writable the memory fields are None.
    """

    def __init__(self, run: Callable[[], object]) -> None:
        self.run = run
        self.calls = -1  # the warm-up call is not counted
        self.user_s = self.system_s = 0.0
        self.minor_faults = self.major_faults = 0
        self.peak_rss_kib: int | None = None
        self.peak_growth_kib: int | None = None

    def __call__(self) -> object:
        if self.calls < 0:
            self.calls = 0
            return self.run()
        rss_before = _reset_peak_rss()
        before = resource.getrusage(resource.RUSAGE_SELF)
        result = self.run()
        after = resource.getrusage(resource.RUSAGE_SELF)
        peak = _status_kib("VmHWM") if rss_before is not None else None
        self.calls += 1
        self.user_s += after.ru_utime - before.ru_utime
        self.system_s += after.ru_stime - before.ru_stime
        self.minor_faults += after.ru_minflt - before.ru_minflt
        self.major_faults += after.ru_majflt - before.ru_majflt
        if peak is not None:
            self.peak_rss_kib = max(self.peak_rss_kib or 0, peak)
            self.peak_growth_kib = max(self.peak_growth_kib or 0, peak - rss_before)
        return result

    def per_call(self) -> dict:
        calls = max(1, self.calls)
        return {
            "user_s_per_call": self.user_s / calls, "system_s_per_call": self.system_s / calls,
            "minor_faults_per_call": self.minor_faults / calls, "major_faults_per_call": self.major_faults / calls,
            "peak_rss_mib": None if self.peak_rss_kib is None else self.peak_rss_kib / 1024,
            "peak_growth_mib": None if self.peak_growth_kib is None else self.peak_growth_kib / 1024,
        }


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``), or None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> int | None:
    """Resets the process's peak RSS to its current RSS; that RSS in KiB, or None where Linux does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status_kib("VmRSS")


def print_resources(case_label: str, rows: list[dict]) -> None:
    """Per variant: CPU seconds, page faults and peak resident memory per call (see :class:`MeteredRun`)."""
    def mib(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    print(f"{'case':<18} {'variant':<17} {'user s':>7} {'sys s':>7} {'minor faults':>12} {'major':>6} "
          f"{'peak RSS MiB':>12} {'+MiB in call':>12}   (per call)")
    for row in rows:
        print(f"{case_label:<18} {row['variant']:<17} {row['user_s_per_call']:>7.3f} {row['system_s_per_call']:>7.3f} "
              f"{row['minor_faults_per_call']:>12.0f} {row['major_faults_per_call']:>6.0f} "
              f"{mib(row['peak_rss_mib']):>12} {mib(row['peak_growth_mib']):>12}")
    print()


def bench_model(
    name: str, clip_size: tuple[int, int, int], thread_counts: list[int], rounds: int, inductor: bool,
    compare_direct: bool = False, kgs_row: bool = False, tune: bool = False,
) -> tuple[list[dict], list[dict], dict[str, str]]:
    """(rows, summaries, skipped peers with the reason) for one model.

    Our variants: KGS and dense compiled with the strategy's algorithm per conv (direct or
    Winograd); with ``compare_direct`` also both with direct convolution only; with ``kgs_row``
    also the model pruned at the same rates in whole rows along W, compiled like KGS. ``tune``:
    each of ours compiled with ``tune=True`` (algorithms and schedules timed on this machine, or
    read from the tuning cache where an earlier run timed them).
    """
    profile = PROFILES[name]
    dense_model = build_model(name, input_size=clip_size)
    models = {OURS_KGS: copy.deepcopy(dense_model), OURS_DENSE: dense_model}
    prune_layer_wide(models[OURS_KGS], profile)
    if kgs_row:
        models[OURS_KGS_ROW] = copy.deepcopy(dense_model)
        prune_layer_wide(models[OURS_KGS_ROW], profile, row_axis=ROW_AXIS_W)
    clip = example_input(name, input_size=clip_size)
    macs = {variant: model_macs(model, clip_size)[1] for variant, model in models.items()}
    dense_macs = macs[OURS_DENSE]
    for variant in models:
        if variant != OURS_DENSE:
            print(f"{name} {variant}: {dense_macs / 1e9:.2f} GMAC dense, {macs[variant] / 1e9:.2f} GMAC kept: FLOPs "
                  f"pruning rate {dense_macs / macs[variant]:.2f}x", flush=True)
    builds = [(variant, model, False) for variant, model in models.items()]
    if compare_direct:
        builds += [(OURS_KGS_DIRECT, models[OURS_KGS], True), (OURS_DENSE_DIRECT, dense_model, True)]
        macs.update({OURS_KGS_DIRECT: macs[OURS_KGS], OURS_DENSE_DIRECT: dense_macs})
    print(f"{name}: compiling ({', '.join(variant for variant, _, _ in builds)}{', inductor' if inductor else ''}), "
          "exporting to ONNX and MNN ...", file=sys.stderr, flush=True)
    ours = {}
    for variant, model, direct_only in builds:
        ours[variant] = compiled = compile_model(model, clip, direct_only=direct_only, tune=tune)
        check_against_eager(compiled, model, clip)
        print_algorithms(f"{name} {variant}", compiled, macs[variant])
    inductor_model = torch.compile(dense_model) if inductor else None
    peers = DensePeers(dense_model, clip)
    rows, summaries = [], []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for compiled in ours.values():
            compiled.set_threads(threads)
        peak = FmaPeak(host_target(), threads)
        runs: dict[str, Callable[[], object]] = {variant: (lambda compiled=compiled: compiled(clip)) for variant, compiled in ours.items()}
        runs["torch eager"] = lambda: dense_model(clip)
        if inductor_model is not None:
            runs["torch.compile"] = lambda: inductor_model(clip)
        runs.update(peers.runners(threads))
        metered = {variant: MeteredRun(run) for variant, run in runs.items()}
        runs = {**metered, FMA_PEAK: peak}
        with torch.no_grad():
            times = time_interleaved(runs, rounds)
        macs.update({variant: dense_macs for variant in runs if variant not in macs})
        case_rows, summary = summarize({"model": name, "threads": threads}, times, macs, peak.flops)
        for row in case_rows:
            row.update(metered[row["variant"]].per_call())
        print_resources(f"{name} {threads} thr", case_rows)
        summary["peer_errors"] = dict(peers.errors)
        summary["fma_peak_clock"] = peak.clock(summary["fma_peak_gflops"])
        check_target(summary, f"KGS over the fastest direct-convolution peer >= {profile.over_direct_peer}x",
                     summary["kgs_over_fastest_direct_peer"], profile.over_direct_peer)
        over_mnn = summary.get("over_mnn", {})
        for variant, bound in ((OURS_KGS, profile.over_mnn), (OURS_KGS_ROW, profile.row_over_mnn)):
            if bound is not None and variant in over_mnn:
                check_target(summary, f"{variant} over MNN >= {bound}x", over_mnn[variant], bound)
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
    parser.add_argument("--compare-direct", action="store_true",
                        help=f"also time our KGS and dense models with direct convolution only ('{OURS_KGS_DIRECT}', '{OURS_DENSE_DIRECT}')")
    parser.add_argument("--kgs-row", action="store_true",
                        help=f"also time the model pruned at the same rates in whole kernel rows along W ('{OURS_KGS_ROW}')")
    parser.add_argument("--tune", action="store_true",
                        help="tune our variants first (rt3d tune: algorithms and schedules timed here, cached for later runs)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--plot", default=None, help="also write an SVG of the results here (bench/plot.py)")
    args = parser.parse_args()
    try:
        run(args)
    except UserError as error:
        sys.exit(f"error: {error}")


def run(args: argparse.Namespace) -> None:
    clip_size = parse_clip(args.input_size) or (16, 112, 112)
    commit = current_commit()
    machine = machine_description(host_target())
    print(f"commit {commit}; {machine}")
    report = {"commit": commit, "input_size": list(clip_size), "target": host_target().name, "machine": machine,
              "rows": [], "summaries": [], "skipped": {}}
    for name in args.models.split(","):
        rows, summaries, skipped = bench_model(
            name, clip_size, [int(t) for t in args.threads.split(",")], args.rounds, not args.no_inductor,
            args.compare_direct, args.kgs_row, args.tune,
        )
        report["rows"] += rows
        report["summaries"] += summaries
        report["skipped"].update({f"{name} {peer}": reason for peer, reason in skipped.items()})
    print(f"\ncommit {commit}, clip {args.input_size}, {args.rounds} rounds")
    print_report(lambda case: f"{case['model']} {case['threads']} thr", report["rows"], report["summaries"], machine)
    for summary in report["summaries"]:
        case = (summary["model"], summary["threads"])
        print_resources(f"{case[0]} {case[1]} thr", [row for row in report["rows"] if (row["model"], row["threads"]) == case])
    for peer, reason in report["skipped"].items():
        print(f"skipped {peer}: {reason}")
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.plot:
        write_report_plot(report, args.plot)


if __name__ == "__main__":
    main()
