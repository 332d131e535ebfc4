"""GPU benchmark: C3D's KGS layers and the whole model, our sparse SPIR-V vs our dense SPIR-V on one Vulkan device.

    python bench/vulkan_layers.py [--input-size 16x112x112] [--width 1.0] [--layers conv2a,conv3b]
                                  [--target desktop] [--device NAME] [--rounds 5] [--end-to-end] [--json out.json]

For each layer (C3D's conv2a, conv3a, conv3b, conv4b at the paper's 3.6x profile:
0.85/0.80/0.85/0.80 of the (group, position) pairs pruned, group 8x4, a random
pattern; batch 1, 3x3x3, padding 1, the layer's input for the given clip) it
compiles the layer twice with ``rt3d_mlir.compile(..., target="vulkan-<target>")``:
KGS-pruned and dense (the same layer with every position kept, i.e. our dense
SPIR-V kernel), runs both interleaved round by round on the same device and
reports GPU time (Vulkan timestamps around every dispatch, summed over the
layer's dispatches) and wall time per call, the FLOPs pruning rate next to the
speedup, and speedup / rate against the target (>= 0.7 on a real GPU). With
``--end-to-end`` it does the same for the whole C3D model (dense vs the paper's
profile). It runs on any Vulkan device (``--device`` picks one by name; by
default a discrete GPU, else an integrated one, else lavapipe on the CPU), and
on lavapipe use a small size, e.g. ``--input-size 8x32x32 --width 0.25``:
lavapipe's numbers say nothing about a GPU. Not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass

import torch

import rt3d_mlir
from rt3d_mlir import kgs
from rt3d_mlir.demo import C3D_PAPER_PRUNING, last_name, prune_randomly
from rt3d_mlir.errors import UserError
from rt3d_mlir.models import build_model

GROUP = kgs.GroupShape(8, 4)
TARGET_RATIO = 0.7


@dataclass(frozen=True)
class Layer:
    name: str
    in_channels: int
    out_channels: int
    scale: tuple[int, int, int]  # the layer's input = clip size // scale (D, H, W)


LAYERS = {
    layer.name: layer
    for layer in (
        Layer("conv2a", 64, 128, (1, 2, 2)),
        Layer("conv3a", 128, 256, (2, 4, 4)),
        Layer("conv3b", 256, 256, (2, 4, 4)),
        Layer("conv4b", 512, 512, (4, 8, 8)),
    )
}


def pruned_copy(conv: torch.nn.Conv3d, rate: float, seed: int = 0) -> torch.nn.Conv3d:
    pruned = torch.nn.Conv3d(conv.in_channels, conv.out_channels, 3, padding=1)
    pruned.load_state_dict(conv.state_dict())
    kept = kgs.random_kept_positions(conv.weight.shape, GROUP, 1.0 - rate, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        pruned.weight.copy_(kgs.apply_kept_positions(conv.weight, GROUP, kept))
    return pruned


def bench_pair(label: str, models: dict[str, torch.nn.Module], example: torch.Tensor, target: str, device: str | None, rounds: int) -> dict:
    """Compiles each variant, checks it against torch, times them interleaved; returns a result row."""
    compiled = {}
    for variant, model in models.items():
        compiled[variant] = rt3d_mlir.compile(model, example, target=f"vulkan-{target}", group_shape=str(GROUP))
        compiled[variant].device = device
        with torch.no_grad():
            expected = model(example)
        error = float((compiled[variant](example) - expected).abs().max())
        if error > 1e-3 * max(float(expected.abs().max()), 1.0):
            sys.exit(f"{label} {variant}: differs from torch by {error:.3g}")
    gpu_ms: dict[str, list[float]] = {v: [] for v in compiled}
    wall_ms: dict[str, list[float]] = {v: [] for v in compiled}
    for _ in range(rounds):
        for variant, model in compiled.items():
            start = time.perf_counter()
            model(example)
            wall_ms[variant].append((time.perf_counter() - start) * 1e3)
            gpu_ms[variant].append(sum(model.runner().last_dispatch_ms) or wall_ms[variant][-1])
    macs = {v: (sum(c.dense_macs for c in m.convs), sum(c.kept_macs for c in m.convs)) for v, m in compiled.items()}
    rate = macs["dense"][1] / macs["kgs"][1]
    median = {v: statistics.median(t) for v, t in gpu_ms.items()}
    speedup = median["dense"] / median["kgs"]
    return {
        "case": label,
        "device": compiled["kgs"].runner().info.name,
        "gpu_ms": median,
        "wall_ms": {v: statistics.median(t) for v, t in wall_ms.items()},
        "gpu_ms_range": {v: (min(t), max(t)) for v, t in gpu_ms.items()},
        "conv_macs_rate": rate,
        "speedup": speedup,
        "speedup_over_rate": speedup / rate,
    }


def print_row(row: dict) -> None:
    ratio = row["speedup_over_rate"]
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"{row['case']:<12} dense {row['gpu_ms']['dense']:9.2f} ms  kgs {row['gpu_ms']['kgs']:9.2f} ms  "
          f"(wall {row['wall_ms']['dense']:.1f} / {row['wall_ms']['kgs']:.1f} ms)  FLOPs rate {row['conv_macs_rate']:5.2f}x  "
          f"speedup {row['speedup']:5.2f}x  speedup/rate {ratio:4.2f} ({verdict} the {TARGET_RATIO} target)", flush=True)


def clip_size(text: str) -> tuple[int, int, int]:
    try:
        frames, height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FRAMESxHEIGHTxWIDTH, got '{text}'") from None
    return frames, height, width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input-size", type=clip_size, default=(16, 112, 112), help="clip FRAMESxHEIGHTxWIDTH (default 16x112x112)")
    parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier (e.g. 0.25 on lavapipe)")
    parser.add_argument("--layers", default=",".join(LAYERS), help=f"comma-separated subset of {', '.join(LAYERS)}")
    parser.add_argument("--target", default="desktop", help="GPU preset the schedules are chosen for: desktop, mali-valhall, adreno-6xx")
    parser.add_argument("--device", default=None, help="substring of the Vulkan device name (default: the first GPU)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median reported)")
    parser.add_argument("--end-to-end", action="store_true", help="also time the whole C3D model, dense vs the paper's profile")
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args()
    frames, height, width = args.input_size
    rows = []
    for name in filter(None, args.layers.split(",")):
        if name not in LAYERS:
            sys.exit(f"error: unknown layer '{name}'; known: {', '.join(LAYERS)}")
        layer = LAYERS[name]
        torch.manual_seed(0)
        cin, cout = max(1, round(layer.in_channels * args.width)), max(1, round(layer.out_channels * args.width))
        dense = torch.nn.Conv3d(cin, cout, 3, padding=1).eval()
        example = torch.randn(1, cin, frames // layer.scale[0], height // layer.scale[1], width // layer.scale[2])
        models = {"dense": torch.nn.Sequential(dense).eval(), "kgs": torch.nn.Sequential(pruned_copy(dense, C3D_PAPER_PRUNING[name])).eval()}
        rows.append(bench_pair(name, models, example, args.target, args.device, args.rounds))
        print_row(rows[-1])
    if args.end_to_end:
        dense_model = build_model("c3d", width=args.width, input_size=args.input_size)
        sparse_model = build_model("c3d", width=args.width, input_size=args.input_size)
        sparse_model.load_state_dict(dense_model.state_dict())
        prune_randomly(sparse_model, C3D_PAPER_PRUNING, GROUP, layer_key=last_name)
        example = torch.randn(1, 3, *args.input_size)
        rows.append(bench_pair("c3d (all)", {"dense": dense_model, "kgs": sparse_model}, example, args.target, args.device, args.rounds))
        print_row(rows[-1])
    if rows:
        print(f"device: {rows[0]['device']}; GPU time = Vulkan timestamps summed over each program's dispatches, median of {args.rounds}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(rows, file, indent=1)


if __name__ == "__main__":
    try:
        main()
    except UserError as error:
        sys.exit(f"error: {error}")
