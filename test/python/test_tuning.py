"""Measured tuning: rt3d tune / compile(tune=...) time candidates, cache the winners, later compiles read them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch_mlir import ir

import rt3d_mlir
from rt3d_mlir.cli import ALGORITHMS_HEADING, SCHEDULES_HEADING
from rt3d_mlir.dialect.geometry import find_kgs_convs
from rt3d_mlir.dialect.sparse3d import ALGORITHM
from rt3d_mlir.importer import import_model
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.pipelines import DETECT, KGS_BEFORE_TILE
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
    tuned = rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache, threads=1, direct_only=True)
    assert len(tuned.tuning) == 2 and not any(result.cached for result in tuned.tuning)
    assert tuned.algorithm_tuning == []  # direct_only: no algorithm to time
    for result in tuned.tuning:
        kernels = {name.split("(")[0] for name in result.times_ms}
        assert kernels == {"Schedule", "FilterSchedule"}  # the best two of each kernel were timed
        assert result.times_ms[str(result.choice)] == min(result.times_ms.values())
    data = json.loads(cache.read_text())
    assert data["format"] == CACHE_FORMAT and len(data["entries"]) == 2
    again = rt3d_mlir.compile(model, clip, tuning_cache=cache, threads=1, direct_only=True)
    # the same kernels, from the cache alone (weight blobs are numbered per process: compare without the numbers)
    assert _unnumbered(again.kernel_ir) == _unnumbered(tuned.kernel_ir)
    torch.testing.assert_close(again(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)
    retimed = rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache, threads=1, direct_only=True)
    assert all(result.cached for result in retimed.tuning)


def test_tuning_times_direct_against_winograd_and_a_later_compile_reproduces_it_from_the_cache(tmp_path: Path) -> None:
    model, clip = small_model()
    cache = tmp_path / "tuning.json"
    tuned = rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache, threads=1)
    assert len(tuned.algorithm_tuning) == 2 and not any(result.cached for result in tuned.algorithm_tuning)
    for result in tuned.algorithm_tuning:
        # FAST has 2 candidates: direct and the cost model's best Winograd, each compiled whole and timed
        assert len(result.times_ms) == 2 and "direct" in result.times_ms
        assert any(name.startswith("winograd<") for name in result.times_ms)
        assert result.times_ms[str(result.choice)] == min(result.times_ms.values())
    assert tuned.algorithms == [str(result.choice) for result in tuned.algorithm_tuning]
    entries = json.loads(cache.read_text())["entries"]
    assert sum("|algorithm|rows=" in key for key in entries) == 2
    again = rt3d_mlir.compile(model, clip, tuning_cache=cache, threads=1)
    assert again.algorithms == tuned.algorithms
    assert _unnumbered(again.kernel_ir) == _unnumbered(tuned.kernel_ir)
    torch.testing.assert_close(again(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)
    retimed = rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache, threads=1)
    assert all(result.cached for result in retimed.algorithm_tuning + retimed.tuning)


@pytest.fixture(scope="module")
def tuned_entries(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The small model's tuning cache entries (algorithms and schedules), tuned once for the tests below."""
    model, clip = small_model()
    cache_path = tmp_path_factory.mktemp("tuned") / "tuning.json"
    rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache_path, threads=1)
    return json.loads(cache_path.read_text())


def _with_algorithm_entries(tuned: dict, cache_path: Path, algorithm: str) -> None:
    """Writes the ``tuned`` cache to ``cache_path`` with every algorithm entry saying ``algorithm``."""
    data = json.loads(json.dumps(tuned))
    for key, entry in data["entries"].items():
        if "|algorithm|" in key:
            entry["algorithm"] = algorithm
    cache_path.write_text(json.dumps(data))


FORCED = "winograd<w, 2>"  # not the cost model's choice for either conv of the small model


def test_a_cached_algorithm_overrides_the_cost_model(tmp_path: Path, tuned_entries: dict) -> None:
    model, clip = small_model()
    assert rt3d_mlir.compile(model, clip, tuning_cache=tmp_path / "none.json", threads=1).algorithms != [FORCED] * 2
    cache_path = tmp_path / "tuning.json"
    _with_algorithm_entries(tuned_entries, cache_path, FORCED)
    compiled = rt3d_mlir.compile(model, clip, tuning_cache=cache_path, threads=1)
    assert compiled.algorithms == [FORCED] * 2
    torch.testing.assert_close(compiled(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)
    # with direct_only the cache's algorithms are not read
    assert rt3d_mlir.compile(model, clip, tuning_cache=cache_path, threads=1, direct_only=True).algorithms == ["direct"] * 2


def test_the_choose_algorithm_pass_reads_the_cache(tmp_path: Path, tuned_entries: dict) -> None:
    model, clip = small_model()
    cache_path = tmp_path / "tuning.json"
    _with_algorithm_entries(tuned_entries, cache_path, FORCED)
    module = import_model(model, clip)
    front = ", ".join((DETECT, *KGS_BEFORE_TILE))
    run_pipeline(module, f"{front}, sparse3d-choose-algorithm{{target=host tuning-cache={cache_path}}}")
    assert [ir.StringAttr(op.attributes[ALGORITHM]).value for op in find_kgs_convs(module.operation)] == [FORCED] * 2


@pytest.mark.parametrize("algorithm, problem", [
    ("fast", "expected 'direct' or 'winograd<AXES, M>'"),
    ("winograd<d, 4>", "winograd<d, 4> does not fit a conv of kernel (3, 3, 3) and output (2,"),  # D = 2 < the tile
])
def test_a_cached_algorithm_the_conv_cannot_take_is_reported_and_ignored(tmp_path: Path, algorithm: str, problem: str,
                                                                         tuned_entries: dict, capfd) -> None:
    model, clip = small_model()
    expected = rt3d_mlir.compile(model, clip, tuning_cache=tmp_path / "none.json", threads=1).algorithms
    cache_path = tmp_path / "tuning.json"
    _with_algorithm_entries(tuned_entries, cache_path, algorithm)
    capfd.readouterr()
    compiled = rt3d_mlir.compile(model, clip, tuning_cache=cache_path, threads=1)
    assert compiled.algorithms == expected  # the cost model's choice
    warnings = [line for line in capfd.readouterr().err.splitlines() if "ignoring a tuning cache entry" in line]
    assert len(warnings) == 2 and all(problem in line for line in warnings), warnings
    torch.testing.assert_close(compiled(clip), model(clip).detach(), rtol=1e-4, atol=1e-4)


def test_a_cached_schedule_overrides_the_cost_model(tmp_path: Path) -> None:
    # W = 7 and dense: the cost model picks filter-vectors; a cache entry saying w-vectors wins.
    model, clip = small_model()
    cache_path = tmp_path / "tuning.json"
    rt3d_mlir.compile(model, clip, tune=FAST, tuning_cache=cache_path, threads=1, direct_only=True)
    cache = TuningCache.load(cache_path)
    forced = Schedule(vector_lanes=8, filters=2, rows=1, w_vectors=1, channel_groups=1, threads=1)
    for key in cache.entries:
        cache.store(key, forced, {})
    cache.save()
    compiled = rt3d_mlir.compile(model, clip, tuning_cache=cache_path, threads=1, direct_only=True)
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
    algorithms, schedules = result.stdout.split(SCHEDULES_HEADING)
    assert algorithms.startswith(ALGORITHMS_HEADING) and " ms with " in algorithms and "direct" in algorithms
    # the model's first conv (3 input channels) can take Winograd: numbered as the model numbers it
    assert algorithms.splitlines()[1].startswith("  conv0 3->")
    entries = json.loads(cache.read_text())["entries"]
    assert len(entries) >= 4 and any("|algorithm|" in key for key in entries)
    bad = subprocess.run([*command[:-6], "--cache", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("rt3d: error: --cache")
