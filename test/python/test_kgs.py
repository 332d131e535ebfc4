"""The KGS definition: kept positions, compaction layout, exact round trip, group shape choice."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rt3d_mlir import kgs
from rt3d_mlir.errors import UserError


def kgs_weight(shape, group_shape, kept_fraction, seed):
    generator = torch.Generator().manual_seed(seed)
    kept = kgs.random_kept_positions(shape, group_shape, kept_fraction, generator)
    return kgs.apply_kept_positions(torch.randn(shape, generator=generator), group_shape, kept), kept


@settings(max_examples=40, deadline=None)
@given(
    filters=st.integers(1, 19),
    channels=st.integers(1, 11),
    kernel=st.sampled_from([(1, 1, 1), (3, 3, 3), (1, 3, 3), (3, 1, 1), (3, 7, 7)]),
    group=st.sampled_from([(8, 4), (4, 4), (8, 8), (1, 1), (3, 5)]),
    kept_fraction=st.floats(0.05, 1.0),
    seed=st.integers(0, 2**16),
)
def test_compact_expand_is_exact_for_any_shape(filters, channels, kernel, group, kept_fraction, seed):
    group_shape = kgs.GroupShape(*group)
    weight, kept = kgs_weight((filters, channels, *kernel), group_shape, kept_fraction, seed)
    compact = kgs.compact(weight, group_shape)
    assert np.array_equal(kgs.expand(compact), weight.numpy())
    assert torch.equal(kgs.kept_positions(weight, group_shape), kept)  # randn has no exact zeros
    assert compact.group_offsets[-1] == compact.positions.size
    assert np.isclose(compact.kept_fraction, kgs.kept_fraction(weight, group_shape))


def test_values_layout_is_position_then_channel_then_filter():
    weight = torch.arange(1, 1 + 3 * 5 * 2, dtype=torch.float32).reshape(3, 5, 1, 1, 2)
    weight[:, :, :, :, 0] = 0  # position 0 pruned everywhere
    compact = kgs.compact(weight, kgs.GroupShape(2, 4))
    # groups: filters {0,1} x channels {0..3}, {0,1} x {4}, {2} x {0..3}, {2} x {4}; all keep position 1 only
    assert compact.group_offsets.tolist() == [0, 1, 2, 3, 4]
    assert compact.positions.tolist() == [1, 1, 1, 1]
    first_group = weight[0:2, 0:4, 0, 0, 1].T.reshape(-1)  # (channel, filter) order
    assert np.array_equal(compact.values[:8], first_group.numpy())
    tail = weight[2, 4, 0, 0, 1].reshape(-1)
    assert np.array_equal(compact.values[-1:], tail.numpy())
    assert compact.values.size == 15


def test_accidental_zero_keeps_the_position():
    weight = torch.randn(8, 4, 3, 3, 3)
    weight[0, 0, 1, 1, 1] = 0.0
    assert kgs.kept_positions(weight, kgs.GroupShape(8, 4)).all()
    assert kgs.kept_fraction(weight, kgs.GroupShape(8, 4)) == 1.0


def test_tail_groups_count_only_real_kernels():
    sizes = kgs.group_sizes(230, 7, kgs.GroupShape(8, 4))
    assert sizes.shape == (29, 2)
    assert sizes[0, 0] == 32 and sizes[-1, 0] == 6 * 4 and sizes[0, -1] == 8 * 3 and sizes[-1, -1] == 6 * 3
    assert sizes.sum() == 230 * 7


def test_choose_group_shape_prefers_fewest_macs_then_first_candidate():
    dense = torch.randn(16, 8, 3, 3, 3)
    assert kgs.choose_group_shape(dense) == kgs.GroupShape(8, 4)
    # A pattern that is KGS at 4x4 but not at 8x4: filters 0-3 and 4-7 prune different positions.
    weight = dense.clone()
    weight[0:4, :, 0] = 0
    weight[4:8, :, 1] = 0
    assert kgs.kept_fraction(weight, kgs.GroupShape(4, 4)) < kgs.kept_fraction(weight, kgs.GroupShape(8, 4))
    assert kgs.choose_group_shape(weight) == kgs.GroupShape(4, 4)


@pytest.mark.parametrize("text", ["8", "8x", "x4", "0x4", "8x4x2", "a by b"])
def test_bad_group_shapes_are_user_errors(text):
    with pytest.raises(UserError):
        kgs.GroupShape.parse(text)


def test_position_energy_is_differentiable():
    weight = torch.randn(8, 4, 3, 3, 3, requires_grad=True)
    kgs.position_energy(weight, kgs.GroupShape(8, 4)).sum().backward()
    assert torch.allclose(weight.grad, 2 * weight.detach())


@pytest.mark.parametrize("row_axis", [None, 0, 1, 2])
def test_random_layer_pattern_keeps_its_share_layer_wide_in_whole_rows(row_axis):
    shape = (20, 10, 3, 2, 3)  # tail groups on both grids, a kernel of 2 along h
    kept = kgs.random_layer_pattern(shape, kgs.GroupShape(8, 4), 0.3, torch.Generator().manual_seed(1), row_axis)
    assert kept.shape == (3, 3, 18) and kept.dtype == torch.bool
    per_group = kept.reshape(3, 3, 3, 2, 3)
    row = 1 if row_axis is None else shape[2 + row_axis]
    assert int(kept.sum()) == round(0.3 * 9 * 18 / row) * row
    if row_axis is not None:  # every row along the axis is kept whole or not at all
        assert (per_group.all(dim=2 + row_axis) == per_group.any(dim=2 + row_axis)).all()
    assert len(set(kept.sum(dim=2).flatten().tolist())) > 1  # layer-wide: groups keep different numbers


def test_random_layer_pattern_rejects_a_fraction_outside_0_1():
    with pytest.raises(UserError, match="kept fraction"):
        kgs.random_layer_pattern((8, 4, 3, 3, 3), kgs.GroupShape(8, 4), 1.5, torch.Generator())
