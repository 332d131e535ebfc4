"""``rt3d``: the command line of rt3d-mlir (import, compile, demo, and the pruning commands)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from rt3d_mlir.arguments import (
    MAX_CLASSES, MAX_THREADS, ArgumentParser, clip_size, group_shape, whole_number, width_multiplier,
)
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError, report_internal_error
from rt3d_mlir.groups import GroupShape
from rt3d_mlir.models import MODELS
from rt3d_mlir.outputs import check_output_file, check_output_folder, write_output


def load_model_argument(args: argparse.Namespace) -> tuple[object, object]:
    """The model a MODEL argument names, with its example input: a zoo name, an .onnx file, a .pt2 program or a pruned checkpoint."""
    from rt3d_mlir.importer import load_exported_program
    from rt3d_mlir.models import build_model, example_input

    if args.model.endswith(".onnx"):
        from rt3d_mlir.onnx_import import load_onnx

        onnx_model = load_onnx(args.model)
        inputs = onnx_model.example_inputs()
        return onnx_model, inputs[0] if len(inputs) == 1 else inputs
    if args.model.endswith(".pt2"):
        program = load_exported_program(args.model)
        return program, tuple(program.example_inputs[0]) if program.example_inputs else None
    if args.model.endswith((".pt", ".pth", ".ckpt")):
        from rt3d_mlir.prune import load_pruned_model

        model, profile = load_pruned_model(args.model)
        clip = args.input_size or tuple(profile["input_size"])
        return model, example_input(profile["model"], batch=args.batch, input_size=clip)
    if args.model in MODELS:
        model = build_model(args.model, num_classes=args.num_classes, width=args.width, input_size=args.input_size)
        return model, example_input(args.model, batch=args.batch, input_size=args.input_size)
    raise UserError(
        f"'{args.model}' is neither a zoo model ({', '.join(MODELS)}), an ONNX model (.onnx), a .pt2 program nor a pruned checkpoint (.pt)"
    )


def write_text(path: str, text: str) -> None:
    write_output(path, text)
    if path != "-":
        print(f"wrote {path} ({Path(path).stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    from rt3d_mlir.importer import import_model

    check_output_file(args.output)
    model, example = load_model_argument(args)
    write_text(args.output, import_model(model, example).operation.get_asm(assume_verified=True))
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    import torch

    from rt3d_mlir.compiler import check_against_eager
    from rt3d_mlir.compiler import compile as compile_model
    from rt3d_mlir.report import format_table
    from rt3d_mlir.timing import median_time

    aarch64 = args.target == "aarch64" or args.target.startswith("aarch64-")
    vulkan = args.target == "vulkan" or args.target.startswith("vulkan-")
    # a back end's options given to another target would be silently ignored
    aarch64_options = {"--cpu": args.cpu, "--features": args.features, "--name": args.name, "--qemu-check": args.qemu_check}
    misplaced = [option for option, value in aarch64_options.items() if value] if not aarch64 else []
    if misplaced:
        raise UserError(f"{', '.join(misplaced)}: only for --target aarch64 or aarch64-<cpu>, not {args.target}")
    if args.no_run and not vulkan:
        raise UserError(f"--no-run: only for --target vulkan, not {args.target}")
    if args.no_run and args.repeat:
        raise UserError("--no-run and --repeat contradict each other: timing needs a run")
    if args.output:
        (check_output_folder if aarch64 or vulkan else check_output_file)(args.output)
    model, example = load_model_argument(args)
    if aarch64:
        from rt3d_mlir.backends.aarch64 import command

        return command.run(args, model, example)
    if isinstance(model, torch.export.ExportedProgram):
        if example is None:
            raise UserError(f"{args.model} holds no example inputs to check the compiled model on: save a program "
                            "exported with torch.export.export(model, example_inputs)")
        program = model.module()  # the program's own graph, run by torch
        reference, reference_name = (lambda *tensors: program(*tensors)), "the exported program"
    else:
        reference, reference_name = model, "torch eager" if isinstance(model, torch.nn.Module) else "ONNX Runtime"
    inputs = example if isinstance(example, tuple) else (example,)
    compiled = compile_model(model, example, target=args.target, threads=args.threads, progress=not args.quiet)
    print(f"compiled {args.model} for {args.target} in {compiled.compile_seconds:.1f} s", file=sys.stderr)
    print(format_table([f"conv{i}" for i in range(len(compiled.convs))], compiled.convs))
    if args.output:
        if vulkan:
            print(f"wrote the SPIR-V modules and manifest to {compiled.save(args.output)}", file=sys.stderr)
        else:
            write_text(args.output, compiled.kernel_ir)
    if vulkan and args.no_run:
        return 0
    error, scale = check_against_eager(compiled, reference, example)
    print(f"max |compiled - {reference_name}| = {error:.3g} (outputs up to {scale:.3g})")
    if args.repeat:
        with torch.no_grad():
            ours = median_time(lambda: compiled(*inputs), args.repeat)
            theirs = median_time(lambda: reference(*inputs), args.repeat)
        where = f"on {compiled.runner().info.name}" if vulkan else f"{compiled.threads} thread(s)"
        print(f"median of {args.repeat} runs, {where}: compiled {ours * 1e3:.1f} ms, "
              f"{reference_name} {theirs * 1e3:.1f} ms (ratio {theirs / ours:.2f}x)")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    import torch

    from rt3d_mlir.compiler import compile as compile_model
    from rt3d_mlir.tuning import TuningCache, TuningOptions, default_cache_path

    cache = Path(args.cache) if args.cache else default_cache_path()
    check_output_file(str(cache), "--cache")
    if args.cache:  # a file the user named that is not a cache is refused now, not replaced after the tuning
        TuningCache.load(cache, foreign_is_error=True)
    model, example = load_model_argument(args)
    if not isinstance(model, torch.nn.Module):
        raise UserError("rt3d tune needs a zoo model or a pruned checkpoint")
    options = TuningOptions(args.candidates, args.rounds, args.retune)
    compiled = compile_model(model, example, target=args.target, tune=options, tuning_cache=cache)
    for index, result in enumerate(compiled.tuning):
        g = result.geometry
        shape = f"{g.in_channels}->{g.out_channels} {'x'.join(map(str, g.kernel_size))} at {'x'.join(map(str, g.in_size))}"
        if result.cached:
            print(f"conv{index} {shape}: cached {result.schedule}")
            continue
        best = result.times_ms[repr(result.schedule)]
        print(f"conv{index} {shape}: {best:.2f} ms with {result.schedule}")
        for name, ms in sorted(result.times_ms.items(), key=lambda item: item[1]):
            if name != repr(result.schedule):
                print(f"    {ms:8.2f} ms ({ms / best:.2f}x) {name}")
    print(f"tuning cache: {cache}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from rt3d_mlir.demo import run_demo

    if args.plot is not None:
        check_output_file(args.plot, "--plot")
    run_demo(input_size=args.input_size, width=args.width, group_shape=args.group_shape, repeat=args.repeat,
             threads=args.threads, progress=not args.quiet, plot=args.plot)
    return 0


class _ArgumentParser(ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Python 3.13's rule, so that "--input-size -1x32x32" reaches the option's own check as a value
        self._negative_number_matcher = re.compile(r"-\.?\d")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=f"a zoo model ({', '.join(MODELS)}), an ONNX model (.onnx), a torch.export program (.pt2) or a pruned checkpoint (.pt)")
    parser.add_argument("--input-size", type=clip_size, default=None, help="clip FRAMESxHEIGHTxWIDTH (default: the paper's)")
    parser.add_argument("--batch", type=whole_number(), default=1)
    parser.add_argument("--width", type=width_multiplier, default=1.0, help="channel width multiplier (zoo models)")
    parser.add_argument("--num-classes", type=whole_number(1, MAX_CLASSES), default=101, help="classes (zoo models)")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="rt3d", description="rt3d-mlir: prune, import and compile sparse 3D CNNs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    importer = commands.add_parser("import", help="write a model as linalg-on-tensors MLIR")
    add_model_arguments(importer)
    importer.add_argument("-o", "--output", default="-", help="output .mlir file (default: stdout)")
    importer.set_defaults(handler=cmd_import)

    compiler = commands.add_parser("compile", help="compile a model for the host CPU, Vulkan or AArch64, check it against torch, time it")
    add_model_arguments(compiler)
    compiler.add_argument("--target", default="host", help="host, host-avx512, host-avx2, vulkan or vulkan-<gpu>: "
                          "vulkan-desktop, vulkan-mali-valhall, vulkan-adreno-6xx (each also +fp16 or +fp16-math), aarch64, aarch64-a76 or aarch64-a55 (default: host)")
    compiler.add_argument("--threads", type=whole_number(1, MAX_THREADS), default=None, help="host targets: OpenMP threads (default: all cores)")
    compiler.add_argument("--repeat", type=whole_number(), default=None, help="host and vulkan: time this many runs of ours and of torch eager")
    compiler.add_argument("-o", "--output", default=None, help="also write the IR after --kgs-lower here "
                          "(vulkan: the folder for the SPIR-V modules, manifest.json and constants.bin; "
                          "aarch64: the folder for the objects and the header)")
    compiler.add_argument("--no-run", action="store_true", help="vulkan: only compile, do not run on a local Vulkan device")
    aarch64 = compiler.add_argument_group("aarch64 (--target aarch64, aarch64-a76 or aarch64-a55; docs/aarch64.md)")
    aarch64.add_argument("--cpu", default=None, help="a76 (default), a55, or an LLVM AArch64 cpu such as cortex-a78")
    aarch64.add_argument("--features", default=None, help="extra LLVM features, e.g. +dotprod,+fullfp16")
    aarch64.add_argument("--name", default=None, help="C name prefix of the artifacts (default: rt3d_MODEL)")
    aarch64.add_argument("--qemu-check", action="store_true", help="run the single-threaded object under qemu-aarch64, compare to torch eager")
    compiler.add_argument("--quiet", action="store_true", help="no progress bar (there is none when stderr is not a terminal)")
    compiler.set_defaults(handler=cmd_compile)

    tuner = commands.add_parser("tune", help="time the cost model's best schedules of each conv here and cache the fastest for later compiles")
    add_model_arguments(tuner)
    tuner.add_argument("--target", default="host", help="host, host-avx512 or host-avx2 (default: host)")
    tuner.add_argument("--cache", default=None, help="the tuning cache file (default: $RT3D_TUNING_CACHE or ~/.cache/rt3d-mlir/tuning.json)")
    tuner.add_argument("--candidates", type=whole_number(), default=4, help="schedules timed per conv (at least the best 2 of each kernel)")
    tuner.add_argument("--rounds", type=whole_number(), default=5, help="interleaved timing rounds per conv (median taken)")
    tuner.add_argument("--retune", action="store_true", help="time convs the cache already holds again")
    tuner.set_defaults(handler=cmd_tune)

    demo = commands.add_parser("demo", help="prune C3D at the paper's rates, compile it sparse and dense, check and time both")
    demo.add_argument("--input-size", type=clip_size, default=(16, 112, 112), help="clip FRAMESxHEIGHTxWIDTH")
    demo.add_argument("--width", type=width_multiplier, default=1.0, help="channel width multiplier")
    demo.add_argument("--group-shape", type=group_shape, default=GroupShape(8, 4), help="kernel group, e.g. 8x4")
    demo.add_argument("--repeat", type=whole_number(), default=3, help="timed runs of each variant (median reported)")
    demo.add_argument("--threads", type=whole_number(1, MAX_THREADS), default=None, help="OpenMP threads (default: all cores)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar while compiling")
    demo.add_argument("--plot", metavar="FILE", default=None, help="also write an SVG: latency per variant, FLOPs pruning rate per layer")
    demo.set_defaults(handler=cmd_demo)

    try:
        from rt3d_mlir.prune.commands import register
    except ImportError:
        pass
    else:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UserError, PassError) as error:
        location = f" (at {error.location})" if isinstance(error, PassError) and error.location.file else ""
        print(f"rt3d: error: {error}{location}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        return report_internal_error("rt3d", error)


if __name__ == "__main__":
    sys.exit(main())
