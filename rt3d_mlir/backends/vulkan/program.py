"""A compiled Vulkan program: SPIR-V modules, buffers, the dispatch list, and its manifest on disk.

``save(folder)`` writes what an app needs to run the model with any Vulkan loader:

- ``manifest.json``: ``buffers`` (id, bytes, kind ``input`` / ``constant`` / ``scratch``, and for
  constants the byte range in ``constants.bin``), ``inputs`` and ``output`` (buffer, shape, element
  type), ``dispatches`` in execution order (SPIR-V file, entry point, workgroup size, workgroup
  counts, and ``bindings``: the buffer of descriptor set 0 binding i, in the kernel's argument
  order), and ``requirements`` (the largest workgroup and buffer, f16 storage: to check
  against the device).
- one ``<kernel>.spv`` per kernel module, and ``constants.bin`` (weights and index tables).

Every dispatch reads what earlier ones wrote: a runner puts a compute-to-compute memory
barrier between consecutive dispatches (:mod:`rt3d_mlir.backends.vulkan.runner`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np

from rt3d_mlir.errors import UserError

MANIFEST = "manifest.json"
CONSTANTS = "constants.bin"
FORMAT_VERSION = 1
_CONSTANT_ALIGNMENT = 256  # bytes: a common minStorageBufferOffsetAlignment, so an app may share one allocation


@dataclass(frozen=True)
class Buffer:
    id: int
    bytes: int
    kind: str  # "input", "constant" or "scratch"
    input_index: int = -1  # for kind "input"
    data_offset: int = -1  # for kind "constant": where its bytes start in constants.bin


@dataclass(frozen=True)
class Dispatch:
    module: str  # the SPIR-V module (file <module>.spv)
    entry_point: str
    bindings: list[int]  # buffer id of binding i (descriptor set 0)
    workgroups: list[int]  # vkCmdDispatch counts x, y, z
    workgroup_size: list[int]  # the shader's LocalSize, for checks against the device


@dataclass(frozen=True)
class TensorSlot:
    buffer: int
    shape: list[int]
    dtype: str = "float32"
    offset_elements: int = 0  # where the tensor starts in its buffer


class Requirements(TypedDict):
    """What the device must allow: the manifest's ``requirements``."""

    max_workgroup_invocations: int
    max_workgroup_size: list[int]  # x, y, z
    max_workgroup_count: list[int]
    max_storage_buffer_bytes: int
    float16: bool


@dataclass
class VulkanProgram:
    """Everything needed to run a model on a Vulkan device; see the module docstring for the file layout."""

    target: str
    buffers: list[Buffer]
    inputs: list[TensorSlot]
    output: TensorSlot
    dispatches: list[Dispatch]
    spirv: dict[str, bytes] = field(repr=False)
    constants: bytes = field(repr=False)
    float16: bool = False  # f16 storage buffers: the device needs shaderFloat16 and storageBuffer16BitAccess

    @property
    def requirements(self) -> Requirements:
        sizes = [d.workgroup_size for d in self.dispatches] or [[1, 1, 1]]
        counts = [d.workgroups for d in self.dispatches] or [[1, 1, 1]]
        return {
            "max_workgroup_invocations": max(math.prod(s) for s in sizes),
            "max_workgroup_size": [max(s[axis] for s in sizes) for axis in range(3)],
            "max_workgroup_count": [max(c[axis] for c in counts) for axis in range(3)],
            "max_storage_buffer_bytes": max(b.bytes for b in self.buffers),
            "float16": self.float16,
        }

    def constant_data(self, buffer: Buffer) -> bytes:
        return self.constants[buffer.data_offset:buffer.data_offset + buffer.bytes]

    def manifest(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "target": self.target,
            "buffers": [asdict(b) for b in self.buffers],
            "inputs": [asdict(s) for s in self.inputs],
            "output": asdict(self.output),
            "dispatches": [{**asdict(d), "spirv": f"{d.module}.spv"} for d in self.dispatches],
            "requirements": self.requirements,
        }

    def save(self, folder: str | Path) -> Path:
        """Writes the manifest, the .spv files and constants.bin into ``folder`` (created if needed)."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, blob in self.spirv.items():
                (folder / f"{name}.spv").write_bytes(blob)
            (folder / CONSTANTS).write_bytes(self.constants)
            (folder / MANIFEST).write_text(json.dumps(self.manifest(), indent=1) + "\n")
        except OSError as error:
            raise UserError(f"cannot write the Vulkan program to '{folder}': {error.strerror}") from None
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> VulkanProgram:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            if manifest.get("format_version") != FORMAT_VERSION:
                raise UserError(f"'{folder / MANIFEST}' has format version {manifest.get('format_version')}, expected {FORMAT_VERSION}")
            dispatches = [Dispatch(**{k: v for k, v in d.items() if k != "spirv"}) for d in manifest["dispatches"]]
            spirv = {d.module: (folder / f"{d.module}.spv").read_bytes() for d in dispatches}
            constants = (folder / CONSTANTS).read_bytes()
        except FileNotFoundError as error:
            raise UserError(f"not a compiled Vulkan program: no '{error.filename}'") from None
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise UserError(f"'{folder / MANIFEST}' is not a valid manifest: {error}") from None
        return cls(
            target=manifest["target"],
            buffers=[Buffer(**b) for b in manifest["buffers"]],
            inputs=[TensorSlot(**s) for s in manifest["inputs"]],
            output=TensorSlot(**manifest["output"]),
            dispatches=dispatches,
            spirv=spirv,
            constants=constants,
            float16=bool(manifest["requirements"].get("float16", False)),
        )


class ConstantPool:
    """Collects constant arrays into one blob, each aligned, deduplicated by name."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.offsets: dict[str, int] = {}

    def add(self, name: str, array: np.ndarray) -> int:
        if name not in self.offsets:
            pad = -self.size % _CONSTANT_ALIGNMENT
            self.chunks.append(b"\0" * pad)
            self.size += pad
            self.offsets[name] = self.size
            data = np.ascontiguousarray(array).tobytes()
            self.chunks.append(data)
            self.size += len(data)
        return self.offsets[name]

    def blob(self) -> bytes:
        return b"".join(self.chunks)
