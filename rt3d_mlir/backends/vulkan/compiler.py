"""A module after the front step to Vulkan: the rest of ``--kgs-to-spirv``, then the host function read into a :class:`VulkanProgram`.

After the pipeline the host function ``@main`` holds only buffer bookkeeping and
``gpu.launch_func`` ops; this module interprets it statically: function arguments are
input buffers, ``memref.alloc`` scratch buffers, ``memref.get_global`` constant buffers
(their data goes to ``constants.bin``), views (``collapse_shape``, ``expand_shape``,
``subview``, ``cast``) alias their source buffer (the kernel's memref type carries the
view's offset and strides, so a binding always covers the whole buffer), and each
launch becomes a dispatch. Anything else left on the host is an error that names it.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Required, TypedDict, Unpack

import numpy as np
import torch
from torch_mlir import ir
from torch_mlir.dialects import gpu

from rt3d_mlir.backends.vulkan.program import Buffer, ConstantPool, Dispatch, TensorSlot, VulkanProgram
from rt3d_mlir.constants import defining_op, resource_array
from rt3d_mlir.diagnostics import capturing_errors
from rt3d_mlir.entry_point import ENTRY_POINT, entry_function
from rt3d_mlir.errors import UserError
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.pipelines import GPU_STEPS
from rt3d_mlir.report import ConvReport
from rt3d_mlir.targets.gpu import GpuTarget

if TYPE_CHECKING:
    from rt3d_mlir.backends.vulkan.runner import VulkanRunner

class _BufferKind(TypedDict, total=False):
    """The fields of a Buffer that say what it holds (see Buffer)."""

    kind: Required[str]
    input_index: int
    data_offset: int


_VIEW_OPS = ("memref.collapse_shape", "memref.expand_shape", "memref.subview", "memref.cast", "memref.reinterpret_cast")
_HOST_NO_OPS = ("arith.constant", "memref.dealloc")
_NUMPY_TYPES = {"f32": np.float32, "i32": np.int32, "f16": np.float16}
_ELEMENT_BYTES = {name: np.dtype(dtype).itemsize for name, dtype in _NUMPY_TYPES.items()}


def _element_bytes(memref: ir.MemRefType) -> int:
    name = str(memref.element_type)
    if name not in _NUMPY_TYPES:
        raise UserError(f"the GPU path handles f32/i32/f16 buffers only, the model needs a {memref}")
    return _ELEMENT_BYTES[name]


def _static_int(value: ir.Value) -> int:
    owner = defining_op(value)
    if owner is None or owner.name != "arith.constant":
        raise UserError("a GPU launch size is not a compile-time constant")
    return ir.IntegerAttr(owner.attributes["value"]).value


def _global_array(global_op: ir.Operation) -> np.ndarray:
    memref = ir.MemRefType(ir.TypeAttr(global_op.attributes["type"]).value)
    value = global_op.attributes["initial_value"]
    tensor_type = ir.RankedTensorType.get(memref.shape, memref.element_type)
    if isinstance(value, ir.DenseElementsAttr):
        dense = ir.DenseElementsAttr(value)
        if dense.is_splat:
            return np.full(memref.shape, dense.get_splat_value().value, dtype=_NUMPY_TYPES[str(memref.element_type)])
        return np.array(dense).reshape(memref.shape)
    array = resource_array(global_op, tensor_type)
    if array is None:
        raise UserError(f"cannot read the data of constant @{ir.StringAttr(global_op.attributes['sym_name']).value}")
    return array


def program_from_module(module: ir.Module, target: GpuTarget) -> VulkanProgram:
    """Reads the host function and the gpu.binary ops of a module after ``--kgs-to-spirv``."""
    top = list(module.body.operations)
    globals_by_name = {ir.StringAttr(op.attributes["sym_name"]).value: op.operation for op in top if op.operation.name == "memref.global"}
    spirv: dict[str, bytes] = {}
    for op in top:
        if op.operation.name == "gpu.binary":
            name = ir.StringAttr(op.attributes["sym_name"]).value
            spirv[name] = gpu.ObjectAttr(ir.ArrayAttr(op.attributes["objects"])[0]).object
    main = entry_function(module, "compiled module")
    buffers: list[Buffer] = []
    roots: dict[ir.Value, int] = {}  # memref value -> buffer id
    pool = ConstantPool()
    global_buffers: dict[str, int] = {}

    def new_buffer(value: ir.Value, **kind: Unpack[_BufferKind]) -> int:
        memref = ir.MemRefType(value.type)
        size = -(-math.prod(memref.shape) * _element_bytes(memref) // 4) * 4  # whole words: f16 tables may be odd
        if size > target.max_storage_buffer_bytes:
            raise UserError(f"a {memref} buffer ({size} bytes) exceeds {target.name}'s max_storage_buffer_bytes {target.max_storage_buffer_bytes}")
        buffers.append(Buffer(id=len(buffers), bytes=max(size, 4), **kind))
        return buffers[-1].id

    block = main.regions[0].blocks[0]
    inputs = []
    for index, argument in enumerate(block.arguments):
        roots[argument] = new_buffer(argument, kind="input", input_index=index)
        inputs.append(TensorSlot(roots[argument], list(ir.MemRefType(argument.type).shape)))
    dispatches: list[Dispatch] = []
    output = None
    for op in block.operations:
        name = op.operation.name
        if name == "memref.alloc":
            roots[op.result] = new_buffer(op.result, kind="scratch")
        elif name == "memref.get_global":
            symbol = ir.FlatSymbolRefAttr(op.attributes["name"]).value
            if symbol not in global_buffers:
                offset = pool.add(symbol, _global_array(globals_by_name[symbol]))
                global_buffers[symbol] = new_buffer(op.result, kind="constant", data_offset=offset)
            roots[op.result] = global_buffers[symbol]
        elif name in _VIEW_OPS:
            roots[op.results[0]] = roots[op.operands[0]]
        elif name == "gpu.launch_func":
            launch = op.opview
            module_name, entry_point = ir.SymbolRefAttr(launch.attributes["kernel"]).value  # @module::@kernel
            dispatches.append(Dispatch(
                module=module_name,
                entry_point=entry_point,
                bindings=[roots[v] for v in launch.kernelOperands],
                workgroups=[_static_int(v) for v in (launch.gridSizeX, launch.gridSizeY, launch.gridSizeZ)],
                workgroup_size=[_static_int(v) for v in (launch.blockSizeX, launch.blockSizeY, launch.blockSizeZ)],
            ))
        elif name == "func.return":
            if len(op.operands) != 1:
                raise UserError(f"only models with one output tensor compile for Vulkan, this one has {len(op.operands)}")
            result = ir.MemRefType(op.operands[0].type)
            strides, offset = result.get_strides_and_offset()
            shape = list(result.shape)
            contiguous = [math.prod(shape[i + 1:]) for i in range(len(shape))]
            if any(s != c for s, c, n in zip(strides, contiguous, shape) if n > 1):
                raise UserError(f"the model's output is a strided view ({result}); the GPU path needs a contiguous one")
            output = TensorSlot(roots[op.operands[0]], shape, offset_elements=offset)
        elif name not in _HOST_NO_OPS:
            raise UserError(f"the GPU path cannot run '{name}' on the host between dispatches (an op it does not map to the GPU)")
    if output is None:
        raise UserError(f"@{ENTRY_POINT} returns nothing")
    buffers, dispatches, inputs, output = share_scratch_buffers(buffers, dispatches, inputs, output)
    return VulkanProgram(target.name, buffers, inputs, output, dispatches, spirv, pool.blob(), float16=target.fp16)


def share_scratch_buffers(
    buffers: list[Buffer], dispatches: list[Dispatch], inputs: list[TensorSlot], output: TensorSlot
) -> tuple[list[Buffer], list[Dispatch], list[TensorSlot], TensorSlot]:
    """Lets scratch buffers whose uses do not overlap share one buffer (activations of far-apart layers).

    A buffer is live from the first to the last dispatch that binds it; one whose range ends
    before another's starts can hand its storage on (the barrier between dispatches orders the
    reads before the overwrite). Greedy, in order of first use: the smallest free slot that is
    large enough, else the largest free slot (grown), else a new one. The output is never shared.
    """
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for index, dispatch in enumerate(dispatches):
        for buffer_id in dispatch.bindings:
            first.setdefault(buffer_id, index)
            last[buffer_id] = index
    scratch = sorted((b for b in buffers if b.kind == "scratch" and b.id != output.buffer and b.id in first), key=lambda b: first[b.id])
    slots: list[list[int]] = []  # [bytes, last use of the current tenant]
    slot_of: dict[int, int] = {}
    for buffer in scratch:
        free = [i for i, (_, busy_until) in enumerate(slots) if busy_until < first[buffer.id]]
        fitting = [i for i in free if slots[i][0] >= buffer.bytes]
        if fitting or free:
            chosen = min(fitting, key=lambda i: slots[i][0]) if fitting else max(free, key=lambda i: slots[i][0])
        else:
            chosen = len(slots)
            slots.append([0, -1])
        slots[chosen] = [max(slots[chosen][0], buffer.bytes), last[buffer.id]]
        slot_of[buffer.id] = chosen
    kept = [b for b in buffers if b.id not in slot_of and (b.kind != "scratch" or b.id == output.buffer)]
    renumber = {b.id: index for index, b in enumerate(kept)}
    shared = [Buffer(id=len(kept) + i, bytes=size, kind="scratch") for i, (size, _) in enumerate(slots)]
    renumber.update({old: len(kept) + slot for old, slot in slot_of.items()})
    new_buffers = [replace(b, id=renumber[b.id]) for b in kept] + shared
    new_dispatches = [replace(d, bindings=[renumber[b] for b in d.bindings]) for d in dispatches]
    new_inputs = [replace(slot, buffer=renumber[slot.buffer]) for slot in inputs]
    return new_buffers, new_dispatches, new_inputs, replace(output, buffer=renumber[output.buffer])


def validate_spirv(blob: bytes, name: str = "module") -> None:
    """Runs ``spirv-val --target-env vulkan1.1`` on ``blob``; raises UserError with its message on failure."""
    tool = shutil.which("spirv-val")
    if tool is None:
        raise UserError("spirv-val is not installed (Debian package spirv-tools)")
    with tempfile.NamedTemporaryFile(suffix=".spv") as file:
        file.write(blob)
        file.flush()
        done = subprocess.run([tool, "--target-env", "vulkan1.1", file.name], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"SPIR-V module {name} is invalid: {(done.stderr or done.stdout).strip()}")


@dataclass
class VulkanCompiledModel:
    """A model compiled for Vulkan: ``save`` the program for an app, or call it to run on a local device."""

    program: VulkanProgram
    convs: list[ConvReport]
    compile_seconds: float = 0.0
    device: str | None = None  # substring of the device name to run on (None: the first GPU, else any)
    _runner: VulkanRunner | None = field(default=None, repr=False)

    def save(self, folder: str | Path) -> Path:
        return self.program.save(folder)

    def runner(self) -> VulkanRunner:
        """The :class:`~rt3d_mlir.backends.vulkan.runner.VulkanRunner`, created (device, uploads) on first use."""
        if self._runner is None:
            from rt3d_mlir.backends.vulkan.runner import VulkanRunner

            self._runner = VulkanRunner(self.program, device=self.device)
        return self._runner

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.runner().run(*inputs)


_UNSUPPORTED_TYPE = re.compile(r"x(i64|f64|bf16|i8|i16)[,>]")


def _explain(message: str) -> str:
    """One line from a conversion failure: the op and, where that is the reason, the element type."""
    failed = re.match(r"failed to legalize operation '([^']+)'", message)
    if failed is None:
        return message[:200]
    element = _UNSUPPORTED_TYPE.search(message)
    reason = f" on {element[1]} data (the GPU path handles f32, f16 and i32)" if element else ""
    return f"'{failed[1]}' has no SPIR-V lowering{reason}"


def _run_gpu_pipeline(module: ir.Module, pipeline: str) -> None:
    """Runs ``pipeline``; an upstream conversion that fails (an op or type the GPU path cannot map) is a UserError."""
    with capturing_errors(module.context) as errors:
        try:
            run_pipeline(module, pipeline)
        except ir.MLIRError as error:
            errors += [d.message.splitlines()[0] for d in error.error_diagnostics]
            raise UserError(f"the Vulkan path cannot compile this model: {_explain(errors[0] if errors else 'an upstream pass failed')}") from None


def compile_for_vulkan(module: ir.Module, convs: list[ConvReport], gpu_target: GpuTarget) -> VulkanCompiledModel:
    """The rest of ``--kgs-to-spirv`` on ``module`` after the front step, read into a program for ``gpu_target``."""
    _run_gpu_pipeline(module, ", ".join(GPU_STEPS))
    with module.context, ir.Location.unknown():
        program = program_from_module(module, gpu_target)
    return VulkanCompiledModel(program, convs)
