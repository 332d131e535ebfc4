"""The ``algorithm`` attribute of ``sparse3d.kgs_conv3d``: direct convolution or Winograd along some axes.

Written as a string, ``"direct"`` or ``"winograd<AXES, M>"``: AXES names the transformed spatial
axes (``w``, ``h``, ``d``, or several of them in d-h-w order, e.g. ``hw``), M is the Winograd
output tile F(M, 3) along each of them (2, 4 or 6). Absent means direct.

Winograd computes a kernel row (the kernel's taps along the transformed axes, for one group and
one position of the other kernel axes) with ``(M + 2) ** k / M ** k`` multiplications per output
whichever of its taps are kept; a direct conv costs one per kept tap. So a row runs by Winograd
only when it keeps more taps than that (F(4, 3) along W: 2 or 3 of 3; F(2, 3): all 3; F(2x2, 3x3):
5 or more of 9), and the rest of the conv's kept positions run direct (:func:`split_rows`): whole
rows, as ``kgs-row`` pruning leaves them, lose nothing; positions scattered one per row stay direct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

AXIS_NAMES = "dhw"
WINOGRAD_TILES = (2, 4, 6)
WINOGRAD_KERNEL = 3  # F(M, 3): the kernel size the transforms are built for
DIRECT = "direct"
_WINOGRAD = re.compile(r"^winograd<\s*([a-z]+)\s*,\s*(\d+)\s*>$")


@dataclass(frozen=True)
class Algorithm:
    """How a conv computes: direct (no axes), or Winograd F(tile, 3) along ``axes`` (0 = D, 1 = H, 2 = W)."""

    axes: tuple[int, ...] = ()
    tile: int = 0

    @property
    def is_direct(self) -> bool:
        return not self.axes

    @property
    def taps_per_axis(self) -> int:
        """alpha = tile + 2: transformed values per tile and axis."""
        return self.tile + WINOGRAD_KERNEL - 1

    @property
    def taps(self) -> int:
        """Per-tap products the conv becomes: alpha ** (transformed axes)."""
        return self.taps_per_axis ** len(self.axes)

    @property
    def pre_padded_axes(self) -> tuple[int, ...]:
        """Axes whose padding the input gets before the transforms: the transformed ones, and H and W.

        The per-tap convs then pad at most along D, so the kernels read their inputs in place
        instead of copying each into a padded buffer (one copy for the conv instead of one per tap).
        """
        return tuple(sorted({*self.axes, 1, 2}))

    def __str__(self) -> str:
        if self.is_direct:
            return DIRECT
        return f"winograd<{''.join(AXIS_NAMES[axis] for axis in self.axes)}, {self.tile}>"

    @classmethod
    def parse(cls, text: str) -> Algorithm:
        """``direct`` or ``winograd<AXES, M>``; ValueError naming what is wrong."""
        if text.strip() == DIRECT:
            return cls()
        match = _WINOGRAD.match(text.strip())
        if match is None:
            raise ValueError(f"expected 'direct' or 'winograd<AXES, M>' (e.g. 'winograd<w, 4>'), got '{text}'")
        names, tile = match[1], int(match[2])
        if any(name not in AXIS_NAMES for name in names) or len(set(names)) != len(names):
            raise ValueError(f"winograd axes must be distinct letters of d, h, w, got '{names}'")
        if tile not in WINOGRAD_TILES:
            raise ValueError(f"winograd tile must be one of {', '.join(map(str, WINOGRAD_TILES))}, got {tile}")
        return cls(tuple(sorted(AXIS_NAMES.index(name) for name in names)), tile)

    def problem(self, kernel_size: Sequence[int], strides: Sequence[int], dilations: Sequence[int]) -> str | None:
        """Why a conv with this kernel, stride and dilation cannot use this algorithm, or None."""
        for axis in self.axes:
            name = AXIS_NAMES[axis]
            if kernel_size[axis] != WINOGRAD_KERNEL:
                return f"{self} needs kernel size {WINOGRAD_KERNEL} along {name}, got {kernel_size[axis]}"
            if strides[axis] != 1:
                return f"{self} needs stride 1 along {name}, got {strides[axis]}"
            if dilations[axis] != 1:
                return f"{self} needs dilation 1 along {name}, got {dilations[axis]}"
        return None


def split_rows(kept: np.ndarray, kernel_size: Sequence[int], algorithm: Algorithm) -> tuple[np.ndarray, np.ndarray]:
    """Which kept positions Winograd computes and which run direct (see the module docstring).

    ``kept``: the (GM, GN, Kd*Kh*Kw) group pattern. Returns the (GM, GN, K') rows Winograd computes
    (K': the kernel positions with the transformed axes dropped) and the (GM, GN, Kd*Kh*Kw) positions
    left to a direct conv.
    """
    grid_m, grid_n, _ = kept.shape
    row_axes = tuple(2 + axis for axis in algorithm.axes)
    positions = kept.reshape(grid_m, grid_n, *kernel_size)
    multiplications = (algorithm.taps_per_axis / algorithm.tile) ** len(algorithm.axes)
    rows = positions.sum(axis=row_axes, keepdims=True) > multiplications
    remainder = positions & ~rows
    return rows.reshape(grid_m, grid_n, -1), remainder.reshape(kept.shape)


def whole_row_axes(kept: np.ndarray, kernel_size: Sequence[int]) -> tuple[int, ...]:
    """The kernel axes of size 3 along which every group keeps whole rows (all taps of a row or none)."""
    grid_m, grid_n, _ = kept.shape
    positions = kept.reshape(grid_m, grid_n, *kernel_size)
    return tuple(
        axis for axis in range(3)
        if kernel_size[axis] == WINOGRAD_KERNEL and positions.any()
        and bool((positions.all(axis=2 + axis) == positions.any(axis=2 + axis)).all())
    )
