"""The work around the convs: bias and residual as the kernel's starting sums, fused ReLU, vector pooling."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import rt3d_mlir
from rt3d_mlir.backends.host.compiled_model import CompiledModel
from rt3d_mlir.importer import import_model
from rt3d_mlir.pipeline import run_pipeline


def compiled_and_checked(model: nn.Module, example: torch.Tensor) -> CompiledModel:
    # Direct convs only: these tests count the direct kernels' calls and arguments (the Winograd
    # epilogue's fusion is tested in test_winograd.py).
    compiled = rt3d_mlir.compile(model.eval(), example, threads=1, direct_only=True)
    with torch.no_grad():
        expected = model(example)
    torch.testing.assert_close(compiled(example), expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    return compiled


def kernel_calls(compiled: CompiledModel) -> list[str]:
    return [line.strip() for line in compiled.kernel_ir.splitlines() if re.search(r"call @kgs_conv3d_\d+\(", line)]


class Residual(nn.Module):
    """relu(bn(conv(x)) + shortcut(x)), R(2+1)D's block shape, with or without a downsampling shortcut."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm3d(out_channels)
        self.shortcut = nn.Identity() if channels == out_channels else nn.Conv3d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)) + self.shortcut(x))


def randomized(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def test_bias_and_relu_are_fused_into_the_kernel() -> None:
    model = nn.Sequential(nn.Conv3d(4, 12, 3, padding=1), nn.ReLU(), nn.Conv3d(12, 8, 1), nn.ReLU())
    compiled = compiled_and_checked(model, torch.randn(2, 4, 3, 5, 19))
    # Each kernel starts from its 1-D bias (no broadcast bias tensor); no ReLU is left over.
    assert [call.split(":")[-1].split(",")[-1].split(")")[0].strip() for call in kernel_calls(compiled)] == [
        "tensor<12xf32>", "tensor<8xf32>",
    ]
    assert "linalg.broadcast" not in compiled.kernel_ir and "arith.cmpf" not in compiled.kernel_ir


@pytest.mark.parametrize("out_channels", [6, 10])
def test_residual_add_and_relu_are_fused(out_channels: int) -> None:
    # 6: identity shortcut; 10: a 1x1x1 conv shortcut (computed before the main conv).
    model = randomized(nn.Sequential(Residual(6, out_channels), Residual(out_channels, out_channels)))
    compiled = compiled_and_checked(model, torch.randn(1, 6, 4, 6, 11))
    assert "arith.cmpf" not in compiled.kernel_ir  # every ReLU went into a kernel
    # Both blocks' main convs read the shortcut and the bias (6 arguments), not a materialised sum.
    arguments = [call.split("(")[1].split(")")[0].count("%") for call in kernel_calls(compiled)]
    assert arguments.count(6) == 2


def test_regrouped_filters_with_bias_and_relu() -> None:
    # Every other filter pruned: sparse3d-compact regroups them; the bias and the ReLU
    # must follow the permutation.
    conv = nn.Conv3d(4, 16, 3, padding=1)
    with torch.no_grad():
        conv.weight[1::2] = 0
        conv.bias.uniform_(-1, 1)
    compiled = compiled_and_checked(nn.Sequential(conv, nn.ReLU()), torch.randn(1, 4, 3, 4, 10))
    # The kernel looks up each compact filter's output channel in this table.
    assert re.search(r"dense<\[0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15\]> : tensor<16xi32>", compiled.kernel_ir)


POOLS = {
    "max 1x2x2 (C3D pool1)": (nn.MaxPool3d((1, 2, 2), (1, 2, 2)), (1, 3, 2, 8, 30)),
    "max 2 with H/W padding (C3D pool5)": (nn.MaxPool3d(2, 2, padding=(0, 1, 1)), (2, 3, 4, 7, 7)),
    "max 3 stride (1, 2, 1), padded": (nn.MaxPool3d(3, (1, 2, 1), padding=1), (1, 2, 5, 9, 19)),
    "max 3 stride 2 (S3D)": (nn.MaxPool3d(3, 2), (1, 2, 5, 9, 40)),
}


@pytest.mark.parametrize("name", POOLS)
def test_pooling_runs_as_vector_code(name: str) -> None:
    pool, shape = POOLS[name]
    model = nn.Sequential(nn.Conv3d(shape[1], shape[1], 1), pool)
    example = torch.randn(shape)
    compiled_and_checked(model, example)
    module = import_model(model.eval(), example)
    run_pipeline(module, "pooling-to-vector")
    text = str(module)
    assert "call @pool3d_0(" in text and "reduction" not in text


SUM_POOL = """
func.func @sum_pool(%x: tensor<1x3x2x4x21xf32>, %init: tensor<1x3x2x2x10xf32>) -> tensor<1x3x2x2x10xf32> {
  %window = tensor.empty() : tensor<1x2x2xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2 + d5, d3 * 2 + d6, d4 * 2 + d7)>,
      affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d5, d6, d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %window : tensor<1x3x2x4x21xf32>, tensor<1x2x2xf32>) outs(%init : tensor<1x3x2x2x10xf32>) {
  ^bb0(%in: f32, %w: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<1x3x2x2x10xf32>
  return %y : tensor<1x3x2x2x10xf32>
}
"""


def test_sum_pooling_into_a_tensor_init_matches_torch() -> None:
    # the addf combiner and a non-fill init (torch's AvgPool3d imports in another form, so no model test reaches it)
    from torch_mlir import ir

    from rt3d_mlir.backends.host.jit import JitModule
    from rt3d_mlir.dialect import make_context

    generator = torch.Generator().manual_seed(0)
    x, init = torch.randn(1, 3, 2, 4, 21, generator=generator), torch.randn(1, 3, 2, 2, 10, generator=generator)
    with make_context():
        vectorized = ir.Module.parse(SUM_POOL)
        run_pipeline(vectorized, "pooling-to-vector")
        assert "call @pool3d_0(" in str(vectorized)
        got = JitModule(ir.Module.parse(SUM_POOL), openmp=False).call("sum_pool", x, init, result_rank=5)
    expected = init + 4 * torch.nn.functional.avg_pool3d(x, (1, 2, 2), (1, 2, 2))
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-5, atol=1e-5)
