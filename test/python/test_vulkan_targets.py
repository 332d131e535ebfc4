"""GPU targets and the GPU schedule strategy (no device needed): IR round trip, limits, the compact layout the kernel reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_mlir import ir

from rt3d_mlir import kgs
from rt3d_mlir.codegen.gpu_kgs_kernel import emit_gpu_kgs_function, value_bases
from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.codegen.kernel_init import InitKind
from rt3d_mlir.dialect import make_context
from rt3d_mlir.errors import UserError
from rt3d_mlir.groups import GroupShape
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.pipeline import run_pipeline
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


# M=10 (a 2-filter tail block), C=6 (a 2-channel tail group), a bias init, 2 outputs per thread.
_GPU_CONV = """
module attributes {sparse3d.gpu_target = {compute_units = 16 : i64, max_invocations = 512 : i64, max_storage_buffer_bytes = 134217728 : i64, max_workgroup_count = array<i64: 65535, 65535, 65535>, max_workgroup_size = array<i64: 512, 512, 512>, name = "mali-valhall", shared_memory_bytes = 32768 : i64, subgroup_size = 16 : i64}} {
  func.func @conv(%in: tensor<1x6x3x4x5xf32>, %bias: tensor<10xf32>) -> tensor<1x10x3x4x5xf32> {
    %empty = tensor.empty() : tensor<1x10x3x4x5xf32>
    %init = linalg.broadcast ins(%bias : tensor<10xf32>) outs(%empty : tensor<1x10x3x4x5xf32>) dimensions = [0, 2, 3, 4]
    %values = arith.constant dense<1.0> : tensor<112xf32>
    %offsets = arith.constant dense<[0, 2, 4, 5, 7]> : tensor<5xi64>
    %positions = arith.constant dense<[0, 13, 1, 26, 4, 5, 6]> : tensor<7xi64>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, sparse3d.gpu_schedule = {outputs_per_thread = 2 : i64, workgroup_size = 16 : i64}} : (tensor<1x6x3x4x5xf32>, tensor<112xf32>, tensor<5xi64>, tensor<7xi64>, tensor<1x10x3x4x5xf32>) -> tensor<1x10x3x4x5xf32>
    return %0 : tensor<1x10x3x4x5xf32>
  }
}
"""


def test_gpu_kernel_is_built_with_the_ir_builders(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(*_: object, **__: object) -> None:
        raise AssertionError("sparse3d-to-gpu parsed MLIR text")

    with make_context():
        module = ir.Module.parse(_GPU_CONV)
        monkeypatch.setattr(ir.Module, "parse", staticmethod(no_parsing))
        monkeypatch.setattr(ir.Operation, "parse", staticmethod(no_parsing))
        run_pipeline(module, "sparse3d-to-gpu")
        assert module.operation.verify()
        (launch,) = ops_named(module.operation, "gpu.launch")
        # 60 outputs in tiles of 2 x 16, 2 filter blocks, 1 batch item; 16 threads
        sizes = [ir.IntegerAttr(operand.owner.attributes["value"]).value for operand in launch.operands]
        assert sizes == [2, 2, 1, 16, 1, 1]
        # per (kept position, channel): 2 weight vec4s, and per owned position one input and 2 FMAs
        assert len(ops_named(launch, "vector.from_elements")) == 2
        assert len(ops_named(launch, "vector.fma")) == 2 * 2
        # per owned position: whether it is in range, then per filter of the block whether the block has it
        assert len(ops_named(launch, "scf.if")) == 2 * (1 + 8)
        bias_loads = [op for op in ops_named(launch, "memref.load") if str(op.operands[0].type) == "memref<10xf32>"]
        assert len(bias_loads) == 2 * 8


def test_f16_arithmetic_needs_f16_weights() -> None:
    geometry = _geometry(6, 10, (3, 4, 5))
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        f32, i32 = ir.F32Type.get(), ir.IntegerType.get_signless(32)
        types = [ir.RankedTensorType.get(shape, element) for shape, element in (
            ([1, 6, 3, 4, 5], f32), ([112], f32), ([5], i32), ([7], i32), ([4], i32), ([10], f32))]
        result = ir.RankedTensorType.get([1, 10, 3, 4, 5], f32)
        with pytest.raises(UserError, match="f16 arithmetic needs f16 weights"):
            emit_gpu_kgs_function("kernel", ir.InsertionPoint(module.body), geometry, GpuSchedule(16, 2), types,
                                  InitKind.BIAS, result, f16_math=True)
