"""Hard pruning: every scheme's masks have exactly the declared structure and reach the asked rate."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, kept_fraction, kept_positions
from rt3d_mlir.prune import (
    apply_masks,
    build_profile,
    get_scheme,
    masks_by_threshold,
    masks_for_rate,
    measure_layers,
    select_layers,
)
from rt3d_mlir.prune.checkpoint import pruned_layer_schemes

INPUT_SIZE = (4, 6, 6)


class TwoConvs(nn.Module):
    """Channel counts that are not multiples of the 8x4 group (tail groups on both axes)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(3, 13, 3, padding=1)
        self.conv2 = nn.Conv3d(13, 19, 3, padding=1)
        self.head = nn.Linear(19 * math.prod(INPUT_SIZE), 5)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.conv2(torch.relu(self.conv1(clip))), 1))


def _model(seed: int = 0) -> TwoConvs:
    torch.manual_seed(seed)
    return TwoConvs()


def _blocks(mask: torch.Tensor, shape: GroupShape):
    """(filters slice, channels slice) of every kernel group, written out independently of the library."""
    out_channels, in_channels = mask.shape[:2]
    for m in range(0, out_channels, shape.filters):
        for c in range(0, in_channels, shape.channels):
            yield mask[m : m + shape.filters, c : c + shape.channels].flatten(2)


def _assert_structure(scheme_name: str, mask: torch.Tensor, shape: GroupShape) -> None:
    if scheme_name == "filter":
        per_filter = mask.flatten(1)
        assert torch.all(per_filter.all(1) | ~per_filter.any(1))
        return
    kept_counts = []
    for block in _blocks(mask, shape):
        if scheme_name == "vanilla":
            assert block.all() or not block.any()
        else:  # every (group, position) is all-kept or all-zero
            per_position = block.flatten(0, 1)
            assert torch.all(per_position.all(0) | ~per_position.any(0))
            kept_counts.append(int(per_position.all(0).sum()))
    if scheme_name == "balanced-kgs":
        assert len(set(kept_counts)) == 1


@pytest.mark.parametrize("scheme_name", ["filter", "vanilla", "kgs", "balanced-kgs"])
@pytest.mark.parametrize("target_rate", [1.5, 2.4])
def test_masks_for_rate_have_the_scheme_structure_and_reach_the_rate(scheme_name: str, target_rate: float) -> None:
    model = _model()
    costs = measure_layers(model, INPUT_SIZE)
    total = sum(cost.macs_dense for cost in costs)
    names = ["conv1", "conv2"] if scheme_name == "filter" else ["conv2"]  # a 1-filter group fits conv1 too
    layers = select_layers(costs, get_scheme(scheme_name), GroupShape(8, 4), names)
    masks = masks_for_rate(layers, target_rate, total)
    apply_masks(model, masks)
    for layer in layers:
        mask = masks[layer.name]
        assert mask.shape == layer.weight.shape and mask.dtype == torch.bool
        _assert_structure(scheme_name, mask, layer.group_shape)
        assert torch.equal(layer.weight != 0, mask)  # random weights have no zeros of their own
        # The compiler's view of the weights agrees with the mask.
        assert kept_positions(layer.weight, layer.group_shape).any()
        assert math.isclose(
            kept_fraction(layer.weight, layer.group_shape),
            _kept_macs_from_mask(mask, layer.group_shape) / mask.numel(),
        )
    profile = build_profile("two-convs", INPUT_SIZE, costs, pruned_layer_schemes(layers))
    assert profile["flops_rate"] >= target_rate
    # Overshoot is at most one unit (the largest candidate) of the selected layers.
    largest_unit = max(  # for balanced KGS a candidate is one position of every group of the layer
        layer.cost.macs_dense / layer.num_positions if scheme_name == "balanced-kgs" else float(layer.unit_macs().max())
        for layer in layers
    )
    assert profile["macs_kept"] >= total / target_rate - largest_unit - 1


def _kept_macs_from_mask(mask: torch.Tensor, shape: GroupShape) -> int:
    """Weights at kept (group, position) pairs: what KGS code computes, counted from the mask directly."""
    total = 0
    for block in _blocks(mask, shape):
        per_position = block.flatten(0, 1)
        total += per_position.shape[0] * int(per_position.any(0).sum())
    return total


def test_weakest_units_go_first() -> None:
    model = _model()
    with torch.no_grad():
        model.conv2.weight[:8, :4, 1, 1, 1] = 1e-6  # one KGS unit of group (0, 0), nearly zero
    costs = measure_layers(model, INPUT_SIZE)
    layers = select_layers(costs, get_scheme("kgs"), GroupShape(8, 4), ["conv2"])
    masks = masks_for_rate(layers, 1.001, sum(cost.macs_dense for cost in costs))
    pruned = ~masks["conv2"]
    assert pruned.any() and pruned[:8, :4, 1, 1, 1].all()
    assert int(pruned.sum()) == 8 * 4  # exactly that unit was enough


def test_threshold_prunes_units_below_a_fraction_of_the_layer_mean_square() -> None:
    model = _model()
    with torch.no_grad():
        model.conv2.weight[8:16] *= 1e-3  # the second filter block becomes negligible
    costs = measure_layers(model, INPUT_SIZE)
    layers = select_layers(costs, get_scheme("vanilla"), GroupShape(8, 4), ["conv2"])
    mask = masks_by_threshold(layers, 1e-3)["conv2"]
    assert mask[:8].all() and mask[16:].all()
    # The negligible block keeps only its strongest group, so its filters still read an input.
    kept = [bool(mask[8:16, c : c + 4].all()) for c in range(0, 13, 4)]
    assert sum(kept) == 1 and not any(mask[8:16, c : c + 4].any() for c, k in zip(range(0, 13, 4), kept) if not k)


def test_default_layer_selection_skips_layers_smaller_than_the_group() -> None:
    costs = measure_layers(_model(), INPUT_SIZE)
    names = [layer.name for layer in select_layers(costs, get_scheme("kgs"), GroupShape(8, 4))]
    assert names == ["conv2"]  # conv1 has 3 input channels, fewer than g_n = 4


def test_unmeetable_rate_and_bad_inputs_are_user_errors() -> None:
    costs = measure_layers(_model(), INPUT_SIZE)
    total = sum(cost.macs_dense for cost in costs)
    layers = select_layers(costs, get_scheme("kgs"), GroupShape(8, 4), ["conv2"])
    with pytest.raises(UserError, match="cannot be met"):
        masks_for_rate(layers, 1000.0, total)
    with pytest.raises(UserError, match=">= 1"):
        masks_for_rate(layers, 0.5, total)
    with pytest.raises(UserError, match="larger than layer conv1"):
        select_layers(costs, get_scheme("kgs"), GroupShape(8, 4), ["conv1"])
    with pytest.raises(UserError, match="no prunable Conv3d named nope"):
        select_layers(costs, get_scheme("kgs"), GroupShape(8, 4), ["nope"])
    with pytest.raises(UserError, match="unknown sparsity scheme 'kgz'"):
        get_scheme("kgz")
    with pytest.raises(UserError, match="threshold"):
        masks_by_threshold(layers, 2.0)


@pytest.mark.parametrize("scheme_name", ["vanilla", "kgs", "balanced-kgs"])
def test_the_deepest_cut_keeps_an_input_for_every_filter(scheme_name: str) -> None:
    # A layer-blind global ranking once kept one unit per layer at a deep cut: the filters of the
    # other blocks lost all their weights, and the next layer's kept groups read their dead channels.
    model = _model()
    costs = measure_layers(model, INPUT_SIZE)
    total = sum(cost.macs_dense for cost in costs)
    layers = select_layers(costs, get_scheme(scheme_name), GroupShape(8, 4), ["conv2"])
    with pytest.raises(UserError, match="reaches") as refused:
        masks_for_rate(layers, 1000.0, total)
    deepest = float(re.search(r"reaches ([0-9.]+)x", str(refused.value)).group(1)) * (1 - 1e-3)
    mask = masks_for_rate(layers, deepest, total)["conv2"]
    assert mask.flatten(1).any(1).all(), "a filter lost every weight"
    assert mask.sum() < mask.numel() / 2  # and the cut is deep
