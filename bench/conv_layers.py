"""Benchmark: the convs of C3D, R(2+1)D-18 and S3D, our KGS-sparse code vs our dense code vs every dense peer here.

    python bench/conv_layers.py [--models c3d,r2plus1d_18,s3d] [--layers conv2a,conv3b] [--rounds 7] [--threads 1,2]
                                [--input-size 16x112x112] [--check] [--no-inductor] [--direct-only] [--json results.json]
                                [--schedule FILTERS,ROWS,W_VECTORS,CHANNEL_GROUPS | --schedule filters:FILTER_VECTORS,ROWS,COLUMNS,CHANNEL_CHUNK]

The layers are read from the zoo's definitions (rt3d_mlir/models), traced on
the meta device at each model's paper clip (16x112x112 for C3D and
R(2+1)D-18, 16x224x224 for S3D), with their kernel, stride and padding; convs
of one model with the same geometry and rate are timed once (the table names
the first, e.g. conv5a for conv5a and conv5b; ``--list`` shows the others, and ``--layers``
accepts any of their names). ``--input-size`` scales every
layer's input D, H, W by that clip over the model's paper clip (at least 1),
the old default being 16x112x112 for C3D; without it each model runs at its
paper clip. Batch 1, no bias (ours accumulate into a zero ``linalg.fill``, as
imported models do), groups of 8x4.

- C3D: all eight 3x3x3 convs, conv1a (3 input channels) to conv5b. The RT3D
  paper's 3.6x profile prunes conv2a 0.85, conv3a 0.80, conv3b 0.85 and conv4b
  0.80 of the (group, position) pairs; the others run dense only.
- R(2+1)D-18: the 1x3x3 (spatial) and 3x1x1 (temporal) convs of every stage,
  layer1 to layer4, with the model's mid channels (144, 230, 288, 460, 576, 921,
  1152), the strided first block of layers 2-4 included (its own rows); the
  stem and the 1x1x1 downsample convs are not timed. Paper profile: layer1 0.9,
  layer2 0.8, layers 3-4 dense.
- S3D: a representative set of its separable convs (1xkxk spatial then kx1x1
  temporal): conv1 (7x7x7, stride 2, 3 input channels), conv3, branch 1 of
  mixed_3b, mixed_4b, mixed_4f and mixed_5c, and branch 2 (the narrow one) of
  mixed_3b. The paper gives S3D's whole-model rate (2.1x) but no per-layer
  profile: every timed S3D conv is pruned at 0.5, an assumption of this script.

Each pruned layer is timed dense and pruned (a random set of kept positions per
group at the layer's rate), an unpruned one dense only; a pruned layer with
kernel 3 along W also pruned in whole kernel rows along W ("ours kgs-row": the
``kgs-row`` scheme's pattern, the layer's rate of its (group, row) pairs chosen
layer-wide). Unless ``--direct-only``, each of these also runs by its best
Winograd candidate ("ours dense wino", ...: F(m, 3) along W or H and W, see
rt3d_mlir/targets/algorithm_strategy.py), timed even where the strategy would
pick direct; the header names each variant's schedule or algorithm, the
strategy's pick, and the MACs its kernels perform next to the direct-equivalent
MACs (what the rates and GFLOP/s are computed on). Interleaved round by
round in this one process and on the same thread count: our sparse code, our
dense code (the same layer with every position kept) and the dense peers: torch
eager (``torch.nn.functional.conv3d``, oneDNN), torch.compile (inductor), ONNX
Runtime, OpenVINO and MNN (bench/baselines.py), plus the FMA peak microkernel
(:class:`FmaPeak`), so every ratio compares numbers taken side by side. It
prints, under the target and CPU, medians and min-max in ms, the ratio of every
variant to our sparse and our dense code, effective GFLOP/s (FLOP = 2 x MAC, on
the MACs each computes), the FLOPs pruning rate next to our sparse-over-dense
speedup, and issue 10's targets: KGS over ours dense >= 0.9 x the FLOPs rate;
on layers of at least 0.3 GMAC, ours dense and ours KGS >= 85% of the FMA peak
on the MACs they compute (the whole layer, padding and output included) and
ours dense no slower than the fastest direct-convolution peer (every peer but
MNN, whose Winograd convolutions do fewer multiplications); issue 11's: on
dense 3x3x3 layers but conv1a, ours dense by Winograd >= 1.2x faster than MNN.
Not a test: a noisy
machine changes absolute numbers, the ratios are what to read.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch_mlir import ir, runtime

from rt3d_mlir.backends.host.jit import JitModule
from rt3d_mlir.backends.host.single_conv import CompiledConv
from rt3d_mlir.conv_module import ConvSpec, random_kgs_weight
from rt3d_mlir.demo import C3D_PAPER_PRUNING, last_name
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, apply_kept_positions, compact, kept_positions, random_layer_pattern
from rt3d_mlir.models import MODELS, build_model
from rt3d_mlir.targets import Target, host_target
from rt3d_mlir.targets.algorithm_strategy import ranked_algorithms
from rt3d_mlir.targets.strategy import FilterSchedule, Schedule
from rt3d_mlir.timing import time_interleaved

sys.path.insert(0, str(Path(__file__).parent))
from baselines import (  # noqa: E402
    FMA_PEAK, OURS_DENSE, OURS_KGS, DensePeers, check_target, cpuinfo_field, current_commit, machine_description,
    print_report, summarize,
)
from plot import write_report_plot  # noqa: E402

GROUP = GroupShape(8, 4)
OURS_KGS_ROW = "ours kgs-row"  # the layer pruned at its rate in whole kernel rows along W (kgs-row)
ROW_AXIS_W = 2
WINOGRAD = " wino"  # "ours dense wino": the variant by its best Winograd candidate
R2PLUS1D_PAPER_PRUNING = {"layer1": 0.9, "layer2": 0.8}
S3D_ASSUMED_RATE = 0.5
# S3D's timed convs: path prefixes in the zoo's S3D (see the docstring).
S3D_TIMED = ("features.conv1.", "features.conv3.", "features.mixed_3b.branch1.", "features.mixed_3b.branch2.",
             "features.mixed_4b.branch1.", "features.mixed_4f.branch1.", "features.mixed_5c.branch1.")
TARGET_MIN_GMAC = 0.3  # the per-layer targets hold for convs of at least this size


def stage_name(module_path: str) -> str:
    """``layer1.0.conv1.0.0`` -> ``layer1``: R(2+1)D's profile names whole stages."""
    return module_path.split(".", 1)[0]


@dataclass(frozen=True)
class Profile:
    """Which convs of a zoo model are timed and the pruning rate of each (0: dense only)."""

    timed: Callable[[str, torch.nn.Conv3d], bool]
    rate: Callable[[str], float]


PROFILES: dict[str, Profile] = {
    "c3d": Profile(lambda path, conv: True, lambda path: C3D_PAPER_PRUNING.get(last_name(path), 0.0)),
    "r2plus1d_18": Profile(
        lambda path, conv: path.startswith("layer") and "downsample" not in path,
        lambda path: R2PLUS1D_PAPER_PRUNING.get(stage_name(path), 0.0),
    ),
    "s3d": Profile(lambda path, conv: path.startswith(S3D_TIMED) and conv.kernel_size != (1, 1, 1),
                   lambda path: S3D_ASSUMED_RATE),
}


@dataclass(frozen=True)
class Layer:
    """One conv of a zoo model: its geometry at the model's paper clip and its profile's pruning rate."""

    name: str
    model: str
    in_channels: int
    out_channels: int
    size: tuple[int, int, int]  # input D, H, W at the model's paper clip
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int]
    rate: float  # share of (group, position) pairs pruned; 0: the paper leaves it dense
    also: tuple[str, ...] = ()  # the other convs of the model with this geometry and rate, timed as this one

    def input_size(self, clip: tuple[int, int, int] | None) -> tuple[int, int, int]:
        """The layer's input D, H, W when the model sees ``clip`` (None: its paper clip)."""
        if clip is None:
            return self.size
        reference = MODELS[self.model].input_size
        return tuple(max(1, s * c // r) for s, c, r in zip(self.size, clip, reference))

    def spec(self, clip: tuple[int, int, int] | None) -> ConvSpec:
        return ConvSpec((1, self.in_channels, *self.input_size(clip)), self.stride, self.padding * 2)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_channels, *self.kernel)

    def torch_conv(self, weight: torch.Tensor) -> torch.nn.Conv3d:
        conv = torch.nn.Conv3d(self.in_channels, self.out_channels, self.kernel, self.stride, self.padding, bias=False)
        conv.weight = torch.nn.Parameter(weight, requires_grad=False)
        return conv.eval()


def layer_name(model: str, module_path: str, kernel: tuple[int, int, int]) -> str:
    """``layer1.0.conv1.0.0`` (1x3x3) -> ``r2plus1d_18:layer1.0.conv1.spatial``; C3D's convs keep their names."""
    parts = [part for part in module_path.split(".") if part != "features"]
    while len(parts) > 1 and parts[-1].isdigit():
        parts.pop()
    if kernel[0] == 1 and max(kernel) > 1:
        parts.append("spatial")
    elif kernel[1:] == (1, 1) and kernel[0] > 1:
        parts.append("temporal")
    name = ".".join(parts)
    return name if model == "c3d" else f"{model}:{name}"


def model_layers(model: str) -> list[Layer]:
    """The timed convs of ``model`` at its paper clip, one per distinct geometry and rate, in network order."""
    profile = PROFILES[model]
    clip_size = MODELS[model].input_size
    with torch.device("meta"):  # shapes only: nothing is initialised or computed
        network = build_model(model, input_size=clip_size)
        clip = torch.empty(1, 3, *clip_size)
    layers: dict[tuple, Layer] = {}

    def record(path: str, conv: torch.nn.Conv3d) -> Callable:
        def hook(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            geometry = (conv.in_channels, conv.out_channels, tuple(inputs[0].shape[2:]), tuple(conv.kernel_size),
                        tuple(conv.stride), tuple(conv.padding), profile.rate(path))
            name = layer_name(model, path, conv.kernel_size)
            if geometry in layers:
                layers[geometry] = replace(layers[geometry], also=layers[geometry].also + (name,))
            else:
                layers[geometry] = Layer(name, model, *geometry)
        return hook

    for path, module in network.named_modules():
        if isinstance(module, torch.nn.Conv3d) and profile.timed(path, module):
            if module.groups != 1 or module.dilation != (1, 1, 1):
                raise UserError(f"{model} {path}: grouped or dilated convs are not benchmarked here")
            module.register_forward_hook(record(path, module))
    with torch.no_grad():
        network(clip)
    return list(layers.values())


def parse_schedule(text: str, target: Target) -> Schedule | FilterSchedule | None:
    """``F,R,W,G`` (a W-vectorised ``Schedule``) or ``filters:FV,R,C,CH`` (a ``FilterSchedule``); "" for none."""
    if not text:
        return None
    kind, _, numbers = text.rpartition(":")
    try:
        values = [int(v) for v in numbers.split(",")]
    except ValueError:
        values = []
    schedules = {"": Schedule, "filters": FilterSchedule}
    if kind not in schedules or len(values) != 4:
        raise UserError(f"--schedule '{text}': expected FILTERS,ROWS,W_VECTORS,CHANNEL_GROUPS or "
                        "filters:FILTER_VECTORS,ROWS,COLUMNS,CHANNEL_CHUNK (four integers)")
    return schedules[kind](target.vector_lanes, *values, threads=target.cores)


class FmaPeak:
    """The machine's FMA peak: an MLIR microkernel of independent vector FMAs on the widest vectors, JIT'd.

    Each thread (scf.parallel, one worker per thread) runs a loop of ``accumulators`` independent
    ``vector.fma`` chains on ``target.vector_lanes``-wide vectors: 24 where there are 32 vector
    registers, 12 where there are 16, against the 2 x latency (4) x FMA pipes (2) = 16 chains
    that keep every pipe of a Zen 4/5 or an Intel core busy with headroom, while all
    accumulators and both operands stay in registers. Every chain starts from its own value
    (a buffer row of its own), so the compiler cannot merge chains. Timed in the same rounds as
    the convs, so its GFLOP/s is the peak under the same load.
    """

    ASSUMED_FMA_PIPES = 2  # vector FMA pipes per core (Zen 4/5, Intel server cores, Neoverse V1); for the clock estimate

    def __init__(self, target: Target, threads: int, iterations: int = 2_000_000) -> None:
        self.lanes, self.threads, self.iterations = target.vector_lanes, threads, iterations
        self.accumulators = count = max(1, min(24, target.vector_registers - 4))
        vector_type = f"vector<{self.lanes}xf32>"
        buffer_type = f"memref<{threads}x{count}x{self.lanes}xf32>"
        types = ", ".join([vector_type] * count)
        starts = "\n".join(
            f"  %x{i} = vector.load %out[%t, %c{i}, %c0] : {buffer_type}, {vector_type}" for i in range(count)
        )
        constants = "\n".join(f"  %c{i} = arith.constant {i} : index" for i in range(2, count))
        fmas = "\n".join(f"      %n{i} = vector.fma %x0, %y, %a{i} : {vector_type}" for i in range(count))
        sums = "\n".join(
            f"  %s{i} = arith.addf %s{i - 1}, %r#{i} : {vector_type}" if i else f"  %s0 = arith.addf %r#0, %r#0 : {vector_type}"
            for i in range(count)
        )
        # The per-thread loop is its own function: the OpenMP lowering needs a single-block parallel body.
        source = f"""
func.func private @worker(%iterations: index, %scale: f32, %out: {buffer_type}, %t: index) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
{constants}
{starts}
  %y = vector.broadcast %scale : f32 to {vector_type}
  %r:{count} = scf.for %i = %c0 to %iterations step %c1
      iter_args({", ".join(f"%a{i} = %x{i}" for i in range(count))}) -> ({types}) {{
{fmas}
      scf.yield {", ".join(f"%n{i}" for i in range(count))} : {types}
  }}
{sums}
  vector.store %s{count - 1}, %out[%t, %c0, %c0] : {buffer_type}, {vector_type}
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
        self.out = (1 + np.arange(threads * count * self.lanes, dtype=np.float32).reshape(threads, count, self.lanes) * 1e-6)
        self.arguments = (
            ctypes.pointer(ctypes.c_size_t(iterations)),
            ctypes.pointer(ctypes.c_float(0.9999)),
            ctypes.pointer(ctypes.pointer(runtime.get_ranked_memref_descriptor(self.out))),
        )

    @property
    def flops(self) -> int:
        return self.iterations * self.accumulators * self.lanes * 2 * self.threads

    def clock(self, peak_gflops: float) -> str:
        """The per-core clock this peak implies at ``ASSUMED_FMA_PIPES``, and the FMAs per cycle at /proc/cpuinfo's MHz."""
        per_core = peak_gflops / self.threads
        text = (f" ({self.accumulators} chains of {self.lanes} lanes; {per_core / (self.lanes * 2 * self.ASSUMED_FMA_PIPES):.2f} GHz "
                f"per core if {self.ASSUMED_FMA_PIPES} FMA pipes")
        megahertz = cpuinfo_field("cpu MHz")
        if megahertz:
            text += f"; {per_core / (float(megahertz) / 1e3 * self.lanes * 2):.2f} vector FMAs/cycle at cpuinfo's {float(megahertz):.0f} MHz"
        return text + ")"

    def __call__(self) -> None:
        self.jit.set_threads(self.threads)
        self.jit.invoke("peak", *self.arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(PROFILES), help="comma-separated subset of " + ",".join(PROFILES))
    parser.add_argument("--layers", default="", help="comma-separated layer names (see --list); default: all of --models")
    parser.add_argument("--list", action="store_true", help="print the layers of --models and exit")
    parser.add_argument("--rounds", type=int, default=7, help="timed calls of each variant (median reported)")
    parser.add_argument("--threads", default="1,2", help="thread counts to time, e.g. 1,2")
    parser.add_argument("--input-size", default="", help="clip DxHxW; scales each layer's input (default: each model's paper clip)")
    parser.add_argument(
        "--schedule", default="",
        help="override the strategy: FILTERS,ROWS,W_VECTORS,CHANNEL_GROUPS (W-vectorised kernel) or "
             "filters:FILTER_VECTORS,ROWS,COLUMNS,CHANNEL_CHUNK (filter-vectorised kernel)",
    )
    parser.add_argument("--check", action="store_true", help="also compare our outputs against torch")
    parser.add_argument("--direct-only", action="store_true",
                        help="time direct convolution only (no Winograd or kgs-row variants)")
    parser.add_argument("--no-inductor", action="store_true", help="skip torch.compile")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--plot", default=None, help="also write an SVG of the results here (bench/plot.py)")
    args = parser.parse_args()
    try:
        run(args)
    except UserError as error:
        sys.exit(f"error: {error}")


def select_layers(models: str, names: str) -> list[Layer]:
    unknown_models = [model for model in models.split(",") if model not in PROFILES]
    if unknown_models:
        raise UserError(f"unknown model(s) {', '.join(unknown_models)}; known: {', '.join(PROFILES)}")
    layers = [layer for model in models.split(",") for layer in model_layers(model)]
    if not names:
        return layers
    by_name = {name: layer for layer in layers for name in (layer.name, *layer.also)}
    unknown = [name for name in names.split(",") if name not in by_name]
    if unknown:
        raise UserError(f"unknown layer(s) {', '.join(unknown)} in --models {models}; see --list")
    return [by_name[name] for name in names.split(",")]


def parse_clip(text: str) -> tuple[int, int, int] | None:
    if not text:
        return None
    try:
        clip = tuple(int(d) for d in text.split("x"))
    except ValueError:
        clip = ()
    if len(clip) != 3 or min(clip) < 1:
        raise UserError(f"--input-size '{text}': expected DxHxW, three positive integers (e.g. 16x112x112)")
    return clip


def run(args: argparse.Namespace) -> None:
    layers = select_layers(args.models, args.layers)
    clip = parse_clip(args.input_size)
    if args.list:
        for layer in layers:
            spec = layer.spec(clip)
            print(f"{layer.name}: {layer.in_channels}->{layer.out_channels}, input {'x'.join(map(str, spec.input_shape[2:]))}, "
                  f"kernel {'x'.join(map(str, layer.kernel))}, stride {'x'.join(map(str, layer.stride))}, "
                  f"padding {'x'.join(map(str, layer.padding))}, pruned {layer.rate:.2f}"
                  + (f"; also {', '.join(layer.also)}" if layer.also else ""))
        return
    target = host_target()
    thread_counts = [int(t) for t in args.threads.split(",")]
    probe_target = replace(target, cores=max(thread_counts))
    schedule = parse_schedule(args.schedule, probe_target)
    commit = current_commit()
    machine = machine_description(target)
    print(f"commit {commit}; {machine}")
    peaks = {t: FmaPeak(target, t) for t in thread_counts}

    generator = torch.Generator().manual_seed(0)
    report = {"commit": commit, "input_size": list(clip) if clip else None, "target": target.name, "machine": machine,
              "rows": [], "summaries": [], "skipped": {}}
    for layer in layers:
        spec = layer.spec(clip)
        dense_weight = torch.randn(layer.weight_shape, generator=generator)
        variants = {OURS_DENSE: dense_weight}
        if layer.rate > 0:
            variants[OURS_KGS] = random_kgs_weight(layer.weight_shape, GROUP, 1 - layer.rate, generator)
            if not args.direct_only and layer.kernel[ROW_AXIS_W] == 3:
                rows = random_layer_pattern(layer.weight_shape, GROUP, 1 - layer.rate, generator, ROW_AXIS_W)
                variants[OURS_KGS_ROW] = apply_kept_positions(dense_weight, GROUP, rows)
        start = time.perf_counter()
        compiled = {variant: CompiledConv(compact(weight, GROUP), spec, schedule=schedule, target=probe_target, zero_init=True)
                    for variant, weight in variants.items()}
        choices = {variant: ranked_algorithms(probe_target, conv.geometry, kept_positions(variants[variant], GROUP).numpy())
                   for variant, conv in compiled.items()}
        if not args.direct_only:
            for variant, ranked in choices.items():
                # the best Winograd candidate, timed even where the strategy prefers direct (not one that
                # leaves every position to its direct remainder: that is the direct conv again)
                winograd = next((algorithm for cost, algorithm in ranked if not algorithm.is_direct and math.isfinite(cost)), None)
                if winograd is not None:
                    compiled[variant + WINOGRAD] = CompiledConv(compact(variants[variant], GROUP), spec, target=probe_target,
                                                                zero_init=True, algorithm=winograd)
                    variants[variant + WINOGRAD] = variants[variant]
        compile_s = time.perf_counter() - start
        x = torch.randn(spec.input_shape, generator=generator)
        dense_module = layer.torch_conv(dense_weight)
        if args.check:
            for variant, conv in compiled.items():
                expected = layer.torch_conv(variants[variant])(x).detach().numpy()
                # relative to the output's magnitude, as the tests bound it (Winograd rounds differently)
                relative = float(np.abs(conv(x) - expected).max()) / max(float(np.abs(expected).max()), 1e-30)
                if not relative <= 1e-4:
                    raise UserError(f"{layer.name} {variant}: max error {relative:.1e} of the largest output against "
                                    "eager, over 1e-4")
                print(f"{layer.name} {variant}: max error {relative:.1e} of the largest output")
        inductor = None if args.no_inductor else torch.compile(dense_module)
        peers = DensePeers(dense_module, x)
        out_points = math.prod(compiled[OURS_DENSE].output_shape[2:])
        # direct-equivalent MACs for every variant (rates, GFLOP/s); what each performs is printed below
        macs = {variant: compact(weight, GROUP).values.size * out_points for variant, weight in variants.items()}
        dense_macs = macs[OURS_DENSE]
        print(f"{layer.name}: {layer.in_channels}->{layer.out_channels}, input {'x'.join(map(str, spec.input_shape[2:]))}, "
              f"kernel {'x'.join(map(str, layer.kernel))}, stride {'x'.join(map(str, layer.stride))}, "
              f"{dense_macs / 1e9:.2f} GMAC dense, pruned {layer.rate:.2f}; compile {compile_s:.1f} s", flush=True)
        for variant, conv in compiled.items():
            base = variant.removesuffix(WINOGRAD)
            detail = f"schedule {conv.schedule}" if conv.schedule is not None else f"algorithm {conv.algorithm}"
            print(f"  {variant}: {detail}; {conv.macs / 1e9:.3f} GMAC performed, {macs[variant] / 1e9:.3f} direct-equivalent"
                  + (f"; the strategy picks {choices[base][0][1]}" if variant in choices else ""), flush=True)
        for threads in thread_counts:
            torch.set_num_threads(threads)
            for conv in compiled.values():
                conv.jit.set_threads(threads)
            runs = {variant: (lambda conv=conv, x=x: conv(x)) for variant, conv in compiled.items()}
            runs["torch eager"] = lambda module=dense_module, x=x: module(x)
            if inductor is not None:
                runs["torch.compile"] = lambda inductor=inductor, x=x: inductor(x)
            runs.update(peers.runners(threads))
            runs[FMA_PEAK] = peaks[threads]
            with torch.no_grad():
                times = time_interleaved(runs, args.rounds)
            macs.update({variant: dense_macs for variant in runs if variant not in macs})
            rows, summary = summarize({"layer": layer.name, "threads": threads}, times, macs, peaks[threads].flops)
            summary["peer_errors"] = dict(peers.errors)
            summary["fma_peak_clock"] = peaks[threads].clock(summary["fma_peak_gflops"])
            check_targets(summary, dense_macs, layer)
            report["rows"] += rows
            report["summaries"].append(summary)
            print_report(_label, rows, [summary], machine)
        peers.close()
        report["skipped"].update({f"{layer.name} {peer}": reason for peer, reason in peers.skipped.items()})
    print(f"commit {commit}, clip {args.input_size or 'each model at its paper size'}, {args.rounds} rounds")
    print_report(_label, report["rows"], report["summaries"], machine)
    for peer, reason in report["skipped"].items():
        print(f"skipped {peer}: {reason}")
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.plot:
        write_report_plot(report, args.plot)


def check_targets(summary: dict, dense_macs: int, layer: Layer) -> None:
    """Issue 10's per-layer targets (the FMA-peak and direct-peer ones hold for convs of >= 0.3 GMAC only),
    and issue 11's: on dense 3x3x3 layers (not the 3-channel conv1a) Winograd >= 1.2x faster than MNN."""
    winograd_over_mnn = summary.get("over_mnn", {}).get(OURS_DENSE + WINOGRAD)
    if winograd_over_mnn is not None and layer.kernel == (3, 3, 3) and layer.in_channels > 3:
        check_target(summary, "ours dense Winograd over MNN >= 1.2x", winograd_over_mnn, 1.2)
    if "kgs_over_ours_dense" in summary:
        rate = summary["flops_pruning_rate"]
        check_target(summary, f"KGS over ours dense >= 0.9 x FLOPs rate = {0.9 * rate:.2f}x",
                     summary["kgs_over_ours_dense"], 0.9 * rate)
    if dense_macs < TARGET_MIN_GMAC * 1e9:
        return
    check_target(summary, "ours dense / fastest direct-convolution peer <= 1",
                 summary["ours_dense_over_fastest_direct_peer"], 1.0, at_least=False)
    check_target(summary, "ours dense % of FMA peak >= 85", summary["ours_dense_percent_of_fma_peak"], 85)
    if "kgs_percent_of_fma_peak" in summary:
        check_target(summary, "KGS % of FMA peak >= 85", summary["kgs_percent_of_fma_peak"], 85)


def _label(case: dict) -> str:
    return f"{case['layer']} {case['threads']} thr"


if __name__ == "__main__":
    main()
