"""Measured tuning: rt3d tune / compile(tune=...) time candidates, cache the winners, later compiles read them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rt3d_mlir
from rt3d_mlir.errors import UserError
from rt3d_mlir.targets.strategy import FilterSchedule, Schedule
from rt3d_mlir.backends.host.tuning import TuningOptions
from rt3d_mlir.targets.tuning_cache import CACHE_FORMAT, TuningCache, schedule_from_json, schedule_to_json

FAST = TuningOptions(candidates=2, rounds=1)


def small_model() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv3d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv3d(16, 16, 3, padding=1)).eval()
    return model, torch.randn(1, 8, 2, 6, 7)


def _unnumbered(ir_text: str) -> str:
    return re.sub(r"kgs_values_\d+", "kgs_values", ir_text)


def test_tuning_times_both_kernels_and_a_later_compile_reproduces_it_from_the_cache(tmp_path: Path) -> None:
    model, clip = small_model()
    cache = tmp_path / "tuning.json"
    tuned = rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache, threads=1)
    assert len(tuned.tuning) == 2 and not any(result.cached for result in tuned.tuning)
    for result in tuned.tuning:
        kernels = {name.split("(")[0] for name in result.times_ms}
        assert kernels == {"Schedule", "FilterSchedule"}  # the best two of each kernel were timed
        assert result.times_ms[repr(result.schedule)] == min(result.times_ms.values())
    data = json.loads(cache.read_text())
    assert data["format"] == CACHE_FORMAT and len(data["entries"]) == 2
    again = rt3d_mlir.compile(model, clip, tuning_cache=cache, threads=1)
    # the same kernels, from the cache alone (weight blobs are numbered per process: compare without the numbers)
    assert _unnumbered(again.kernel_ir) == _unnumbered(tuned.kernel_ir)
    torch.testing.assert_close(again(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)
    retimed = rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache, threads=1)
    assert all(result.cached for result in retimed.tuning)


def test_a_cached_schedule_overrides_the_cost_model(tmp_path: Path) -> None:
    # W = 7 and dense: the cost model picks filter-vectors; a cache entry saying w-vectors wins.
    model, clip = small_model()
    cache_path = tmp_path / "tuning.json"
    rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache_path, threads=1)
    cache = TuningCache.load(cache_path)
    forced = Schedule(vector_lanes=8, filters=2, rows=1, w_vectors=1, channel_groups=1, threads=1)
    for key in cache.entries:
        cache.store(key, forced, {})
    cache.save()
    compiled = rt3d_mlir.compile(model, clip, tuning_cache=cache_path, threads=1)
    assert "_weights" not in compiled.kernel_ir  # no packed filter-vectors weights: the W kernel ran
    assert "vector<8xf32>" in compiled.kernel_ir
    torch.testing.assert_close(compiled(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("content", ["not json", json.dumps({"format": "other"}), json.dumps([1, 2])])
def test_a_corrupt_or_foreign_cache_is_reported_in_one_line_and_ignored(tmp_path: Path, content: str, capfd) -> None:
    model, clip = small_model()
    cache = tmp_path / "tuning.json"
    cache.write_text(content)
    compiled = rt3d_mlir.compile(model, clip, tuning_cache=cache, threads=1)
    torch.testing.assert_close(compiled(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)
    lines = [line for line in capfd.readouterr().err.splitlines() if "tuning cache" in line]
    assert len(lines) == 1 and lines[0].startswith(f"rt3d: warning: ignoring the tuning cache {cache}")


def test_a_bad_cache_entry_is_reported_and_ignored(tmp_path: Path, capfd) -> None:
    cache = TuningCache(tmp_path / "tuning.json", {"key": {"schedule": {"filters": "eight"}}})
    assert cache.lookup("key") is None
    assert "ignoring a tuning cache entry" in capfd.readouterr().err
    assert cache.lookup("other") is None


def test_schedules_round_trip_through_json() -> None:
    for schedule in (Schedule(16, 8, 3, 1, 4, 2), FilterSchedule(16, 2, 2, 7, 32, 2)):
        assert schedule_from_json(json.loads(json.dumps(schedule_to_json(schedule)))) == schedule


def test_tune_is_for_host_targets_only() -> None:
    model, clip = small_model()
    with pytest.raises(UserError, match="host targets only"):
        rt3d_mlir.compile(model, clip, target="vulkan", tune=True)


def test_rt3d_tune_command(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    command = [sys.executable, "-m", "rt3d_mlir.cli", "tune", "c3d", "--width", "0.125", "--input-size", "16x16x16",
               "--cache", str(cache), "--candidates", "2", "--rounds", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("conv") >= 8 and " ms with " in result.stdout
    assert len(json.loads(cache.read_text())["entries"]) >= 4
    bad = subprocess.run([*command[:-6], "--cache", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("rt3d: error: --cache")
