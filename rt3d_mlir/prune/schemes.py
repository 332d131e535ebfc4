"""Sparsity schemes and the prunable units they define on a Conv3d weight.

Every scheme is expressed on the kernel groups of :mod:`rt3d_mlir.kgs`; a *unit*
is what is pruned (zeroed) or kept as a whole:

- ``filter``: a whole filter, i.e. a kernel group of 1 filter x all channels;
- ``vanilla``: a whole kernel group of g_m filters x g_n channels;
- ``kgs``: one kernel position of one kernel group (every kernel of the group
  at that position together);
- ``balanced-kgs``: KGS where every group of a layer keeps the same number of
  positions (equal work per group, so no load imbalance between threads).

Units are laid out as a (GM, GN, U) tensor: U = Kd*Kh*Kw for the per-position
schemes and U = 1 for the whole-group ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, group_sizes, position_energy
from rt3d_mlir.prune.flops import LayerCost


@dataclass(frozen=True)
class Scheme:
    name: str
    per_position: bool  # units are (group, position) pairs rather than whole groups
    whole_filters: bool  # the group is one filter x all its channels, whatever the group shape asked
    balanced: bool  # every group of a layer keeps the same number of positions
    summary: str


SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme
    for scheme in (
        Scheme("filter", False, True, False, "whole filters (the coarse baseline)"),
        Scheme("vanilla", False, False, False, "whole kernel groups"),
        Scheme("kgs", True, False, False, "the same kernel positions across each kernel group"),
        Scheme("balanced-kgs", True, False, True, "KGS with the same number of positions in every group of a layer"),
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

    @property
    def name(self) -> str:
        return self.cost.name

    @property
    def weight(self) -> torch.Tensor:
        return self.cost.module.weight

    @property
    def num_positions(self) -> int:
        return math.prod(self.weight.shape[2:])

    def unit_energy(self, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Sum of squared weights of each unit, (GM, GN, U); differentiable in the weight."""
        energy = position_energy(self.weight if weight is None else weight, self.group_shape)
        return energy if self.scheme.per_position else energy.sum(dim=2, keepdim=True)

    def unit_weights(self) -> torch.Tensor:
        """Number of weights in each unit, (GM, GN, U) (smaller in tail groups)."""
        out_channels, in_channels = self.weight.shape[:2]
        sizes = group_sizes(out_channels, in_channels, self.group_shape).to(torch.float64)
        per_unit = 1 if self.scheme.per_position else self.num_positions
        return (sizes * per_unit)[:, :, None].expand(*sizes.shape, self.num_positions // per_unit)

    def unit_macs(self) -> torch.Tensor:
        """Dense MACs each unit accounts for, (GM, GN, U); they sum to the layer's dense MACs."""
        return self.unit_weights() * (self.cost.macs_dense / self.weight.numel())

    def weight_mask(self, keep_units: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the weight's shape that keeps exactly the weights of the kept units."""
        out_channels, in_channels = self.weight.shape[:2]
        keep = keep_units.expand(*keep_units.shape[:2], self.num_positions)
        keep = keep.repeat_interleave(self.group_shape.filters, 0).repeat_interleave(self.group_shape.channels, 1)
        return keep[:out_channels, :in_channels].reshape(self.weight.shape).clone()


def select_layers(
    costs: list[LayerCost], scheme: Scheme, group_shape: GroupShape, names: list[str] | None = None
) -> list[PrunableLayer]:
    """The Conv3d layers to prune: those named, or by default every one the group shape fits.

    A layer with fewer filters or channels than the group (C3D's 3-channel first
    conv at 8x4) is left dense by default and is an error when named explicitly.
    """
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
        if names is None and fits:
            chosen.append(PrunableLayer(cost, scheme, shape))
        elif names is not None and name in names:
            if not fits:
                raise UserError(
                    f"group shape {shape} is larger than layer {name} ({out_channels} filters x {in_channels} channels)"
                )
            chosen.append(PrunableLayer(cost, scheme, shape))
    if not chosen:
        raise UserError(f"no Conv3d layer of this model fits the group shape {group_shape}")
    return chosen
