"""A static performance MODEL (not a measurement) of C3D's KGS layers on a Cortex-A76-class core.

    python bench/aarch64_estimate.py [--input-size 16x112x112] [--cpu a76] [--ghz 2.4] [--layers conv2a,conv3b]

For each C3D conv layer at the paper's 3.6x profile (conv2a/3a/3b/4b keep
0.15/0.20/0.15/0.20 of the positions per 8x4 group, the other layers dense) it:
1. chooses the layer's kernel and schedule for the AArch64 target (sparse3d-tile's
   strategy, NEON: 4 lanes, 32 registers): w-vectors (lanes along W) or filter-vectors
   (lanes across filters),
2. compiles a narrow copy of the layer (16 filters x 16 channels, one row block,
   the layer's real output width, padding and kept fraction) with that schedule
   through the AArch64 back end: its hot loop is the layer's (the channel count
   only changes trip counts),
3. runs ``llvm-mca-19 -mcpu=neoverse-n1`` (the A76's server sibling; LLVM has no
   A76 model) over that loop: FMAs per iteration, cycles per iteration, FMA
   utilisation = FMAs / (2 pipes x cycles),
4. projects the layer's time: its 4-lane FMA count (w-vectors: W tails padded to
   whole vectors; filter-vectors: filter tails padded, and the union of kept positions
   of the groups one block of filters spans) x cycles per FMA / clock.
The projection ignores padding, output writes, caches, register-block tails and
the fully connected layers (0.5% of C3D's MACs): a lower bound on time, read it
as the inner kernel's speed. It prints RT3D's published number (357 ms, C3D,
8 threads on a Galaxy S20) next to it for scale, not as a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch_mlir import ir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rt3d_mlir.backends.aarch64 import mca  # noqa: E402
from rt3d_mlir.compiler import compile_module, make_options  # noqa: E402
from rt3d_mlir.targets.aarch64 import resolve_cpu  # noqa: E402
from rt3d_mlir.arguments import clip_size  # noqa: E402
from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs  # noqa: E402
from rt3d_mlir.conv_module import FUNCTION_NAME, ConvSpec, build_kgs_conv3d_module, random_kgs_weight  # noqa: E402
from rt3d_mlir.demo import C3D_PAPER_PRUNING  # noqa: E402
from rt3d_mlir.dialect import make_context  # noqa: E402
from rt3d_mlir.kgs import GroupShape, compact  # noqa: E402
from rt3d_mlir.models import build_model  # noqa: E402
from rt3d_mlir.dialect.kept_pattern import group_pattern  # noqa: E402
from rt3d_mlir.targets.strategy import (  # noqa: E402
    SCHEDULE_ATTR, FilterSchedule, Schedule, choose_kernel_schedule, filter_pattern, union_entries,
)

GROUP = GroupShape(8, 4)
RT3D_C3D_KGS_MS = 357  # RT3D, Galaxy S20 (Snapdragon 865), 8 threads, 16x112x112
NARROW_CHANNELS = 16


def c3d_layers(input_size: tuple[int, int, int]) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(name, weight shape, input shape) of every conv of C3D, from a forward pass on the meta device."""
    with torch.device("meta"):
        model = build_model("c3d", input_size=input_size)
    shapes = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv3d):
            module.register_forward_hook(
                lambda m, inputs, _, name=name: shapes.append((name.rsplit(".", 1)[-1], tuple(m.weight.shape), tuple(inputs[0].shape)))
            )
    model(torch.empty(1, 3, *input_size, device="meta"))
    return shapes


def narrow_schedule(schedule: Schedule | FilterSchedule, channels: int) -> Schedule | FilterSchedule:
    """The layer's schedule for the narrow copy: one thread, chunks no larger than its channels."""
    if isinstance(schedule, FilterSchedule):
        return replace(schedule, channel_chunk=min(schedule.channel_chunk, channels), threads=1)
    return replace(schedule, channel_groups=min(schedule.channel_groups, math.ceil(channels / GROUP.channels)), threads=1)


def narrow_loop(weight: torch.Tensor, input_shape: tuple[int, ...], schedule: Schedule | FilterSchedule, cpu: str) -> list[str]:
    """The hot loop of a 16x16-channel copy of the layer, compiled with the layer's schedule."""
    filters = max(NARROW_CHANNELS, schedule.block_filters if isinstance(schedule, FilterSchedule) else 0)
    channels = min(NARROW_CHANNELS, weight.shape[1])
    narrow_weight = weight[: min(filters, weight.shape[0]), :channels].contiguous()
    spec = ConvSpec((1, channels, 1, schedule.rows, input_shape[4]), padding=(1, 1, 1, 1, 1, 1))
    with make_context(), ir.Location.unknown():
        module = build_kgs_conv3d_module(compact(narrow_weight, GROUP), spec)
        (op,) = find_kgs_convs(module.operation)
        op.attributes[SCHEDULE_ATTR] = narrow_schedule(schedule, channels).to_attr()  # sparse3d-tile keeps it
        for function in module.body.operations:
            if function.operation.name == "func.func" and function.attributes["sym_name"].value == FUNCTION_NAME:
                function.attributes["sym_name"] = ir.StringAttr.get("main")
        build = compile_module(module, "aarch64", make_options(prefix="layer", cpu=cpu, platforms=("linux-gnu",)))
    return mca.inner_loop(build.assembly)


def vector_fmas(geometry: ConvGeometry, schedule: Schedule | FilterSchedule, weight: torch.Tensor) -> int:
    """4-lane FMAs the layer issues with this schedule (tails padded, filter-vectors' union included)."""
    compacted = compact(weight, GROUP)
    kept = group_pattern(geometry, compacted.group_offsets, compacted.positions)
    out_d, out_h, out_w = geometry.out_size
    if isinstance(schedule, FilterSchedule):
        pattern = filter_pattern(kept, GROUP.filters, geometry.out_channels, None)
        entries = union_entries(pattern, GROUP.channels, geometry.in_channels, schedule.block_filters)
        return sum(entries) * schedule.filter_vectors * out_d * out_h * out_w
    channels = kept.sum(axis=2) * GROUP.channels  # the kept (position, channel) pairs of each group
    return int(channels.sum()) * GROUP.filters * out_d * out_h * math.ceil(out_w / 4)


def block_shape(schedule: Schedule | FilterSchedule) -> str:
    """w-vectors: filters x rows x W vectors; filter-vectors: F, filter vectors x rows x columns."""
    if isinstance(schedule, FilterSchedule):
        return f"F{schedule.filter_vectors}x{schedule.rows}x{schedule.columns}"
    return f"W{schedule.filters}x{schedule.rows}x{schedule.w_vectors}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input-size", type=clip_size, default=(16, 112, 112))
    parser.add_argument("--cpu", default="a76", help="back-end cpu preset or LLVM cpu (the mca model is always neoverse-n1)")
    parser.add_argument("--ghz", type=float, default=2.4, help="clock of the projected core")
    parser.add_argument("--layers", default=None, help="comma-separated layer names (default: all)")
    args = parser.parse_args()
    target = resolve_cpu(args.cpu).target(1)
    wanted = set(args.layers.split(",")) if args.layers else None

    print(f"MODEL, not a measurement: llvm-mca-19 -mcpu={mca.MCA_CPU} over each layer's inner loop, "
          f"projected on one {args.ghz} GHz A76-class core ({mca.FMA_PIPES} FMA pipes x 4 lanes)")
    header = (f"{'layer':7} {'M x C':>10} {'out DxHxW':>11} {'kept':>5} {'block':>9} | {'FMA/it':>6} {'cyc/it':>6} "
              f"{'FMA util':>8} | {'GMAC':>6} {'ms (1 core)':>11}")
    print(header)
    print("-" * len(header))
    total_ms = total_macs = 0.0
    utilisations: dict[str, list[float]] = {"Schedule": [], "FilterSchedule": []}
    for name, weight_shape, input_shape in c3d_layers(args.input_size):
        if wanted and name not in wanted:
            continue
        kept = 1.0 - C3D_PAPER_PRUNING.get(name, 0.0)
        geometry = ConvGeometry(1, input_shape[1], tuple(input_shape[2:]), weight_shape[0], tuple(weight_shape[2:]),
                                (1, 1, 1), (1, 1, 1, 1, 1, 1), (1, 1, 1), GROUP)
        weight = random_kgs_weight(weight_shape, GROUP, kept, torch.Generator().manual_seed(0))
        compacted = compact(weight, GROUP)
        schedule = choose_kernel_schedule(target, geometry, group_pattern(geometry, compacted.group_offsets, compacted.positions))
        estimate = mca.estimate_loop(narrow_loop(weight, input_shape, schedule, args.cpu))
        out_d, out_h, out_w = geometry.out_size
        kept_positions = max(1, round(kept * geometry.num_positions))
        milliseconds = vector_fmas(geometry, schedule, weight) * estimate.cycles / estimate.fmas / (args.ghz * 1e6)
        macs = geometry.dense_macs * kept_positions / geometry.num_positions
        total_ms += milliseconds
        total_macs += macs
        utilisations[type(schedule).__name__].append(estimate.fma_utilisation)
        print(f"{name:7} {weight_shape[0]:>4} x {weight_shape[1]:<4} {out_d:>3}x{out_h}x{out_w:<4} {kept:5.2f} "
              f"{block_shape(schedule):>9} | {estimate.fmas:6d} {estimate.cycles:6.1f} "
              f"{estimate.fma_utilisation:8.0%} | {macs / 1e9:6.2f} {milliseconds:11.1f}")
    print("-" * len(header))
    print(f"{'convs':7} {'':>10} {'':>11} {'':>5} {'':>9} | {'':>6} {'':>6} {'':>8} | {total_macs / 1e9:6.2f} {total_ms:11.1f}")
    for kind, label in (("Schedule", "w-vectors"), ("FilterSchedule", "filter-vectors")):
        if utilisations[kind]:
            print(f"{label} layers' inner-loop FMA utilisation: {min(utilisations[kind]):.0%} - {max(utilisations[kind]):.0%} "
                  f"(target >= 90%)")
    print(f"projected whole C3D convs: {total_ms:.0f} ms on 1 core, {total_ms / 4:.0f} ms on 4 big cores if scaling were ideal "
          f"(MODEL) | RT3D published: {RT3D_C3D_KGS_MS} ms (measured, 8 threads, Galaxy S20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
