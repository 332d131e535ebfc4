"""``rt3d-opt``: mlir-opt for rt3d-mlir (our Python passes plus every upstream pass).

    rt3d-opt model.mlir --sparse3d-from-linalg -o out.mlir
    rt3d-opt model.mlir --pass-pipeline='builtin.module(sparse3d-from-linalg{group-shape=8x4}, canonicalize)'
    rt3d-opt test.mlir --split-input-file --verify-diagnostics --sparse3d-from-linalg

Pass flags (``--NAME`` or ``--NAME='key=value ...'``) run in command-line order; any
upstream pass works as a flag too (``--canonicalize``). Diagnostics print as
``file:line:col: severity: message``; every error exits with status 1 and never
leaves a half-written ``-o`` file.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from collections.abc import Callable

from torch_mlir import ir
from torch_mlir.dialects import torch as torch_dialect

from rt3d_mlir import passes
from rt3d_mlir.diagnostics import Diagnostic, PassError, SourceLocation, collecting
from rt3d_mlir.dialect import irdl_definition, make_context
from rt3d_mlir.dialect.sparse3d import OPERATION_NAME
from rt3d_mlir.dialect.tables import check_tables
from rt3d_mlir.arguments import ArgumentParser
from rt3d_mlir.errors import UserError
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.outputs import check_output_file, user_cache_folder, write_output
from rt3d_mlir.parse_guard import crashing_syntax
from rt3d_mlir.pipelines import PIPELINES
from rt3d_mlir.pipeline import Step, build_pass_manager, parse_element, parse_pipeline, pipeline_text

KEPT_REPRODUCERS = 5  # internal errors' inputs kept in the per-user cache folder, newest first
SPLIT_MARKER = re.compile(r"^// -----[ \t]*$", re.MULTILINE)
_EXPECTATION = re.compile(r"expected-(error|warning|remark|note)\s*(?:@(above|below|[+-]\d+))?\s*\{\{(.*?)\}\}")
_SEVERITY = {
    ir.DiagnosticSeverity.ERROR: "error",
    ir.DiagnosticSeverity.WARNING: "warning",
    ir.DiagnosticSeverity.REMARK: "remark",
    ir.DiagnosticSeverity.NOTE: "note",
}


@dataclass
class Chunk:
    """One piece of the input (the whole file unless --split-input-file)."""

    text: str
    first_line: int  # 1-based line of the chunk's first line in the file
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def locate(self, location: SourceLocation, file_name: str) -> SourceLocation:
        """Maps a location inside the chunk's own text ("-":line:col) to the input file.

        The implicit top-level module is at line 0 of the chunk, which is no line of the file:
        its diagnostics go to its first operation. So do those at an unknown location (an op
        that a pass or MLIR's folder built without one): they belong to the chunk, not to a line.
        """
        if location.file is None or (location.file == "-" and location.line == 0):
            return self.first_operation(file_name)
        if location.file != "-":
            return location
        return SourceLocation(file_name, location.line + self.first_line - 1, location.column)

    def first_operation(self, file_name: str) -> SourceLocation:
        """Where the chunk's first line of IR (not blank, not a comment) starts; its first line if it has none."""
        for index, line in enumerate(self.text.splitlines()):
            code = line.lstrip()
            if code and not code.startswith("//"):
                return SourceLocation(file_name, self.first_line + index, len(line) - len(code) + 1)
        return SourceLocation(file_name, self.first_line, 1)


def split_chunks(text: str, split: bool) -> list[Chunk]:
    if not split:
        return [Chunk(text, 1)]
    chunks, start = [], 0
    for marker in SPLIT_MARKER.finditer(text):
        chunks.append(Chunk(text[start : marker.start()], text.count("\n", 0, start) + 1))
        start = marker.end()
    chunks.append(Chunk(text[start:], text.count("\n", 0, start) + 1))
    return chunks


def _tool_options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


class _ArgumentParser(ArgumentParser):
    def format_help(self) -> str:
        # Listing the passes imports them all: only --help pays for that.
        return f"{super().format_help()}\n{passes_help()}\n"


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="rt3d-opt",
        description="Run rt3d-mlir and upstream MLIR passes over an MLIR file.",
    )
    parser.add_argument("input", nargs="?", default="-", help="input .mlir file, '-' for stdin (default)")
    parser.add_argument("-o", dest="output", default="-", help="output file, '-' for stdout (default)")
    parser.add_argument("-p", "--pass-pipeline", action="append", default=[], help="textual pass pipeline")
    parser.add_argument("--split-input-file", action="store_true", help="process each '// -----' chunk separately")
    parser.add_argument(
        "--verify-diagnostics", action="store_true", help="check diagnostics against expected-* annotations"
    )
    parser.add_argument("--mlir-print-ir-before-all", action="store_true")
    parser.add_argument("--mlir-print-ir-after-all", action="store_true")
    parser.add_argument("--mlir-print-ir-after-failure", action="store_true")
    parser.add_argument("--mlir-timing", action="store_true", help="print pass timings")
    parser.add_argument("--mlir-print-op-generic", action="store_true", help="print every op in generic form")
    parser.add_argument("--allow-unregistered-dialect", action="store_true")
    parser.add_argument("--list-passes", action="store_true", help="list our passes and pipelines, then exit")
    parser.add_argument("--emit-irdl", action="store_true", help="print the sparse3d dialect as IRDL, then exit")
    return parser


def passes_help() -> str:
    """Our passes and pipelines with summaries and options (default, type, help), for --help and --list-passes."""
    lines = ["rt3d-mlir passes (each option as name=default, its type, what it does):"]
    for name in passes.pass_names():
        pass_type = passes.pass_class(name)
        lines.append(f"  --{name:<28} {pass_type.summary}")
        for option in pass_type.option_infos():
            lines.append(f"      {f'{option.key}={option.default}':<26} {option.syntax:<18} {option.help}")
    lines.append("rt3d-mlir pipelines:")
    for name, pipeline in PIPELINES.items():
        lines.append(f"  --{name:<28} {pipeline.summary}")
        lines.append(f"      = {', '.join(pipeline.steps)}")
    lines.append("Every upstream MLIR pass is available too, under its mlir-opt name (e.g. --canonicalize).")
    return "\n".join(lines)


def parse_command_line(argv: list[str]) -> tuple[argparse.Namespace, list[Step]]:
    """The tool's options, and the pass steps in command-line order."""
    parser = build_parser()
    known = _tool_options(parser)
    tool_args: list[str] = []
    pass_flags: list[str] = []
    for arg in argv:
        flag = arg.split("=", 1)[0]
        if arg.startswith("--") and len(arg) > 2 and flag not in known:
            pass_flags.append(arg[2:])
        else:
            tool_args.append(arg)
    args = parser.parse_args(tool_args)
    steps: list[Step] = []
    for pipeline in args.pass_pipeline:
        steps += parse_pipeline(pipeline)
    for flag in pass_flags:
        name, has_options, options = flag.partition("=")
        if not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
            raise UserError(f"unknown option '--{flag}'")
        steps += parse_element(f"{name}{{{options}}}" if has_options else name)
    if args.pass_pipeline and pass_flags:
        raise UserError("give passes either with --pass-pipeline or as flags, not both")
    return args, steps


@dataclass(frozen=True)
class Expectation:
    """An expected-* annotation: a diagnostic of ``severity`` at ``line`` whose message contains ``message``."""

    severity: str
    line: int  # the line it designates (@above, @below, @+N, @-N: relative to its own)
    message: str
    annotation: SourceLocation  # where the annotation itself is: a missing diagnostic is reported there


def expectations(chunk: Chunk, file_name: str) -> list[Expectation]:
    """The expected-* annotations of a chunk."""
    expected = []
    for index, line in enumerate(chunk.text.splitlines()):
        for match in _EXPECTATION.finditer(line):
            offset = {"above": -1, "below": 1, None: 0}.get(match[2])
            if offset is None:
                offset = int(match[2])
            expected.append(Expectation(match[1], chunk.first_line + index + offset, match[3],
                                        SourceLocation(file_name, chunk.first_line + index, match.start() + 1)))
    return expected


def check_expectations(chunk: Chunk, file_name: str) -> list[str]:
    """Problems with --verify-diagnostics for one chunk: unexpected and missing diagnostics."""
    expected = expectations(chunk, file_name)
    problems = []
    for actual in chunk.diagnostics:
        match = next(
            (
                e
                for e in expected
                if e.severity == actual.severity and e.line == actual.location.line and e.message in actual.message
            ),
            None,
        )
        if match is None:
            problems.append(f"{actual.location}: error: unexpected {actual.severity}: {actual.message}")
        else:
            expected.remove(match)
    for missing in expected:
        problems.append(f'{missing.annotation}: error: expected {missing.severity} "{missing.message}" was not produced')
    return problems


class InternalError(Exception):
    """A bug in rt3d-mlir (not the user's input): reported with a reproducer."""


def process_chunk(
    chunk: Chunk, steps: list[Step], args: argparse.Namespace, context: ir.Context, file_name: str
) -> str | None:
    """Parses and transforms one chunk; returns its output text, or None after an error."""

    def record(severity: str, location: SourceLocation, message: str) -> None:
        chunk.diagnostics.append(Diagnostic(severity, chunk.locate(location, file_name), message))

    def record_mlir(diagnostic: ir.DiagnosticInfo) -> None:
        record(_SEVERITY.get(diagnostic.severity, "error"), SourceLocation.of(diagnostic.location), diagnostic.message)
        for note in diagnostic.notes:
            record("note", SourceLocation.of(note.location), note.message)

    def handler(diagnostic: ir.Diagnostic) -> bool:
        record_mlir(diagnostic)
        return True

    registration = context.attach_diagnostic_handler(handler)
    try:
        with context, collecting(lambda d: record(d.severity, d.location, d.message)):
            crashes = crashing_syntax(chunk.text)
            for line, column, message in crashes:
                record("error", SourceLocation("-", line, column), message)
            if crashes:  # MLIR's parser would kill the process on these
                return None
            try:
                module = ir.Module.parse(chunk.text)
            except ir.MLIRError as error:
                for diagnostic in error.error_diagnostics:
                    record_mlir(diagnostic)
                return None
            if not tables_agree(module, record):
                return None
            manager = build_pass_manager(steps, context)
            if args.mlir_print_ir_before_all or args.mlir_print_ir_after_all or args.mlir_print_ir_after_failure:
                manager.enable_ir_printing(
                    print_before_all=args.mlir_print_ir_before_all,
                    print_after_all=args.mlir_print_ir_after_all,
                    print_after_failure=args.mlir_print_ir_after_failure,
                    print_module_scope=True,
                )
            if args.mlir_timing:
                manager.enable_timing()
            try:
                manager.run(module.operation)
            except ir.MLIRError as error:
                for diagnostic in error.error_diagnostics:
                    record_mlir(diagnostic)
                return None
            except PassError as error:
                record("error", error.location, str(error))
                return None
            except (UserError, MemoryError):
                raise
            except Exception as error:
                raise InternalError(error) from error
            finally:
                # The timing report prints when the pass manager is destroyed.
                del manager
            return module.operation.get_asm(print_generic_op_form=args.mlir_print_op_generic, assume_verified=True)
    finally:
        registration.detach()


def tables_agree(module: ir.Module, record: Callable[[str, SourceLocation, str], None]) -> bool:
    """Runs the table analysis on every sparse3d.kgs_conv3d after parsing, as the verifier runs on every op.

    Each problem is recorded as an error; returns whether there was none.
    """
    agree = True
    for conv in ops_named(module.operation, OPERATION_NAME):
        try:
            check_tables(conv)
        except PassError as error:
            record("error", error.location, str(error))
            agree = False
    return agree


def write_reproducer(chunk: Chunk, steps: list[Step]) -> str:
    """Saves the chunk in the per-user reproducer folder (the newest few are kept); returns how to rerun it."""
    folder = user_cache_folder() / "reproducers"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, path = tempfile.mkstemp(dir=folder, prefix="rt3d-opt-reproducer-", suffix=".mlir")
        with os.fdopen(handle, "w") as reproducer:
            reproducer.write(chunk.text)
        saved = sorted(folder.glob("rt3d-opt-reproducer-*.mlir"), key=lambda file: file.stat().st_mtime_ns)
        for stale in saved[:-KEPT_REPRODUCERS]:
            stale.unlink(missing_ok=True)
    except OSError as error:
        return f"(no reproducer: cannot write into {folder}: {error.strerror})"
    return (f"rt3d-opt {path} --pass-pipeline='{pipeline_text(steps)}'\n"
            f"({folder} keeps the last {KEPT_REPRODUCERS} reproducers)")


def run(argv: list[str]) -> int:
    context = make_context()
    torch_dialect.register_dialect(context)  # ungroup-convolution runs on torch-mlir's torch dialect
    with context:
        args, steps = parse_command_line(argv)
    if args.list_passes:
        print(passes_help())
        return 0
    check_output_file(args.output)
    if args.emit_irdl:
        write_output(args.output, irdl_definition())
        return 0
    if args.input == "-":
        file_name, text = "<stdin>", sys.stdin.read()
    else:
        try:
            with open(args.input, encoding="utf-8") as source:
                text = source.read()
        except OSError as error:
            raise UserError(f"cannot read '{args.input}': {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise UserError(f"'{args.input}' is not UTF-8 text (byte {error.start}): is it MLIR bytecode or a binary?") from None
        file_name = args.input
    context.allow_unregistered_dialects = args.allow_unregistered_dialect
    context.emit_error_diagnostics = False
    outputs: list[str] = []
    failed = False
    for chunk in split_chunks(text, args.split_input_file):
        try:
            output = process_chunk(chunk, steps, args, context, file_name)
        except InternalError as error:
            cause = error.__cause__
            sys.stderr.write(
                f"rt3d-opt: internal error: {type(cause).__name__}: {cause}\n"
                f"This is a bug in rt3d-mlir. Reproduce it with:\n  {write_reproducer(chunk, steps)}\n"
            )
            if os.environ.get("RT3D_DEBUG"):
                traceback.print_exception(cause)
            return 1
        if args.verify_diagnostics:
            problems = check_expectations(chunk, file_name)
            for problem in problems:
                print(problem, file=sys.stderr)
            failed |= bool(problems)
        else:
            for diagnostic in chunk.diagnostics:
                print(f"{diagnostic.location}: {diagnostic.severity}: {diagnostic.message}", file=sys.stderr)
            failed |= output is None
        if output is not None:
            outputs.append(output)
    if failed:
        return 1
    write_output(args.output, "\n// -----\n".join(outputs))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except UserError as error:
        print(f"rt3d-opt: error: {error}", file=sys.stderr)
        return 1
    except MemoryError:  # from numpy or MLIR (std::bad_alloc): an input too large, not a bug
        print("rt3d-opt: error: out of memory: the input needs more memory than this process can have", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
