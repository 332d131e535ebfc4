"""Output paths of every tool: checked before the work starts, written all or nothing.

A command that writes an output calls :func:`check_output_file` or
:func:`check_output_folder` on it first, so a path it cannot write (a directory
where a file belongs, a read-only or virtual folder such as ``/proc``) is a
one-line :class:`UserError` before minutes of compiling or pruning, and
:func:`write_output` never leaves a half-written file.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from rt3d_mlir.errors import UserError


def user_cache_folder() -> Path:
    """``$XDG_CACHE_HOME/rt3d-mlir`` (``~/.cache/rt3d-mlir`` by default): the tuning cache and internal errors' reproducers."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rt3d-mlir"


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder above ``path`` that exists (missing folders between are created on writing)."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    return ancestor


def _check_can_create_in(path: str, folder: Path) -> None:
    """Creates and removes a scratch file in ``folder``: the only test that also holds for root and virtual file systems."""
    if not folder.exists():
        raise UserError(f"cannot write '{path}': folder {folder} does not exist")
    if not folder.is_dir():
        raise UserError(f"cannot write '{path}': {folder} is not a folder")
    try:
        handle, scratch = tempfile.mkstemp(dir=folder, prefix=".rt3d-probe-")
    except OSError as error:
        raise UserError(f"cannot write '{path}': cannot create files in {folder} ({error.strerror})") from None
    os.close(handle)
    os.unlink(scratch)


def check_output_file(path: str, option: str = "-o", create_parents: bool = False) -> None:
    """Raises a UserError now if a file could not be written at ``path`` ('-' is stdout).

    ``create_parents``: the writer creates missing folders above it (a checkpoint); otherwise the folder must exist.
    """
    if path == "-":
        return
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise UserError(f"{option} {path} is a directory: name a file")
    if target.exists() and not target.is_file():  # /dev/null, a pipe: written in place
        if not os.access(target, os.W_OK):
            raise UserError(f"cannot write '{path}': permission denied")
        return
    _check_can_create_in(path, _existing_ancestor(target) if create_parents else target.parent)


def check_output_folder(path: str, option: str = "-o") -> None:
    """Raises a UserError now if a folder of outputs could not be created or written at ``path``."""
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_dir():
        raise UserError(f"{option} {path} is a file: name a folder (it is created if missing)")
    _check_can_create_in(path, target if target.exists() else _existing_ancestor(target))


def write_output(path: str, data: str | bytes) -> None:
    """Writes all of ``data`` or nothing: a regular file is replaced by renaming a finished temporary file.

    Anything else (``/dev/null``, a pipe, a link to one) is written directly.
    """
    if path == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    mode = "wb" if isinstance(data, bytes) else "w"
    encoding = None if isinstance(data, bytes) else "utf-8"
    try:
        if os.path.exists(path) and not os.path.isfile(os.path.realpath(path)):
            with open(path, mode, encoding=encoding) as output:
                output.write(data)
            return
        target = os.path.realpath(path)
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".rt3d-", suffix=".tmp")
    except OSError as error:
        raise UserError(f"cannot write '{path}': {error.strerror}") from None
    try:
        with os.fdopen(handle, mode, encoding=encoding) as output:
            output.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, os.stat(target).st_mode & 0o777 if os.path.exists(target) else 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException as error:
        os.unlink(temporary)
        if isinstance(error, OSError):
            raise UserError(f"cannot write '{path}': {error.strerror}") from None
        raise
