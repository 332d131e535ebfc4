"""What a conv kernel's accumulators start from: ``init`` as its producer built it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from collections.abc import Sequence

from torch_mlir import ir

from rt3d_mlir.codegen.elementwise import added_operands


class InitKind(enum.Enum):
    """What the accumulators start from (``init`` as the conv's producer built it)."""

    TENSOR = "tensor"  # any init tensor: read in full
    SCALAR = "scalar"  # a linalg.fill: its scalar, broadcast
    BIAS = "bias"  # a per-filter bias broadcast over (N, D, H, W): the 1-D bias, broadcast per filter
    TENSOR_PLUS_BIAS = "tensor+bias"  # a tensor (a fused residual) plus a bias broadcast: both read, added


@dataclass(frozen=True)
class KernelInit:
    """The kernel's view of ``init``: its kind and the values (buffers or a scalar) it reads."""

    kind: InitKind
    scalar: ir.Value | None = None
    tensor: ir.Value | None = None  # 1-D view of a full-size buffer
    bias: ir.Value | None = None  # (M,) buffer, indexed by output channel

    @property
    def values(self) -> list[ir.Value]:
        return [v for v in (self.scalar, self.tensor, self.bias) if v is not None]

    def with_values(self, values: Sequence[ir.Value]) -> KernelInit:
        """The same kind of init over other values (a function's arguments), in ``values`` order."""
        remaining = list(values)
        taken = {name: remaining.pop(0) if getattr(self, name) is not None else None for name in ("scalar", "tensor", "bias")}
        return KernelInit(self.kind, **taken)


def producer(value: ir.Value, name: str) -> ir.Operation | None:
    owner = value.owner
    if not isinstance(owner, (ir.Operation, ir.OpView)) or owner.operation.name != name:
        return None
    return owner.operation


def bias_of(tensor: ir.Value) -> ir.Value | None:
    """The 1-D bias of a ``linalg.broadcast`` along (N, D, H, W) that produced ``tensor`` (a conv-bias init), or None."""
    broadcast = producer(tensor, "linalg.broadcast")
    if broadcast is None or list(ir.DenseI64ArrayAttr(broadcast.attributes["dimensions"])) != [0, 2, 3, 4]:
        return None
    return broadcast.operands[0]


def init_source(init: ir.Value) -> tuple[InitKind, list[ir.Value]]:
    """How the kernel can start its accumulators from ``init`` without reading a full-size init tensor.

    torch-mlir imports a conv without bias with a ``linalg.fill`` init and one with a bias with a
    ``linalg.broadcast`` of it; ``sparse3d-fuse-epilogue`` makes a fused residual ``residual + bias``.
    The kernel reads the fill's scalar, the bias, or the residual and the bias instead.
    """
    fill = producer(init, "linalg.fill")
    if fill is not None:
        return InitKind.SCALAR, [fill.operands[0]]
    bias = bias_of(init)
    if bias is not None:
        return InitKind.BIAS, [bias]
    generic = producer(init, "linalg.generic")
    added = added_operands(generic) if generic is not None else None
    if added is not None:
        for tensor, maybe_bias in (added, added[::-1]):
            bias = bias_of(maybe_bias)
            if bias is not None:
                return InitKind.TENSOR_PLUS_BIAS, [tensor, bias]
    return InitKind.TENSOR, [init]




def split_kernel_operands(
    values: Sequence[ir.Value], leading: int, init: KernelInit, has_optional: bool
) -> tuple[list[ir.Value], KernelInit, ir.Value, ir.Value | None]:
    """A kernel's flat operand list ``[*leading, *init values, out, optional?]`` back into its parts.

    Both kernels pass their buffers to the outlined loop body as one flat list in this order.
    """
    values = list(values)
    count = len(init.values)
    rest = values[leading + count :]
    return values[:leading], init.with_values(values[leading : leading + count]), rest[0], rest[1] if has_optional else None
