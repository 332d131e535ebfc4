"""``rt3d-translate``: an MLIR file to AArch64 code, like mlir-translate after rt3d-opt.

    rt3d-translate model.mlir --emit=artifacts -o out/     # what `rt3d compile --target aarch64` writes
    rt3d-translate conv.mlir --emit=asm                     # assembly of the single-threaded variant, on stdout
    rt3d-translate conv.mlir --emit=llvm-ir --openmp        # LLVM IR of the OpenMP variant
    rt3d-translate conv.mlir --emit=obj --triple=android -o conv.o
    rt3d-translate conv.mlir --emit=header --name=my_conv

The input holds ``func.func @main`` on f32 tensors: linalg on tensors (``rt3d
import``'s output), sparse3d ops, or IR after ``--kgs-lower``. Constant-filter
3D convs become KGS kernels scheduled for the chosen core (``--cpu``). Every
error is one line (``rt3d-translate: error: ...``) and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch_mlir import ir

from rt3d_mlir.diagnostics import PassError, SourceLocation
from rt3d_mlir.dialect import make_context
from rt3d_mlir.arguments import ArgumentParser
from rt3d_mlir.errors import UserError, first_line, report_internal_error
from rt3d_mlir.outputs import check_output_file, check_output_folder, write_output
from rt3d_mlir.parse_guard import crashing_syntax

EMITS = ("artifacts", "llvm-ir", "asm", "obj", "header")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="rt3d-translate", description="Translate an MLIR model (func @main) to AArch64 code.")
    parser.add_argument("input", nargs="?", default="-", help="input .mlir file, '-' for stdin (default)")
    parser.add_argument("-o", "--output", default="-", help="output file, or folder for --emit=artifacts (default: stdout)")
    parser.add_argument("--emit", choices=EMITS, default="artifacts", help="what to write (default: artifacts)")
    parser.add_argument("--cpu", default=None, help="a76 (default), a55, or an LLVM AArch64 cpu such as cortex-a78")
    parser.add_argument("--features", default=None, help="extra LLVM features, e.g. +dotprod")
    parser.add_argument("--triple", choices=("linux-gnu", "android"), default=None, help="for --emit=asm/obj (default: linux-gnu)")
    parser.add_argument("--openmp", action="store_true", help="for --emit=llvm-ir/obj: the OpenMP variant (default: single-threaded)")
    parser.add_argument("--name", default="rt3d_model", help="C name prefix of the exported symbols (default: rt3d_model)")
    parser.add_argument("--group-shape", default="auto", help="kernel group for sparse3d-from-linalg (default: auto)")
    return parser


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read '{path}': {error.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"'{path}' is not UTF-8 MLIR text") from None


def _parse_failure(error: ir.MLIRError, file_name: str) -> str:
    """``file:line:col: message`` of the first parse error (MLIR names the parsed text "-")."""
    if not error.error_diagnostics:
        return f"{file_name}: {first_line(error)}"
    diagnostic = error.error_diagnostics[0]
    location = SourceLocation.of(diagnostic.location)
    where = f"{file_name}:{location.line}:{location.column}" if location.file is not None else file_name
    return f"{where}: {diagnostic.message}"


def run(argv: list[str]) -> int:
    from rt3d_mlir.backends.aarch64.emit import llvm22_compatible
    from rt3d_mlir.compiler import compile_module, make_options

    args = build_parser().parse_args(argv)
    if args.emit in ("artifacts", "obj") and args.output == "-":
        raise UserError(f"--emit={args.emit} writes {'a folder' if args.emit == 'artifacts' else 'a binary file'}: name it with -o")
    # an option the chosen --emit does not use is an error, not silently ignored
    if args.openmp and args.emit not in ("llvm-ir", "obj"):
        raise UserError("--openmp is for --emit=llvm-ir or obj (--emit=asm shows the single-threaded variant, "
                        "the kernels are the same; artifacts holds both): drop --openmp")
    if args.triple and args.emit not in ("asm", "obj"):
        raise UserError(f"--triple is for --emit=asm or obj (--emit={args.emit} does not depend on it): drop --triple")
    args.triple = args.triple or "linux-gnu"
    (check_output_folder if args.emit == "artifacts" else check_output_file)(args.output)
    text = _read(args.input)
    file_name = "<stdin>" if args.input == "-" else args.input
    crashes = crashing_syntax(text)
    if crashes:  # MLIR's parser would kill the process on these
        line, column, message = crashes[0]
        raise UserError(f"cannot parse {file_name}:{line}:{column}: {message}")
    with make_context(), ir.Location.unknown():
        try:
            module = ir.Module.parse(text)
        except ir.MLIRError as error:
            raise UserError(f"cannot parse {_parse_failure(error, file_name)}") from None
        platforms = ("linux-gnu", "android") if args.emit == "artifacts" else (args.triple,)
        options = make_options(prefix=args.name, cpu=args.cpu, features=args.features, group_shape=args.group_shape,
                               description=f"{args.name} translated from {Path(args.input).name} by rt3d-translate",
                               platforms=platforms)
        build = compile_module(module, "aarch64", options)
    suffix = "" if args.openmp else "-st"
    if args.emit == "artifacts":
        for path in build.save(args.output):
            print(f"wrote {path}", file=sys.stderr)
    elif args.emit == "obj":
        write_output(args.output, build.objects[f"{args.triple}{suffix}"])
    elif args.emit == "llvm-ir":
        write_output(args.output, llvm22_compatible(build.lowered[suffix].llvm_ir))
    elif args.emit == "asm":
        write_output(args.output, build.assembly)
    else:
        write_output(args.output, build.header)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except (UserError, PassError) as error:
        print(f"rt3d-translate: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        return report_internal_error("rt3d-translate", error)


if __name__ == "__main__":
    sys.exit(main())
