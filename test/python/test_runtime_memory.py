"""A compiled model's calls neither leak nor page-fault: activations are freed and their pages reused."""

from __future__ import annotations

import resource

import torch

import rt3d_mlir


def _resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def test_calls_free_their_activations_and_reuse_their_pages() -> None:
    torch.manual_seed(0)
    # ~40 MB of activations per call, in blocks above glibc's 32 MiB mmap threshold too
    model = torch.nn.Sequential(
        torch.nn.Conv3d(4, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(16, 8, 3, padding=1), torch.nn.ReLU(),
    ).eval()
    clip = torch.randn(1, 4, 8, 128, 128)
    compiled = rt3d_mlir.compile(model, clip, target="host", threads=1)
    for _ in range(2):
        compiled(clip)
    before, faults_before = _resident_bytes(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    calls = 8
    for _ in range(calls):
        compiled(clip)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
    growth = _resident_bytes() - before
    # A leak grows by a call's activations (~40 MB) per call; fresh pages fault ~10,000 times per call.
    assert growth < 8 << 20, f"resident memory grew by {growth >> 20} MiB over {calls} calls"
    assert faults / calls < 500, f"{faults / calls:.0f} page faults per call"
    torch.testing.assert_close(compiled(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)
