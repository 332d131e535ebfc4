"""The end-to-end demo: prune a C3D-family model with KGS sparsity, compile it, run it, time it.

The pruning here draws random KGS patterns at the RT3D paper's per-layer rates
(``rt3d prune`` trains real ones); the same model, unpruned, is compiled too,
so the speedup of the sparse code over our own dense code can be read next to
the FLOPs pruning rate. Every compiled output is checked against torch eager.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from typing import TextIO

import torch

from rt3d_mlir import kgs
from rt3d_mlir.compiler import check_against_eager
from rt3d_mlir.compiler import compile as compile_model
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.plot import BarChart, write_svg
from rt3d_mlir.report import format_table, pruning_rate
from rt3d_mlir.timing import median_time

# Fraction of each layer's kernel positions pruned in RT3D's C3D 3.6x profile; other layers stay dense.
C3D_PAPER_PRUNING = {"conv2a": 0.85, "conv3a": 0.80, "conv3b": 0.85, "conv4b": 0.80}


def last_name(module_path: str) -> str:
    """``features.conv2a`` -> ``conv2a``: C3D's layers are named by their last component."""
    return module_path.rsplit(".", 1)[-1]


def prune_randomly(
    model: torch.nn.Module,
    pruning: dict[str, float],
    group_shape: kgs.GroupShape,
    seed: int = 0,
    layer_key: Callable[[str], str] = last_name,
) -> list[str]:
    """Zeroes random KGS patterns into the convs whose ``layer_key(module path)`` ``pruning`` names.

    Returns every Conv3d's key in definition order.
    """
    generator = torch.Generator().manual_seed(seed)
    names = []
    with torch.no_grad():
        for name, module in model.named_modules():
            if not isinstance(module, torch.nn.Conv3d):
                continue
            key = layer_key(name)
            names.append(key)
            if key in pruning:
                kept = kgs.random_kept_positions(module.weight.shape, group_shape, 1.0 - pruning[key], generator)
                module.weight.copy_(kgs.apply_kept_positions(module.weight, group_shape, kept))
    return names


def run_demo(
    input_size: tuple[int, int, int] = (16, 112, 112),
    width: float = 1.0,
    group_shape: kgs.GroupShape = kgs.GroupShape(8, 4),
    repeat: int = 3,
    threads: int | None = None,
    out: TextIO = sys.stdout,
    progress: bool = False,
    plot: str | None = None,
) -> str:
    """Runs the demo; returns the per-layer table it printed. ``plot``: also write the results as an SVG there."""

    def step(message: str) -> None:
        print(message, file=out, flush=True)

    dense = build_model("c3d", width=width, input_size=input_size)
    sparse = copy.deepcopy(dense)
    names = prune_randomly(sparse, C3D_PAPER_PRUNING, group_shape)
    clip = example_input("c3d", input_size=input_size)
    step(f"[1/4] C3D (width {width}, clip {'x'.join(map(str, input_size))}) with random {group_shape} KGS "
         f"patterns at the paper's 3.6x profile rates")
    compiled_sparse = compile_model(sparse, clip, threads=threads, group_shape=str(group_shape), progress=progress)
    step(f"[2/4] compiled the KGS model in {compiled_sparse.compile_seconds:.1f} s "
         "(torch-mlir import, sparse3d-from-linalg, sparse3d-tile, sparse3d-vectorize, LLVM JIT):")
    table = format_table(names, compiled_sparse.convs)
    print(table, file=out)
    compiled_dense = compile_model(dense, clip, threads=threads, group_shape=str(group_shape), progress=progress)
    step(f"[3/4] compiled the same model unpruned in {compiled_dense.compile_seconds:.1f} s")
    for label, model, compiled in (("KGS", sparse, compiled_sparse), ("dense", dense, compiled_dense)):
        error, scale = check_against_eager(compiled, model, clip)
        step(f"      {label}: max |compiled - torch eager| = {error:.2g} (outputs up to {scale:.2g})")
    with torch.no_grad():
        times = {
            "ours, KGS": median_time(lambda: compiled_sparse(clip), repeat),
            "ours, dense": median_time(lambda: compiled_dense(clip), repeat),
            "torch eager, dense": median_time(lambda: dense(clip), repeat),
        }
    dense_macs = sum(c.dense_macs for c in compiled_sparse.convs)
    kept_macs = sum(c.kept_macs for c in compiled_sparse.convs)
    step(f"[4/4] median of {repeat} runs on {compiled_sparse.threads} thread(s), side by side:")
    for label, seconds in times.items():
        comparison = "" if label == "ours, KGS" else f"   ours KGS is {seconds / times['ours, KGS']:.2f}x faster"
        step(f"      {label:<20} {seconds * 1e3:9.1f} ms{comparison}")
    step(f"      conv FLOPs pruning rate {pruning_rate(dense_macs, kept_macs)}; "
         f"speedup over our dense code {times['ours, dense'] / times['ours, KGS']:.2f}x")
    if plot is not None:
        write_svg(plot, [
            BarChart(f"C3D (width {width}, clip {'x'.join(map(str, input_size))}): median latency", "ms",
                     [f"{compiled_sparse.threads} thread(s)"], {label: [seconds * 1e3] for label, seconds in times.items()}),
            BarChart("conv FLOPs pruning rate per layer", "x fewer MACs", names,
                     {"FLOPs pruning rate": [c.dense_macs / c.kept_macs if c.kept_macs else None for c in compiled_sparse.convs]}),
        ])
        step(f"      wrote {plot}")
    return table
