"""Group penalties: real gradients, the reweighting rule and FLOPs scaling; MAC accounting against C3D."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, position_energy
from rt3d_mlir.models import build_model
from rt3d_mlir.prune import GroupPenalty, get_scheme, kept_macs, measure_layers, select_layers


def _layers(scheme: str = "kgs"):
    torch.manual_seed(0)
    model = nn.Sequential(  # the 3-channel stem is narrower than a group and stays dense
        nn.Conv3d(3, 8, 3, padding=1), nn.Conv3d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv3d(16, 12, 3, padding=1, stride=2)
    )
    costs = measure_layers(model, (4, 8, 8))
    return model, select_layers(costs, get_scheme(scheme), GroupShape(8, 4))


def test_reweighted_penalty_has_the_analytic_gradient() -> None:
    model, layers = _layers()
    penalty = GroupPenalty(layers, "reweighted", eps=1e-4)
    penalty().backward()
    macs = torch.tensor([float(layer.cost.macs_dense) for layer in layers])
    for layer, scale in zip(layers, macs / macs.mean()):
        weight = layer.weight
        assert weight.grad is not None and weight.grad.abs().min() > 0  # every weight feels the penalty
        # d/dW of scale * sum_u P_u ||W_u||^2 with P_u fixed is 2 * scale * P_u * W.
        coefficient = 1.0 / (position_energy(weight.detach(), layer.group_shape) + 1e-4)
        per_weight = coefficient.repeat_interleave(8, 0).repeat_interleave(4, 1)[: weight.shape[0], : weight.shape[1]]
        expected = 2 * scale * per_weight.reshape(weight.shape) * weight.detach()
        torch.testing.assert_close(weight.grad, expected)


def test_reweighting_refreshes_the_coefficients_from_the_current_weights() -> None:
    model, layers = _layers()
    penalty = GroupPenalty(layers, "reweighted", eps=1e-4)
    before = penalty().item()
    with torch.no_grad():
        layers[0].weight.mul_(0.01)
    assert penalty().item() < before * 0.5  # P is a constant between steps, so shrinking W lowers the penalty
    penalty.reweight()
    energy = layers[0].unit_energy().detach()
    torch.testing.assert_close(penalty.coefficients[0], 1.0 / (energy + 1e-4))
    # Just after a reweighting step every unit contributes ||W||^2 / (||W||^2 + eps).
    scales = penalty.layer_scales
    expected = sum(scale * (e / (e + 1e-4)).sum() for scale, e in zip(scales, (layer.unit_energy().detach() for layer in layers)))
    assert penalty().item() == pytest.approx(float(expected), rel=1e-5)


def test_penalty_terms_are_scaled_by_layer_macs() -> None:
    _, layers = _layers()
    penalty = GroupPenalty(layers, "regularization")
    macs = [layer.cost.macs_dense for layer in layers]
    assert macs[0] > macs[1]  # the strided second conv is cheaper
    assert penalty.layer_scales[0] / penalty.layer_scales[1] == pytest.approx(macs[0] / macs[1])


def test_group_lasso_pushes_with_unit_norm_gradients_even_at_zero() -> None:
    model, layers = _layers("vanilla")
    with torch.no_grad():
        layers[0].weight[:8, :4] = 0  # one whole group already zero
    penalty = GroupPenalty(layers, "regularization")
    value = penalty()
    value.backward()
    grad = layers[0].weight.grad
    assert torch.isfinite(grad).all() and grad[:8, :4].abs().max() == 0 and grad[8:].abs().min() > 0
    # The gradient of ||W_g|| is W_g / ||W_g||: unit norm per group (times the layer's scale).
    group = grad[8:16, 4:8]
    assert group.norm().item() == pytest.approx(penalty.layer_scales[0], rel=1e-5)


def test_unknown_algorithm_and_bad_eps_are_user_errors() -> None:
    _, layers = _layers()
    with pytest.raises(UserError, match="unknown pruning algorithm 'admm'"):
        GroupPenalty(layers, "admm")
    with pytest.raises(UserError, match="no regularization penalty"):
        GroupPenalty(layers, "heuristic")
    with pytest.raises(UserError, match="eps must be positive"):
        GroupPenalty(layers, "reweighted", eps=0)


def _analytic_c3d_macs() -> int:
    """C3D at 16x112x112 written out layer by layer: (in, out, frames, height, width) of every conv."""
    convs = [
        (3, 64, 16, 112, 112),  # conv1a, then pool1 (1, 2, 2)
        (64, 128, 16, 56, 56),  # conv2a, then pool2 (2, 2, 2)
        (128, 256, 8, 28, 28),
        (256, 256, 8, 28, 28),  # conv3a, conv3b, then pool3
        (256, 512, 4, 14, 14),
        (512, 512, 4, 14, 14),  # conv4a, conv4b, then pool4
        (512, 512, 2, 7, 7),
        (512, 512, 2, 7, 7),  # conv5a, conv5b, then pool5 (padding 1): 512 x 1 x 4 x 4
    ]
    conv_macs = sum(c_in * c_out * 27 * d * h * w for c_in, c_out, d, h, w in convs)
    fc_macs = 8192 * 4096 + 4096 * 4096 + 4096 * 101
    return conv_macs + fc_macs


def test_c3d_macs_match_the_analytic_count_and_the_paper() -> None:
    model = build_model("c3d")
    costs = measure_layers(model, (16, 112, 112))
    total = sum(cost.macs_dense for cost in costs)
    assert total == _analytic_c3d_macs()
    assert round(total / 1e9, 1) == 38.5  # the paper's 38.5 GMAC
    assert [cost.kind for cost in costs] == ["conv3d"] * 8 + ["linear"] * 3


def test_kept_macs_follow_the_compilers_kept_fraction() -> None:
    model, layers = _layers()
    conv = layers[0]
    with torch.no_grad():
        conv.weight[:8, :4, :, 0] = 0  # 9 of 27 positions of one of the 4 groups (2 x 2) pruned
    assert kept_macs(conv.cost, conv.group_shape) == round(conv.cost.macs_dense * (1 - (9 / 27) / 4))
    assert kept_macs(conv.cost, None) == conv.cost.macs_dense
