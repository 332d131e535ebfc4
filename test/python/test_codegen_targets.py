"""Targets, the schedule strategy, and the sparse3d-tile / sparse3d-vectorize passes on IR."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch_mlir import ir

from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.conv_module import ConvSpec, build_kgs_conv3d_module, random_kgs_weight
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.dialect import make_context
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape, compact
from rt3d_mlir.passes.sparse3d_tile import Sparse3DTile
from rt3d_mlir.passes.sparse3d_vectorize import Sparse3DVectorize
from rt3d_mlir.targets import (
    PRESETS, TARGET_ATTR, Target, host_target, module_target, resolve, set_module_target, vector_fmas_per_cycle,
)
from rt3d_mlir.targets.strategy import (
    SCHEDULE_ATTR,
    Schedule,
    choose_schedule,
    registers_needed,
    slab_bytes_per_channel,
)

G84 = GroupShape(8, 4)

# C3D's pruned layers at 16x112x112 input (all 3x3x3, padding 1).
C3D_LAYERS = {
    "conv2a": (64, 128, (16, 56, 56)),
    "conv3a": (128, 256, (8, 28, 28)),
    "conv3b": (256, 256, (8, 28, 28)),
    "conv4b": (512, 512, (4, 14, 14)),
}


def c3d_geometry(layer: str) -> ConvGeometry:
    in_channels, out_channels, size = C3D_LAYERS[layer]
    return ConvGeometry(1, in_channels, size, out_channels, (3, 3, 3), (1, 1, 1), (1,) * 6, (1, 1, 1), G84)


def small_module() -> ir.Module:
    weight = random_kgs_weight((16, 8, 3, 3, 3), G84, 0.3, torch.Generator().manual_seed(0))
    return build_kgs_conv3d_module(compact(weight, G84), ConvSpec((1, 8, 4, 6, 20), padding=(1,) * 6))


def test_target_attribute_round_trip() -> None:
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        set_module_target(module, PRESETS["aarch64-neon"])
        text = str(module)
        assert (
            f'{TARGET_ATTR} = {{cores = 1 : i64, l1_bytes = 65536 : i64, name = "aarch64-neon", '
            "vector_fmas_per_cycle = 2 : i64, vector_lanes = 4 : i64" in text
        )
        assert module_target(ir.Module.parse(text)) == PRESETS["aarch64-neon"]
        half_rate = replace(PRESETS["host-avx512"], vector_fmas_per_cycle=1)
        set_module_target(module, half_rate)
        assert module_target(ir.Module.parse(str(module))) == half_rate


def test_target_attribute_without_fma_rate_means_two_and_a_bad_rate_is_an_error() -> None:
    """IR written before vector_fmas_per_cycle existed still parses (two FMAs per cycle); 0 or 8 do not."""
    fields = 'cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64'
    with make_context():
        target = Target.from_attr(ir.Attribute.parse("{" + fields + "}"))
        assert target == replace(PRESETS["host-avx2"], cores=2) and target.vector_fmas_per_cycle == 2
        for rate in (0, 8):
            with pytest.raises(UserError, match="vector_fmas_per_cycle must be from 1 to 4"):
                Target.from_attr(ir.Attribute.parse("{" + fields + f", vector_fmas_per_cycle = {rate} : i64}}"))


@pytest.mark.parametrize(
    "preset, cpu, rate",
    [
        ("host-avx512", {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "17"}, 1),  # Zen 4 EPYC
        ("host-avx2", {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "1"}, 2),  # Zen 3
        ("host-avx512", {"vendor_id": "AuthenticAMD", "cpu family": "26", "model": "2"}, 2),  # Zen 5
        ("host-avx2", {"vendor_id": "AuthenticAMD", "cpu family": "23", "model": "1"}, 1),  # Zen 1 EPYC
        ("host-avx2", {"vendor_id": "AuthenticAMD", "cpu family": "23", "model": "49"}, 2),  # Zen 2 EPYC
        ("host-avx512", {"vendor_id": "GenuineIntel", "cpu family": "6", "model": "207"}, 2),  # Emerald Rapids
        ("host-avx512", {}, 2),  # no /proc/cpuinfo
    ],
)
def test_fma_rate_from_cpuinfo(preset: str, cpu: dict[str, str], rate: int) -> None:
    assert vector_fmas_per_cycle(preset, cpu) == rate


def test_presets_and_host() -> None:
    assert (PRESETS["host-avx512"].vector_lanes, PRESETS["host-avx512"].vector_registers) == (16, 32)
    assert (PRESETS["host-avx2"].vector_lanes, PRESETS["host-avx2"].vector_registers) == (8, 16)
    assert (PRESETS["aarch64-neon"].vector_lanes, PRESETS["aarch64-neon"].vector_registers) == (4, 32)
    host = resolve("host")
    assert host == host_target() and host.cores >= 1 and host.name in PRESETS
    with pytest.raises(UserError, match="unknown target 'sse2'"):
        resolve("sse2")
    with pytest.raises(UserError, match="power of two"):
        Target("odd", vector_lanes=6, vector_registers=16, l1_bytes=32 << 10, cores=1)


def test_schedule_attribute_round_trip() -> None:
    schedule = Schedule(vector_lanes=16, filters=8, rows=1, w_vectors=3, channel_groups=4, threads=2)
    with ir.Context():
        attr = schedule.to_attr()
        assert str(attr) == (
            "{channel_groups = 4 : i64, filters = 8 : i64, rows = 1 : i64, threads = 2 : i64, "
            "vector_lanes = 16 : i64, w_vectors = 3 : i64}"
        )
        assert Schedule.from_attr(attr) == schedule
        with pytest.raises(UserError, match="lacks w_vectors"):
            Schedule.from_attr(
                ir.Attribute.parse("{channel_groups = 1, filters = 8, rows = 1, threads = 2, vector_lanes = 16}")
            )


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("layer", sorted(C3D_LAYERS))
def test_strategy_fits_the_register_file(preset: str, layer: str) -> None:
    target = PRESETS[preset]
    schedule = choose_schedule(target, c3d_geometry(layer))
    assert schedule.vector_lanes == target.vector_lanes and schedule.threads == target.cores
    assert registers_needed(schedule.filters, schedule.rows * schedule.w_vectors) <= target.vector_registers
    assert schedule.filters <= G84.filters
    # The block should use most of the register file: a tiny block would waste FMA issue slots.
    assert schedule.accumulators >= target.vector_registers // 2


@pytest.mark.parametrize("layer", sorted(C3D_LAYERS))
def test_channel_chunks_fit_twice_the_l1(layer: str) -> None:
    target = PRESETS["host-avx2"]
    geometry = c3d_geometry(layer)
    schedule = choose_schedule(target, geometry)
    per_channel = slab_bytes_per_channel(geometry, schedule.vector_lanes, schedule.rows)
    chunk_bytes = schedule.channel_groups * G84.channels * per_channel
    budget = 2 * target.l1_bytes
    assert chunk_bytes <= budget or schedule.channel_groups == 1
    # ... and as big as that allows (or the whole reduction).
    assert schedule.channel_groups == geometry.group_grid[1] or chunk_bytes + G84.channels * per_channel > budget


def test_strategy_follows_the_target() -> None:
    geometry = c3d_geometry("conv3b")
    avx2 = choose_schedule(PRESETS["host-avx2"], geometry)
    avx512 = choose_schedule(PRESETS["host-avx512"], geometry)
    assert avx512.accumulators > avx2.accumulators  # twice the registers, bigger block


def test_tile_pass_records_schedules_from_the_module_target() -> None:
    with make_context(), ir.Location.unknown():
        module = small_module()
        set_module_target(module, PRESETS["host-avx512"])
        Sparse3DTile().apply(module.operation)
        (op,) = find_kgs_convs(module.operation)
        schedule = Schedule.from_attr(op.attributes[SCHEDULE_ATTR])
        assert schedule == choose_schedule(PRESETS["host-avx512"], ConvGeometry.of(op))
        assert "sparse3d.schedule = {channel_groups = " in str(module)


def test_tile_pass_option_sets_the_target_and_keeps_given_schedules() -> None:
    given = Schedule(vector_lanes=4, filters=2, rows=2, w_vectors=1, channel_groups=1, threads=1)
    with make_context(), ir.Location.unknown():
        module = small_module()
        (op,) = find_kgs_convs(module.operation)
        op.attributes[SCHEDULE_ATTR] = given.to_attr()
        Sparse3DTile(target="host-avx2").apply(module.operation)
        assert module_target(module) == PRESETS["host-avx2"]
        assert Schedule.from_attr(op.attributes[SCHEDULE_ATTR]) == given


def test_tile_pass_without_target_fails() -> None:
    with make_context(), ir.Location.unknown():
        module = small_module()
        with pytest.raises(PassError, match="no sparse3d.target"):
            Sparse3DTile().apply(module.operation)
    with pytest.raises(UserError, match="unknown target"):
        Sparse3DTile(target="pentium")


def test_vectorize_pass_leaves_upstream_dialects_only() -> None:
    with make_context(), ir.Location.unknown():
        module = small_module()
        Sparse3DTile(target="host-avx2").apply(module.operation)
        Sparse3DVectorize().apply(module.operation)
        assert module.operation.verify()
        text = str(module)
        assert "sparse3d.kgs_conv3d" not in text
        assert "vector.fma" in text and "func.func private @kgs_conv3d_block_0(" in text
        assert "func.func private @kgs_conv3d_block_0_pad(" in text and "linalg.copy" not in text
        assert "call @kgs_conv3d_0(" in text
        dialects = {op.name.split(".")[0] for op in _all_ops(module.operation)}
        assert dialects <= {"builtin", "func", "arith", "scf", "vector", "memref", "linalg", "bufferization"}


def test_vectorize_pass_needs_a_schedule() -> None:
    with make_context(), ir.Location.unknown():
        module = small_module()
        with pytest.raises(PassError, match="run sparse3d-tile first"):
            Sparse3DVectorize().apply(module.operation)


def _all_ops(root: ir.Operation) -> list[ir.Operation]:
    ops: list[ir.Operation] = []

    def visit(op: ir.Operation) -> ir.WalkResult:
        ops.append(op)
        return ir.WalkResult.ADVANCE

    root.walk(visit)
    return ops
