"""Diagnostics raised and reported by our Python passes, in MLIR's ``file:line:col: severity: message`` form.

MLIR's Python API can emit errors on a Location but not remarks or warnings, so
Python passes report those through :func:`emit`, to the sink that the running
tool installed (none outside a tool: then remarks are dropped, like MLIR's own).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torch_mlir import ir

_FILE_LINE_COL = re.compile(r'loc\("([^"]*)":(\d+):(\d+)')


@dataclass(frozen=True)
class SourceLocation:
    """A resolved location: ``file`` is None when the IR location has no file:line:col."""

    file: str | None
    line: int = 0
    column: int = 0

    @classmethod
    def of(cls, location: ir.Location | str) -> SourceLocation:
        match = _FILE_LINE_COL.search(str(location))
        if match is None:
            return cls(None)
        return cls(match[1], int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.file is not None else "<unknown>"


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error", "warning", "remark" or "note"
    location: SourceLocation
    message: str


class PassError(Exception):
    """A pass cannot handle its input: reported as an error at ``location``, the pipeline fails."""

    def __init__(self, message: str, location: ir.Location | None = None) -> None:
        super().__init__(message)
        self.location = SourceLocation.of(location) if location is not None else SourceLocation(None)


Sink = Callable[[Diagnostic], None]
_sink: contextvars.ContextVar[Sink | None] = contextvars.ContextVar("rt3d_diagnostic_sink", default=None)


def emit(severity: str, location: ir.Location, message: str) -> None:
    """Reports a remark or warning from a pass to the current sink, if any."""
    sink = _sink.get()
    if sink is not None:
        sink(Diagnostic(severity, SourceLocation.of(location), message))


def remark(location: ir.Location, message: str) -> None:
    emit("remark", location, message)


@contextlib.contextmanager
def collecting(sink: Sink) -> Iterator[None]:
    """Routes the diagnostics that passes emit inside the block to ``sink``."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)



@contextlib.contextmanager
def capturing_errors(context: ir.Context) -> Iterator[list[str]]:
    """Collects the first line of each error diagnostic raised in ``context`` inside the block.

    MLIR would otherwise print them on stderr ahead of the caller's own
    one-line error, which can say the cause itself.
    """
    errors: list[str] = []

    def record(diagnostic: ir.DiagnosticInfo) -> bool:
        if diagnostic.severity == ir.DiagnosticSeverity.ERROR:
            errors.append(diagnostic.message.splitlines()[0])
        return True  # handled: nothing reaches stderr

    registration = context.attach_diagnostic_handler(record)
    try:
        yield errors
    finally:
        registration.detach()


_OPERATION_DUMP = re.compile(r": %\S+ = .*$")
_OPERATOR_NAME = re.compile(r'"torch\.operator"\(.*?<\{name = "([^"]+)"')


def without_operation(message: str) -> str:
    """``failed to legalize operation 'x' ...: %10 = "x"(...) : ...`` without the operation MLIR appends.

    An op that torch-mlir only knows as ``torch.operator`` is named by the aten op it stands for.
    """
    operator = _OPERATOR_NAME.search(message)
    message = _OPERATION_DUMP.sub("", message)
    return message.replace("'torch.operator'", f"'{operator[1]}'") if operator else message


_NAME_LOCATION = re.compile(r'^loc\("([^"]*)"\)$')


def location_name(location: ir.Location) -> str | None:
    """The name of a name location (``loc("conv_3")``: an ONNX node), or None for any other location."""
    match = _NAME_LOCATION.match(str(location))
    return match[1] if match else None


def failure_cause(error: ir.MLIRError, captured: list[str]) -> str:
    """One line for a failed pass pipeline: its first error, and the node when the location is a name (ONNX nodes)."""
    if not error.error_diagnostics:
        return without_operation(captured[0]) if captured else "a pass failed"
    first = error.error_diagnostics[0]
    node = location_name(first.location)
    where = f" (node '{node}')" if node else ""
    return without_operation(first.message.splitlines()[0]) + where
