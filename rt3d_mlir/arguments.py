"""Command-line argument types shared by the tools (``rt3d``, its pruning commands, ``rt3d-opt``, ``rt3d-translate``).

Each value is checked when parsed, so a bad one is a one-line error before any work starts. This
module imports neither torch nor the model zoo, so the MLIR tools start without them.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape


class ArgumentParser(argparse.ArgumentParser):
    """The tools' parser: a bad command line is one ``prog: error: ...`` line and exit status 1.

    mlir-opt's convention (argparse's own is 2), so every user error of every tool exits 1.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {message}\n")


def clip_size(text: str) -> tuple[int, int, int]:
    """Parses FRAMESxHEIGHTxWIDTH, e.g. 16x112x112."""
    from rt3d_mlir.models import check_input_size  # the model zoo imports torch: rt3d-opt and rt3d-translate need neither

    parts = text.lower().split("x")
    try:
        if len(parts) != 3 or not all(part.strip().isdigit() and int(part) > 0 for part in parts):
            raise UserError(f"clip size must look like 16x112x112 (frames x height x width, each a positive whole number), got '{text}'")
        return check_input_size([int(part) for part in parts])
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def width_multiplier(text: str) -> float:
    """A channel width multiplier: finite, positive and not absurdly large."""
    from rt3d_mlir.models import check_width  # the model zoo imports torch: rt3d-opt and rt3d-translate need neither

    try:
        return check_width(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.5, got '{text}'") from None
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# Upper bounds of counts that would otherwise crash (OpenMP aborts the process at 10^8 threads, a 10^8-class
# head cannot be allocated) or run for days before anything is checked.
MAX_COUNT = 10**6  # repeats, rounds, epochs, steps, clips
MAX_THREADS = 1024
MAX_CLASSES = 100_000
MAX_WORKERS = 256
MAX_SEED = 2**32 - 1  # numpy's seed sequences take no negative seeds


def whole_number(minimum: int = 1, maximum: int = MAX_COUNT) -> Callable[[str], int]:
    """An argparse type: a whole number from ``minimum`` to ``maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected a whole number from {minimum} to {maximum:,}, got '{text}'")
        return value

    return parse


def real_number(minimum: float, maximum: float = math.inf, *, above: bool = False, below: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in the range (``above``/``below``: excluding that end)."""
    low = f"above {minimum:g}" if above else f"at least {minimum:g}"
    high = "" if maximum == math.inf else f" and {'below' if below else 'at most'} {maximum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        in_range = (value > minimum if above else value >= minimum) and (value < maximum if below else value <= maximum)
        if not (math.isfinite(value) and in_range):
            raise argparse.ArgumentTypeError(f"expected a finite number {low}{high}, got '{text}'")
        return value

    return parse


def group_shape(text: str) -> GroupShape:
    try:
        return GroupShape.parse(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
