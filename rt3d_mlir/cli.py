"""``rt3d``: the command line of rt3d-mlir (import, demo; the pruning commands when installed)."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape
from rt3d_mlir.models import MODELS


def clip_size(text: str) -> tuple[int, int, int]:
    """Parses FRAMESxHEIGHTxWIDTH, e.g. 16x112x112."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected FRAMESxHEIGHTxWIDTH such as 16x112x112, got '{text}'")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def group_shape(text: str) -> GroupShape:
    try:
        return GroupShape.parse(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_import(args: argparse.Namespace) -> int:
    from rt3d_mlir.importer import import_model, load_exported_program
    from rt3d_mlir.models import build_model, example_input

    if args.model.endswith(".pt2"):
        module = import_model(load_exported_program(args.model))
    elif args.model in MODELS:
        model = build_model(args.model, num_classes=args.num_classes, width=args.width, input_size=args.input_size)
        module = import_model(model, example_input(args.model, batch=args.batch, input_size=args.input_size))
    else:
        raise UserError(f"'{args.model}' is neither a zoo model ({', '.join(MODELS)}) nor a .pt2 file")
    text = module.operation.get_asm(assume_verified=True)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        from rt3d_mlir.tools.rt3d_opt import write_output

        write_output(args.output, text)
        print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from rt3d_mlir.demo import run_demo

    run_demo(input_size=args.input_size, width=args.width, group_shape=args.group_shape)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rt3d", description="rt3d-mlir: prune, import and compile sparse 3D CNNs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    importer = commands.add_parser("import", help="write a model as linalg-on-tensors MLIR")
    importer.add_argument("model", help=f"a zoo model ({', '.join(MODELS)}) or a torch.export program (.pt2)")
    importer.add_argument("-o", "--output", default="-", help="output .mlir file (default: stdout)")
    importer.add_argument("--input-size", type=clip_size, default=None, help="clip FRAMESxHEIGHTxWIDTH (default: the paper's)")
    importer.add_argument("--batch", type=int, default=1)
    importer.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    importer.add_argument("--num-classes", type=int, default=101)
    importer.set_defaults(handler=cmd_import)

    demo = commands.add_parser("demo", help="prune C3D at the paper's rates, import it, convert its convs to sparse3d")
    demo.add_argument("--input-size", type=clip_size, default=(16, 112, 112), help="clip FRAMESxHEIGHTxWIDTH")
    demo.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    demo.add_argument("--group-shape", type=group_shape, default=GroupShape(8, 4), help="kernel group, e.g. 8x4")
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
    except UserError as error:
        print(f"rt3d: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        print(f"rt3d: internal error: {type(error).__name__}: {error}\nThis is a bug in rt3d-mlir; "
              "run again with RT3D_DEBUG=1 for the traceback.", file=sys.stderr)
        if os.environ.get("RT3D_DEBUG"):
            traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
