"""Benchmark: C3D's pruned conv layers, our KGS-sparse code vs our dense code vs torch (oneDNN).

    python bench/conv_layers.py [--layers conv2a,conv3b] [--rounds 7] [--threads 1,2]
                                [--schedule FILTERS,ROWS,W_VECTORS,CHANNEL_GROUPS] [--check]

For each layer (16x112x112 clip, batch 1, 3x3x3, padding 1; group 8x4 with a
random set of kept positions per group at the layer's kept fraction) it times,
interleaved round by round in this one process: our sparse code, our dense code
(the same layer with every position kept) and ``torch.nn.functional.conv3d``, all
without bias (ours accumulate into a zero ``linalg.fill``, as imported models do).
It prints medians and min-max in ms, the speedups, effective GFLOP/s on the MACs
each one computes (x2) and the FMA peak of an MLIR microkernel timed in the same
rounds, so every ratio compares numbers taken side by side; a second "min" line
gives the same ratios from each variant's fastest round (the least disturbed by
other load). Not a test: a noisy machine changes absolute numbers, the ratios
are what to read.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch_mlir import ir, runtime

from rt3d_mlir.codegen.jit import JitModule
from rt3d_mlir.codegen.single_conv import CompiledConv, ConvSpec, random_kgs_weight
from rt3d_mlir.kgs import GroupShape, compact
from rt3d_mlir.targets import host_target
from rt3d_mlir.targets.strategy import Schedule

GROUP = GroupShape(8, 4)


@dataclass(frozen=True)
class Layer:
    name: str
    in_channels: int
    out_channels: int
    size: tuple[int, int, int]  # input D, H, W
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
    parser.add_argument(
        "--schedule", default="", help="FILTERS,ROWS,W_VECTORS,CHANNEL_GROUPS to override the strategy's schedule"
    )
    parser.add_argument("--check", action="store_true", help="also compare each output against torch")
    args = parser.parse_args()

    target = host_target()
    thread_counts = [int(t) for t in args.threads.split(",")]
    print(f"target {target.name}: {target.vector_lanes} f32 lanes, {target.vector_registers} vector registers, "
          f"{target.cores} cores")
    peaks = {t: FmaPeak(target.vector_lanes, t) for t in thread_counts}

    generator = torch.Generator().manual_seed(0)
    header = (f"{'layer':7} {'thr':>3} {'kept':>5} | {'sparse ms':>17} {'dense ms':>17} {'torch ms':>17} | "
              f"{'sp/dense':>8} {'ideal':>6} {'ratio':>5} {'dense/torch':>11} | {'GFLOP/s sparse dense torch  peak':>33} "
              f"{'sp %peak':>9}")
    rows = []
    for name in args.layers.split(","):
        layer = LAYERS[name]
        spec = ConvSpec((1, layer.in_channels, *layer.size), (1, 1, 1), (1,) * 6)
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
        out_points = int(np.prod(sparse.output_shape[2:]))
        dense_macs = layer.out_channels * layer.in_channels * 27 * out_points
        sparse_macs = sparse_kgs.values.size * out_points
        print(f"{name}: schedule {sparse.schedule}, compile {compile_s:.1f} s for both, "
              f"computed kept fraction {sparse_macs / dense_macs:.3f}")
        for threads in thread_counts:
            torch.set_num_threads(threads)
            sparse.jit.set_threads(threads)
            dense.jit.set_threads(threads)
            times = time_interleaved(
                {
                    "sparse": lambda: sparse(x),
                    "dense": lambda: dense(x),
                    "torch": lambda: torch.nn.functional.conv3d(x, dense_weight, padding=1),
                    "peak": peaks[threads],
                },
                args.rounds,
            )
            med = {k: statistics.median(v) for k, v in times.items()}
            cell = {k: f"{med[k] * 1e3:7.1f} ({min(v) * 1e3:.0f}-{max(v) * 1e3:.0f})" for k, v in times.items()}
            gflops = {
                "sparse": 2 * sparse_macs / med["sparse"] / 1e9,
                "dense": 2 * dense_macs / med["dense"] / 1e9,
                "torch": 2 * dense_macs / med["torch"] / 1e9,
                "peak": peaks[threads].flops / med["peak"] / 1e9,
            }
            speedup = med["dense"] / med["sparse"]
            ideal = dense_macs / sparse_macs
            rows.append(
                f"{name:7} {threads:>3} {layer.kept_fraction:5.2f} | {cell['sparse']:>17} {cell['dense']:>17} "
                f"{cell['torch']:>17} | {speedup:7.2f}x {ideal:5.2f}x {speedup / ideal:5.2f} "
                f"{med['dense'] / med['torch']:10.2f}x | {gflops['sparse']:8.1f} {gflops['dense']:6.1f} "
                f"{gflops['torch']:6.1f} {gflops['peak']:6.1f} {100 * gflops['sparse'] / gflops['peak']:9.0f}%"
            )
            best = {k: min(v) for k, v in times.items()}
            best_peak = peaks[threads].flops / best["peak"] / 1e9
            rows.append(
                f"{'':7} {'min':>3} {'':5} | {'':17} {'':17} {'':17} | {best['dense'] / best['sparse']:7.2f}x {ideal:5.2f}x "
                f"{best['dense'] / best['sparse'] / ideal:5.2f} {best['dense'] / best['torch']:10.2f}x | "
                f"{2 * sparse_macs / best['sparse'] / 1e9:8.1f} {2 * dense_macs / best['dense'] / 1e9:6.1f} "
                f"{2 * dense_macs / best['torch'] / 1e9:6.1f} {best_peak:6.1f} "
                f"{100 * 2 * sparse_macs / best['sparse'] / 1e9 / best_peak:9.0f}%"
            )
            print(rows[-2], rows[-1], sep="\n", flush=True)
    print()
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
