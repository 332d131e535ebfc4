"""Benchmark: how long idle OpenMP workers spin (``KMP_BLOCKTIME``) against our compiled models' time.

    python bench/openmp_blocktime.py [--models c3d] [--threads 2] [--rounds 9] [--input-size 16x112x112]
                                     [--blocktimes 0,1]

Compiles our KGS and dense models as bench/end_to_end.py does (the paper's pruning profile,
the strategy's algorithms, no tuning), then times each at each blocktime (ms a worker spins
after a parallel loop before it sleeps), interleaved round by round in this one process:
``kmp_set_blocktime`` switches it before every call, so all settings share the machine's noise.
The JIT's default is 1 ms (rt3d_mlir.backends.host.jit); 0 makes a worker sleep at once, and
then every parallel loop pays to wake it. Prints medians with min-max and each setting's
ratio to the first. Not a test: read the ratios on a shared machine.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import sys
from pathlib import Path

import numpy as np
import torch

from rt3d_mlir.backends.host.compiled_model import CompiledModel
from rt3d_mlir.backends.host.jit import find_openmp_runtime
from rt3d_mlir.compiler import compile as compile_model
from rt3d_mlir.errors import UserError
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.targets import host_target
from rt3d_mlir.timing import time_interleaved

sys.path.insert(0, str(Path(__file__).parent))
from baselines import machine_description  # noqa: E402
from conv_layers import parse_clip  # noqa: E402
from end_to_end import PROFILES, prune_layer_wide  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="c3d")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--input-size", default="16x112x112")
    parser.add_argument("--blocktimes", default="0,1", help="spin times in ms, the first is the reference")
    args = parser.parse_args()
    try:
        run(args)
    except UserError as error:
        sys.exit(f"openmp_blocktime: error: {error}")


def run(args: argparse.Namespace) -> None:
    clip_size = parse_clip(args.input_size) or (16, 112, 112)
    blocktimes = [int(ms) for ms in args.blocktimes.split(",")]
    runtime = find_openmp_runtime()
    if runtime is None:
        raise UserError("no LLVM OpenMP runtime found: install libomp5-19")
    openmp = ctypes.CDLL(runtime)
    print(machine_description(host_target()))
    for name in args.models.split(","):
        if name not in PROFILES:
            raise UserError(f"unknown model '{name}': one of {', '.join(PROFILES)}")
        dense = build_model(name, input_size=clip_size)
        pruned = copy.deepcopy(dense)
        prune_layer_wide(pruned, PROFILES[name])
        clip = example_input(name, input_size=clip_size)
        ours = {"ours KGS": compile_model(pruned, clip), "ours dense": compile_model(dense, clip)}

        def call(compiled: CompiledModel, blocktime: int, clip: torch.Tensor = clip) -> torch.Tensor:
            openmp.kmp_set_blocktime(blocktime)
            return compiled(clip)

        for threads in (int(t) for t in args.threads.split(",")):
            for compiled in ours.values():
                compiled.set_threads(threads)
            runs = {f"{variant} {ms}": (lambda compiled=compiled, ms=ms: call(compiled, ms))
                    for variant, compiled in ours.items() for ms in blocktimes}
            times = time_interleaved(runs, args.rounds)
            openmp.kmp_set_blocktime(1)  # back to the JIT's default
            for variant in ours:
                reference = float(np.median(times[f"{variant} {blocktimes[0]}"]))
                for ms in blocktimes:
                    t = np.asarray(times[f"{variant} {ms}"]) * 1e3
                    print(f"{name} {threads} thr {variant:10s} blocktime {ms:3d} ms: {np.median(t):7.1f} ms "
                          f"({t.min():.1f}-{t.max():.1f}), {reference * 1e3 / np.median(t):.2f}x of blocktime "
                          f"{blocktimes[0]}")


if __name__ == "__main__":
    main()
