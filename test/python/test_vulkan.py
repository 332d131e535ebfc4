"""The Vulkan back end on lavapipe (a software Vulkan device): numerics against torch, SPIR-V validity, manifests, errors."""

from __future__ import annotations

import shutil

import pytest
import torch

import rt3d_mlir

from rt3d_mlir import kgs
from rt3d_mlir.backends.vulkan.compiler import VulkanCompiledModel, validate_spirv
from rt3d_mlir.backends.vulkan.program import VulkanProgram
from rt3d_mlir.backends.vulkan.runner import VulkanRunner, check_device
from rt3d_mlir.cli import main
from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape
from rt3d_mlir.models import build_model


def _vulkan_device() -> bool:
    try:
        import vulkan as vk

        instance = vk.vkCreateInstance(vk.VkInstanceCreateInfo(), None)
        found = bool(vk.vkEnumeratePhysicalDevices(instance))
        vk.vkDestroyInstance(instance, None)
        return found
    except Exception:  # noqa: BLE001 - no loader, no driver: the run tests skip
        return False


needs_device = pytest.mark.skipif(not _vulkan_device(), reason="no Vulkan device (install mesa-vulkan-drivers for lavapipe)")
needs_spirv_val = pytest.mark.skipif(shutil.which("spirv-val") is None, reason="spirv-val (spirv-tools) is not installed")


class Tiny(torch.nn.Module):
    """conv + bn + relu, a padded max pool, a residual add, an average pool and a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv3d(3, 8, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm3d(8)
        self.conv2 = torch.nn.Conv3d(8, 8, 3, padding=1)
        self.pool = torch.nn.MaxPool3d((1, 2, 2), (1, 2, 2), padding=(0, 1, 1))
        self.fc = torch.nn.Linear(8 * 2 * 3 * 3, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv1(x)))
        y = y + torch.relu(self.conv2(y))
        y = self.pool(y)
        y = torch.nn.functional.avg_pool3d(y, (2, 1, 1))
        return self.fc(y.flatten(1))


def _check(compiled: VulkanCompiledModel, model: torch.nn.Module, x: torch.Tensor) -> None:
    for name, blob in compiled.program.spirv.items():
        validate_spirv(blob, name)
    with torch.no_grad():
        expected = model.eval()(x)
    got = compiled(x)
    assert got.shape == expected.shape
    scale = float(expected.abs().max())
    assert float((got - expected).abs().max()) <= 1e-4 * max(scale, 1.0)


# (in channels, out channels, kernel, stride, padding, dilation, input DHW, group shape, pruned fraction)
CONVS = [
    pytest.param(6, 10, 3, (1, 2, 1), 1, 1, (3, 7, 9), "8x4", 0.5, id="odd-shape-stride-tails"),
    pytest.param(5, 12, (1, 3, 3), 1, (0, 1, 1), 1, (2, 5, 11), "4x4", 0.0, id="dense-spatial-channel-tail"),
    pytest.param(8, 16, 3, 2, 1, 1, (4, 9, 9), "8x4", 0.85, id="stride2-85pct"),
    pytest.param(4, 9, (3, 1, 1), 1, (1, 0, 0), (2, 1, 1), (5, 3, 6), "8x4", 0.5, id="temporal-dilated-filter-tail"),
    pytest.param(4, 8, 3, 1, 1, 1, (2, 3, 4), "8x4", 1.0, id="all-pruned"),
]


@needs_device
@needs_spirv_val
@pytest.mark.parametrize("cin, cout, kernel, stride, padding, dilation, size, group, pruned", CONVS)
def test_single_conv_matches_torch(cin, cout, kernel, stride, padding, dilation, size, group, pruned) -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation)
    shape = GroupShape.parse(group)
    with torch.no_grad():
        if pruned == 1.0:  # every group empty: only the bias is left
            conv.weight.zero_()
        else:
            kept = kgs.random_kept_positions(conv.weight.shape, shape, 1.0 - pruned, torch.Generator().manual_seed(1))
            conv.weight.copy_(kgs.apply_kept_positions(conv.weight, shape, kept))
    model = torch.nn.Sequential(conv).eval()
    x = torch.randn(2 if pruned == 0.5 else 1, cin, *size)
    compiled = rt3d_mlir.compile(model, x, target="vulkan", group_shape=group)
    assert compiled.convs[0].group_shape == group
    _check(compiled, model, x)


@needs_device
@needs_spirv_val
def test_small_model_saved_program_runs_and_times(tmp_path) -> None:
    torch.manual_seed(0)
    model = Tiny().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(1, 3, 4, 4, 4)
    compiled = rt3d_mlir.compile(model, x, target="vulkan-mali-valhall")
    _check(compiled, model, x)
    # The saved manifest is self-contained: a fresh runner on the loaded program gives the same result.
    program = VulkanProgram.load(compiled.save(tmp_path / "tiny"))
    assert {d.module for d in program.dispatches} == set(program.spirv)
    # Constants through a staging copy into device-local buffers (what a discrete GPU needs).
    runner = VulkanRunner(program, stage_constants=True)
    assert torch.equal(runner.run(x), compiled(x))
    assert len(runner.last_dispatch_ms) == len(program.dispatches)
    runner.close()


@pytest.mark.slow  # 15-25 s each on lavapipe; Tiny covers the same code paths
@needs_device
@needs_spirv_val
@pytest.mark.parametrize("name, size", [("c3d", (16, 16, 16)), ("r2plus1d_18", (8, 32, 32)), ("s3d", (8, 32, 32))])
def test_zoo_model_matches_torch(name: str, size: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = build_model(name, width=0.125, num_classes=10, input_size=size)
    x = torch.randn(1, 3, *size)
    _check(rt3d_mlir.compile(model, x, target="vulkan-mali-valhall"), model, x)


@needs_device
def test_device_limits_are_checked_before_dispatch() -> None:
    model = torch.nn.Sequential(torch.nn.Conv3d(2, 4, 1)).eval()
    x = torch.randn(1, 2, 1, 2, 2)
    compiled = rt3d_mlir.compile(model, x, target="vulkan")
    huge = compiled.program.buffers[0]
    compiled.program.buffers[0] = type(huge)(**{**huge.__dict__, "bytes": 1 << 40})
    with pytest.raises(UserError, match="allows storage buffers of .* the program needs 1099511627776"):
        VulkanRunner(compiled.program)
    with pytest.raises(UserError, match="no Vulkan device matching 'no-such-gpu'"):
        VulkanRunner(compiled.program, device="no-such-gpu")


@needs_device
@needs_spirv_val
@pytest.mark.parametrize("precision", ["+fp16", "+fp16-math"])
def test_fp16_matches_torch_and_needs_the_device_feature(precision: str) -> None:
    torch.manual_seed(0)
    model = Tiny().eval()
    x = torch.randn(1, 3, 4, 4, 4)
    compiled = rt3d_mlir.compile(model, x, target=f"vulkan-adreno-6xx{precision}")
    assert compiled.program.requirements["float16"]
    for name, blob in compiled.program.spirv.items():
        validate_spirv(blob, name)
    with torch.no_grad():
        expected = model(x)
    error = float((compiled(x) - expected).abs().max())
    # f16 weights (and f16 sums within a group): about 3 significant digits
    assert 0 < error <= 1e-2 * float(expected.abs().max())
    info = compiled.runner().info
    without = type(info)(**{**info.__dict__, "float16": False})
    with pytest.raises(UserError, match="lacks shaderFloat16 or storageBuffer16BitAccess, which the \\+fp16 target's kernels need"):
        check_device(without, compiled.program)


class ArgMax(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.argmax(1)


def test_unsupported_model_is_a_one_line_error() -> None:
    with pytest.raises(UserError, match="the Vulkan path cannot compile this model: 'gpu.func' has no SPIR-V lowering on i64 data"):
        rt3d_mlir.compile(ArgMax(), torch.randn(1, 4, 2, 3, 3), target="vulkan")


def test_buffer_larger_than_target_limit_is_a_compile_error() -> None:
    x = torch.randn(1, 4, 16, 128, 128)
    # The 1x144x16x128x128 output is 144 MiB, past Mali's 128 MiB storage buffer range (the desktop preset takes it).
    with pytest.raises(UserError, match="exceeds mali-valhall's max_storage_buffer_bytes 134217728"):
        rt3d_mlir.compile(torch.nn.Sequential(torch.nn.Conv3d(4, 144, 1)).eval(), x, target="vulkan-mali-valhall")


def test_cli_compiles_to_a_folder_and_rejects_bad_targets(tmp_path, capsys) -> None:
    out = tmp_path / "c3d"
    # With a device it also runs the program and checks it against torch eager (else compile only).
    run = ["--repeat", "1"] if _vulkan_device() else ["--no-run"]
    assert main(["compile", "c3d", "--width", "0.0625", "--input-size", "16x16x16", "--target", "vulkan-adreno-6xx",
                 "-o", str(out), *run]) == 0
    program = VulkanProgram.load(out)
    assert program.target == "adreno-6xx" and len(program.dispatches) > 10
    printed = capsys.readouterr().out
    assert "conv7" in printed and ("max |compiled - torch eager|" in printed) == (run[0] == "--repeat")
    assert main(["compile", "c3d", "--target", "vulkan-geforce"]) == 1
    assert "error: unknown GPU target 'geforce'; known: mali-valhall, adreno-6xx, desktop" in capsys.readouterr().err
