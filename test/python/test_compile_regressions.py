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
