"""The same input gives byte-identical output: run after run in one process, and in separate processes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch_mlir import ir

import rt3d_mlir
from rt3d_mlir.constants import ResourceNames, resource_names
from rt3d_mlir.dialect import make_context
from rt3d_mlir.tools import rt3d_opt

PASSES = Path(__file__).parents[1] / "Passes"
PIPELINES = [
    pytest.param(PASSES / "kgs-lower.mlir", "--kgs-lower", id="kgs-lower"),
    pytest.param(PASSES / "kgs-to-spirv.mlir", "--kgs-to-spirv", id="kgs-to-spirv"),
]


def rt3d_opt_in_this_process(source: Path, pipeline: str, output: Path) -> bytes:
    assert rt3d_opt.main([str(source), pipeline, "-o", str(output)]) == 0
    return output.read_bytes()


def rt3d_opt_in_a_new_process(source: Path, pipeline: str, output: Path, hash_seed: str) -> bytes:
    # Different hash seeds: an output that followed the iteration order of a set of strings would differ.
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    command = [sys.executable, "-m", "rt3d_mlir.tools.rt3d_opt", str(source), pipeline, "-o", str(output)]
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return output.read_bytes()


@pytest.mark.parametrize("source, pipeline", PIPELINES)
def test_rt3d_opt_gives_the_same_bytes_twice_in_one_process_and_in_other_processes(source, pipeline, tmp_path) -> None:
    first = rt3d_opt_in_this_process(source, pipeline, tmp_path / "first.mlir")
    assert rt3d_opt_in_this_process(source, pipeline, tmp_path / "second.mlir") == first
    for hash_seed in ("1", "2"):
        assert rt3d_opt_in_a_new_process(source, pipeline, tmp_path / f"process-{hash_seed}.mlir", hash_seed) == first


def test_new_resource_names_are_the_lowest_free_ones_in_the_module() -> None:
    with make_context():
        module = ir.Module.parse("""
func.func @f() -> (tensor<1xf32>, tensor<1xf32>, tensor<1xi8>) {
  %0 = arith.constant dense_resource<kgs_values_0> : tensor<1xf32>
  %1 = arith.constant dense_resource<kgs_values_2> : tensor<1xf32>
  %2 = arith.constant {unreadable = array<si32: 1>} dense_resource<"kgs values 1"> : tensor<1xi8>
  return %0, %1, %2 : tensor<1xf32>, tensor<1xf32>, tensor<1xi8>
}""")
        assert resource_names(module.operation) == {"kgs_values_0", "kgs_values_2", "kgs values 1"}
        names = ResourceNames(module.operation)
        assert [names.fresh("kgs_values") for _ in range(3)] == ["kgs_values_1", "kgs_values_3", "kgs_values_4"]
        assert names.fresh("folded_transpose") == "folded_transpose_0"


def test_two_compiles_of_one_model_in_one_process_give_the_same_kernel_ir(tmp_path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv3d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(8, 8, 3, padding=1))
    clip = torch.randn(1, 4, 2, 5, 6)
    no_cache = tmp_path / "no-tuning-cache.json"  # not there: schedules from the cost model both times
    first, second = (rt3d_mlir.compile(model, clip, tuning_cache=no_cache, threads=1) for _ in range(2))
    assert second.kernel_ir == first.kernel_ir
    assert "kgs_values_0" in first.kernel_ir and "kgs_values_1" in first.kernel_ir
