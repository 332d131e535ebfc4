"""Per-conv reports over MLIR holding ``sparse3d.kgs_conv3d`` ops: shapes, group shape, kept fraction, MACs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch_mlir import ir

from rt3d_mlir.constants import constant_array
from rt3d_mlir.dialect import KgsConv3dOp, array_attribute
from rt3d_mlir.groups import GroupShape
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.kgs import CompactKGS


@dataclass(frozen=True)
class ConvReport:
    input_shape: tuple[int, ...]  # N, C, D, H, W
    weight_shape: tuple[int, int, int, int, int]  # M, C, Kd, Kh, Kw
    output_shape: tuple[int, ...]
    group_shape: str
    dense_macs: int
    kept_macs: int

    @property
    def kept_fraction(self) -> float:
        return self.kept_macs / self.dense_macs


def conv_reports(module: ir.Module) -> list[ConvReport]:
    """One report per kgs_conv3d, in program order."""
    return [_report(op.opview) for op in ops_named(module.operation, KgsConv3dOp.OPERATION_NAME)]


def _report(op: KgsConv3dOp) -> ConvReport:
    input_shape = tuple(ir.RankedTensorType(op.input.type).shape)
    output_shape = tuple(ir.RankedTensorType(op.result.type).shape)
    kernel_depth, kernel_height, kernel_width = array_attribute(op, "kernel_size")
    filters, channels = output_shape[1], input_shape[1]
    weight_shape = (filters, channels, kernel_depth, kernel_height, kernel_width)
    outputs_per_filter = output_shape[0] * int(np.prod(output_shape[2:]))
    values = ir.RankedTensorType(op.values.type).shape[0]
    group_filters, group_channels = array_attribute(op, "group_shape")
    return ConvReport(
        input_shape=input_shape,
        weight_shape=weight_shape,
        output_shape=output_shape,
        group_shape=f"{group_filters}x{group_channels}",
        dense_macs=outputs_per_filter * math.prod(weight_shape),
        # every stored value is one MAC per output position of its filter
        kept_macs=outputs_per_filter * values,
    )


def pruning_rate(dense_macs: int, kept_macs: int) -> str:
    """``dense / kept`` as ``3.60x``, or ``all pruned`` when nothing is kept."""
    return f"{dense_macs / kept_macs:.2f}x" if kept_macs else "all pruned"


def format_table(names: list[str], reports: list[ConvReport]) -> str:
    """A fixed-width table of the reports, with a total row."""
    if not reports:
        return "no 3D convolutions"
    header = f"{'layer':<12} {'input CxDxHxW':<18} {'filter MxCxKdxKhxKw':<20} {'group':>5} {'kept':>7} {'MMAC dense':>11} {'MMAC kept':>10} {'rate':>6}"
    lines = [header, "-" * len(header)]
    for name, report in zip(names, reports):
        shape = "x".join(map(str, report.input_shape[1:]))
        weight = "x".join(map(str, report.weight_shape))
        lines.append(
            f"{name:<12} {shape:<18} {weight:<20} {report.group_shape:>5} {report.kept_fraction:>7.1%} "
            f"{report.dense_macs / 1e6:>11.1f} {report.kept_macs / 1e6:>10.1f} {pruning_rate(report.dense_macs, report.kept_macs):>6}"
        )
    dense = sum(r.dense_macs for r in reports)
    kept = sum(r.kept_macs for r in reports)
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<12} {'':<18} {'':<20} {'':>5} {kept / dense:>7.1%} {dense / 1e6:>11.1f} {kept / 1e6:>10.1f} {pruning_rate(dense, kept):>6}"
    )
    return "\n".join(lines)


def compact_weights(module: ir.Module) -> list[CompactKGS]:
    """The compact weight of every kgs_conv3d whose tables are constants, in program order."""
    weights: list[CompactKGS] = []
    for op in ops_named(module.operation, KgsConv3dOp.OPERATION_NAME):
        conv = op.opview
        offsets, positions, values = (constant_array(v) for v in (conv.group_offsets, conv.positions, conv.values))
        if offsets is not None and positions is not None and values is not None:
            group_shape = GroupShape(*array_attribute(conv, "group_shape"))
            weight_shape = _report(conv).weight_shape
            weights.append(CompactKGS(group_shape, weight_shape, offsets.astype(np.int64), positions.astype(np.int64), values))
    return weights
