"""The static shape facts of one ``sparse3d.kgs_conv3d``, read once from the op."""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from rt3d_mlir.errors import UserError
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.groups import GroupShape

OP_NAME = "sparse3d.kgs_conv3d"


@dataclass(frozen=True)
class ConvGeometry:
    """Sizes of a KGS 3D convolution (NCDHW input, (M, C, Kd, Kh, Kw) weight)."""

    batch: int
    in_channels: int
    in_size: tuple[int, int, int]  # D, H, W
    out_channels: int
    kernel_size: tuple[int, int, int]
    strides: tuple[int, int, int]
    padding: tuple[int, int, int, int, int, int]  # d_lo, h_lo, w_lo, d_hi, h_hi, w_hi
    dilations: tuple[int, int, int]
    group_shape: GroupShape

    @property
    def padded_size(self) -> tuple[int, int, int]:
        d, h, w = (size + self.padding[axis] + self.padding[axis + 3] for axis, size in enumerate(self.in_size))
        return d, h, w

    @property
    def out_size(self) -> tuple[int, int, int]:
        d, h, w = (
            (padded - dilation * (kernel - 1) - 1) // stride + 1
            for padded, kernel, stride, dilation in zip(self.padded_size, self.kernel_size, self.strides, self.dilations)
        )
        return d, h, w

    @property
    def num_positions(self) -> int:
        kd, kh, kw = self.kernel_size
        return kd * kh * kw

    @property
    def group_grid(self) -> tuple[int, int]:
        """(GM, GN): filter blocks and channel blocks."""
        return self.group_shape.grid(self.out_channels, self.in_channels)

    @property
    def dense_macs(self) -> int:
        do, ho, wo = self.out_size
        return self.batch * self.out_channels * do * ho * wo * self.in_channels * self.num_positions

    @classmethod
    def of(cls, op: ir.Operation | ir.OpView) -> ConvGeometry:
        operation = op.operation
        if operation.name != OP_NAME:
            raise UserError(f"expected {OP_NAME}, got {operation.name}")
        input_type = ir.RankedTensorType(operation.operands[0].type)
        init_type = ir.RankedTensorType(operation.operands[4].type)
        if input_type.rank != 5 or init_type.rank != 5 or not input_type.has_static_shape:
            raise UserError(f"{OP_NAME} needs static rank-5 input and init, got {input_type} and {init_type}")
        if not isinstance(input_type.element_type, ir.F32Type):
            raise UserError(f"{OP_NAME}: the CPU code generator handles f32 only, got {input_type.element_type}")

        def ints(name: str, count: int) -> tuple[int, ...]:
            values = tuple(ir.DenseI64ArrayAttr(operation.attributes[name]))
            if len(values) != count:
                raise UserError(f"{OP_NAME}: {name} needs {count} entries, got {len(values)}")
            return values

        def triple(name: str) -> tuple[int, int, int]:
            first, second, third = ints(name, 3)
            return first, second, third

        group_m, group_n = ints("group_shape", 2)
        kernel_size, strides = triple("kernel_size"), triple("strides")
        d_lo, h_lo, w_lo, d_hi, h_hi, w_hi = ints("padding", 6)
        dilations = triple("dilations")
        n, c, d, h, w = input_type.shape
        geometry = cls(
            batch=n,
            in_channels=c,
            in_size=(d, h, w),
            out_channels=init_type.shape[1],
            kernel_size=kernel_size,
            strides=strides,
            padding=(d_lo, h_lo, w_lo, d_hi, h_hi, w_hi),
            dilations=dilations,
            group_shape=GroupShape(group_m, group_n),
        )
        expected = (n, geometry.out_channels, *geometry.out_size)
        if tuple(init_type.shape) != expected:
            raise UserError(f"{OP_NAME}: init has shape {tuple(init_type.shape)}, the conv produces {expected}")
        return geometry


def find_kgs_convs(root: ir.Operation) -> list[ir.Operation]:
    """Every sparse3d.kgs_conv3d nested in ``root``, in walk order."""
    return ops_named(root, OP_NAME)
