"""Reading the contents of constant tensors (dense and dense_resource) as numpy arrays."""

from __future__ import annotations

import re

import numpy as np
from torch_mlir import ir

from rt3d_mlir.attributes import UnreadableAttribute, lookup
from rt3d_mlir.diagnostics import PassError

_RESOURCE_BLOB = re.compile(r'^\s*"?[^\s:"]+"?\s*:\s*"0x([0-9A-Fa-f]*)"', re.MULTILINE)
_NUMPY_DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": None,
                 "i1": np.bool_, "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64}


def _numpy_dtype(element_type: ir.Type) -> np.dtype | None:
    dtype = _NUMPY_DTYPES.get(str(element_type))
    return None if dtype is None else np.dtype(dtype)


def resource_array(constant_op: ir.Operation, tensor_type: ir.RankedTensorType) -> np.ndarray | None:
    """The data of a `dense_resource` constant op (arith.constant or memref.global) as numpy, or None if elided or bf16.

    A blob whose size does not match the type is a PassError at the op.
    """
    # The Python API has no accessor for resource blobs, but printing a module that
    # holds only this constant prints just its blob (4 alignment bytes, then data).
    with constant_op.context, ir.Location.unknown():
        holder = ir.Module.create()
        with ir.InsertionPoint(holder.body):
            constant_op.clone()
        text = holder.operation.get_asm(assume_verified=True)
    match = _RESOURCE_BLOB.search(text.rsplit("dialect_resources", 1)[-1])
    dtype = _numpy_dtype(tensor_type.element_type)
    if match is None or dtype is None:  # an elided blob, or an element type numpy lacks (bf16)
        return None
    data = bytes.fromhex(match[1])[4:]
    needed = int(np.prod(tensor_type.shape)) * dtype.itemsize
    if len(data) != needed:  # MLIR's parser does not check the blob against the type
        raise PassError(f"the dense_resource blob holds {len(data)} bytes of data, {tensor_type} needs {needed}",
                        constant_op.location)
    return np.frombuffer(data, dtype=dtype).reshape(tensor_type.shape).copy()


def weights_attribute(array: np.ndarray, tensor_type: ir.RankedTensorType, resource_name: str) -> ir.Attribute:
    """Weights as a ``dense_resource`` blob named ``resource_name``, or an empty one as ``dense<>``.

    MLIR's LLVM translation divides by a ``dense_resource``'s element count: an empty one (an all-pruned
    conv keeps no weights) kills the process with SIGFPE when the host JIT compiles it.
    """
    data = np.ascontiguousarray(array)
    if data.size == 0:
        return ir.DenseElementsAttr.get(data, type=tensor_type)
    return ir.DenseResourceElementsAttr.get_from_buffer(data, resource_name, tensor_type)


def _is_dense_resource(attribute: ir.Attribute) -> bool:
    # The bindings do not downcast dense_resource attributes; the cast checks the kind.
    try:
        ir.DenseResourceElementsAttr(attribute)
    except ValueError:
        return False
    return True


def defining_op(value: ir.Value) -> ir.Operation | None:
    """The operation whose result ``value`` is, or None for a block argument."""
    owner = value.owner
    return None if isinstance(owner, ir.Block) else owner.operation


CONSTANT_OPS = ("arith.constant", "torch.vtensor.literal")


def constant_array(value: ir.Value) -> np.ndarray | None:
    """The contents of ``value`` if a constant op (arith's or torch's) defines it and numpy can hold them, else None."""
    owner = defining_op(value)
    if owner is None or owner.name not in CONSTANT_OPS:
        return None
    attribute = owner.attributes["value"]
    tensor_type = ir.RankedTensorType(attribute.type)  # a torch literal's result is a !torch.vtensor
    if _is_dense_resource(attribute):
        return resource_array(owner, tensor_type)
    if isinstance(attribute, ir.DenseElementsAttr):
        dense = ir.DenseElementsAttr(attribute)
        dtype = _numpy_dtype(tensor_type.element_type)
        if dtype is None:
            return None
        if dense.is_splat:
            return np.full(tensor_type.shape, np.array(dense.get_splat_value().value, dtype=dtype), dtype=dtype)
        return np.array(dense, dtype=dtype).reshape(tensor_type.shape)
    return None


# How a dense_resource attribute prints its blob's name: a bare key, or a quoted string.
_RESOURCE_REFERENCE = re.compile(r'^dense_resource<(?:"((?:[^"\\]|\\.)*)"|([^>]*))>')


def resource_names(root: ir.Operation) -> set[str]:
    """The names of the ``dense_resource`` blobs that ops nested in ``root`` hold as attributes."""
    names: set[str] = set()

    def visit(operation: ir.Operation) -> ir.WalkResult:
        attributes = operation.attributes
        # By name: a NamedAttribute's .attr aborts the process on a kind the bindings cannot represent.
        for name in [attributes[index].name for index in range(len(attributes))]:
            try:
                attribute = lookup(attributes, name)
            except UnreadableAttribute:  # not a blob
                continue
            if _is_dense_resource(attribute):
                reference = _RESOURCE_REFERENCE.match(str(attribute))
                if reference is not None:
                    names.add(reference[1] if reference[1] is not None else reference[2])
        return ir.WalkResult.ADVANCE

    root.walk(visit)
    return names


class ResourceNames:
    """Names for new ``dense_resource`` blobs in one module: ``<prefix>_<n>``, n the lowest that no blob in it has.

    The names depend on the module alone, never on what the process ran before, so the same input
    gets the same names in every run. (MLIR appends ``_1``, ``_2``... to a name that another module
    already gave a blob in the same Context: that too depends only on what ran in that Context.)
    """

    def __init__(self, module: ir.Operation) -> None:
        self._taken = resource_names(module)
        self._next_index: dict[str, int] = {}

    def fresh(self, prefix: str) -> str:
        """A name no blob in the module has yet, now taken."""
        index = self._next_index.get(prefix, 0)
        while f"{prefix}_{index}" in self._taken:
            index += 1
        name = f"{prefix}_{index}"
        self._taken.add(name)
        self._next_index[prefix] = index + 1
        return name
