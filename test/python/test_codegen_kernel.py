"""The KGS conv kernel, JIT-compiled for the host, against torch.nn.functional.conv3d on random data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch_mlir import ir, passmanager

from rt3d_mlir.dialect.geometry import find_kgs_convs
from rt3d_mlir.backends.host.jit import JitModule
from rt3d_mlir.codegen.cpu_kgs_kernel import emit_kgs_conv3d
from rt3d_mlir.backends.host.single_conv import CompiledConv
from rt3d_mlir.conv_module import ConvSpec, random_kgs_weight
from rt3d_mlir.dialect import make_context
from rt3d_mlir.kgs import GroupShape, compact
from rt3d_mlir.targets import PRESETS
from rt3d_mlir.targets.strategy import FilterSchedule, Schedule


def torch_reference(x: torch.Tensor, weight: torch.Tensor, init: torch.Tensor, spec: ConvSpec) -> np.ndarray:
    d_lo, h_lo, w_lo, d_hi, h_hi, w_hi = spec.padding
    padded = torch.nn.functional.pad(x, (w_lo, w_hi, h_lo, h_hi, d_lo, d_hi))
    conv = torch.nn.functional.conv3d(padded, weight, stride=spec.strides, dilation=spec.dilations)
    return (init + conv).numpy()


def check_conv(
    weight: torch.Tensor,
    group_shape: GroupShape,
    spec: ConvSpec,
    schedule: Schedule | None = None,
    index_bits: int = 64,
    seed: int = 0,
) -> CompiledConv:
    generator = torch.Generator().manual_seed(seed)
    conv = CompiledConv(compact(weight, group_shape), spec, schedule=schedule, index_bits=index_bits)
    x = torch.randn(spec.input_shape, generator=generator)
    init = torch.randn(conv.output_shape, generator=generator)
    expected = torch_reference(x, weight, init, spec)
    got = conv(x, init)
    assert got.shape == expected.shape
    scale = 1.0 + float(np.abs(expected).max())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-5 * scale)
    return conv


def kgs_weight(shape, group_shape: GroupShape, kept: float, seed: int = 0) -> torch.Tensor:
    return random_kgs_weight(shape, group_shape, kept, torch.Generator().manual_seed(seed))


G84 = GroupShape(8, 4)
AVX2_DEFAULT = Schedule(vector_lanes=8, filters=4, rows=1, w_vectors=3, channel_groups=2, threads=1)

KERNEL_CASES = {
    # name: (kernel, input DHW, strides, padding (d,h,w lo then hi))
    "3x3x3": ((3, 3, 3), (5, 7, 21), (1, 1, 1), (1, 1, 1, 1, 1, 1)),
    "1x3x3": ((1, 3, 3), (3, 6, 9), (1, 1, 1), (0, 1, 1, 0, 1, 1)),
    "3x1x1": ((3, 1, 1), (6, 4, 17), (1, 1, 1), (1, 0, 0, 1, 0, 0)),
    "1x1x1": ((1, 1, 1), (2, 3, 40), (1, 1, 1), (0, 0, 0, 0, 0, 0)),
    "3x7x7": ((3, 7, 7), (3, 9, 12), (1, 1, 1), (1, 3, 3, 1, 3, 3)),
    "1x7x7 stride 2": ((1, 7, 7), (2, 11, 19), (1, 2, 2), (0, 3, 3, 0, 3, 3)),
    "stride 2 in D": ((3, 3, 3), (7, 5, 10), (2, 1, 1), (1, 1, 1, 1, 1, 1)),
    "stride 2 in H": ((3, 3, 3), (4, 9, 10), (1, 2, 1), (1, 1, 1, 1, 1, 1)),
    "stride 2 in W": ((3, 3, 3), (4, 5, 27), (1, 1, 2), (1, 1, 1, 1, 1, 1)),
    "stride 3 in W, odd padding": ((1, 3, 5), (2, 5, 29), (1, 1, 3), (0, 2, 1, 0, 0, 3)),
}


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_kernel_shapes_strides_padding(name: str) -> None:
    kernel, dhw, strides, padding = KERNEL_CASES[name]
    weight = kgs_weight((12, 10, *kernel), G84, 0.4)  # 12 filters, 10 channels: tail groups on both axes
    check_conv(weight, G84, ConvSpec((1, 10, *dhw), strides, padding), AVX2_DEFAULT)


def test_batch_two_dilation_and_threads() -> None:
    weight = kgs_weight((16, 8, 3, 3, 3), G84, 0.3)
    spec = ConvSpec((2, 8, 6, 9, 20), (1, 1, 1), (2, 1, 2, 2, 1, 2), (2, 1, 2))
    conv = check_conv(weight, G84, spec, Schedule(vector_lanes=8, filters=8, rows=1, w_vectors=1, channel_groups=1, threads=2))
    assert "scf.parallel" in conv.kernel_ir
    for threads in (1, 2):
        conv.jit.set_threads(threads)
        x = torch.randn(spec.input_shape)
        init = torch.zeros(conv.output_shape)
        np.testing.assert_allclose(conv(x, init), torch_reference(x, weight, init, spec), rtol=1e-5, atol=1e-4)


IN_PLACE_CASES = {
    # name: (kernel, input NCDHW, strides, padding, dilations, schedule): no padding along H and W,
    # stride 1 along W, so either kernel reads the input where it lies (no padded copy)
    "3x1x1, W tail masked": ((3, 1, 1), (1, 10, 6, 4, 17), (1, 1, 1), (1, 0, 0, 1, 0, 0), (1, 1, 1), AVX2_DEFAULT),
    "stride 2 in D, halo only before": ((3, 1, 1), (1, 10, 7, 3, 21), (2, 1, 1), (2, 0, 0, 0, 0, 0), (1, 1, 1), AVX2_DEFAULT),
    "dilation 2 in D, batch 2, threads": (
        (3, 1, 1), (2, 10, 5, 2, 19), (1, 1, 1), (2, 0, 0, 2, 0, 0), (2, 1, 1),
        Schedule(vector_lanes=16, filters=3, rows=2, w_vectors=1, channel_groups=2, threads=2),
    ),
    "3x3x3 unpadded": ((3, 3, 3), (1, 10, 4, 6, 20), (1, 1, 1), (0, 0, 0, 0, 0, 0), (1, 1, 1), AVX2_DEFAULT),
    "1x1x1 stride 2 in H, all-pruned groups": (
        (1, 1, 1), (1, 10, 3, 7, 9), (1, 2, 1), (0, 0, 0, 0, 0, 0), (1, 1, 1),
        Schedule(vector_lanes=4, filters=2, rows=3, w_vectors=2, channel_groups=1, threads=1),
    ),
    "filter-vectors, 3x1x1 stride 2 in D": (
        (3, 1, 1), (1, 10, 7, 4, 4), (2, 1, 1), (1, 0, 0, 1, 0, 0), (1, 1, 1),
        FilterSchedule(vector_lanes=8, filter_vectors=1, rows=2, columns=3, channel_chunk=4, threads=1),
    ),
    "filter-vectors, dilation 2 in D, batch 2, threads": (
        (3, 1, 1), (2, 10, 5, 3, 7), (1, 1, 1), (2, 0, 0, 1, 0, 0), (2, 1, 1),
        FilterSchedule(vector_lanes=4, filter_vectors=2, rows=1, columns=4, channel_chunk=10, threads=2),
    ),
}


@pytest.mark.parametrize("name", IN_PLACE_CASES)
def test_convs_padded_only_along_depth_read_their_input_in_place(name: str) -> None:
    kernel, shape, strides, padding, dilations, schedule = IN_PLACE_CASES[name]
    kept = 0.1 if "all-pruned" in name else 0.4
    conv = check_conv(kgs_weight((12, 10, *kernel), G84, kept), G84, ConvSpec(shape, strides, padding, dilations), schedule)
    assert "_pad(" not in conv.kernel_ir


def test_convs_padded_along_h_or_w_still_copy_their_input() -> None:
    conv = check_conv(kgs_weight((12, 10, 3, 3, 3), G84, 0.4), G84, ConvSpec((1, 10, 4, 6, 20), (1, 1, 1), (0, 1, 0, 0, 0, 0)),
                      AVX2_DEFAULT)
    assert "_pad(" in conv.kernel_ir


def test_zero_fill_init_is_broadcast_not_read() -> None:
    weight = kgs_weight((12, 8, 3, 3, 3), G84, 0.3)
    spec = ConvSpec((2, 8, 3, 5, 13), (1, 1, 1), (1, 1, 1, 1, 1, 1))
    conv = CompiledConv(compact(weight, G84), spec, schedule=AVX2_DEFAULT, zero_init=True)
    # The fill's scalar is passed to the kernel function instead of a filled tensor.
    (call,) = [line for line in conv.kernel_ir.splitlines() if "call @kgs_conv3d_0(" in line]
    assert call.endswith(", f32) -> tensor<2x12x3x5x13xf32>")
    x = torch.randn(spec.input_shape)
    expected = torch_reference(x, weight, torch.zeros(conv.output_shape), spec)
    np.testing.assert_allclose(conv(x), expected, rtol=1e-5, atol=1e-4)


def test_channels_not_multiples_of_the_group() -> None:
    # 23 channels (R(2+1)D has 230 and 921), 13 filters: tail groups of 3 channels and 5 filters.
    weight = kgs_weight((13, 23, 1, 3, 3), G84, 0.5)
    check_conv(weight, G84, ConvSpec((1, 23, 2, 5, 11), (1, 1, 1), (0, 1, 1, 0, 1, 1)), AVX2_DEFAULT)


def test_vanilla_sparsity_and_dense_layers() -> None:
    spec = ConvSpec((1, 8, 3, 4, 9), (1, 1, 1), (1, 1, 1, 1, 1, 1))
    weight = kgs_weight((16, 8, 3, 3, 3), G84, 1.0)
    weight[8:, 4:] = 0  # a whole empty group: no kept positions
    check_conv(weight, G84, spec, AVX2_DEFAULT)
    conv = check_conv(torch.zeros(16, 8, 3, 3, 3), G84, spec, AVX2_DEFAULT)  # nothing kept: out = init
    assert conv.geometry.group_grid == (2, 2)


@pytest.mark.parametrize("index_bits", [8, 16, 32])
def test_narrow_index_tables(index_bits: int) -> None:
    # 3x7x7 positions reach 146: an i8 table must be read as unsigned.
    weight = kgs_weight((8, 4, 3, 7, 7), G84, 0.3)
    check_conv(weight, G84, ConvSpec((1, 4, 3, 8, 10), (1, 1, 1), (1, 3, 3, 1, 3, 3)), AVX2_DEFAULT, index_bits)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_default_schedule_of_each_preset(preset: str) -> None:
    # Each preset's chosen schedule runs correctly here (its vectors are just wider or narrower).
    weight = kgs_weight((16, 8, 3, 3, 3), G84, 0.25)
    spec = ConvSpec((1, 8, 4, 6, 30), (1, 1, 1), (1, 1, 1, 1, 1, 1))
    generator = torch.Generator().manual_seed(0)
    conv = CompiledConv(compact(weight, G84), spec, target=PRESETS[preset])
    assert conv.schedule.vector_lanes == PRESETS[preset].vector_lanes
    x = torch.randn(spec.input_shape, generator=generator)
    init = torch.zeros(conv.output_shape)
    np.testing.assert_allclose(conv(x, init), torch_reference(x, weight, init, spec), rtol=1e-5, atol=1e-4)


@st.composite
def conv_problems(draw):
    group = GroupShape(draw(st.integers(1, 8)), draw(st.integers(1, 4)))
    out_channels, in_channels = draw(st.integers(1, 12)), draw(st.integers(1, 9))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(3))
    dilations = tuple(draw(st.integers(1, 2)) for _ in range(3))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(6))
    if draw(st.booleans()):  # no padding along H and W, stride 1 along W: the kernel reads the input in place
        strides = (*strides[:2], 1)
        padding = (padding[0], 0, 0, padding[3], 0, 0)
    sizes = []
    for axis in range(3):
        reach = dilations[axis] * (kernel[axis] - 1) + 1 - padding[axis] - padding[axis + 3]
        sizes.append(draw(st.integers(max(1, reach), max(1, reach) + (20 if axis == 2 else 5))))
    spec = ConvSpec((draw(st.integers(1, 2)), in_channels, *sizes), strides, padding, dilations)
    lanes = draw(st.sampled_from([4, 8, 16]))
    filters = draw(st.integers(1, group.filters))
    rows, w_vectors = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    schedule = Schedule(lanes, filters, rows, w_vectors, draw(st.integers(1, 3)), threads=1)
    kept = draw(st.sampled_from([0.0, 0.1, 0.3, 0.7, 1.0]))
    return group, (out_channels, in_channels, *kernel), spec, schedule, kept, draw(st.integers(0, 2**16))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_problems())
def test_random_convs_match_torch(problem) -> None:
    group, weight_shape, spec, schedule, kept, seed = problem
    check_conv(kgs_weight(weight_shape, group, kept, seed), group, spec, schedule, seed=seed)


def test_convs_see_their_inputs_before_in_place_updates() -> None:
    # Two convs read %x with one zero init; between them an elementwise op may reuse %x's
    # buffer. Bufferization must see the second conv's read (the kernels take tensors at a
    # call), or that conv would read the negated input.
    weight = kgs_weight((8, 4, 1, 1, 1), G84, 1.0)
    kgs = compact(weight, G84)
    attrs = (
        "group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, "
        "padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>"
    )
    types = (
        "(tensor<1x4x1x2x8xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x2x8xf32>)"
        " -> tensor<1x8x1x2x8xf32>"
    )
    text = f"""
    func.func @conv(%x: tensor<1x4x1x2x8xf32>) -> tensor<1x8x1x2x8xf32> {{
      %zero = arith.constant 0.0 : f32
      %empty = tensor.empty() : tensor<1x8x1x2x8xf32>
      %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x8x1x2x8xf32>) -> tensor<1x8x1x2x8xf32>
      %values = arith.constant dense<{kgs.values.tolist()}> : tensor<32xf32>
      %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
      %positions = arith.constant dense<0> : tensor<1xi64>
      %a = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {{{attrs}}} : {types}
      %negated = linalg.generic {{indexing_maps = [affine_map<(n, c, d, h, w) -> (n, c, d, h, w)>],
          iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}}
          outs(%x : tensor<1x4x1x2x8xf32>) {{
        ^bb0(%v: f32):
          %n = arith.negf %v : f32
          linalg.yield %n : f32
        }} -> tensor<1x4x1x2x8xf32>
      %b = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %a) {{{attrs}}} : {types}
      %c = "sparse3d.kgs_conv3d"(%negated, %values, %offsets, %positions, %b) {{{attrs}}} : {types}
      return %c : tensor<1x8x1x2x8xf32>
    }}
    """
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        for op in find_kgs_convs(module.operation):
            emit_kgs_conv3d(op, AVX2_DEFAULT)
        passmanager.PassManager.parse("builtin.module(canonicalize, cse)").run(module.operation)  # as --kgs-lower ends
        jit = JitModule(module, openmp=False)
    x = torch.randn(1, 4, 1, 2, 8)
    got = jit.call("conv", x.numpy().copy(), result_rank=5)
    single = torch.nn.functional.conv3d(x, weight).numpy()
    # a + b + c = conv(x) + conv(x) + conv(-x) = conv(x)
    np.testing.assert_allclose(got, single, rtol=1e-5, atol=1e-5)


@st.composite
def filter_kernel_problems(draw):
    """A random conv (tails in filters, channels, rows, columns) and a random filter-vectors schedule."""
    group, weight_shape, spec, _, kept, seed = draw(conv_problems())
    out_channels = draw(st.integers(1, 40))  # several filter blocks and a filter tail at every lane count
    weight_shape = (out_channels, *weight_shape[1:])
    lanes = draw(st.sampled_from([4, 8, 16]))
    schedule = FilterSchedule(
        lanes, draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 9)),
        draw(st.integers(1, 5)), threads=draw(st.sampled_from([1, 2])),
    )
    return group, weight_shape, spec, schedule, kept, seed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filter_kernel_problems())
def test_random_convs_match_torch_with_filter_vectors(problem) -> None:
    group, weight_shape, spec, schedule, kept, seed = problem
    conv = check_conv(kgs_weight(weight_shape, group, kept, seed), group, spec, schedule, seed=seed)
    assert "vector.broadcast" in conv.kernel_ir


@pytest.mark.parametrize("init_kind", ["zero", "bias", "residual+bias"])
def test_filter_vectors_epilogues_match_torch(init_kind: str) -> None:
    # The bias, a residual fused by sparse3d-fuse-epilogue and the ReLU are applied in the
    # lane-by-lane stores (19 filters: a filter tail at every lane count); W = 7 picks filter-vectors.
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(6, 19, 3, padding=1, bias=init_kind != "zero")
    with torch.no_grad():
        conv.weight.copy_(kgs_weight(tuple(conv.weight.shape), G84, 1.0))  # dense: filter-vectors at W = 7

    class Block(torch.nn.Module):
        def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
            y = conv(x)
            return torch.relu(y + residual) if init_kind == "residual+bias" else torch.relu(y)

    import rt3d_mlir

    x, residual = torch.randn(2, 6, 3, 5, 7), torch.randn(2, 19, 3, 5, 7)
    model = Block().eval()
    compiled = rt3d_mlir.compile(model, (x, residual), target="host", threads=1)
    assert "kgs_conv3d_0_weights" in compiled.kernel_ir  # the packed weights of the filter-vectors kernel
    np.testing.assert_allclose(np.asarray(compiled(x, residual)), model(x, residual).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_filter_vectors_needs_constant_weights() -> None:
    # A filter-vectors schedule on an op whose weights are function arguments is a pass error,
    # and sparse3d-tile never chooses it there (w-vectors reads the tables at run time).
    from rt3d_mlir.diagnostics import PassError
    from rt3d_mlir.passes.sparse3d_tile import Sparse3DTile
    from rt3d_mlir.passes.sparse3d_vectorize import Sparse3DVectorize
    from rt3d_mlir.targets.strategy import SCHEDULE_ATTR, schedule_from_attr

    text = """
    module attributes {sparse3d.target = {cores = 1 : i64, l1_bytes = 32768 : i64, name = "host-avx512", vector_lanes = 16 : i64, vector_registers = 32 : i64}} {
      func.func @conv(%x: tensor<1x64x1x7x7xf32>, %values: tensor<110592xf32>, %init: tensor<1x64x1x7x7xf32>) -> tensor<1x64x1x7x7xf32> {
        %offsets = arith.constant dense<[0, 27, 54, 81, 108, 135, 162, 189, 216, 243, 270, 297, 324, 351, 378, 405, 432]> : tensor<17xi32>
        %positions = arith.constant dense<[%s]> : tensor<432xi8>
        %0 = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 16, 16>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : (tensor<1x64x1x7x7xf32>, tensor<110592xf32>, tensor<17xi32>, tensor<432xi8>, tensor<1x64x1x7x7xf32>) -> tensor<1x64x1x7x7xf32>
        return %0 : tensor<1x64x1x7x7xf32>
      }
    }
    """.replace("%s", ", ".join(str(p) for p in list(range(27)) * 16))
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        Sparse3DTile().apply(module.operation)
        (op,) = find_kgs_convs(module.operation)
        assert isinstance(schedule_from_attr(op.attributes[SCHEDULE_ATTR]), Schedule)
        op.attributes[SCHEDULE_ATTR] = FilterSchedule(16, 2, 1, 7, 64, 1).to_attr()
        with pytest.raises(PassError, match="filter-vectors kernel needs constant weights"):
            Sparse3DVectorize().apply(module.operation)
