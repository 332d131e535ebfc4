"""GPU targets and the GPU schedule strategy (no device needed): IR round trip, limits, the compact layout the kernel reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_mlir import ir

from rt3d_mlir import kgs
from rt3d_mlir.codegen.geometry import ConvGeometry
from rt3d_mlir.codegen.gpu_kgs_kernel import value_bases
from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape
from rt3d_mlir.targets.gpu import GPU_PRESETS, GpuTarget, resolve_gpu
from rt3d_mlir.targets.gpu_strategy import GpuSchedule, check_gpu_schedule, choose_gpu_schedule, workgroup_count


def _geometry(cin: int, cout: int, size: tuple[int, int, int], group: str = "8x4", batch: int = 1) -> ConvGeometry:
    return ConvGeometry(batch, cin, size, cout, (3, 3, 3), (1, 1, 1), (1, 1, 1, 1, 1, 1), (1, 1, 1), GroupShape.parse(group))


@pytest.mark.parametrize("name", list(GPU_PRESETS))
def test_target_round_trips_through_its_attribute(name: str) -> None:
    with ir.Context():
        target = GPU_PRESETS[name]
        assert GpuTarget.from_attr(target.to_attr()) == target
        assert f"max_compute_workgroup_invocations = {target.max_invocations}" in target.spirv_target_env()


@pytest.mark.parametrize("name", list(GPU_PRESETS))
@pytest.mark.parametrize("layer", [(64, 128, (16, 56, 56)), (512, 512, (2, 7, 7)), (6, 10, (3, 7, 9))])
def test_chosen_schedule_fits_the_target(name: str, layer: tuple) -> None:
    target = GPU_PRESETS[name]
    geometry = _geometry(*layer)
    schedule = choose_gpu_schedule(target, geometry)
    check_gpu_schedule(target, geometry, schedule)
    assert schedule.workgroup_size % target.subgroup_size == 0
    tiles, blocks, batch = workgroup_count(geometry, schedule)
    assert (tiles - 1) * schedule.tile < np.prod(geometry.out_size) <= tiles * schedule.tile
    assert blocks == -(-layer[1] // 8) and batch == 1


def test_schedule_follows_the_subgroup_size() -> None:
    small = _geometry(6, 10, (4, 6, 28))
    assert choose_gpu_schedule(resolve_gpu("mali-valhall"), small).workgroup_size == 32
    assert choose_gpu_schedule(resolve_gpu("adreno-6xx"), small).workgroup_size == 64


def test_limits_are_errors() -> None:
    mali = resolve_gpu("mali-valhall")
    geometry = _geometry(64, 128, (16, 56, 56))
    with pytest.raises(UserError, match="workgroup of 1024 threads exceeds mali-valhall's max_invocations 512"):
        check_gpu_schedule(mali, geometry, GpuSchedule(1024, 1))
    with pytest.raises(UserError, match="accumulator floats per thread exceed"):
        check_gpu_schedule(mali, _geometry(64, 128, (16, 56, 56), group="16x4"), GpuSchedule(64, 4))
    tiny = GpuTarget("tiny", 16, 64, (64, 1, 1), (8, 8, 8), 1024, 1 << 20, 1)
    with pytest.raises(UserError, match="no GPU schedule of this conv fits tiny"):
        choose_gpu_schedule(tiny, geometry)
    with pytest.raises(UserError, match="subgroup_size 128 exceeds max_invocations 64"):
        GpuTarget("bad", 128, 64, (64, 1, 1), (8, 8, 8), 1024, 1 << 20, 1)
    with pytest.raises(UserError, match="unknown GPU target 'geforce'"):
        resolve_gpu("geforce")
    with pytest.raises(UserError, match="unknown GPU target 'desktop\\+fp8'"):
        resolve_gpu("desktop+fp8")
    with pytest.raises(UserError, match="fp16_math needs fp16"):
        GpuTarget("bad", 16, 64, (64, 1, 1), (8, 8, 8), 1024, 1 << 20, 1, fp16_math=True)


def test_precision_variants() -> None:
    assert not resolve_gpu("desktop").fp16
    half = resolve_gpu("mali-valhall+fp16")
    assert half.fp16 and not half.fp16_math and half.subgroup_size == 16
    assert "Float16, StorageBuffer16BitAccess" in half.spirv_target_env() and "SPV_KHR_16bit_storage" in half.spirv_target_env()
    math_target = resolve_gpu("adreno-6xx+fp16-math")
    assert math_target.fp16 and math_target.fp16_math
    with ir.Context():
        assert GpuTarget.from_attr(math_target.to_attr()) == math_target
        assert "fp16" not in str(resolve_gpu("desktop").to_attr())


def test_value_bases_address_the_compact_layout() -> None:
    # M=10, C=6 with 8x4 groups: a filter tail (2) and a channel tail (2); random kept positions.
    generator = torch.Generator().manual_seed(0)
    group = GroupShape(8, 4)
    weight = torch.randn(10, 6, 3, 3, 3, generator=generator)
    kept = kgs.random_kept_positions(weight.shape, group, 0.4, generator)
    weight = kgs.apply_kept_positions(weight, group, kept)
    compact = kgs.compact(weight, group)
    bases = value_bases(_geometry(6, 10, (3, 4, 5)), compact.group_offsets)
    grid_n = 2
    for g, base in enumerate(bases):
        i, j = divmod(g, grid_n)
        gm, gn = min(8, 10 - 8 * i), min(4, 6 - 4 * j)
        for k, position in enumerate(compact.positions[compact.group_offsets[g]:compact.group_offsets[g + 1]]):
            for c in range(gn):
                got = compact.values[base + (k * gn + c) * gm: base + (k * gn + c + 1) * gm]
                expected = weight[8 * i: 8 * i + gm, 4 * j + c].reshape(gm, -1)[:, position].numpy()
                np.testing.assert_array_equal(got, expected)


def test_scratch_buffers_share_storage_only_when_their_uses_do_not_overlap() -> None:
    from rt3d_mlir.backends.vulkan.compiler import share_scratch_buffers
    from rt3d_mlir.backends.vulkan.program import Buffer, Dispatch, TensorSlot

    buffers = [Buffer(0, 64, "input", input_index=0), Buffer(1, 32, "constant", data_offset=0)] + [
        Buffer(i, size, "scratch") for i, size in ((2, 100), (3, 400), (4, 200), (5, 300), (6, 40))
    ]
    # a chain: 0 -> 2 -> 3 -> 4 -> 5 -> 6 (the output); each dispatch reads one buffer and writes the next
    chain = [(0, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    dispatches = [Dispatch("k", "main", [src, 1, dst], [1, 1, 1], [64, 1, 1]) for src, dst in chain]
    shared, remapped, inputs, output = share_scratch_buffers(buffers, dispatches, [TensorSlot(0, [16])], TensorSlot(6, [10]))
    by_id = {b.id: b for b in shared}
    for before, after in zip(dispatches, remapped):
        src, dst = after.bindings[0], after.bindings[2]
        assert src != dst  # a dispatch's live buffers never share storage
        assert by_id[dst].bytes >= buffers[before.bindings[2]].bytes
    # 2 and 4 (and 3 and 5) are never live together: two slots of 200 and 400 bytes hold all four.
    assert sorted(b.bytes for b in shared if b.kind == "scratch" and b.id != output.buffer) == [200, 400]
    assert by_id[output.buffer].bytes == 40 and by_id[inputs[0].buffer].kind == "input"
