"""``parallel-loops-to-gpu-grid``: map each outermost ``scf.parallel`` to a flat grid of workgroups x threads.

Upstream ``gpu-map-parallel-loops`` maps the first three loop dimensions to the grid and
runs the rest sequentially inside one thread, which for NCDHW tensors leaves one
thread per workgroup. This pass linearises all of a loop's dimensions instead.

Input (after ``convert-linalg-to-parallel-loops``)::

  scf.parallel (%c, %d, %h, %w) = (%c0, %c0, %c0, %c0) to (%c64, %c16, %c56, %c56) step (%c1, %c1, %c1, %c1) {
    %x = memref.load %in[%c0, %c, %d, %h, %w] : memref<1x64x16x56x56xf32>
    ...
  }

Output: ``scf.parallel (%by, %bx)`` mapped to ``block_y``/``block_x`` around ``scf.parallel (%t)`` mapped to
``thread_x``; the body runs under ``scf.if`` on ``linear < total`` with the original indices
recovered by div/rem. ``convert-parallel-loops-to-gpu`` then makes the ``gpu.launch``.
The workgroup size comes from the option, else from the module's ``sparse3d.gpu_target``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch_mlir import ir
from torch_mlir.dialects import arith, scf

from rt3d_mlir.constants import defining_op
from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass, option
from rt3d_mlir.targets.gpu import GPU_TARGET_ATTR, GpuTarget, module_gpu_target

_ELEMENTWISE_WORKGROUP = 64  # threads: a multiple of every preset's subgroup size


def elementwise_workgroup_size(target: GpuTarget) -> int:
    """Threads per workgroup for the non-conv kernels: 64, rounded to whole subgroups, within the limits."""
    size = max(target.subgroup_size, _ELEMENTWISE_WORKGROUP // target.subgroup_size * target.subgroup_size)
    return min(size, target.max_invocations, target.max_workgroup_size[0])


def _static_int(value: ir.Value) -> int | None:
    owner = defining_op(value)
    if owner is None or owner.name != "arith.constant":
        return None
    return ir.IntegerAttr(owner.attributes["value"]).value


def _mapping(*processors: str) -> ir.ArrayAttr:
    return ir.ArrayAttr.get([
        ir.Attribute.parse(f"#gpu.loop_dim_map<processor = {name}, map = (d0) -> (d0), bound = (d0) -> (d0)>")
        for name in processors
    ])


@dataclass(frozen=True)
class ParallelLoopsToGpuGrid(ModulePass):
    name = "parallel-loops-to-gpu-grid"
    summary = "Map each outermost scf.parallel onto a linear grid of workgroups x threads (gpu mapping attributes)"

    workgroup_size: int | None = option(None, f"threads per workgroup; unset: 64 within the limits of the module's {GPU_TARGET_ATTR}")

    def __post_init__(self) -> None:
        if self.workgroup_size is not None and self.workgroup_size < 1:
            raise UserError(f"pass '{self.name}': option 'workgroup-size' must be at least 1 (unset: from the GPU target), got {self.workgroup_size}")

    def apply(self, module: ir.Operation) -> None:
        size = self.workgroup_size
        max_groups = 65535  # Vulkan's guaranteed maxComputeWorkGroupCount per dimension
        if size is None:
            try:
                target = module_gpu_target(module)
            except UserError as error:
                raise PassError(f"{error} (or give workgroup-size)", module.location) from None
            size, max_groups = elementwise_workgroup_size(target), min(target.max_workgroup_count[:2])
        for loop in ops_named(module, "scf.parallel"):
            if _inside_parallel_or_launch(loop):
                continue
            self._map(loop, size, max_groups)

    @staticmethod
    def _map(loop: ir.Operation, size: int, max_groups: int) -> None:
        dims = len(loop.regions[0].blocks[0].arguments)
        lower, upper, step = (loop.operands[i * dims:(i + 1) * dims] for i in range(3))
        bounds = [[_static_int(v) for v in group] for group in (lower, upper, step)]
        if len(loop.results) or any(v is None for group in bounds for v in group):
            raise PassError("parallel-loops-to-gpu-grid needs a static scf.parallel without reductions", loop.location)
        extents = [max(0, math.ceil((hi - lo) / st)) for lo, hi, st in zip(*bounds)]
        total = math.prod(extents)
        groups = math.ceil(total / size)
        grid_x = min(groups, max_groups)
        grid_y = math.ceil(groups / grid_x) if groups else 0
        if grid_y > max_groups:
            raise PassError(f"a loop of {total} iterations needs more than {max_groups}x{max_groups} workgroups", loop.location)
        index = ir.IndexType.get()
        with loop.location, ir.InsertionPoint(loop):
            constants: dict[int, ir.Value] = {}
            anchor = [loop]

            def const(value: int) -> ir.Value:
                # Created once, before the new loop nest, so every use inside it is dominated.
                if value not in constants:
                    with ir.InsertionPoint(anchor[0]):
                        constants[value] = arith.constant(index, value)
                return constants[value]

            zero, one = const(0), const(1)
            outer = scf.ParallelOp([], [zero, zero], [const(grid_y), const(grid_x)], [one, one], [])
            anchor[0] = outer.operation
            outer_block = outer.region.blocks.append(index, index)
            with ir.InsertionPoint(outer_block):
                inner = scf.ParallelOp([], [zero], [const(size)], [one], [])
                inner_block = inner.region.blocks.append(index)
                scf.ReduceOp([], 0)
            with ir.InsertionPoint(inner_block):
                block_linear = arith.addi(arith.muli(outer_block.arguments[0], const(grid_x)), outer_block.arguments[1])
                linear = arith.addi(arith.muli(block_linear, const(size)), inner_block.arguments[0])
                in_range = arith.cmpi(arith.CmpIPredicate.ult, linear, const(total))
                guard = scf.IfOp(in_range)
                scf.ReduceOp([], 0)
            with ir.InsertionPoint(guard.then_block):
                terminator = scf.YieldOp([])
            with ir.InsertionPoint(terminator):
                stride = total
                for argument, extent, lo, st in zip(loop.regions[0].blocks[0].arguments, extents, *bounds[::2]):
                    stride //= extent
                    position = arith.remui(arith.divui(linear, const(stride)), const(extent))
                    argument.replace_all_uses_with(arith.addi(arith.muli(position, const(st)), const(lo)))
            body = list(loop.regions[0].blocks[0].operations)
            for op in body[:-1]:  # the old scf.reduce terminator stays behind
                op.move_before(terminator)
        outer.operation.attributes["mapping"] = _mapping("block_y", "block_x")
        inner.operation.attributes["mapping"] = _mapping("thread_x")
        loop.erase()


def _inside_parallel_or_launch(op: ir.Operation) -> bool:
    parent = op.parent
    while parent is not None and parent.name != "func.func":
        if parent.name in ("scf.parallel", "gpu.launch"):
            return True
        parent = parent.parent
    return False
