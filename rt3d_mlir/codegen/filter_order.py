"""Strategy: which order the filters of a KGS conv should be grouped in (``sparse3d-compact`` applies it).

Filters are grouped by position: compact filters ``[i*g_m, (i+1)*g_m)`` form filter
block i, and a group computes every position that *any* of its filters needs
at a channel block. Regrouping filters whose individual patterns differ (filter
pruning, unstructured zeros) so that similar filters share a block shrinks those
unions, and all-zero filters fall into empty groups that cost nothing; this is
the filter-reordering idea of PatDNN. A weight that was pruned at this group
shape already has one pattern per block, and regrouping cannot gain there.

The candidate order sorts filters by (kept (channel block, position) pairs,
descending; then the pattern itself), so equal patterns are adjacent and
blocks come out ordered by work. ``mode``: ``auto`` takes it only when it
computes fewer MACs than the order the filters are in, ``always`` takes it,
``never`` keeps the order.
"""

from __future__ import annotations

import numpy as np

from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape, kernels_per_group

MODES = ("auto", "always", "never")


def filter_patterns(weight: np.ndarray, group_shape: GroupShape) -> np.ndarray:
    """Boolean (M, GN, Ks): filter f has a non-zero weight at position p in channel block j."""
    out_channels, in_channels = weight.shape[:2]
    grid_n = group_shape.grid(out_channels, in_channels)[1]
    flat = weight.reshape(out_channels, in_channels, -1) != 0
    padded = np.zeros((out_channels, grid_n * group_shape.channels, flat.shape[2]), dtype=bool)
    padded[:, :in_channels] = flat
    return np.any(padded.reshape(out_channels, grid_n, group_shape.channels, -1), axis=2)


def computed_macs_per_output(patterns: np.ndarray, order: np.ndarray, group_shape: GroupShape, in_channels: int) -> int:
    """MACs per output point when the filters are grouped in ``order``: kept positions x kernels, summed over groups."""
    out_channels, grid_n, _ = patterns.shape
    grid_m = group_shape.grid(out_channels, in_channels)[0]
    reordered = np.zeros((grid_m * group_shape.filters, *patterns.shape[1:]), dtype=bool)
    reordered[:out_channels] = patterns[order]
    kept = reordered.reshape(grid_m, group_shape.filters, grid_n, -1).any(axis=1).sum(axis=2)
    return int((kept * kernels_per_group(out_channels, in_channels, group_shape)).sum())


def choose_filter_order(weight: np.ndarray, group_shape: GroupShape, mode: str = "auto") -> np.ndarray | None:
    """The order to group the filters of ``weight`` (M, C, Kd, Kh, Kw) in, or None to keep theirs."""
    if mode not in MODES:
        raise UserError(f"filter reordering mode must be one of {', '.join(MODES)}, got '{mode}'")
    if mode == "never":
        return None
    patterns = filter_patterns(weight, group_shape)
    flat = patterns.reshape(patterns.shape[0], -1)
    # lexsort's last key is the primary one: the kept count (descending), then the packed pattern.
    packed = np.packbits(flat, axis=1)
    order = np.lexsort((*packed.T[::-1], -flat.sum(axis=1))) if packed.size else np.arange(len(flat))
    identity = np.arange(len(flat))
    if np.array_equal(order, identity):
        return None
    if mode == "always":
        return order
    in_channels = weight.shape[1]
    if computed_macs_per_output(patterns, order, group_shape, in_channels) < computed_macs_per_output(
        patterns, identity, group_shape, in_channels
    ):
        return order
    return None
