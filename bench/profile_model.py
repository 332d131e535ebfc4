"""Profile: where one of our compiled models spends its time, per conv of the model and per other kernel.

    python bench/profile_model.py [--model c3d] [--variant kgs|dense|kgs-row] [--threads 1]
                                  [--calls 20] [--input-size 16x112x112] [--direct-only] [--top 12]

Compiles the model as ``bench/end_to_end.py`` does (same pruning profile and seed), runs it
``--calls`` times under ``perf record -e cpu-clock`` (a software clock: VMs without hardware
counters work) and maps every sample into the JIT's code: the JIT object is dumped
(``ExecutionEngine.dump_to_object_file``) and its symbols placed at the address the JIT gave
``main``. Samples are summed per conv of the model (each conv's kernel, its padding copy and
its OpenMP outlined loops; a Winograd conv's per-tap convs and its direct remainder together),
per linear layer, per pool, and for ``main`` (the Winograd transforms, the element-wise ops
left between kernels), and the rest (Python, the OpenMP runtime, the kernel) as "outside the
JIT". Each line gives the share of all samples and that share of the median call time in ms
(summed over threads: with 2 threads the lines add up to about twice the call time).
Needs ``perf`` (Debian: ``apt-get install linux-perf``) and a ``perf_event_paranoid`` that
lets a process profile itself.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import copy
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rt3d_mlir.backends.host.compiled_model import CompiledModel
from rt3d_mlir.compiler import compile as compile_model
from rt3d_mlir.dialect.algorithm import Algorithm
from rt3d_mlir.errors import UserError
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.targets import host_target

sys.path.insert(0, str(Path(__file__).parent))
from conv_layers import parse_clip  # noqa: E402
from end_to_end import PROFILES, ROW_AXIS_W, prune_layer_wide  # noqa: E402
from baselines import machine_description  # noqa: E402

VARIANTS = ("kgs", "dense", "kgs-row")
LLVM_NM = "llvm-nm-19"  # dev.sh installs llvm-19
_KERNEL_CONV = re.compile(r"func\.func private @kgs_conv3d_(\d+)\(%arg0: tensor<([0-9x]+)xf32>.*-> tensor<([0-9x]+)xf32>")
_FUNCTION_INDEX = re.compile(r"^_?(?:kgs_conv3d(?:_block)?|matmul|pool3d)_(\d+)")


@dataclass(frozen=True)
class Symbol:
    offset: int  # in the dumped object's .text
    size: int
    name: str


def jit_symbols(compiled: CompiledModel, object_path: Path) -> tuple[int, list[Symbol]]:
    """(the JIT's load address of the object's offset 0, the object's function symbols by offset)."""
    compiled.jit.dump_object(object_path)
    listing = subprocess.run([LLVM_NM, "-S", "--defined-only", str(object_path)], capture_output=True, text=True,
                             check=True).stdout
    symbols = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            symbols.append(Symbol(int(parts[0], 16), int(parts[1], 16), parts[3]))
    symbols.sort(key=lambda symbol: symbol.offset)
    by_name = {symbol.name: symbol for symbol in symbols}
    return compiled.jit.address_of("main") - by_name["_mlir_main"].offset, symbols


def conv_of_kernel(compiled: CompiledModel) -> dict[int, int]:
    """Kernel conv index (``kgs_conv3d_N`` after Winograd) -> index of the model's conv it computes part of."""
    kernels = [(int(index), tuple(map(int, source.split("x"))), tuple(map(int, result.split("x"))))
               for index, source, result in _KERNEL_CONV.findall(compiled.kernel_ir)]
    kernels.sort()
    owner, cursor = {}, 0
    for conv, (report, algorithm) in enumerate(zip(compiled.algorithm_convs, compiled.algorithms)):
        count = 1 if algorithm == "direct" else Algorithm.parse(algorithm).taps
        for _ in range(count):
            owner[kernels[cursor][0]] = conv
            cursor += 1
        # a Winograd conv's direct remainder reads the conv's own input and writes its output
        if (algorithm != "direct" and cursor < len(kernels)
                and kernels[cursor][1:] == (tuple(report.input_shape), tuple(report.output_shape))):
            owner[kernels[cursor][0]] = conv
            cursor += 1
    return owner


def label(name: str, owner: dict[int, int], compiled: CompiledModel) -> str:
    base = name.removeprefix("_mlir_").split("..")[0]
    match = _FUNCTION_INDEX.match(base)
    if base.startswith("kgs_conv3d") and match:
        conv = owner.get(int(match[1]))
        if conv is None:
            return "conv ?"
        report = compiled.algorithm_convs[conv]
        _, channels, *_ = report.input_shape
        out = "x".join(map(str, report.output_shape[2:]))
        return (f"conv {conv}: {channels}->{report.output_shape[1]}, kernel {'x'.join(map(str, report.weight_shape[2:]))}, "
                f"out {out}, {compiled.algorithms[conv]}")
    if match:
        kind = "linear" if base.startswith("matmul") else "pool"
        return f"{kind} {match[1]}"
    return base


def record(compiled: CompiledModel, clip: torch.Tensor, calls: int, data: Path) -> float:
    """Median seconds per call, the calls sampled by perf into ``data``."""
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "4000", "-o", str(data), "-p", str(os.getpid())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # perf attaches
    if perf.poll() is not None:
        raise UserError(f"perf record failed: {perf.stderr.read().strip()} (see perf_event_paranoid)")
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        compiled(clip)
        times.append(time.perf_counter() - start)
    perf.send_signal(signal.SIGINT)
    perf.wait()
    times.sort()
    return times[len(times) // 2]


def shares(data: Path, base: int, symbols: list[Symbol], names: dict[str, str]) -> tuple[collections.Counter, int]:
    """Samples per label and the total."""
    script = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip"], capture_output=True, text=True,
                            check=True).stdout
    starts = [base + symbol.offset for symbol in symbols]
    counts: collections.Counter = collections.Counter()
    total = 0
    for line in script.split():
        total += 1
        address = int(line, 16)
        index = bisect.bisect_right(starts, address) - 1
        if index >= 0 and address < starts[index] + max(symbols[index].size, 1):
            counts[names[symbols[index].name]] += 1
        else:
            counts["outside the JIT (Python, OpenMP runtime, kernel)"] += 1
    return counts, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="c3d", choices=sorted(PROFILES))
    parser.add_argument("--variant", default="kgs", choices=VARIANTS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--input-size", default="16x112x112")
    parser.add_argument("--direct-only", action="store_true", help="compile with direct convolution only")
    parser.add_argument("--top", type=int, default=12, help="lines to print besides the convs")
    parser.add_argument("--by-function", action="store_true",
                        help="one line per JIT function (a conv's kernel, padding copy, outlined loops apart)")
    args = parser.parse_args()
    try:
        run(args)
    except UserError as error:
        sys.exit(f"error: {error}")


def run(args: argparse.Namespace) -> None:
    for tool, package in (("perf", "linux-perf"), (LLVM_NM, "llvm-19")):
        if shutil.which(tool) is None:
            raise UserError(f"{tool} is not installed (Debian: apt-get install {package})")
    if args.threads < 1 or args.calls < 1:
        raise UserError("--threads and --calls must be at least 1")
    clip_size = parse_clip(args.input_size) or (16, 112, 112)
    model = build_model(args.model, input_size=clip_size)
    if args.variant != "dense":
        pruned = copy.deepcopy(model)
        prune_layer_wide(pruned, PROFILES[args.model], row_axis=ROW_AXIS_W if args.variant == "kgs-row" else None)
        model = pruned
    clip = example_input(args.model, input_size=clip_size)
    print(f"{machine_description(host_target())}; {args.model} {args.variant}, {args.threads} thread(s), {args.calls} calls",
          flush=True)
    compiled = compile_model(model, clip, direct_only=args.direct_only)
    compiled.set_threads(args.threads)
    for _ in range(2):
        compiled(clip)  # warm-up: first-call page faults, lazy OpenMP start
    with tempfile.TemporaryDirectory() as scratch:
        base, symbols = jit_symbols(compiled, Path(scratch) / "model.o")
        owner = conv_of_kernel(compiled)
        names = {symbol.name: label(symbol.name, owner, compiled) for symbol in symbols}
        if args.by_function:
            names = {name: f"{where} [{name.removeprefix('_mlir_')}]" for name, where in names.items()}
        median = record(compiled, clip, args.calls, Path(scratch) / "perf.data")
        counts, total = shares(Path(scratch) / "perf.data", base, symbols, names)
    print(f"median call {median * 1e3:.1f} ms; {total} samples")
    convs = sorted((name for name in counts if name.startswith("conv ")), key=lambda name: int(name.split()[1].rstrip(":"))
                   if name.split()[1].rstrip(":").isdigit() else -1)
    rest = [name for name, _ in counts.most_common() if not name.startswith("conv ")][: args.top]
    for name in [*convs, *rest]:
        print(f"{counts[name] / total * 100:6.1f}%  {counts[name] / total * median * 1e3 * args.threads:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
