"""Benchmark: C3D's pruned conv layers, our KGS-sparse code vs our dense code vs every dense peer here.

    python bench/conv_layers.py [--layers conv2a,conv3b] [--rounds 7] [--threads 1,2] [--input-size 16x112x112]
                                [--schedule FILTERS,ROWS,W_VECTORS,CHANNEL_GROUPS] [--check] [--no-inductor]
                                [--json results.json]

For each layer (C3D's conv2a, conv3a, conv3b, conv4b at the paper's 3.6x
profile: 0.85/0.80/0.85/0.80 of the positions pruned; batch 1, 3x3x3,
padding 1, the layer's input size for a 16x112x112 clip; group 8x4 with a
random set of kept positions per group) it times, interleaved round by round
in this one process and on the same thread count: our sparse code, our dense
code (the same layer with every position kept) and the dense peers: torch eager
(``torch.nn.functional.conv3d``, oneDNN), torch.compile (inductor), ONNX
Runtime and MNN (bench/baselines.py), all without bias (ours accumulate into a
zero ``linalg.fill``, as imported models do), plus the FMA peak of an MLIR
microkernel, so every ratio compares numbers taken side by side. It prints
medians and min-max in ms, the ratio of every variant to our sparse and our
dense code, effective GFLOP/s (FLOP = 2 x MAC, on the MACs each computes), the
FLOPs pruning rate next to our sparse-over-dense speedup, and the targets: that
speedup >= 0.8 x the FLOPs rate, our dense code within 1.25x of the fastest
dense peer, our sparse code >= 60% of the FMA peak (the whole layer, padding
and output included, so a lower bound for its inner kernel). Not a test: a
noisy machine changes absolute numbers, the ratios are what to read.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch_mlir import ir, runtime

from rt3d_mlir.codegen.jit import JitModule
from rt3d_mlir.codegen.single_conv import CompiledConv, ConvSpec, random_kgs_weight
from rt3d_mlir.kgs import GroupShape, compact
from rt3d_mlir.targets import host_target
from rt3d_mlir.targets.strategy import Schedule
from rt3d_mlir.timing import time_interleaved

sys.path.insert(0, str(Path(__file__).parent))
from baselines import (  # noqa: E402
    FMA_PEAK, OURS_DENSE, OURS_KGS, DensePeers, check_target, current_commit, print_report, summarize,
)
from plot import write_report_plot  # noqa: E402

GROUP = GroupShape(8, 4)


@dataclass(frozen=True)
class Layer:
    name: str
    in_channels: int
    out_channels: int
    size: tuple[int, int, int]  # input D, H, W for a 16x112x112 clip
    kept_fraction: float  # the published C3D 3.6x profile: 1 - KGS rate


LAYERS = {
    layer.name: layer
    for layer in (
        Layer("conv2a", 64, 128, (16, 56, 56), 0.15),
        Layer("conv3a", 128, 256, (8, 28, 28), 0.20),
        Layer("conv3b", 256, 256, (8, 28, 28), 0.15),
        Layer("conv4b", 512, 512, (4, 14, 14), 0.20),
    )
}


class FmaPeak:
    """An MLIR microkernel of independent vector FMAs (12 accumulators per thread, threads via scf.parallel).

    Timed in the same rounds as the convs, so its GFLOP/s is the peak under the same load.
    """

    ACCUMULATORS = 12

    def __init__(self, lanes: int, threads: int, iterations: int = 4_000_000) -> None:
        self.lanes, self.threads, self.iterations = lanes, threads, iterations
        vector_type = f"vector<{lanes}xf32>"
        buffer_type = f"memref<{threads}x{lanes}xf32>"
        count = self.ACCUMULATORS
        types = ", ".join([vector_type] * count)
        fmas = "\n".join(f"      %n{i} = vector.fma %x, %y, %a{i} : {vector_type}" for i in range(count))
        sums = "\n".join(
            f"  %s{i} = arith.addf %s{i - 1}, %r#{i} : {vector_type}" if i else f"  %s0 = arith.addf %r#0, %r#0 : {vector_type}"
            for i in range(count)
        )
        # The per-thread loop is its own function: the OpenMP lowering needs a single-block parallel body.
        source = f"""
func.func private @worker(%iterations: index, %scale: f32, %out: {buffer_type}, %t: index) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %x = vector.load %out[%t, %c0] : {buffer_type}, {vector_type}
  %y = vector.broadcast %scale : f32 to {vector_type}
  %r:{count} = scf.for %i = %c0 to %iterations step %c1
      iter_args({", ".join(f"%a{i} = %x" for i in range(count))}) -> ({types}) {{
{fmas}
      scf.yield {", ".join(f"%n{i}" for i in range(count))} : {types}
  }}
{sums}
  vector.store %s{count - 1}, %out[%t, %c0] : {buffer_type}, {vector_type}
  return
}}
func.func @peak(%iterations: index, %scale: f32, %out: {buffer_type}) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %workers = arith.constant {threads} : index
  scf.parallel (%t) = (%c0) to (%workers) step (%c1) {{
    func.call @worker(%iterations, %scale, %out, %t) : (index, f32, {buffer_type}, index) -> ()
    scf.reduce
  }}
  return
}}
"""
        with ir.Context():
            self.jit = JitModule(ir.Module.parse(source), openmp=True)
        self.out = np.ones((threads, lanes), np.float32)
        self.arguments = (
            ctypes.pointer(ctypes.c_size_t(iterations)),
            ctypes.pointer(ctypes.c_float(0.9999)),
            ctypes.pointer(ctypes.pointer(runtime.get_ranked_memref_descriptor(self.out))),
        )

    @property
    def flops(self) -> int:
        return self.iterations * self.ACCUMULATORS * self.lanes * 2 * self.threads

    def __call__(self) -> None:
        self.jit.set_threads(self.threads)
        self.jit.invoke("peak", *self.arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", default=",".join(LAYERS), help="comma-separated subset of " + ",".join(LAYERS))
    parser.add_argument("--rounds", type=int, default=7, help="timed calls of each variant (median reported)")
    parser.add_argument("--threads", default="1,2", help="thread counts to time, e.g. 1,2")
    parser.add_argument("--input-size", default="16x112x112", help="clip size; each layer's input scales with it")
    parser.add_argument(
        "--schedule", default="", help="FILTERS,ROWS,W_VECTORS,CHANNEL_GROUPS to override the strategy's schedule"
    )
    parser.add_argument("--check", action="store_true", help="also compare our outputs against torch")
    parser.add_argument("--no-inductor", action="store_true", help="skip torch.compile")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--plot", default=None, help="also write an SVG of the results here (bench/plot.py)")
    args = parser.parse_args()

    target = host_target()
    thread_counts = [int(t) for t in args.threads.split(",")]
    clip = tuple(int(d) for d in args.input_size.split("x"))
    commit = current_commit()
    print(f"commit {commit}; target {target.name}: {target.vector_lanes} f32 lanes, "
          f"{target.vector_registers} vector registers, {target.cores} cores")
    peaks = {t: FmaPeak(target.vector_lanes, t) for t in thread_counts}

    generator = torch.Generator().manual_seed(0)
    report = {"commit": commit, "input_size": list(clip), "target": target.name, "rows": [], "summaries": [], "skipped": {}}
    for name in args.layers.split(","):
        layer = LAYERS[name]
        size = tuple(max(1, s * c // p) for s, c, p in zip(layer.size, clip, (16, 112, 112)))
        spec = ConvSpec((1, layer.in_channels, *size), (1, 1, 1), (1,) * 6)
        weight_shape = (layer.out_channels, layer.in_channels, 3, 3, 3)
        sparse_weight = random_kgs_weight(weight_shape, GROUP, layer.kept_fraction, generator)
        dense_weight = torch.randn(weight_shape, generator=generator)
        sparse_kgs, dense_kgs = compact(sparse_weight, GROUP), compact(dense_weight, GROUP)
        probe_target = replace(target, cores=max(thread_counts))

        def compile_conv(kgs) -> CompiledConv:
            schedule = None
            if args.schedule:
                filters, block_rows, w_vectors, channel_groups = (int(v) for v in args.schedule.split(","))
                schedule = Schedule(
                    target.vector_lanes, filters, block_rows, w_vectors, channel_groups, threads=probe_target.cores
                )
            return CompiledConv(kgs, spec, schedule=schedule, target=probe_target, zero_init=True)

        start = time.perf_counter()
        sparse, dense = compile_conv(sparse_kgs), compile_conv(dense_kgs)
        compile_s = time.perf_counter() - start
        x = torch.randn(spec.input_shape, generator=generator)
        if args.check:
            for conv, weight in ((sparse, sparse_weight), (dense, dense_weight)):
                expected = torch.nn.functional.conv3d(x, weight, padding=1).numpy()
                np.testing.assert_allclose(conv(x), expected, rtol=1e-4, atol=1e-3)
        dense_module = torch.nn.Conv3d(layer.in_channels, layer.out_channels, 3, padding=1, bias=False).eval()
        dense_module.weight = torch.nn.Parameter(dense_weight, requires_grad=False)
        inductor = None if args.no_inductor else torch.compile(dense_module)
        peers = DensePeers(dense_module, x)
        out_points = int(np.prod(sparse.output_shape[2:]))
        dense_macs = layer.out_channels * layer.in_channels * 27 * out_points
        sparse_macs = sparse_kgs.values.size * out_points
        print(f"{name}: input {'x'.join(map(str, size))}, schedule {sparse.schedule}, compile {compile_s:.1f} s "
              f"for both, computed kept fraction {sparse_macs / dense_macs:.3f}", flush=True)
        for threads in thread_counts:
            torch.set_num_threads(threads)
            sparse.jit.set_threads(threads)
            dense.jit.set_threads(threads)
            runs = {
                OURS_KGS: lambda: sparse(x),
                OURS_DENSE: lambda: dense(x),
                "torch eager": lambda: torch.nn.functional.conv3d(x, dense_weight, padding=1),
            }
            if inductor is not None:
                runs["torch.compile"] = lambda: inductor(x)
            runs.update(peers.runners(threads))
            runs[FMA_PEAK] = peaks[threads]
            with torch.no_grad():
                times = time_interleaved(runs, args.rounds)
            macs = {variant: sparse_macs if variant == OURS_KGS else dense_macs for variant in runs}
            rows, summary = summarize({"layer": name, "threads": threads}, times, macs, peaks[threads].flops)
            summary["peer_errors"] = dict(peers.errors)
            rate = summary["flops_pruning_rate"]
            check_target(summary, f"KGS over ours dense >= 0.8 x FLOPs rate = {0.8 * rate:.2f}x",
                         summary["kgs_over_ours_dense"], 0.8 * rate)
            check_target(summary, "ours dense / fastest dense peer <= 1.25",
                         summary["ours_dense_over_fastest_peer"], 1.25, at_least=False)
            check_target(summary, "KGS % of FMA peak >= 60", summary["kgs_percent_of_fma_peak"], 60)
            report["rows"] += rows
            report["summaries"].append(summary)
            print_report(_label, rows, [summary])
        peers.close()
        report["skipped"].update({f"{name} {peer}": reason for peer, reason in peers.skipped.items()})
    print(f"commit {commit}, clip {args.input_size}, {args.rounds} rounds, target {target.name}")
    print_report(_label, report["rows"], report["summaries"])
    for peer, reason in report["skipped"].items():
        print(f"skipped {peer}: {reason}")
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.plot:
        write_report_plot(report, args.plot)


def _label(case: dict) -> str:
    return f"{case['layer']} {case['threads']} thr"


if __name__ == "__main__":
    main()
