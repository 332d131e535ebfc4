"""The padded input buffer both CPU kernels read: layout and the linalg code that fills it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, memref

from rt3d_mlir.codegen.geometry import ConvGeometry
from rt3d_mlir.codegen.kernel_ir import BUFFER_ALIGNMENT, identity_memref, row_major_strides, strided_memref


@dataclass(frozen=True)
class PaddedLayout:
    """The padded input buffer (N, Dp, Hp, C, sw, Wq): channel rows interleaved per (d, h).

    W is split into its ``sw`` stride phases (column x lives at phase x % sw, index x // sw),
    so the inputs of consecutive outputs are contiguous for any stride. The channels of one
    (d, h) are adjacent rows: a group's channels, and a chunk's, are one contiguous run, which
    keeps a register block's loads on few cache lines and pages and lets the prefetcher follow.
    """

    shape: tuple[int, int, int, int, int, int]

    @classmethod
    def of(cls, geometry: ConvGeometry, lanes: int) -> "PaddedLayout":
        dp, hp, wp = geometry.padded_size
        sw, dw, kw = geometry.strides[2], geometry.dilations[2], geometry.kernel_size[2]
        out_w = geometry.out_size[2]
        # Vector loads of the last W tile read up to the next multiple of the lane count.
        rounded_out_w = math.ceil(out_w / lanes) * lanes
        w_row = max(math.ceil(wp / sw), rounded_out_w + (kw - 1) * dw // sw)
        return cls((geometry.batch, dp, hp, geometry.in_channels, sw, w_row))

    @property
    def strides(self) -> list[int]:
        return row_major_strides(self.shape)

    @property
    def batch_stride(self) -> int:
        return self.strides[0]

    @property
    def depth_stride(self) -> int:
        return self.strides[1]

    @property
    def row_stride(self) -> int:
        return self.strides[2]

    @property
    def channel_stride(self) -> int:
        return self.strides[3]

    @property
    def phase_stride(self) -> int:
        return self.strides[4]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def pad_input(geometry: ConvGeometry, layout: PaddedLayout, f32: ir.Type, input_buffer: ir.Value) -> ir.Value:
    """A new buffer in ``layout`` holding the zero-padded, stride-phase-split input."""
    g = geometry
    padded = memref.alloc(identity_memref(layout.shape, f32), [], [], alignment=BUFFER_ALIGNMENT)
    n, c, (d, h, w) = g.batch, g.in_channels, g.in_size
    pad_d, pad_h, pad_w = g.padding[:3]
    sw = g.strides[2]
    _, dp, hp, _, _, w_row = layout.shape
    zero = arith.constant(f32, 0.0)

    def fill(offsets: Sequence[int], sizes: Sequence[int]) -> None:
        """Zeroes the box [offsets, offsets + sizes) of the padded buffer (nothing if empty)."""
        if 0 in sizes:
            return
        offset = sum(o * st for o, st in zip(offsets, layout.strides))
        box_type = strided_memref(sizes, layout.strides, offset, f32)
        box = memref.SubViewOp(box_type, padded, [], [], [], list(offsets), list(sizes), [1] * 6).result
        linalg.fill(zero, outs=[box])

    # Only the halo is zeroed; the copies below write everything else.
    fill([0, 0, 0, 0, 0, 0], [n, pad_d, hp, c, sw, w_row])
    fill([0, pad_d + d, 0, 0, 0, 0], [n, dp - pad_d - d, hp, c, sw, w_row])
    fill([0, pad_d, 0, 0, 0, 0], [n, d, pad_h, c, sw, w_row])
    fill([0, pad_d, pad_h + h, 0, 0, 0], [n, d, hp - pad_h - h, c, sw, w_row])
    # The input viewed as (N, D, H, C, W), the buffer's order.
    in_strides = row_major_strides([n, c, d, h, w])
    permuted_strides = [in_strides[0], in_strides[2], in_strides[3], in_strides[1], 1]
    permuted = memref.TransposeOp(
        strided_memref([n, d, h, c, w], permuted_strides, 0, f32),
        input_buffer,
        ir.AffineMap.get_permutation([0, 2, 3, 1, 4]),
    ).result
    p_strides = layout.strides
    for phase in range(sw):
        first_w = (phase - pad_w) % sw  # first input column that lands in this phase
        count = len(range(first_w, w, sw))
        if not count:
            fill([0, pad_d, pad_h, 0, phase, 0], [n, d, h, c, 1, w_row])
            continue
        first_q = (first_w + pad_w) // sw
        fill([0, pad_d, pad_h, 0, phase, 0], [n, d, h, c, 1, first_q])
        fill([0, pad_d, pad_h, 0, phase, first_q + count], [n, d, h, c, 1, w_row - first_q - count])
        source_type = strided_memref([n, d, h, c, count], [*permuted_strides[:4], sw], first_w, f32)
        source = memref.SubViewOp(
            source_type, permuted, [], [], [], [0, 0, 0, 0, first_w], [n, d, h, c, count], [1, 1, 1, 1, sw]
        ).result
        offset = pad_d * layout.depth_stride + pad_h * layout.row_stride + phase * layout.phase_stride + first_q
        dest_type = strided_memref([n, d, h, c, count], [*p_strides[:4], 1], offset, f32)
        dest = memref.SubViewOp(
            dest_type, padded, [], [], [],
            [0, pad_d, pad_h, 0, phase, first_q], [n, d, h, c, 1, count], [1, 1, 1, 1, 1, 1],
        ).result
        linalg.copy(source, outs=[dest])
    return padded

