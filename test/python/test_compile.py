"""rt3d_mlir.compile: whole models on the host against torch eager, and its error handling."""

import subprocess

import pytest
import torch
from torch import nn

import rt3d_mlir
from rt3d_mlir import kgs
from rt3d_mlir.demo import C3D_PAPER_PRUNING, prune_randomly
from rt3d_mlir.backends.host.compiled_model import CompiledModel
from rt3d_mlir.errors import UserError
from rt3d_mlir.fold import fold_batch_norms
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.models.s3d import SepInception, separable_conv


def randomize_norms(model: nn.Module) -> nn.Module:
    """Non-trivial batch-norm statistics, so folding them is really tested."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.uniform_(-0.5, 0.5, generator=generator)
    return model.eval()


def assert_matches_eager(model: nn.Module, example: torch.Tensor, **options) -> CompiledModel:
    compiled = rt3d_mlir.compile(model, example, **options)
    with torch.no_grad():
        expected = model(example)
    got = compiled(example)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    return compiled


def test_kgs_pruned_c3d_batch_2():
    clip = (16, 32, 32)
    model = build_model("c3d", width=0.25, input_size=clip)
    prune_randomly(model, C3D_PAPER_PRUNING, kgs.GroupShape(8, 4), seed=1)
    compiled = assert_matches_eager(model, example_input("c3d", batch=2, input_size=clip))
    assert [round(c.kept_fraction, 3) for c in compiled.convs][1:4] == [0.148, 0.185, 0.148]


def test_r2plus1d_with_tail_channels_and_folded_norms():
    model = randomize_norms(build_model("r2plus1d_18", width=0.25))
    compiled = assert_matches_eager(model, example_input("r2plus1d_18", input_size=(4, 32, 32)))
    channels = {c.weight_shape[1] for c in compiled.convs}
    assert any(c % 4 for c in channels), channels  # mid-channel counts that are not multiples of the group


def test_s3d_building_blocks():
    # The S3D-specific code: 1x7x7 / 7x1x1 stride-2 separable stem, Inception concat, 3x3x3 stride-1 max pool.
    stem = randomize_norms(separable_conv(3, 8, 7, 2, 3))
    assert_matches_eager(stem, torch.randn(1, 3, 8, 24, 24))
    inception = randomize_norms(SepInception(12, 4, 6, 8, 2, 4, 4))
    assert_matches_eager(inception, torch.randn(1, 12, 4, 6, 6))


@pytest.mark.slow
def test_whole_s3d():
    assert_matches_eager(randomize_norms(build_model("s3d", width=0.25)), example_input("s3d", input_size=(8, 64, 64)))


class SharedInputs(nn.Module):
    """Two convs read one input, equal shapes everywhere: torch-mlir shares one tensor.empty among them."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv3d(8, 8, 1, bias=False)
        self.second = nn.Conv3d(8, 8, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.third = nn.Conv3d(8, 8, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.third(torch.relu(self.first(x))) + self.second(x)


def test_convs_sharing_inputs_and_destinations():
    assert_matches_eager(SharedInputs().eval(), torch.randn(1, 8, 2, 6, 8))


def test_thread_count_does_not_change_results():
    model = SharedInputs().eval()
    example = torch.randn(1, 8, 2, 6, 8)
    compiled = rt3d_mlir.compile(model, example, threads=1)
    single = compiled(example)
    compiled.set_threads(2)
    assert torch.equal(compiled(example), single)  # threads split filters: same arithmetic per output


def test_linear_layers_in_column_blocks_across_threads():
    # fc widths around the block size (8 vectors): 300 = 2 full 128-column blocks (AVX-512) + a
    # 44-column tail, 37 = a tail only; batch 3 so the rows loop too. Blocks split the columns,
    # so each output's sum is the same whatever the thread count.
    model = nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 2 * 5 * 6, 300), nn.ReLU(), nn.Linear(300, 37)
    ).eval()
    example = torch.randn(3, 2, 2, 5, 6)
    compiled = assert_matches_eager(model, example, threads=2)
    compiled.set_threads(2)
    both = compiled(example)
    compiled.set_threads(1)
    assert torch.equal(compiled(example), both)


def test_folding_keeps_kgs_zeros_and_numerics():
    model = randomize_norms(nn.Sequential(nn.Conv3d(4, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU()))
    with torch.no_grad():
        model[0].weight[:, :, 1] = 0
    folded, count = fold_batch_norms(model)
    assert count == 1 and not any(isinstance(m, nn.BatchNorm3d) for m in folded.modules())
    assert torch.equal(folded.get_submodule("0").weight[:, :, 1], torch.zeros(8, 4, 3, 3))
    x = torch.randn(1, 4, 3, 5, 5)
    torch.testing.assert_close(folded(x), model(x))


def test_two_norms_in_a_row_both_fold_into_the_conv():
    # the second fold once started from the unfolded conv, dropping the first norm
    model = randomize_norms(nn.Sequential(nn.Conv3d(2, 3, 1), nn.BatchNorm3d(3), nn.BatchNorm3d(3)))
    folded, count = fold_batch_norms(model)
    assert count == 2 and not any(isinstance(m, nn.BatchNorm3d) for m in folded.modules())
    x = torch.randn(1, 2, 2, 3, 3)
    torch.testing.assert_close(folded(x), model(x))


def test_bad_inputs_and_targets_are_user_errors():
    model = SharedInputs().eval()
    example = torch.randn(1, 8, 2, 6, 8)
    with pytest.raises(UserError, match="target 'riscv' is not supported"):
        rt3d_mlir.compile(model, example, target="riscv")
    with pytest.raises(UserError, match="unknown GPU target ''"):
        rt3d_mlir.compile(model, example, target="vulkan-")
    compiled = rt3d_mlir.compile(model, example)
    with pytest.raises(UserError, match=r"input 0 must be a float32 tensor of shape \(1, 8, 2, 6, 8\)"):
        compiled(torch.randn(1, 8, 2, 6, 9))
    with pytest.raises(UserError, match="takes 1 input"):
        compiled(example, example)
    with pytest.raises(UserError, match="at least 1"):
        compiled.set_threads(0)


class SharedConv(nn.Module):
    """One conv module called twice, once feeding a batch norm: folding must leave it alone."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(4, 4, 1)
        self.norm = nn.BatchNorm3d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x)) + self.conv(x)


def test_a_conv_called_twice_is_not_folded():
    model = randomize_norms(SharedConv())
    folded, count = fold_batch_norms(model)
    assert count == 0
    x = torch.randn(1, 4, 2, 3, 3)
    torch.testing.assert_close(folded(x), model(x))


def test_the_dumped_object_maps_onto_the_jit_code_by_one_offset(tmp_path) -> None:
    # bench/profile_model.py places the dumped object's symbols at one load offset: two functions
    # the JIT resolves must agree on it (raw lookups return the packed wrappers, _mlir_<name>).
    model = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.ReLU()).eval()
    compiled = rt3d_mlir.compile(model, torch.randn(1, 2, 3, 5, 6))
    compiled.jit.dump_object(tmp_path / "model.o")
    listing = subprocess.run(["llvm-nm-19", "--defined-only", str(tmp_path / "model.o")], capture_output=True, text=True,
                             check=True).stdout
    offsets = {parts[2]: int(parts[0], 16) for parts in (line.split() for line in listing.splitlines()) if len(parts) == 3}
    main_base = compiled.jit.address_of("main") - offsets["_mlir_main"]
    interface_base = compiled.jit.address_of("_mlir_ciface_main") - offsets["_mlir__mlir_ciface_main"]
    assert main_base == interface_base != 0
