"""Kernel group shapes, free of torch so that the dialect and rt3d-opt start fast (see rt3d_mlir.kgs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rt3d_mlir.errors import UserError

MAX_GROUP_SIDE = 1024  # filters or channels of one kernel group (the paper's is 8x4)


@dataclass(frozen=True, order=True)
class GroupShape:
    """A kernel group: ``filters`` (g_m) output filters x ``channels`` (g_n) input channels."""

    filters: int
    channels: int

    def __post_init__(self) -> None:
        if self.filters < 1 or self.channels < 1:
            raise UserError(f"group shape must be positive, got {self.filters}x{self.channels}")
        # a layer is padded to whole groups: a huge group would be a huge allocation, not a usable kernel
        if max(self.filters, self.channels) > MAX_GROUP_SIDE:
            raise UserError(f"group shape must be at most {MAX_GROUP_SIDE}x{MAX_GROUP_SIDE}, got {self.filters}x{self.channels}")

    @classmethod
    def parse(cls, text: str) -> GroupShape:
        """Parses ``"8x4"`` (filters x channels)."""
        match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text)
        if not match:
            raise UserError(f"group shape must look like 8x4 (filters x channels), got '{text}'")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.filters}x{self.channels}"

    def grid(self, out_channels: int, in_channels: int) -> tuple[int, int]:
        """Number of filter blocks and channel blocks: ceil(M / g_m), ceil(C / g_n)."""
        return -(-out_channels // self.filters), -(-in_channels // self.channels)


# The shapes the code generators have fast kernels for, in order of preference on ties
# (8x4 is the paper's and its released code's choice).
DEFAULT_CANDIDATES: tuple[GroupShape, ...] = (GroupShape(8, 4), GroupShape(8, 8), GroupShape(4, 4))


def kernels_per_group(out_channels: int, in_channels: int, group_shape: GroupShape) -> np.ndarray:
    """Kernels in each group (g_m_eff * g_n_eff), shape (GM, GN): fewer in tail groups."""
    grid_m, grid_n = group_shape.grid(out_channels, in_channels)
    filters = np.full(grid_m, group_shape.filters, dtype=np.int64)
    filters[-1] = out_channels - (grid_m - 1) * group_shape.filters
    channels = np.full(grid_n, group_shape.channels, dtype=np.int64)
    channels[-1] = in_channels - (grid_n - 1) * group_shape.channels
    return filters[:, None] * channels[None, :]
