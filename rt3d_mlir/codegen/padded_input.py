"""The padded input buffer both CPU kernels read: layout and the code that fills it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from torch_mlir import ir
from torch_mlir.dialects import arith, memref, scf, vector

from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.codegen.kernel_ir import (
    BUFFER_ALIGNMENT, Index, IndexMath, flat, for_loop, identity_memref, outlined_parallel_loop, row_major_strides,
)


class _StridedLayout:
    """Strides of an input buffer whose axis order the subclass names in ``AXES`` (no axis: stride 0)."""

    shape: tuple[int, ...]
    AXES: ClassVar[dict[str, int]]

    @property
    def strides(self) -> list[int]:
        return row_major_strides(self.shape)

    def _stride(self, axis: str) -> int:
        return self.strides[self.AXES[axis]] if axis in self.AXES else 0

    @property
    def batch_stride(self) -> int:
        return self._stride("batch")

    @property
    def depth_stride(self) -> int:
        return self._stride("depth")

    @property
    def row_stride(self) -> int:
        return self._stride("row")

    @property
    def channel_stride(self) -> int:
        return self._stride("channel")

    @property
    def phase_stride(self) -> int:
        return self._stride("phase")

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class PaddedLayout(_StridedLayout):
    """The padded input buffer (N, Dp, Hp, C, sw, Wq): channel rows interleaved per (d, h).

    W is split into its ``sw`` stride phases (column x lives at phase x % sw, index x // sw),
    so the inputs of consecutive outputs are contiguous for any stride. The channels of one
    (d, h) are adjacent rows: a group's channels, and a chunk's, are one contiguous run, which
    keeps a register block's loads on few cache lines and pages and lets the prefetcher follow.
    """

    shape: tuple[int, int, int, int, int, int]
    AXES: ClassVar[dict[str, int]] = {"batch": 0, "depth": 1, "row": 2, "channel": 3, "phase": 4}

    @classmethod
    def of(cls, geometry: ConvGeometry, lanes: int) -> PaddedLayout:
        dp, hp, wp = geometry.padded_size
        sw, dw, kw = geometry.strides[2], geometry.dilations[2], geometry.kernel_size[2]
        out_w = geometry.out_size[2]
        # Vector loads of the last W tile read up to the next multiple of the lane count.
        rounded_out_w = math.ceil(out_w / lanes) * lanes
        w_row = max(math.ceil(wp / sw), rounded_out_w + (kw - 1) * dw // sw)
        return cls((geometry.batch, dp, hp, geometry.in_channels, sw, w_row))

    @property
    def depth_halo(self) -> int:
        """Depth planes before input depth 0 that the buffer lacks: none, the halo is written."""
        return 0


@dataclass(frozen=True)
class InPlaceLayout(_StridedLayout):
    """The conv's own NCDHW input, read where it lies (no copy), for a conv that pads neither H nor W.

    R(2+1)D's temporal convs (kernel 3x1x1, padding 1 along D only) are sparse enough that copying
    their input into the padded layout cost a third of their time. Only the depth halo is missing
    here (``depth_halo`` planes before depth 0, and as many as the conv pads after the last one):
    the kernel skips the entries that would read it.
    """

    shape: tuple[int, int, int, int, int]  # N, C, D, H, W
    depth_halo: int  # the conv's padding before depth 0
    AXES: ClassVar[dict[str, int]] = {"batch": 0, "channel": 1, "depth": 2, "row": 3}  # stride 1 along W: no phases

    @classmethod
    def fits(cls, geometry: ConvGeometry) -> bool:
        """No padding along H and W and stride 1 along W: every read but the depth halo's is in the input."""
        _, pad_h, pad_w, _, pad_h_hi, pad_w_hi = geometry.padding
        return pad_h == pad_w == pad_h_hi == pad_w_hi == 0 and geometry.strides[2] == 1

    @classmethod
    def of(cls, geometry: ConvGeometry) -> InPlaceLayout:
        return cls((geometry.batch, geometry.in_channels, *geometry.in_size), geometry.padding[0])

    @staticmethod
    def checks_depth(geometry: ConvGeometry) -> bool:
        """Whether some output depth's kernel reaches into the (missing) depth halo."""
        return geometry.padding[0] > 0 or geometry.padding[3] > 0

    @staticmethod
    def unchecked_depths(geometry: ConvGeometry) -> range:
        """The output depths whose kernel stays inside the input: they need no check."""
        in_d, kd, sd, dd, pad_d = (geometry.in_size[0], geometry.kernel_size[0], geometry.strides[0],
                                   geometry.dilations[0], geometry.padding[0])
        return range(-(-pad_d // sd), (in_d - 1 + pad_d - (kd - 1) * dd) // sd + 1)


def pad_input(
    geometry: ConvGeometry, layout: PaddedLayout, f32: ir.Type, input_buffer: ir.Value, lanes: int, threads: int,
    name: str, at: ir.InsertionPoint,
) -> ir.Value:
    """A new buffer in ``layout`` holding the zero-padded, stride-phase-split input.

    Written by a private function ``name`` (inserted at ``at``) per (batch, padded depth) plane,
    the planes an ``scf.parallel`` when ``threads > 1``: a halo plane or row is one run of zero
    vectors, and an input row is copied channel by channel with ``lanes``-wide vectors (strided
    ones, element by element, one stride phase at a time). Run as linalg copies and fills on
    strided views, it was serial and scatter-stored: ~5% of a C3D call at 2 threads.
    """
    g, ix = geometry, IndexMath()
    padded = memref.alloc(identity_memref(layout.shape, f32), [], [], alignment=BUFFER_ALIGNMENT)
    n, c, (d, h, w) = g.batch, g.in_channels, g.in_size
    pad_d, pad_h, pad_w = g.padding[:3]
    sw = g.strides[2]
    _, dp, hp, _, _, w_row = layout.shape
    row_stride = layout.row_stride

    def zero_run(buffer: ir.Value, start: Index, length: int) -> None:
        """Zeroes ``length`` consecutive elements from ``start``: whole vectors, then one narrower tail."""
        full, tail = divmod(length, lanes)
        zeros = _zeros(f32, lanes)

        def store(at: ir.Value, _: list) -> list:
            vector.store(zeros, buffer, [ix.value(ix.add(start, at))])
            return []

        if full:
            for_loop(0, full * lanes, lanes, [], store, ix)
        if tail:
            vector.store(_zeros(f32, tail), buffer, [ix.value(ix.add(start, full * lanes))])

    def copy_run(source: ir.Value, source_start: Index, buffer: ir.Value, start: Index, length: int) -> None:
        full, tail = divmod(length, lanes)

        def copy(offset: Index, width: int) -> list:
            loaded = vector.load(ir.VectorType.get([width], f32), source, [ix.value(ix.add(source_start, offset))])
            vector.store(loaded, buffer, [ix.value(ix.add(start, offset))])
            return []

        if full:
            for_loop(0, full * lanes, lanes, [], lambda at, _: copy(at, lanes), ix)
        if tail:
            copy(full * lanes, tail)

    def input_row(source: ir.Value, buffer: ir.Value, batch: ir.Value, depth: ir.Value, row: ir.Value, start: Index) -> None:
        """Padded row ``start`` (all channels and phases) from input row (batch, depth, row)."""

        def channel(ch: ir.Value, _: list) -> list:
            source_row = ix.mul(ix.add(ix.mul(ix.add(ix.mul(ix.add(ix.mul(batch, c), ch), d), depth), h), row), w)
            channel_start = ix.add(start, ix.mul(ch, layout.channel_stride))
            for phase in range(sw):
                phase_start = ix.add(channel_start, phase * layout.phase_stride)
                first_w = (phase - pad_w) % sw  # first input column that lands in this phase
                count = len(range(first_w, w, sw))
                first_q = (first_w + pad_w) // sw if count else w_row
                if first_q:
                    zero_run(buffer, phase_start, first_q)
                if not count:
                    continue
                if sw == 1:
                    copy_run(source, ix.add(source_row, first_w), buffer, ix.add(phase_start, first_q), count)
                else:
                    def element(q: ir.Value, _: list, first_w: int = first_w, phase_start: Index = phase_start,
                                first_q: int = first_q) -> list:
                        value = memref.load(source, [ix.value(ix.add(source_row, first_w, ix.mul(q, sw)))])
                        memref.store(value, buffer, [ix.value(ix.add(phase_start, first_q, q))])
                        return []

                    for_loop(0, count, 1, [], element, ix)
                if first_q + count < w_row:
                    zero_run(buffer, ix.add(phase_start, first_q + count), w_row - first_q - count)
            return []

        for_loop(0, c, 1, [], channel, ix)

    def inside(index: ir.Value, low: int, size: int) -> ir.Value:
        above = arith.cmpi(arith.CmpIPredicate.sge, index, ix.value(low))
        below = arith.cmpi(arith.CmpIPredicate.slt, index, ix.value(low + size))
        return arith.andi(above, below)

    def plane(operands: list[ir.Value], ivs: list[ir.Value]) -> None:
        source, buffer = operands
        batch, depth = ivs
        plane_start = ix.add(ix.mul(batch, layout.batch_stride), ix.mul(depth, layout.depth_stride))
        is_input_plane = scf.IfOp(inside(depth, pad_d, d), [], has_else=True)
        with ir.InsertionPoint(is_input_plane.then_block):

            def row(y: ir.Value, _: list) -> list:
                start = ix.add(plane_start, ix.mul(y, row_stride))
                is_input_row = scf.IfOp(inside(y, pad_h, h), [], has_else=True)
                with ir.InsertionPoint(is_input_row.then_block):
                    input_row(source, buffer, batch, arith.subi(depth, ix.value(pad_d)), arith.subi(y, ix.value(pad_h)), start)
                    scf.YieldOp([])
                with ir.InsertionPoint(is_input_row.else_block):
                    zero_run(buffer, start, row_stride)
                    scf.YieldOp([])
                return []

            for_loop(0, hp, 1, [], row, ix)
            scf.YieldOp([])
        with ir.InsertionPoint(is_input_plane.else_block):
            zero_run(buffer, plane_start, hp * row_stride)
            scf.YieldOp([])

    operands = [flat(input_buffer, n * c * d * h * w), flat(padded, layout.size)]
    outlined_parallel_loop(name, at, operands, [n, dp], threads > 1, plane, ix)
    return padded


def _zeros(f32: ir.Type, width: int) -> ir.Value:
    vector_type = ir.VectorType.get([width], f32)
    return arith.constant(vector_type, ir.DenseElementsAttr.get_splat(vector_type, ir.FloatAttr.get(f32, 0.0)))
