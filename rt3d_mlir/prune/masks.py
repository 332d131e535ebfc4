"""Hard pruning: choosing the units to zero (by threshold or to a FLOPs pruning rate) and masking.

Units are ranked across layers by their mean squared weight relative to their
layer's (so layers of different scales compare fairly); the weakest go first.
The strongest unit of every filter block (group row) is always kept, so every
filter keeps an input and no layer reads a channel whose producer lost all its
weights: with only each layer's strongest unit kept, a global ranking at 3.6x
left single groups in C3D's conv5a/b that read dead channels, and vanilla
pruning fell to chance accuracy. Filter pruning removes whole filters by design,
so there only the layer's strongest unit is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rt3d_mlir.errors import UserError
from rt3d_mlir.prune.schemes import PrunableLayer

Masks = dict[str, torch.Tensor]  # layer name -> boolean mask of the weight's shape (True = kept)


@dataclass(frozen=True)
class _Candidates:
    """A layer's prunable candidates: relative scores and MACs (for balanced KGS: rank slices)."""

    scores: torch.Tensor  # flat, float64
    macs: torch.Tensor  # flat, float64


def _relative_scores(layer: PrunableLayer) -> torch.Tensor:
    """Each unit's mean squared weight over the layer's, (GM, GN, U)."""
    with torch.no_grad():
        energy = layer.unit_energy().to(torch.float64).cpu()
    weights = layer.unit_weights()
    layer_mean_square = energy.sum() / weights.sum()
    return energy / weights / layer_mean_square.clamp_min(torch.finfo(torch.float64).tiny)


def _candidates(layer: PrunableLayer) -> _Candidates:
    scores = _relative_scores(layer)
    macs = layer.unit_macs()
    if not layer.scheme.balanced:
        return _Candidates(scores.flatten(), macs.flatten())
    # Balanced KGS prunes the same number of positions from every group: candidate r is the
    # r-th strongest position of every group at once; its score is their mean.
    ranked = scores.sort(dim=2, descending=True).values
    slice_macs = macs[:, :, 0].sum()
    return _Candidates(ranked.mean(dim=(0, 1)), slice_macs.expand(ranked.shape[2]).clone())


def _protected(layer: PrunableLayer, scores: torch.Tensor) -> torch.Tensor:
    """The candidates that always stay, flat: each filter block's strongest (the layer's for filter pruning).

    ``scores`` are the layer's candidate scores (:func:`_candidates`). A balanced candidate is a
    position of every group at once, so keeping the strongest one already keeps every block.
    """
    protected = torch.zeros_like(scores, dtype=torch.bool)
    if layer.scheme.balanced or layer.scheme.whole_filters:
        protected[int(scores.argmax())] = True
        return protected
    by_block = scores.reshape(layer.group_shape.grid(*layer.weight.shape[:2])[0], -1)
    rows = torch.arange(by_block.shape[0])
    protected.reshape(by_block.shape)[rows, by_block.argmax(dim=1)] = True
    return protected


def _keep_units(layer: PrunableLayer, num_pruned: int) -> torch.Tensor:
    """Keeps all but the ``num_pruned`` weakest removable candidates of the layer, as a (GM, GN, U) boolean."""
    scores = _relative_scores(layer)
    if layer.scheme.balanced:
        keep_count = scores.shape[2] - num_pruned
        order = scores.argsort(dim=2, descending=True, stable=True)
        keep = torch.zeros_like(scores, dtype=torch.bool)
        keep.scatter_(2, order[:, :, :keep_count], True)
        return keep
    flat = scores.flatten()
    removable = (~_protected(layer, flat)).nonzero().flatten()
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[removable[flat[removable].argsort(stable=True)[:num_pruned]]] = False
    return keep.reshape(scores.shape)


def _masks_from_counts(layers: list[PrunableLayer], pruned_counts: list[int]) -> Masks:
    return {layer.name: layer.weight_mask(_keep_units(layer, count)) for layer, count in zip(layers, pruned_counts)}


def masks_by_threshold(layers: list[PrunableLayer], threshold: float) -> Masks:
    """Prunes every unit whose mean squared weight is below ``threshold`` x its layer's (see :func:`_protected`)."""
    if not 0 <= threshold < 1:
        raise UserError(f"the pruning threshold is relative to a layer's mean square and must be in [0, 1), got {threshold}")
    counts = []
    for layer in layers:
        scores = _candidates(layer).scores
        counts.append(int(((scores < threshold) & ~_protected(layer, scores)).sum()))
    return _masks_from_counts(layers, counts)


def _removable(layers: list[PrunableLayer]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scores, MACs and layer index of every candidate that may go (all but :func:`_protected`)."""
    scores, macs, owners = [], [], []
    for index, layer in enumerate(layers):
        candidates = _candidates(layer)
        removable = ~_protected(layer, candidates.scores)
        scores.append(candidates.scores[removable])
        macs.append(candidates.macs[removable])
        owners.append(torch.full((int(removable.sum()),), index))
    return torch.cat(scores), torch.cat(macs), torch.cat(owners)


def check_rate_reachable(layers: list[PrunableLayer], target_rate: float, total_macs_dense: int) -> None:
    """Raises a UserError when pruning ``layers`` cannot bring the model to ``target_rate``."""
    if not target_rate >= 1:
        raise UserError(f"the FLOPs pruning rate is dense / remaining MACs and must be >= 1, got {target_rate}")
    removable_macs = float(_removable(layers)[1].sum())
    if total_macs_dense - total_macs_dense / target_rate > removable_macs * (1 + 1e-9):
        best = total_macs_dense / (total_macs_dense - removable_macs)
        raise UserError(
            f"target FLOPs pruning rate {target_rate:g}x cannot be met: pruning the selected layers "
            f"as far as the scheme allows reaches {best:.2f}x"
        )


def masks_for_rate(layers: list[PrunableLayer], target_rate: float, total_macs_dense: int) -> Masks:
    """Prunes the weakest units, across layers, until dense / remaining MACs reaches ``target_rate``.

    ``total_macs_dense`` is the whole model's (conv + linear); only ``layers`` are pruned.
    """
    check_rate_reachable(layers, target_rate, total_macs_dense)
    must_remove = total_macs_dense - total_macs_dense / target_rate
    scores, macs, owners = _removable(layers)
    order = scores.argsort(stable=True)
    cumulative = macs[order].cumsum(0)
    # The fewest weakest candidates whose MACs reach the amount to remove.
    cut = int(torch.searchsorted(cumulative, torch.tensor(must_remove * (1 - 1e-12), dtype=torch.float64)))
    chosen = owners[order[: cut + 1]] if must_remove > 0 else owners[:0]
    counts = torch.bincount(chosen, minlength=len(layers)).tolist()
    return _masks_from_counts(layers, counts)


def apply_masks(model: torch.nn.Module, masks: Masks) -> None:
    """Zeroes every masked-out weight in place (exact zeros, whatever the optimizer did)."""
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, mask in masks.items():
            weight = modules[name].weight
            weight.mul_(mask.to(device=weight.device, dtype=weight.dtype))
