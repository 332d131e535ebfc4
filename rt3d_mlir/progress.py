"""A progress bar over a compile's stages and convs: shown on a terminal once the compile has taken a second.

``rt3d_mlir.compile(..., progress=True)``, ``rt3d compile`` and ``rt3d demo``
open one with :func:`compile_progress`; the compiler marks its stages with
:func:`stage` and sparse3d-from-linalg each conv with :func:`conv_done`. Both
are no-ops when no bar is open (rt3d-opt, library use), so passes stay quiet.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator

from tqdm import tqdm

SHOW_AFTER_SECONDS = 1.0
_bar: contextvars.ContextVar[tqdm | None] = contextvars.ContextVar("rt3d_progress_bar", default=None)


@contextlib.contextmanager
def compile_progress(enabled: bool, description: str) -> Iterator[None]:
    """A bar on stderr for the block, if ``enabled`` and stderr is a terminal; cleared when the block ends."""
    show = enabled and sys.stderr.isatty()
    bar = tqdm(desc=description, total=None, unit="step", file=sys.stderr, leave=False, delay=SHOW_AFTER_SECONDS,
               disable=not show, mininterval=0, bar_format="{desc}: {n_fmt}/{total_fmt} [{elapsed}]{postfix}")
    token = _bar.set(bar if show else None)
    try:
        yield
    finally:
        _bar.reset(token)
        bar.close()


def expect(steps: int) -> None:
    """Adds ``steps`` to the bar's total (once the number of convs is known)."""
    bar = _bar.get()
    if bar is not None:
        bar.total = (bar.total or 0) + steps
        bar.refresh()


def stage(name: str) -> None:
    """Marks the start of a stage: the bar says its name and counts one step."""
    bar = _bar.get()
    if bar is not None:
        bar.update(1)
        bar.set_postfix_str(name)


def conv_done() -> None:
    bar = _bar.get()
    if bar is not None:
        bar.update(1)
