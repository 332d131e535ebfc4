"""The end-to-end demo: a KGS-pruned C3D-family model, imported and converted to sparse3d.

At this stage the demo prunes with random KGS patterns at the RT3D paper's
per-layer rates (the pruning toolkit trains real ones), imports the model with
torch-mlir, runs ``sparse3d-from-linalg`` and prints what it found per layer.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import torch

from rt3d_mlir import kgs
from rt3d_mlir.importer import import_model
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.report import conv_reports, format_table

# Fraction of each layer's kernel positions pruned in RT3D's C3D 3.6x profile; other layers stay dense.
C3D_PAPER_PRUNING = {"conv2a": 0.85, "conv3a": 0.80, "conv3b": 0.85, "conv4b": 0.80}


def prune_randomly(
    model: torch.nn.Module, pruning: dict[str, float], group_shape: kgs.GroupShape, seed: int = 0
) -> list[str]:
    """Zeroes random KGS patterns into the named convs; returns every Conv3d's name in definition order."""
    generator = torch.Generator().manual_seed(seed)
    names = []
    with torch.no_grad():
        for name, module in model.named_modules():
            if not isinstance(module, torch.nn.Conv3d):
                continue
            short = name.rsplit(".", 1)[-1]
            names.append(short)
            if short in pruning:
                kept = kgs.random_kept_positions(module.weight.shape, group_shape, 1.0 - pruning[short], generator)
                module.weight.copy_(kgs.apply_kept_positions(module.weight, group_shape, kept))
    return names


def run_demo(
    input_size: tuple[int, int, int] = (16, 112, 112),
    width: float = 1.0,
    group_shape: kgs.GroupShape = kgs.GroupShape(8, 4),
    out: TextIO = sys.stdout,
) -> str:
    """Runs the demo and returns the per-layer table it printed."""

    def step(message: str) -> None:
        print(message, file=out, flush=True)

    start = time.perf_counter()
    model = build_model("c3d", width=width, input_size=input_size)
    names = prune_randomly(model, C3D_PAPER_PRUNING, group_shape)
    step(f"[1/3] built C3D (width {width}, clip {'x'.join(map(str, input_size))}), "
         f"random {group_shape} KGS patterns at the paper's 3.6x profile rates")
    module = import_model(model, example_input("c3d", input_size=input_size))
    step(f"[2/3] imported with torch-mlir ({time.perf_counter() - start:.1f} s)")
    run_pipeline(module, "sparse3d-from-linalg")
    reports = conv_reports(module)
    step(f"[3/3] sparse3d-from-linalg: {len(reports)} convs as sparse3d.kgs_conv3d ({time.perf_counter() - start:.1f} s)")
    table = format_table(names, reports)
    print(table, file=out)
    return table
