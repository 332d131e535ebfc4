"""sparse3d-compact: regrouped filters and narrowed tables, compiled and checked against torch."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rt3d_mlir.codegen.filter_order import choose_filter_order, computed_macs_per_output, filter_patterns
from rt3d_mlir.backends.host.single_conv import CompiledConv
from rt3d_mlir.conv_module import ConvSpec, random_kgs_weight
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, compact
from rt3d_mlir.passes.sparse3d_compact import Sparse3DCompact, narrowest_width
from rt3d_mlir.targets.strategy import Schedule

G84 = GroupShape(8, 4)
SCHEDULE = Schedule(vector_lanes=8, filters=4, rows=1, w_vectors=2, channel_groups=2, threads=1)


def check(weight: torch.Tensor, group: GroupShape, spec: ConvSpec, mode: str, schedule: Schedule = SCHEDULE,
          zero_init: bool = False, seed: int = 0, index_bits: int = 64) -> CompiledConv:
    conv = CompiledConv(compact(weight, group), spec, schedule=schedule, zero_init=zero_init, index_bits=index_bits,
                        passes=f"sparse3d-compact{{reorder={mode}}}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(spec.input_shape, generator=generator)
    init = torch.zeros(conv.output_shape) if zero_init else torch.randn(conv.output_shape, generator=generator)
    d_lo, h_lo, w_lo, d_hi, h_hi, w_hi = spec.padding
    padded = torch.nn.functional.pad(x, (w_lo, w_hi, h_lo, h_hi, d_lo, d_hi))
    expected = (init + torch.nn.functional.conv3d(padded, weight, stride=spec.strides, dilation=spec.dilations)).numpy()
    got = conv(x) if zero_init else conv(x, init)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-5 * (1 + float(np.abs(expected).max())))
    return conv


def table_types(conv: CompiledConv) -> tuple[str, str, str]:
    """(values, group_offsets, positions) tensor types of the compacted op."""
    operand_types = re.search(r": \((.*)\) ->", conv.op_text)[1].split(", ")
    return operand_types[1], operand_types[2], operand_types[3]


def test_filter_pruned_layer_is_regrouped_into_empty_groups() -> None:
    # A dense layer with every other filter pruned: in their order every block keeps every
    # position; regrouped, the zero filters fill whole blocks whose groups are empty.
    weight = torch.randn(16, 8, 3, 3, 3)
    weight[::2] = 0
    spec = ConvSpec((1, 8, 3, 5, 19), (1, 1, 1), (1, 1, 1, 1, 1, 1))
    for zero_init in (False, True):
        conv = check(weight, G84, spec, "auto", zero_init=zero_init)
        assert "filter_permutation = array<i64: 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 14>" in conv.op_text
        assert table_types(conv)[0] == f"tensor<{8 * 8 * 27}xf32>"  # half the dense 16x8x27 weights
    never = check(weight, G84, spec, "never")
    assert "filter_permutation" not in never.op_text and table_types(never)[0] == f"tensor<{16 * 8 * 27}xf32>"


def test_kgs_pruned_layer_keeps_its_order_and_gets_narrow_tables() -> None:
    weight = random_kgs_weight((16, 12, 3, 3, 3), G84, 0.3, torch.Generator().manual_seed(1))
    conv = check(weight, G84, ConvSpec((2, 12, 3, 4, 11), (1, 2, 1), (1, 1, 1, 1, 1, 1)), "auto")
    assert "filter_permutation" not in conv.op_text  # one pattern per block: nothing to gain
    # 6 groups x 8 positions = 48 table entries: offsets and positions fit i8.
    assert table_types(conv)[1:] == ("tensor<7xi8>", "tensor<48xi8>")


def test_unsigned_i8_tables_widen() -> None:
    # 3x7x7 positions reach 146: written as i8 (read unsigned by the kernels), they need i16.
    weight = random_kgs_weight((8, 4, 3, 7, 7), G84, 0.3, torch.Generator().manual_seed(3))
    conv = check(weight, G84, ConvSpec((1, 4, 3, 8, 10), (1, 1, 1), (1, 3, 3, 1, 3, 3)), "auto", index_bits=8)
    assert table_types(conv)[1:] == ("tensor<2xi8>", "tensor<44xi16>")


def test_narrowest_width() -> None:
    assert [narrowest_width(n) for n in (0, 127, 128, 32767, 32768, 2**31 - 1, 2**31)] == [8, 8, 16, 16, 32, 32, 64]


def test_regrouping_is_only_chosen_when_it_saves_macs() -> None:
    weight = random_kgs_weight((24, 8, 1, 3, 3), G84, 0.5, torch.Generator().manual_seed(2)).numpy()
    weight[[1, 9, 17]] = 0  # one zero filter per block: any regrouping mixes patterns
    assert choose_filter_order(weight, G84, "auto") is None
    order = choose_filter_order(weight, G84, "always")
    patterns = filter_patterns(weight, G84)
    identity = np.arange(24)
    assert computed_macs_per_output(patterns, order, G84, 8) > computed_macs_per_output(patterns, identity, G84, 8)
    with pytest.raises(UserError, match="reorder"):
        Sparse3DCompact.from_options("reorder=sometimes")


@st.composite
def uneven_layers(draw):
    """Weights whose filters each keep their own positions: empty groups, very different kept counts."""
    group = GroupShape(draw(st.integers(1, 8)), draw(st.integers(1, 4)))
    out_channels, in_channels = draw(st.integers(1, 20)), draw(st.integers(1, 9))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    volume = kernel[0] * kernel[1] * kernel[2]
    # Per filter a kept count from none to all positions, drawn per channel too.
    counts = torch.randint(0, volume + 1, (out_channels, 1, 1), generator=generator)
    counts = counts * (torch.rand(out_channels, 1, 1, generator=generator) < 0.8)  # some filters pruned whole
    ranks = torch.rand(out_channels, in_channels, volume, generator=generator).argsort(2).argsort(2)
    weight = torch.randn(out_channels, in_channels, volume, generator=generator) * (ranks < counts)
    sizes = (draw(st.integers(kernel[0], kernel[0] + 3)), draw(st.integers(kernel[1], kernel[1] + 3)),
             draw(st.integers(kernel[2], kernel[2] + 17)))
    spec = ConvSpec((draw(st.integers(1, 2)), in_channels, *sizes), (1, 1, draw(st.integers(1, 2))), (0, 0, 0, 0, 0, 0))
    schedule = Schedule(8, draw(st.integers(1, group.filters)), draw(st.integers(1, 2)), 1, draw(st.integers(1, 3)), 1)
    return group, weight.reshape(out_channels, in_channels, *kernel), spec, schedule, draw(st.sampled_from(["auto", "always"])), seed


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uneven_layers())
def test_uneven_layers_match_torch_after_compaction(layer) -> None:
    group, weight, spec, schedule, mode, seed = layer
    check(weight, group, spec, mode, schedule, seed=seed)
