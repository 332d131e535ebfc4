"""Sparsity schemes and the prunable units they define on a Conv3d weight.

Every scheme is expressed on the kernel groups of :mod:`rt3d_mlir.kgs`; a *unit*
is what is pruned (zeroed) or kept as a whole:

- ``filter``: a whole filter, i.e. a kernel group of 1 filter x all channels;
- ``vanilla``: a whole kernel group of g_m filters x g_n channels;
- ``kgs``: one kernel position of one kernel group (every kernel of the group
  at that position together);
- ``balanced-kgs``: KGS where every group of a layer keeps the same number of
  positions (equal work per group, so no load imbalance between threads);
- ``kgs-row``: one row of kernel taps along an axis (d, h or w) of one kernel group:
  for a 3x3x3 kernel and rows along w, the (kd, kh) rows of 3 taps. Kept positions then
  come in whole rows, which a Winograd transform along that axis can use. A layer whose
  kernel is 1 along the axis has no rows and is left dense (:func:`rowless_layers`).

Units are laid out as a (GM, GN, U) tensor: U = Kd*Kh*Kw for the per-position
schemes, Kd*Kh*Kw / K_axis for rows and U = 1 for the whole-group ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, group_sizes, position_energy
from rt3d_mlir.prune.flops import LayerCost


ROW_AXES = {"d": 0, "h": 1, "w": 2}  # a row axis -> its index among the kernel's spatial axes


@dataclass(frozen=True)
class Scheme:
    name: str
    unit: Literal["group", "position", "row"]  # what one unit of a kernel group covers
    whole_filters: bool  # the group is one filter x all its channels, whatever the group shape asked
    balanced: bool  # every group of a layer keeps the same number of positions
    summary: str


SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme
    for scheme in (
        Scheme("filter", "group", True, False, "whole filters (the coarse baseline)"),
        Scheme("vanilla", "group", False, False, "whole kernel groups"),
        Scheme("kgs", "position", False, False, "the same kernel positions across each kernel group"),
        Scheme("balanced-kgs", "position", False, True, "KGS with the same number of positions in every group of a layer"),
        Scheme("kgs-row", "row", False, False, "KGS in whole rows of kernel taps along --row-axis (for Winograd)"),
    )
}


def get_scheme(name: str) -> Scheme:
    if name not in SCHEMES:
        raise UserError(f"unknown sparsity scheme '{name}'; choose one of: {', '.join(SCHEMES)}")
    return SCHEMES[name]


@dataclass(frozen=True)
class PrunableLayer:
    """A Conv3d chosen for pruning, with the group shape its scheme uses on it."""

    cost: LayerCost
    scheme: Scheme
    group_shape: GroupShape
    row_axis: str = "w"  # for row units: the axis the rows run along (ROW_AXES)

    @property
    def name(self) -> str:
        return self.cost.name

    @property
    def weight(self) -> torch.Tensor:
        return self.cost.module.weight

    @property
    def num_positions(self) -> int:
        return math.prod(self.weight.shape[2:])

    @property
    def positions_per_unit(self) -> int:
        kernel = self.weight.shape[2:]
        return {"group": math.prod(kernel), "position": 1, "row": kernel[ROW_AXES[self.row_axis]]}[self.scheme.unit]

    def _as_rows(self, per_position: torch.Tensor) -> torch.Tensor:
        """(GM, GN, P) -> (GM, GN, rows, taps): the row axis last, the other kernel axes flattened into rows."""
        axis = 2 + ROW_AXES[self.row_axis]
        spread = per_position.reshape(*per_position.shape[:2], *self.weight.shape[2:])
        return spread.movedim(axis, -1).reshape(*per_position.shape[:2], -1, self.positions_per_unit)

    def unit_energy(self, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Sum of squared weights of each unit, (GM, GN, U); differentiable in the weight."""
        energy = position_energy(self.weight if weight is None else weight, self.group_shape)
        if self.scheme.unit == "row":
            return self._as_rows(energy).sum(dim=3)
        return energy if self.scheme.unit == "position" else energy.sum(dim=2, keepdim=True)

    def unit_weights(self) -> torch.Tensor:
        """Number of weights in each unit, (GM, GN, U) (smaller in tail groups)."""
        out_channels, in_channels = self.weight.shape[:2]
        sizes = group_sizes(out_channels, in_channels, self.group_shape).to(torch.float64)
        per_unit = self.positions_per_unit
        return (sizes * per_unit)[:, :, None].expand(*sizes.shape, self.num_positions // per_unit)

    def unit_macs(self) -> torch.Tensor:
        """Dense MACs each unit accounts for, (GM, GN, U); they sum to the layer's dense MACs."""
        return self.unit_weights() * (self.cost.macs_dense / self.weight.numel())

    def weight_mask(self, keep_units: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the weight's shape that keeps exactly the weights of the kept units."""
        out_channels, in_channels = self.weight.shape[:2]
        if self.scheme.unit == "row":
            rows = keep_units[..., None].expand(*keep_units.shape, self.positions_per_unit)
            kernel = list(self.weight.shape[2:])
            axis = ROW_AXES[self.row_axis]
            others = kernel[:axis] + kernel[axis + 1:]
            keep = rows.reshape(*keep_units.shape[:2], *others, kernel[axis]).movedim(-1, 2 + axis)
            keep = keep.reshape(*keep_units.shape[:2], self.num_positions)
        else:
            keep = keep_units.expand(*keep_units.shape[:2], self.num_positions)
        keep = keep.repeat_interleave(self.group_shape.filters, 0).repeat_interleave(self.group_shape.channels, 1)
        return keep[:out_channels, :in_channels].reshape(self.weight.shape).clone()

    @property
    def profile_scheme(self) -> str:
        return scheme_label(self.scheme, self.row_axis)


def scheme_label(scheme: Scheme, row_axis: str) -> str:
    """The scheme as the pruning profile names it (``kgs-row-w`` for rows along w)."""
    return f"{scheme.name}-{row_axis}" if scheme.unit == "row" else scheme.name


def check_row_axis(axis: str) -> str:
    if axis not in ROW_AXES:
        raise UserError(f"unknown row axis '{axis}'; choose one of: {', '.join(ROW_AXES)}")
    return axis


def _has_rows(cost: LayerCost, axis: str) -> bool:
    return cost.module.weight.shape[2 + ROW_AXES[axis]] > 1


def rowless_layers(costs: list[LayerCost], scheme: Scheme, row_axis: str) -> list[str]:
    """The Conv3d layers a row scheme leaves dense: their kernel is 1 along the row axis (empty for other schemes)."""
    if scheme.unit != "row":
        return []
    return [cost.name for cost in costs if isinstance(cost.module, nn.Conv3d) and not _has_rows(cost, row_axis)]


def select_layers(
    costs: list[LayerCost],
    scheme: Scheme,
    group_shape: GroupShape,
    names: list[str] | None = None,
    row_axis: str = "w",
) -> list[PrunableLayer]:
    """The Conv3d layers to prune: those named, or by default every one the group shape fits.

    A layer with fewer filters or channels than the group (C3D's 3-channel first
    conv at 8x4), or, for a row scheme, with kernel 1 along ``row_axis``, is left
    dense by default and is an error when named explicitly.
    """
    check_row_axis(row_axis)
    rowless = set(rowless_layers(costs, scheme, row_axis))
    convs = {cost.name: cost for cost in costs if isinstance(cost.module, nn.Conv3d) and cost.module.groups == 1}
    if names is not None:
        unknown = [name for name in names if name not in convs]
        if unknown:
            raise UserError(
                f"no prunable Conv3d named {', '.join(unknown)}; the model's are: {', '.join(convs)}"
            )
    chosen = []
    for name, cost in convs.items():
        out_channels, in_channels = cost.module.weight.shape[:2]
        shape = GroupShape(1, in_channels) if scheme.whole_filters else group_shape
        fits = shape.filters <= out_channels and shape.channels <= in_channels
        if names is None and fits and name not in rowless:
            chosen.append(PrunableLayer(cost, scheme, shape, row_axis))
        elif names is not None and name in names:
            if not fits:
                raise UserError(
                    f"group shape {shape} is larger than layer {name} ({out_channels} filters x {in_channels} channels)"
                )
            if name in rowless:
                kernel = "x".join(map(str, cost.module.weight.shape[2:]))
                raise UserError(f"layer {name} has a {kernel} kernel: no rows along {row_axis} to prune (name another --row-axis or scheme)")
            chosen.append(PrunableLayer(cost, scheme, shape, row_axis))
    if not chosen:
        raise UserError(f"no Conv3d layer of this model fits the group shape {group_shape}")
    return chosen
