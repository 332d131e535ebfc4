"""Errors that are the user's to fix: the tools print them as one line and exit 1, never a traceback."""

import os
import sys
import traceback


class UserError(Exception):
    """Bad input (a file, a name, an option): the message says what is wrong and how to fix it."""


def first_line(error: BaseException) -> str:
    """The first line of an exception from a library, to quote in a one-line UserError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def report_internal_error(program: str, error: BaseException) -> int:
    """What the tools print for an unexpected exception (a bug): one line, the traceback only with RT3D_DEBUG=1; returns 1."""
    print(f"{program}: internal error: {type(error).__name__}: {error}\nThis is a bug in rt3d-mlir; "
          "run again with RT3D_DEBUG=1 for the traceback.", file=sys.stderr)
    if os.environ.get("RT3D_DEBUG"):
        traceback.print_exception(error)
    return 1
