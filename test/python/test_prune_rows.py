"""The kgs-row scheme: units are whole rows of kernel taps along one axis of each kernel group."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape
from rt3d_mlir.prune import get_scheme, masks_for_rate, measure_layers, select_layers
from rt3d_mlir.prune.checkpoint import build_profile, format_profile, pruned_layer_schemes
from rt3d_mlir.prune.schemes import ROW_AXES, rowless_layers

INPUT_SIZE = (4, 6, 6)
GROUP = GroupShape(4, 2)


class Factorised(nn.Module):
    """A full 3x3x3 conv, then R(2+1)D's pair: 1x3x3 (no rows along d) and 3x1x1 (rows only along d)."""

    def __init__(self) -> None:
        super().__init__()
        self.full = nn.Conv3d(3, 13, 3, padding=1)  # clips have 3 channels
        self.spatial = nn.Conv3d(13, 19, (1, 3, 3), padding=(0, 1, 1))
        self.temporal = nn.Conv3d(19, 16, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.temporal(torch.relu(self.spatial(torch.relu(self.full(clip)))))


def _layers(axis: str, names: list[str] | None = None):
    torch.manual_seed(0)
    model = Factorised()
    costs = measure_layers(model, INPUT_SIZE)
    return model, costs, select_layers(costs, get_scheme("kgs-row"), GROUP, names, row_axis=axis)


def _independent_row_check(mask: torch.Tensor, axis: str) -> None:
    """Within each kernel group every position is kept by all its kernels or none, and kept positions are whole rows."""
    out_channels, in_channels = mask.shape[:2]
    for m in range(0, out_channels, GROUP.filters):
        for c in range(0, in_channels, GROUP.channels):
            block = mask[m : m + GROUP.filters, c : c + GROUP.channels].flatten(0, 1)  # (kernels, Kd, Kh, Kw)
            assert torch.all(block.all(0) | ~block.any(0))
            kept = block[0]
            along = kept.movedim(ROW_AXES[axis], -1)
            assert torch.all(along.all(-1) | ~along.any(-1)), "a row is kept in part"


@pytest.mark.parametrize("axis", ["d", "h", "w"])
def test_masks_keep_whole_rows_and_reach_the_rate(axis: str) -> None:
    model, costs, layers = _layers(axis)
    total = sum(cost.macs_dense for cost in costs)
    masks = masks_for_rate(layers, 1.6, total)
    assert set(masks) == {layer.name for layer in layers}
    for mask in masks.values():
        _independent_row_check(mask, axis)
    kept = total - sum(float(layer.cost.macs_dense * (1 - masks[layer.name].float().mean())) for layer in layers)
    assert total / kept >= 1.6 * (1 - 1e-6)


def test_layers_with_kernel_one_along_the_axis_are_left_dense_and_reported() -> None:
    model, costs, layers = _layers("d")
    assert [layer.name for layer in layers] == ["full", "temporal"]  # spatial is 1x3x3: no rows along d
    assert rowless_layers(costs, get_scheme("kgs-row"), "d") == ["spatial"]
    assert [layer.name for layer in _layers("w")[2]] == ["full", "spatial"]  # temporal is 3x1x1
    profile = build_profile("factorised", INPUT_SIZE, costs, pruned_layer_schemes(layers),
                            ["left dense, kernel 1 along d (no rows): spatial"])
    table = format_profile(profile)
    assert "kgs-row-d" in table and "note: left dense, kernel 1 along d (no rows): spatial" in table


def test_a_named_layer_without_rows_is_an_error() -> None:
    with pytest.raises(UserError, match="layer spatial has a 1x3x3 kernel: no rows along d to prune"):
        _layers("d", ["spatial"])
    with pytest.raises(UserError, match="unknown row axis 'x'"):
        _layers("x")


def test_row_units_cover_the_layer_exactly() -> None:
    _, _, layers = _layers("h")
    for layer in layers:
        energy = layer.unit_energy()
        kernel = layer.weight.shape[2:]
        assert energy.shape[2] == kernel[0] * kernel[2] and layer.positions_per_unit == kernel[1]
        assert torch.allclose(energy.sum(), layer.weight.detach().pow(2).sum())
        assert float(layer.unit_macs().sum()) == pytest.approx(layer.cost.macs_dense)
        everything = layer.weight_mask(torch.ones_like(energy, dtype=torch.bool))
        assert everything.all()
