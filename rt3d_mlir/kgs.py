"""Kernel-group-structured (KGS) sparsity: the one definition shared by the pruner and the compiler.

A 3D conv weight W has shape (M filters, C channels, Kd, Kh, Kw). Filters are
split into blocks of ``g_m`` and channels into blocks of ``g_n``; block
(i, j) is kernel group ``g = i * ceil(C / g_n) + j``. The last block of each
axis is smaller when M or C is not a multiple of the group size (a *tail*
group: nothing is padded in memory, the group simply holds fewer kernels).

A kernel position p = (kd * Kh + kh) * Kw + kw is *pruned* in a group exactly
when every weight of the group at p is zero. So every weight tensor is KGS at
every group shape: a dense layer keeps every position, vanilla (whole-group)
sparsity is a group with no kept position.

Compact form (the ``sparse3d.kgs_conv3d`` operands):
  group_offsets  (G + 1,)  kept positions of group g are positions[offs[g]:offs[g+1]]
  positions      (P,)      ascending within each group
  values         (V,)      group-major; inside a group: kept position, then channel,
                           then filter (the g_m weights that one broadcast-FMA step
                           needs are contiguous). V = sum_g n_g * gm_eff(g) * gn_eff(g).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import DEFAULT_CANDIDATES, GroupShape, kernels_per_group


def _as_mck(weight: torch.Tensor | np.ndarray) -> torch.Tensor:
    weight = torch.as_tensor(weight)
    if weight.dim() != 5:
        raise UserError(f"a 3D conv weight has 5 dims (M, C, Kd, Kh, Kw), got shape {tuple(weight.shape)}")
    return weight.reshape(weight.shape[0], weight.shape[1], -1)


def _grouped(weight: torch.Tensor | np.ndarray, group_shape: GroupShape) -> torch.Tensor:
    """View of W as (GM, GN, Ks, g_n, g_m), tail blocks zero-padded (padding never counts as kept)."""
    w = _as_mck(weight)
    out_channels, in_channels, positions = w.shape
    grid_m, grid_n = group_shape.grid(out_channels, in_channels)
    padded = torch.nn.functional.pad(
        w, (0, 0, 0, grid_n * group_shape.channels - in_channels, 0, grid_m * group_shape.filters - out_channels)
    )
    blocks = padded.reshape(grid_m, group_shape.filters, grid_n, group_shape.channels, positions)
    return blocks.permute(0, 2, 4, 3, 1)


def position_energy(weight: torch.Tensor, group_shape: GroupShape) -> torch.Tensor:
    """Sum of squares of each group's weights at each position, shape (GM, GN, Ks); differentiable."""
    return _grouped(weight, group_shape).pow(2).sum(dim=(3, 4))


def kept_positions(weight: torch.Tensor | np.ndarray, group_shape: GroupShape) -> torch.Tensor:
    """Boolean (GM, GN, Ks): position p is kept in group g iff some weight of g at p is non-zero."""
    return (_grouped(weight, group_shape) != 0).any(dim=4).any(dim=3)


def group_sizes(out_channels: int, in_channels: int, group_shape: GroupShape) -> torch.Tensor:
    """Kernels per group (g_m_eff * g_n_eff), shape (GM, GN): smaller for tail groups."""
    return torch.from_numpy(kernels_per_group(out_channels, in_channels, group_shape))


def kept_fraction(weight: torch.Tensor | np.ndarray, group_shape: GroupShape) -> float:
    """Fraction of the dense MACs that KGS code at this group shape still computes."""
    out_channels, in_channels, positions = _as_mck(weight).shape
    kept = kept_positions(weight, group_shape).sum(dim=2)
    computed = (kept * group_sizes(out_channels, in_channels, group_shape)).sum().item()
    return computed / (out_channels * in_channels * positions)


def choose_group_shape(
    weight: torch.Tensor | np.ndarray, candidates: Sequence[GroupShape] = DEFAULT_CANDIDATES
) -> GroupShape:
    """The candidate that leaves the fewest computed MACs (the first one on ties)."""
    if not candidates:
        raise UserError("no candidate group shapes given")
    fractions = [kept_fraction(weight, shape) for shape in candidates]
    return candidates[int(np.argmin(fractions))]


def conv_groups(weight: torch.Tensor | np.ndarray) -> int:
    """The most diagonal blocks g (g dividing M and C), each with a nonzero, outside which ``weight`` is all zero; else 1.

    A grouped conv written as a dense one (``ungroup-convolution``) has g = its group count.
    """
    nonzero = (_as_mck(weight) != 0).any(dim=2).numpy()
    filters, channels = nonzero.shape
    common = math.gcd(filters, channels)
    for groups in (g for g in range(common, 1, -1) if common % g == 0):
        blocks = nonzero.reshape(groups, filters // groups, groups, channels // groups).any(axis=(1, 3))
        # every block on the diagonal used, none off it (an all-zero filter is no grouped conv)
        if (blocks == np.eye(groups, dtype=bool)).all():
            return groups
    return 1


def _largest_divisor_up_to(number: int, limit: int) -> int:
    return max(d for d in range(1, min(number, limit) + 1) if number % d == 0)


def fit_to_conv_groups(shape: GroupShape, weight_shape: Sequence[int], groups: int) -> GroupShape:
    """``shape`` shrunk to the largest kernel group that divides each of ``groups`` conv groups' filters and channels.

    Its groups then never straddle two conv groups, so the zeros between the blocks cost no MACs
    (a depthwise conv, one channel per group, gets Fx1 groups). ``groups`` 1 keeps ``shape``.
    """
    if groups == 1:
        return shape
    return GroupShape(_largest_divisor_up_to(weight_shape[0] // groups, shape.filters),
                      _largest_divisor_up_to(weight_shape[1] // groups, shape.channels))


@dataclass(frozen=True)
class CompactKGS:
    """A conv weight in compact KGS form (see the module docstring for the layout)."""

    group_shape: GroupShape
    weight_shape: tuple[int, int, int, int, int]
    group_offsets: np.ndarray  # int64, (G + 1,)
    positions: np.ndarray  # int64, (P,)
    values: np.ndarray  # weight dtype, (V,)

    @property
    def num_groups(self) -> int:
        grid_m, grid_n = self.group_shape.grid(*self.weight_shape[:2])
        return grid_m * grid_n

    @property
    def kept_fraction(self) -> float:
        return self.values.size / float(np.prod(self.weight_shape))


def _valid_mask(weight_shape: Sequence[int], group_shape: GroupShape, kept: np.ndarray) -> np.ndarray:
    """Boolean (GM, GN, Ks, g_n, g_m): a real (non-padding) weight at a kept position."""
    out_channels, in_channels = weight_shape[:2]
    grid_m, grid_n = group_shape.grid(out_channels, in_channels)
    filter_ok = (np.arange(grid_m * group_shape.filters) < out_channels).reshape(grid_m, group_shape.filters)
    channel_ok = (np.arange(grid_n * group_shape.channels) < in_channels).reshape(grid_n, group_shape.channels)
    return (
        kept[:, :, :, None, None]
        & channel_ok[None, :, None, :, None]
        & filter_ok[:, None, None, None, :]
    )


def compact(weight: torch.Tensor | np.ndarray, group_shape: GroupShape) -> CompactKGS:
    """Compacts a weight: drops the pruned (group, position) pairs, keeps everything else bit for bit."""
    w = torch.as_tensor(weight).detach()
    kept = kept_positions(w, group_shape).numpy()
    grid_m, grid_n, num_positions = kept.shape
    flat_kept = kept.reshape(grid_m * grid_n, num_positions)
    offsets = np.zeros(grid_m * grid_n + 1, dtype=np.int64)
    np.cumsum(flat_kept.sum(axis=1), out=offsets[1:])
    positions = np.nonzero(flat_kept)[1].astype(np.int64)
    grouped = _grouped(w, group_shape).numpy()
    values = grouped[_valid_mask(w.shape, group_shape, kept)]
    out_channels, in_channels, depth, height, width = w.shape
    weight_shape = (out_channels, in_channels, depth, height, width)
    return CompactKGS(group_shape, weight_shape, offsets, positions, np.ascontiguousarray(values))


def expand(compact_weight: CompactKGS) -> np.ndarray:
    """Inverse of :func:`compact`: the full (M, C, Kd, Kh, Kw) weight with zeros at pruned positions."""
    shape = compact_weight.weight_shape
    gs = compact_weight.group_shape
    out_channels, in_channels = shape[:2]
    num_positions = int(np.prod(shape[2:]))
    grid_m, grid_n = gs.grid(out_channels, in_channels)
    flat_kept = np.zeros((grid_m * grid_n, num_positions), dtype=bool)
    group_of_entry = np.repeat(np.arange(grid_m * grid_n), np.diff(compact_weight.group_offsets))
    flat_kept[group_of_entry, compact_weight.positions] = True
    kept = flat_kept.reshape(grid_m, grid_n, num_positions)
    grouped = np.zeros((grid_m, grid_n, num_positions, gs.channels, gs.filters), dtype=compact_weight.values.dtype)
    grouped[_valid_mask(shape, gs, kept)] = compact_weight.values
    padded = grouped.transpose(0, 4, 1, 3, 2).reshape(grid_m * gs.filters, grid_n * gs.channels, num_positions)
    return np.ascontiguousarray(padded[:out_channels, :in_channels].reshape(shape))


def random_kept_positions(
    weight_shape: Sequence[int], group_shape: GroupShape, kept_fraction: float, generator: torch.Generator
) -> torch.Tensor:
    """A random KGS pattern: each group keeps round(kept_fraction * Ks) positions, shape (GM, GN, Ks)."""
    if not 0.0 < kept_fraction <= 1.0:
        raise UserError(f"kept fraction must be in (0, 1], got {kept_fraction}")
    grid_m, grid_n = group_shape.grid(weight_shape[0], weight_shape[1])
    num_positions = int(np.prod(weight_shape[2:]))
    keep = max(1, round(kept_fraction * num_positions))
    order = torch.rand(grid_m, grid_n, num_positions, generator=generator).argsort(dim=2)
    return order < keep


def random_layer_pattern(
    weight_shape: Sequence[int], group_shape: GroupShape, kept_fraction: float, generator: torch.Generator,
    row_axis: int | None = None,
) -> torch.Tensor:
    """A random layer-wide KGS pattern (GM, GN, Ks): ``round(kept_fraction x units)`` of the layer's
    (group, unit) pairs kept, so groups keep different numbers of units (some none), as group
    regularization leaves them. A unit is one kernel position, or with ``row_axis`` (0, 1, 2: the
    kernel's d, h, w) one whole row of taps along that axis, as ``kgs-row`` pruning keeps them."""
    if not 0.0 <= kept_fraction <= 1.0:
        raise UserError(f"kept fraction must be in [0, 1], got {kept_fraction}")
    grid_m, grid_n = group_shape.grid(weight_shape[0], weight_shape[1])
    kernel = list(weight_shape[2:])
    row = 1 if row_axis is None else kernel.pop(row_axis)
    units = grid_m * grid_n * math.prod(kernel)
    kept = torch.zeros(units, dtype=torch.bool)
    kept[torch.randperm(units, generator=generator)[: round(kept_fraction * units)]] = True
    rows = kept.reshape(grid_m, grid_n, *kernel, 1).expand(grid_m, grid_n, *kernel, row)
    return rows.movedim(-1, 2 + (row_axis or 0)).reshape(grid_m, grid_n, -1)


def apply_kept_positions(weight: torch.Tensor, group_shape: GroupShape, kept: torch.Tensor) -> torch.Tensor:
    """``weight`` with every (group, position) that ``kept`` marks False set to exactly zero."""
    out_channels, in_channels = weight.shape[:2]
    filters = torch.arange(out_channels) // group_shape.filters
    channels = torch.arange(in_channels) // group_shape.channels
    mask = kept[filters[:, None], channels[None, :]]  # (M, C, Ks)
    return weight * mask.reshape(weight.shape).to(weight.dtype)
