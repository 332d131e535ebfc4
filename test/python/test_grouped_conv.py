"""Grouped and depthwise 3D convs: ungroup-convolution, conv groups in sparse3d-from-linalg, numerics vs torch."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import rt3d_mlir
from rt3d_mlir import kgs
from rt3d_mlir.passes.ungroup_convolution import block_diagonal


@settings(max_examples=40, deadline=None)
@given(
    groups=st.integers(1, 6),
    group_filters=st.integers(1, 5),
    group_channels=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_conv_groups_finds_the_blocks_and_fitted_groups_keep_only_them(groups, group_filters, group_channels, seed):
    generator = np.random.default_rng(seed)
    grouped = generator.uniform(0.5, 1.5, (groups * group_filters, group_channels, 3, 1, 1)).astype(np.float32)
    dense = block_diagonal(grouped, groups)
    assert kgs.conv_groups(dense) == groups
    for shape in kgs.DEFAULT_CANDIDATES:
        fitted = kgs.fit_to_conv_groups(shape, dense.shape, groups)
        assert fitted.filters <= shape.filters and fitted.channels <= shape.channels
        # exactly the block-diagonal MACs are computed: none of the zeros between the blocks
        assert kgs.kept_fraction(dense, fitted) == pytest.approx(1 / groups)


def test_a_dense_filter_has_one_conv_group_and_keeps_its_group_shape():
    weight = np.ones((16, 8, 3, 3, 3), dtype=np.float32)
    assert kgs.conv_groups(weight) == 1
    assert kgs.fit_to_conv_groups(kgs.GroupShape(8, 4), weight.shape, 1) == kgs.GroupShape(8, 4)
    assert kgs.conv_groups(np.zeros_like(weight)) == 1  # all pruned: no blocks to fit the groups into


@pytest.mark.parametrize(
    "channels, filters, groups, kernel, stride, padding, clip",
    [
        (16, 16, 2, 3, 1, 1, (5, 9, 11)),  # W tail (11 outputs)
        (16, 24, 4, (3, 3, 3), (1, 2, 2), 1, (4, 13, 13)),  # 6 filters x 4 channels per group, strided
        (24, 24, 24, 3, 2, 1, (7, 15, 17)),  # depthwise, strided, odd sizes
        (8, 16, 8, (3, 1, 1), 1, (1, 0, 0), (6, 5, 7)),  # depthwise with 2 filters per channel, temporal kernel
    ],
)
def test_grouped_conv_matches_torch(channels, filters, groups, kernel, stride, padding, clip):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv3d(channels, filters, kernel, stride=stride, padding=padding, groups=groups),
        nn.ReLU(),
        nn.Conv3d(filters, filters, 1),
    ).eval()
    example = torch.randn(1, channels, *clip)
    compiled = rt3d_mlir.compile(model, example)
    with torch.no_grad():
        expected = model(example)
    torch.testing.assert_close(compiled(example), expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    grouped = compiled.convs[0]
    assert grouped.kept_macs * groups == grouped.dense_macs  # no MAC spent on the zeros between the groups
