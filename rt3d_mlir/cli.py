"""``rt3d``: the command line of rt3d-mlir (import, compile, demo, and the pruning commands)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rt3d_mlir.backends import all_backends, backend_for
from rt3d_mlir.backends.base import Backend, describe_targets
from rt3d_mlir.arguments import (
    MAX_CLASSES, MAX_THREADS, ArgumentParser, clip_size, group_shape, whole_number, width_multiplier,
)
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError, report_internal_error
from rt3d_mlir.groups import GroupShape
from rt3d_mlir.models import MODELS
from rt3d_mlir.outputs import check_output_file, check_output_folder, write_output

if TYPE_CHECKING:
    import torch

    from rt3d_mlir.onnx_import import OnnxModel
    from rt3d_mlir.backends.host.tuning import TuneResult


def load_model_argument(
    args: argparse.Namespace,
) -> tuple[torch.nn.Module | torch.export.ExportedProgram | OnnxModel, torch.Tensor | tuple[torch.Tensor, ...] | None]:
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


def default_prefix(model_argument: str) -> str:
    """The C name prefix of a model's artifacts: ``rt3d_`` and the model's name."""
    return "rt3d_" + re.sub(r"\W", "_", Path(model_argument).stem)


def compile_options(args: argparse.Namespace, backend: Backend) -> dict[str, Any]:
    """The compile options ``args`` give ``backend``; a back end's option given to another target is an error
    (it would be ignored silently)."""
    for other in all_backends():
        flags = [option.flag for option in other.cli_options if other is not backend and getattr(args, option.dest)]
        if flags:
            raise UserError(f"{', '.join(flags)}: only for --target {other.cli_targets}, not {args.target}")
    fields = {option.field: getattr(args, option.dest) for option in backend.cli_options
              if option.field and getattr(args, option.dest) is not None}
    if "prefix" in backend.options:
        fields.setdefault("prefix", default_prefix(args.model))
    return fields


def cmd_compile(args: argparse.Namespace) -> int:
    import torch

    from rt3d_mlir.backends.host.compiled_model import CompiledModel
    from rt3d_mlir.backends.vulkan.compiler import VulkanCompiledModel
    from rt3d_mlir.compiler import check_against_eager
    from rt3d_mlir.compiler import compile as compile_model
    from rt3d_mlir.report import format_table
    from rt3d_mlir.timing import median_time

    backend = backend_for(args.target)
    options = compile_options(args, backend)
    no_run, qemu = getattr(args, "no_run", False), getattr(args, "qemu_check", False)
    if args.repeat and not backend.runs_here:
        raise UserError(f"--repeat times runs on this machine: --target {args.target} writes artifacts that run elsewhere")
    if no_run and args.repeat:
        raise UserError("--no-run and --repeat contradict each other: timing needs a run")
    if not backend.runs_here and not args.output:
        raise UserError(f"--target {args.target} writes a folder of artifacts: name it with -o DIR")
    if args.output:
        (check_output_folder if backend.output == "folder" else check_output_file)(args.output)
    if qemu:
        from rt3d_mlir.backends.aarch64 import command

        command.check_qemu_prerequisites()
    model, example = load_model_argument(args)
    if example is None:  # only a .pt2 program comes without one
        raise UserError(f"{args.model} holds no example inputs to check the compiled model on: save a program "
                        "exported with torch.export.export(model, example_inputs)")
    if isinstance(model, torch.export.ExportedProgram):
        program = model.module()  # the program's own graph, run by torch
        reference, reference_name = (lambda *tensors: program(*tensors)), "the exported program"
    else:
        reference, reference_name = model, "torch eager" if isinstance(model, torch.nn.Module) else "ONNX Runtime"
    if qemu and not isinstance(model, torch.nn.Module):
        raise UserError("--qemu-check compares with torch eager: it needs a zoo model or a pruned checkpoint, not a .pt2 program or an ONNX model")
    inputs = example if isinstance(example, tuple) else (example,)
    target: str = args.target  # typed (argparse's are Any) so that compile's overloads say what it returns
    compiled = compile_model(model, example, target=target, progress=not args.quiet, **options)
    print(f"compiled {args.model} for {args.target} in {compiled.compile_seconds:.1f} s", file=sys.stderr)
    print(format_table([f"conv{i}" for i in range(len(compiled.convs))], compiled.convs))
    if args.output:
        if isinstance(compiled, CompiledModel):  # the host's output is a file: the IR after --kgs-lower
            write_text(args.output, compiled.kernel_ir)
        else:
            written = compiled.save(args.output)
            for path in written if isinstance(written, list) else [written]:
                print(f"wrote {path}", file=sys.stderr)
    if not isinstance(compiled, CompiledModel | VulkanCompiledModel):  # AArch64 objects run elsewhere
        if qemu and isinstance(model, torch.nn.Module):  # an aarch64 flag; other models were refused above
            command.qemu_check(compiled, model, example, Path(args.output))
        return 0
    if no_run:
        return 0
    error, scale = check_against_eager(compiled, reference, example)
    print(f"max |compiled - {reference_name}| = {error:.3g} (outputs up to {scale:.3g})")
    if args.repeat:
        with torch.no_grad():
            ours = median_time(lambda: compiled(*inputs), args.repeat)
            theirs = median_time(lambda: reference(*inputs), args.repeat)
        where = (f"on {compiled.runner().info.name}" if isinstance(compiled, VulkanCompiledModel)
                 else f"{compiled.threads} thread(s)")
        print(f"median of {args.repeat} runs, {where}: compiled {ours * 1e3:.1f} ms, "
              f"{reference_name} {theirs * 1e3:.1f} ms (ratio {theirs / ours:.2f}x)")
    return 0


ALGORITHMS_HEADING = "algorithms (convN: the model's Nth conv; those with a Winograd candidate):"
SCHEDULES_HEADING = "schedules (convN: the Nth conv after Winograd, which splits a conv into its per-tap convs):"


def print_tune_result(result: TuneResult) -> None:
    """One conv's tuning: its winner (or the cached one) and every other candidate timed, slowest last."""
    g = result.geometry
    shape = f"{g.in_channels}->{g.out_channels} {'x'.join(map(str, g.kernel_size))} at {'x'.join(map(str, g.in_size))}"
    name = f"conv{result.index}"
    if result.cached:
        print(f"  {name} {shape}: cached {result.choice}")
        return
    best = result.times_ms[str(result.choice)]
    print(f"  {name} {shape}: {best:.2f} ms with {result.choice}")
    for candidate, ms in sorted(result.times_ms.items(), key=lambda item: item[1]):
        if candidate != str(result.choice):
            print(f"      {ms:8.2f} ms ({ms / best:.2f}x) {candidate}")


def cmd_tune(args: argparse.Namespace) -> int:
    import torch

    from rt3d_mlir.compiler import compile as compile_model
    from rt3d_mlir.backends.host.tuning import TuningOptions
    from rt3d_mlir.targets.tuning_cache import TuningCache, default_cache_path

    cache = Path(args.cache) if args.cache else default_cache_path()
    check_output_file(str(cache), "--cache")
    if args.cache:  # a file the user named that is not a cache is refused now, not replaced after the tuning
        TuningCache.load(cache, foreign_is_error=True)
    model, example = load_model_argument(args)
    if not isinstance(model, torch.nn.Module):
        raise UserError("rt3d tune needs a zoo model or a pruned checkpoint")
    options = TuningOptions(args.candidates, args.rounds, args.retune)
    target: str = args.target  # typed so that compile's overloads apply: tuning gives a CompiledModel
    compiled = compile_model(model, example, target=target, tune=options, tuning_cache=cache)
    for heading, results in ((ALGORITHMS_HEADING, compiled.algorithm_tuning), (SCHEDULES_HEADING, compiled.tuning)):
        print(heading)
        for result in results:
            print_tune_result(result)
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


# how a back end's CliOption kinds become argparse arguments
_CLI_KINDS: dict[str, dict[str, Any]] = {
    "thread-count": {"type": whole_number(1, MAX_THREADS), "default": None},
    "flag": {"action": "store_true"},
    "text": {"default": None},
}


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
    compiler.add_argument("--target", default="host", help=f"one of {describe_targets(list(all_backends()))} (default: host)")
    compiler.add_argument("--repeat", type=whole_number(), default=None, help="time this many runs of ours and of the reference (targets that run here)")
    written = "; ".join(f"{backend.name}: {backend.writes}" for backend in all_backends())
    compiler.add_argument("-o", "--output", default=None, help=f"write the compiled model here ({written})")
    for backend in all_backends():
        group = compiler.add_argument_group(f"--target {backend.cli_targets}: {backend.summary}")
        for option in backend.cli_options:
            group.add_argument(option.flag, help=option.help, **_CLI_KINDS[option.kind])
    compiler.add_argument("--quiet", action="store_true", help="no progress bar (there is none when stderr is not a terminal)")
    compiler.set_defaults(handler=cmd_compile)

    tuner = commands.add_parser("tune", help="time the cost model's best schedules of each conv here and cache the fastest for later compiles")
    add_model_arguments(tuner)
    tuner.add_argument("--target", default="host", help=f"one of {describe_targets([backend_for('host')])} (default: host)")
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
