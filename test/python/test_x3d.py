"""X3D in the zoo: the paper's shapes, and its blocks (depthwise 3x3x3, squeeze-excitation, swish) on every target."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rt3d_mlir
from rt3d_mlir.models import MODELS, build_model, example_input
from rt3d_mlir.models.x3d import KGS_PRUNING, X3D, X3DBlock, block_layer
from test_aarch64 import pytestmark as needs_aarch64_tools, run_build
from test_vulkan import _check as check_vulkan, needs_device, needs_spirv_val


def test_x3d_variants_are_one_network_at_the_papers_clip_sizes():
    assert {name: MODELS[name].input_size for name in ("x3d_xs", "x3d_s", "x3d_m")} == {
        "x3d_xs": (4, 160, 160), "x3d_s": (13, 160, 160), "x3d_m": (16, 224, 224)}
    model = build_model("x3d_m", num_classes=400)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(3.8e6, rel=0.01)  # the paper's 3.8M
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv3d) and m.groups > 1]
    assert len(depthwise) == 1 + 3 + 5 + 11 + 7 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert [m.in_channels for m in depthwise[1::5]] == [54, 108, 216, 216, 432, 432]


def block_case() -> tuple[nn.Module, torch.Tensor]:
    """An X3D block with everything: strided depthwise conv, squeeze-excitation, swish, projection shortcut."""
    torch.manual_seed(0)
    block = nn.Sequential(X3DBlock(8, 18, 16, stride=2, squeeze=True)).eval()
    for module in block.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return block, torch.randn(1, 8, 3, 9, 11)


@pytest.mark.parametrize(
    "depth", [pytest.param(1 / 3, id="9 blocks"), pytest.param(1.0, id="x3d_xs", marks=pytest.mark.slow)]
)
def test_x3d_xs_on_the_host_matches_eager(depth):
    model = X3D(num_classes=10, width=0.25, depth=depth).eval() if depth != 1.0 else build_model("x3d_xs", width=0.25, num_classes=10)
    clip = example_input("x3d_xs", input_size=(4, 32, 32))
    compiled = rt3d_mlir.compile(model, clip)
    with torch.no_grad():
        expected = model(clip)
    torch.testing.assert_close(compiled(clip), expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv3d) and m.groups > 1]
    fitted = [conv for conv in compiled.convs if conv.group_shape == "1x1"]
    assert len(fitted) == len(depthwise) and all(conv.kept_macs * conv.weight_shape[0] == conv.dense_macs for conv in fitted)


@needs_aarch64_tools
def test_x3d_block_on_aarch64_under_qemu_matches_eager(tmp_path: Path):
    block, x = block_case()
    build = rt3d_mlir.compile(block, x, target="aarch64", prefix="rt3d_x3d_block", platforms=("linux-gnu",))
    (got,) = run_build(build, tmp_path, [x.numpy()])
    with torch.no_grad():
        expected = block(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


@needs_device
@needs_spirv_val
def test_x3d_block_on_vulkan_matches_eager():
    block, x = block_case()
    check_vulkan(rt3d_mlir.compile(block, x, target="vulkan-mali-valhall"), block, x)


@pytest.mark.slow  # a minute or more each; the block tests above cover the same ops on these targets
@pytest.mark.parametrize("target", ["aarch64", "vulkan"])
def test_whole_x3d_xs_on_aarch64_and_vulkan(target, tmp_path: Path):
    model = build_model("x3d_xs", width=0.25, num_classes=10)
    clip = example_input("x3d_xs", input_size=(4, 32, 32))
    if target == "vulkan":
        check_vulkan(rt3d_mlir.compile(model, clip, target="vulkan-mali-valhall"), model, clip)
        return
    (got,) = run_build(rt3d_mlir.compile(model, clip, target="aarch64", prefix="rt3d_x3d_xs", platforms=("linux-gnu",)), tmp_path, [clip.numpy()])
    with torch.no_grad():
        expected = model(clip).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max())


def test_kgs_profile_names_the_expansions_and_projections_only():
    model = build_model("x3d_s", width=0.25)
    layers = {block_layer(path): module for path, module in model.named_modules() if isinstance(module, nn.Conv3d)}
    assert set(KGS_PRUNING) == {"conv_a", "conv_c"} and {"conv_a", "conv_b", "conv_c"} <= set(layers)
    assert layers["conv_a"].kernel_size == layers["conv_c"].kernel_size == (1, 1, 1) and layers["conv_b"].groups > 1
