"""Models that once crashed the process, run in a child process with a timeout so a regression cannot take the suite down."""

from __future__ import annotations

import subprocess
import sys

ALL_ZERO_CONV = """
import torch, rt3d_mlir
model = torch.nn.Sequential(torch.nn.Conv3d(1, 1, 1, bias=False))
with torch.no_grad():
    model[0].weight.zero_()
x = torch.randn(1, 1, 4, 4, 4)
compiled = rt3d_mlir.compile(model, x, target="host")
print(float((compiled(x) - model(x).detach()).abs().max()))
"""


def test_all_zero_conv_compiles_and_runs_without_sigfpe() -> None:
    # an empty dense_resource of weights made MLIR's LLVM translation divide by zero (exit 136)
    done = subprocess.run([sys.executable, "-c", ALL_ZERO_CONV], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) == 0.0


STRIDED_DILATED_KGS_CONV = """
import time, torch, rt3d_mlir
torch.manual_seed(0)
conv = torch.nn.Conv3d(5, 22, (1, 1, 3), stride=(1, 2, 1), padding=(1, 2, 2), dilation=(1, 1, 2), bias=False)
with torch.no_grad():
    for first_filter in range(0, 22, 8):  # 8x4 kernel groups, each with its own zeroed positions
        for first_channel in range(0, 5, 4):
            conv.weight[first_filter:first_filter + 8, first_channel:first_channel + 4, ..., torch.rand(3) < 0.5] = 0
bn = torch.nn.BatchNorm3d(22).eval()
with torch.no_grad():
    bn.running_mean.uniform_(-1, 1); bn.running_var.uniform_(0.5, 2); bn.weight.uniform_(0.5, 2); bn.bias.uniform_(-1, 1)
model = torch.nn.Sequential(conv, bn).eval()
x = torch.randn(2, 5, 5, 17, 20)
compiled = rt3d_mlir.compile(model, x, target="host", group_shape="8x4")
reference = model(x).detach()
for _ in range(3):
    start = time.perf_counter()
    error = float((compiled(x) - reference).abs().max() / reference.abs().max())
    print(time.perf_counter() - start, error)
"""


def test_strided_dilated_kgs_conv_returns_promptly() -> None:
    # a fuzz campaign saw one call of this model take 441 s (right answer); it runs in well under a second
    done = subprocess.run([sys.executable, "-c", STRIDED_DILATED_KGS_CONV], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    calls = [tuple(map(float, line.split())) for line in done.stdout.strip().splitlines()[-3:]]
    assert all(seconds < 20 and error < 1e-5 for seconds, error in calls), calls
