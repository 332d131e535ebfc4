"""Winograd convolution: the F(m, 3) matrices, the weight transform, per-conv differential tests against
torch, the strategy's choice, and whole models compiled with and without it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import rt3d_mlir
from rt3d_mlir import kgs
from rt3d_mlir.backends.host.single_conv import CompiledConv
from rt3d_mlir.codegen.winograd_transforms import transform_weight, winograd_matrices
from rt3d_mlir.conv_module import ConvSpec, random_kgs_weight
from rt3d_mlir.dialect.algorithm import Algorithm, split_rows, whole_row_axes
from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.kgs import GroupShape, apply_kept_positions, compact
from rt3d_mlir.targets import PRESETS
from rt3d_mlir.targets.algorithm_strategy import algorithm_cost, choose_algorithm, ranked_algorithms, streamed_weights

G84 = GroupShape(8, 4)
W2, W4, W6, HW2, HW4 = Algorithm((2,), 2), Algorithm((2,), 4), Algorithm((2,), 6), Algorithm((1, 2), 2), Algorithm((1, 2), 4)


@pytest.mark.parametrize("tile", [2, 4, 6])
def test_matrices_compute_a_correlation(tile):
    """AT ((G g) * (BT d)) is the valid correlation of a tile of m + 2 inputs with a 3-tap kernel."""
    matrices = winograd_matrices(tile)
    alpha = tile + 2
    assert matrices.output_transform.shape == (tile, alpha)
    assert matrices.weight_transform.shape == (alpha, 3)
    assert matrices.input_transform.shape == (alpha, alpha)
    rng = np.random.default_rng(tile)
    kernel, data = rng.standard_normal(3), rng.standard_normal(alpha)
    winograd = matrices.output_transform @ ((matrices.weight_transform @ kernel) * (matrices.input_transform @ data))
    direct = np.array([kernel @ data[s : s + 3] for s in range(tile)])
    np.testing.assert_allclose(winograd, direct, rtol=1e-10, atol=1e-10)


def test_no_points_for_an_unsupported_tile():
    with pytest.raises(ValueError, match=r"no interpolation points for F\(7, 3\)"):
        winograd_matrices(7)


def test_weight_transform_along_h_and_w():
    """(M, C, 3, 3, 3) -> (alpha, alpha, M, C, 3, 1, 1): G applied along H, then along W."""
    weight = np.random.default_rng(0).standard_normal((4, 2, 3, 3, 3))
    transformed = transform_weight(weight, HW2)
    assert transformed.shape == (4, 4, 4, 2, 3, 1, 1) and transformed.dtype == np.float32
    g = winograd_matrices(2).weight_transform
    expected = np.einsum("ah,bw,mcdhw->abmcd", g, g, weight)
    np.testing.assert_allclose(transformed[..., 0, 0], expected, rtol=1e-6, atol=1e-6)


def _check_winograd_conv(weight: torch.Tensor, spec: ConvSpec, algorithm: Algorithm, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    conv = CompiledConv(compact(weight, G84), spec, algorithm=algorithm)
    assert f'algorithm = "{algorithm}"' in conv.op_text
    x = torch.randn(spec.input_shape, generator=generator)
    init = torch.randn(conv.output_shape, generator=generator)
    d_lo, h_lo, w_lo, d_hi, h_hi, w_hi = spec.padding
    padded = torch.nn.functional.pad(x, (w_lo, w_hi, h_lo, h_hi, d_lo, d_hi))
    expected = (init + torch.nn.functional.conv3d(padded, weight)).numpy()
    got = conv(x, init)
    assert got.shape == expected.shape
    # The bound: 1e-4 relative to the output's magnitude.
    assert float(np.abs(got - expected).max()) <= 1e-4 * float(np.abs(expected).max())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    algorithm=st.sampled_from([W2, W4, W6, HW2, HW4]),
    filters=st.integers(5, 17),
    channels=st.integers(2, 9),
    batch=st.integers(1, 2),
    size=st.tuples(st.integers(3, 5), st.integers(3, 9), st.integers(3, 13)),
    padding=st.tuples(*[st.integers(0, 2)] * 6),
    kept=st.sampled_from([0.0, 0.3, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_winograd_conv_matches_torch(algorithm, filters, channels, batch, size, padding, kept, seed):
    """Tails along the transformed axes (outputs not a multiple of m), filter and channel tails, batch 2,
    asymmetric paddings, empty, scattered and dense groups."""
    spec = ConvSpec((batch, channels, *size), padding=padding)
    out_size = spec.output_shape((filters, channels, 3, 3, 3))[2:]
    if any(out_size[axis] < 1 for axis in range(3)):
        return
    weight = random_kgs_weight((filters, channels, 3, 3, 3), G84, kept, torch.Generator().manual_seed(seed))
    _check_winograd_conv(weight, spec, algorithm, seed)


def _mixed_pattern(grid: tuple[int, int], seed: int) -> np.ndarray:
    """(GM, GN, 27): per group, each (kd, kh) row along W keeps 0, 1, 2 or 3 of its taps at random."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=(*grid, 9))
    kept = np.zeros((*grid, 9, 3), bool)
    for index in np.ndindex(*grid, 9):
        kept[index][rng.choice(3, size=counts[index], replace=False)] = True
    return kept.reshape(*grid, 27)


def test_split_rows_by_the_multiplications_winograd_saves():
    """F(4, 3) takes rows keeping 2 or 3 taps (1.5 multiplications per output against 2 or 3), F(2, 3) only
    whole rows (2 per output against 3); F(2x2, 3x3) (kh, kw) planes keeping 5 or more of 9; the rest runs
    direct, and together the two parts keep exactly what the conv kept."""
    kept = _mixed_pattern((3, 2), seed=1)
    rows_per_group = kept.reshape(3, 2, 9, 3).sum(axis=3)
    for algorithm, taps_needed in ((W4, 2), (W2, 3)):
        winograd_rows, remainder = split_rows(kept, (3, 3, 3), algorithm)
        assert (winograd_rows == (rows_per_group >= taps_needed)).all()
        expanded = np.repeat(winograd_rows, 3, axis=2) & kept
        assert not (expanded & remainder).any() and ((expanded | remainder) == kept).all()
    planes, _ = split_rows(kept, (3, 3, 3), HW2)
    assert (planes == (kept.reshape(3, 2, 3, 9).sum(axis=3) >= 5)).all()


def test_whole_row_axes():
    kept = np.zeros((2, 2, 3, 3, 3), bool)
    kept[0, 0, 1, :, :] = True  # the whole kd = 1 plane: whole rows along h and w
    kept[1, 1, :, 2, :] = True  # the whole kh = 2 plane: along d and w
    assert whole_row_axes(kept.reshape(2, 2, 27), (3, 3, 3)) == (2,)
    assert whole_row_axes(kept.reshape(2, 2, 27), (1, 3, 9)) == ()  # kernel 3 only along h, no rows there
    assert whole_row_axes(np.zeros((2, 2, 27), bool), (3, 3, 3)) == ()


@pytest.mark.parametrize("algorithm", [W4, W2, HW2, HW4])
def test_winograd_with_a_direct_remainder_matches_torch(algorithm):
    """Rows of 0-3 kept taps: the rows Winograd takes and the direct remainder conv add up to the conv
    (filter and channel tails, a W tail, batch 2, a random init the remainder starts from)."""
    kept = _mixed_pattern((2, 3), seed=2)
    assert split_rows(kept, (3, 3, 3), algorithm)[1].any() and split_rows(kept, (3, 3, 3), algorithm)[0].any()
    weight = apply_kept_positions(torch.randn(13, 10, 3, 3, 3, generator=torch.Generator().manual_seed(2)), G84,
                                  torch.from_numpy(kept))
    _check_winograd_conv(weight, ConvSpec((2, 10, 3, 6, 9), padding=(1, 1, 1, 1, 1, 1)), algorithm, seed=2)


def test_winograd_on_a_1x3x3_kernel():
    """R(2+1)D's spatial conv: kernel 1 along D, Winograd along H and W."""
    weight = random_kgs_weight((16, 8, 1, 3, 3), G84, 1.0, torch.Generator().manual_seed(3))
    _check_winograd_conv(weight, ConvSpec((1, 8, 3, 7, 9), padding=(0, 1, 1, 0, 1, 1)), HW2, seed=3)


def _geometry(channels: int, filters: int, size: tuple[int, int, int], kernel=(3, 3, 3), strides=(1, 1, 1)) -> ConvGeometry:
    return ConvGeometry(1, channels, size, filters, kernel, strides, (1, 1, 1, 1, 1, 1), (1, 1, 1), G84)


def _rows_pattern(grid: tuple[int, int], rows_kept: int, seed: int, scattered: bool) -> np.ndarray:
    """(GM, GN, 27) keeping ``rows_kept`` of the 9 (kd, kh) rows per group: whole rows along W, or the same
    number of positions scattered so that each lands in a different row."""
    rng = np.random.default_rng(seed)
    kept = np.zeros((*grid, 3 * 3, 3), bool)
    for m in range(grid[0]):
        for n in range(grid[1]):
            if scattered:
                for row in rng.choice(9, size=min(9, 3 * rows_kept), replace=False):
                    kept[m, n, row, rng.integers(3)] = True
            else:
                kept[m, n, rng.choice(9, size=rows_kept, replace=False), :] = True
    return kept.reshape(*grid, 27)


@pytest.mark.parametrize("target", list(PRESETS))
def test_strategy_dense_layer_takes_winograd_on_every_target(target):
    """Dense C3D conv3a (128 -> 256, 8x28x28): every target's cost model prefers a Winograd candidate."""
    geometry = _geometry(128, 256, (8, 28, 28))
    ranked = ranked_algorithms(PRESETS[target], geometry, np.ones((32, 32, 27), bool))
    assert not ranked[0][1].is_direct
    assert {algorithm for _, algorithm in ranked} == {Algorithm(), W2, W4, HW2, HW4}


@pytest.mark.parametrize("target", list(PRESETS))
def test_strategy_whole_rows_take_winograd_along_w_scattered_positions_do_not(target):
    """Three whole W rows per group (9 positions) pay for F(4, 3) along W; nine positions in nine
    different rows leave F(m, 3) along W nothing to take (F(4x4, 3x3) on H x W may still take the
    (kh, kw) planes, three taps each)."""
    geometry = _geometry(128, 256, (8, 28, 28))
    rows = _rows_pattern((32, 32), 3, seed=0, scattered=False)
    scattered = _rows_pattern((32, 32), 3, seed=0, scattered=True)
    assert rows.sum() == scattered.sum()
    winograd_rows, remainder = split_rows(rows, geometry.kernel_size, W4)
    assert winograd_rows.sum() * 3 == rows.sum() and not remainder.any()
    winograd_rows, remainder = split_rows(scattered, geometry.kernel_size, W4)
    assert not winograd_rows.any() and (remainder == scattered).all()
    assert choose_algorithm(PRESETS[target], geometry, rows) in (W2, W4)
    assert choose_algorithm(PRESETS[target], geometry, scattered) not in (W2, W4)


def test_streamed_weights_count_kept_positions_of_each_group_with_tails():
    """12 filters x 6 channels in 8x4 groups: kernels per group 32, 16 / 16, 8; each kept position of a group
    is that many weights."""
    geometry = ConvGeometry(1, 6, (4, 4, 4), 12, (3, 3, 3), (1, 1, 1), (1,) * 6, (1, 1, 1), G84)
    kept = np.zeros((2, 2, 27), bool)
    kept[0, 0, :3] = kept[0, 1, :1] = kept[1, 0, :2] = kept[1, 1, :27] = True
    assert streamed_weights(geometry, kept) == 3 * 32 + 1 * 16 + 2 * 16 + 27 * 8


def test_strategy_does_not_stream_many_weights_for_a_few_outputs():
    """Dense C3D conv5a (512 -> 512, 2x7x7): F(4x4, 3x3) would need 36 per-tap convs of 2x2x2 outputs, each
    weight used 8 times: its cost is that of streaming 28 M weights, above F(2, 3) on W and above direct.
    On conv3a's 28x28 planes the per-tap outputs keep the FMAs the bound and F(4x4, 3x3) wins."""
    target = PRESETS["host-avx512"]
    conv5a = _geometry(512, 512, (2, 7, 7))
    dense = np.ones((64, 128, 27), bool)
    hw4_weights = 36 * 512 * 512 * 3
    tap = _geometry(512, 512, (2, 2, 2), kernel=(3, 1, 1))
    assert 36 * streamed_weights(tap, np.ones((64, 128, 3), bool)) == hw4_weights
    assert algorithm_cost(target, conv5a, dense, HW4) >= hw4_weights * 3.0
    assert algorithm_cost(target, conv5a, dense, HW4) > algorithm_cost(target, conv5a, dense, Algorithm())
    assert choose_algorithm(target, conv5a, dense) == W2
    assert choose_algorithm(target, _geometry(128, 256, (8, 28, 28)), np.ones((32, 32, 27), bool)) == HW4


@pytest.mark.parametrize("rate, expected", [(1, W4), (2, Algorithm())])
def test_strategy_prices_transforms_in_cycles(rate, expected):
    """kgs-row C3D conv2a (64 -> 128, 16x56x56, 15% of the W rows kept): where full-width FMAs issue at half
    rate (Zen 4) F(4, 3) on W pays for its transforms; where they issue at full rate the same transform
    cycles cost twice the FMA slots and the conv runs direct (as measured on each)."""
    geometry = _geometry(64, 128, (16, 56, 56))
    kept = kgs.random_layer_pattern((128, 64, 3, 3, 3), G84, 0.15, torch.Generator().manual_seed(0), 2).numpy()
    target = dataclasses.replace(PRESETS["host-avx512"], cores=2, l1_bytes=48 << 10, vector_fmas_per_cycle=rate)
    assert choose_algorithm(target, geometry, kept) == expected


def test_strategy_takes_direct_where_winograd_cannot_apply():
    target = PRESETS["host-avx512"]
    dense = np.ones((32, 32, 27), bool)
    # stride 2 on every axis, a 1x1x1 kernel, and an output narrower than any tile
    assert choose_algorithm(target, _geometry(128, 256, (8, 28, 28), strides=(2, 2, 2)), dense).is_direct
    assert choose_algorithm(target, _geometry(128, 256, (8, 28, 28), kernel=(1, 1, 1)), np.ones((32, 32, 1), bool)).is_direct
    assert choose_algorithm(target, _geometry(128, 256, (8, 1, 1)), dense).is_direct
    # no constant pattern, or nothing kept
    assert choose_algorithm(target, _geometry(128, 256, (8, 28, 28)), None).is_direct
    assert choose_algorithm(target, _geometry(128, 256, (8, 28, 28)), np.zeros((32, 32, 27), bool)).is_direct


class ResidualBlock(nn.Module):
    """Convs wide enough for the cost model to pick Winograd (64 channels), with bias, ReLU and a residual add
    fused into the output transform; a stride-2 conv stays direct."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv3d(3, 64, 3, padding=1)
        self.conv1 = nn.Conv3d(64, 64, 3, padding=1)
        self.conv2 = nn.Conv3d(64, 64, 3, padding=1, bias=False)
        self.down = nn.Conv3d(64, 32, 3, stride=2, padding=1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(clip))
        y = torch.relu(self.conv1(x))
        x = torch.relu(x + self.conv2(y))
        return self.down(x)


def _compile_with_and_without_winograd(model: nn.Module):
    """The model compiled by the strategy's choice and with ``direct_only``, the first checked against eager."""
    example = torch.randn(2, 3, 4, 8, 8)
    with torch.no_grad():
        expected = model(example)
    tolerance = dict(rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    default = rt3d_mlir.compile(model, example)
    direct = rt3d_mlir.compile(model, example, direct_only=True)
    torch.testing.assert_close(default(example), expected, **tolerance)
    return default, direct, lambda compiled: torch.testing.assert_close(compiled(example), expected, **tolerance)


def test_whole_model_with_winograd_matches_eager_and_direct_only_turns_it_off():
    torch.manual_seed(0)
    default, direct, check = _compile_with_and_without_winograd(ResidualBlock().eval())
    check(direct)
    assert direct.algorithms == ["direct"] * 4
    assert default.algorithms[1:3] == ["winograd<hw, 4>"] * 2 and default.algorithms[3] == "direct"
    # each Winograd conv became 36 per-tap KGS convs
    assert default.kernel_ir.count("scf.parallel") > direct.kernel_ir.count("scf.parallel")
    # F(4x4, 3x3) on 8x8 outputs: 36 taps x 2x2 tiles instead of 9 taps x 8x8 outputs, a quarter of the MACs
    winograd_convs = direct.convs[1].kept_macs + direct.convs[2].kept_macs
    assert direct.kernel_macs == sum(report.kept_macs for report in direct.convs)
    assert default.kernel_macs == direct.kernel_macs - winograd_convs * 3 // 4


def test_whole_model_with_a_direct_remainder_matches_eager():
    """Half the rows of conv1 (ReLU) and conv2 (residual add and ReLU) whole, some single taps: Winograd takes
    the (kh, kw) planes with 3 or more taps, a direct conv the rest and then applies the fused epilogue's ReLU."""
    torch.manual_seed(0)
    model = ResidualBlock().eval()
    rng = np.random.default_rng(0)
    whole = rng.random((8, 16, 9)) < 0.5
    kept = np.zeros((8, 16, 9, 3), bool)
    kept[whole] = True
    single = ~whole & (rng.random((8, 16, 9)) < 0.4)
    kept[single, rng.integers(0, 3, size=int(single.sum()))] = True
    pattern = torch.from_numpy(kept.reshape(8, 16, 27))
    with torch.no_grad():
        for conv in (model.conv1, model.conv2):
            conv.weight.copy_(apply_kept_positions(conv.weight, G84, pattern))
    default, direct, _ = _compile_with_and_without_winograd(model)
    assert default.algorithms[1:3] == ["winograd<hw, 4>"] * 2
    # A (kh, kw) plane F(4x4, 3x3) takes costs at most 36 taps x 2x2 tiles where one kept tap cost 8x8 outputs
    # (fewer where a transformed tap is exactly zero: a plane without kw = 2 taps has none at W's point at
    # infinity); the positions left to the direct remainder cost what they did.
    planes, remainder = split_rows(pattern.numpy(), (3, 3, 3), HW4)
    assert planes.any() and remainder.any()
    per_position = direct.convs[1].kept_macs / int(pattern.sum())
    others = direct.kernel_macs - 2 * direct.convs[1].kept_macs
    most = others + 2 * per_position * (planes.sum() * 36 * 4 / 64 + remainder.sum())
    assert others + 2 * per_position * remainder.sum() < default.kernel_macs <= most


def test_algorithms_pair_with_the_convs_in_kernel_order() -> None:
    # sparse3d-fuse-epilogue moves the downsample conv before the conv that adds it: `convs` keeps
    # the model's order, `algorithm_convs` the kernel module's, which `algorithms` follows.
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv3d(16, 32, 3, padding=1)
            self.conv2 = nn.Conv3d(32, 32, 3, padding=1)
            self.down = nn.Conv3d(16, 32, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.down(x))

    compiled = rt3d_mlir.compile(Residual().eval(), torch.randn(1, 16, 4, 16, 16))
    assert [r.weight_shape[2:] for r in compiled.convs] == [(3, 3, 3), (3, 3, 3), (1, 1, 1)]
    assert [r.weight_shape[2:] for r in compiled.algorithm_convs] == [(3, 3, 3), (1, 1, 1), (3, 3, 3)]
    assert compiled.algorithms[1] == "direct" and compiled.algorithms[2] != "direct"
    for report, algorithm in zip(compiled.algorithm_convs, compiled.algorithms):
        assert all(report.weight_shape[2 + axis] == 3 for axis in Algorithm.parse(algorithm).axes)
