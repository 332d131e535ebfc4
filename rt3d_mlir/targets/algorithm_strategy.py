"""Strategy: direct or Winograd, per KGS conv, by the kernels' cost model plus the cost of the transforms.

Winograd F(m, 3) along a set of axes turns a conv into ``alpha ** axes`` per-tap convs (alpha = m + 2)
with kernel 1 on the transformed axes and ``ceil(out / m)`` outputs there. Each per-tap conv is costed
by :func:`rt3d_mlir.targets.strategy.ranked_schedules` exactly as ``sparse3d-tile`` will schedule it,
on its own kept pattern: the kernel rows Winograd takes (:func:`rt3d_mlir.dialect.algorithm.split_rows`),
so a KGS group that keeps whole rows (``kgs-row`` pruning) costs ``alpha / (3 m)`` of its direct
entries; the positions left over (rows with few kept taps) are costed as the direct conv that
computes them after the transforms. The transforms are costed per element
of the per-tap inputs and outputs in cycles, converted to the kernels' unit (vector FMA issue
slots) by the target's ``vector_fmas_per_cycle``, calibrated on Zen 4 (see docs/cpu-codegen.md,
"Winograd"). Every conv (each per-tap conv, the
remainder, the direct conv) costs at least the time to stream its weights from memory: a per-tap
conv over a tiny plane (F(4x4, 3x3) on C3D's 2x7x7 conv5a: 8 outputs per filter and 4x the direct
conv's weights) uses each weight a few times only and waits on memory, not on its FMAs.

The candidates are Winograd along W with m = 2 and 4, along H and W with m = 2 and 4, and direct; the
cheapest wins, direct on ties. Only convs with constant weights and tables qualify (the weights are
transformed at compile time), with kernel 3, stride 1 and dilation 1 on the transformed axes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from rt3d_mlir.dialect.algorithm import Algorithm, split_rows
from rt3d_mlir.dialect.geometry import ConvGeometry
from rt3d_mlir.groups import kernels_per_group
from rt3d_mlir.targets import Target
from rt3d_mlir.targets.strategy import ranked_schedules

# F(6, 3) along W is left out: on Zen 5 it lost to F(4, 3) on every C3D layer measured (its per-tap
# convs are narrower, W / 6), though the kernels' cost model puts it slightly ahead.
CANDIDATES = (Algorithm((2,), 2), Algorithm((2,), 4), Algorithm((1, 2), 2), Algorithm((1, 2), 4))
# Cycles per element of the per-tap inputs and outputs: the transforms are scalar loops over strided
# data, so they cost cycles, not FMA issue slots; the cost model multiplies by the target's
# vector_fmas_per_cycle. Fitted on Zen 4 (1 full-width FMA per cycle), 1 thread, dense C3D conv3a
# (128 -> 256, 8x28x28) by F(4x4, 3x3): its transforms took 5.1 ms for 5.4 M such elements at 3.6 G
# vector FMAs/s. On an Emerald Rapids Xeon (2 per cycle) kgs-row conv2a's F(4, 3) transforms took
# 5.7 slots per element, near the 6.8 this gives. (Fitted on Zen 5 while every per-tap conv still
# copied its input into a padded buffer, it was 7.6 slots.)
_TRANSFORM_CYCLES_PER_ELEMENT = 3.4
# Cycles per weight (f32) a conv streams from memory, its floor when it uses each weight only a few
# times. Fitted on an Emerald Rapids Xeon (2 full-width FMAs per cycle, 1 thread), dense C3D conv5a
# (512 -> 512, 2x7x7): F(4x4, 3x3) took 16.5 ms for 28 M transformed weights at 5.4 G vector
# FMAs/s (its FMAs alone: 3 ms); direct 12.5 ms, F(2, 3) on W 9.3 ms.
_CYCLES_PER_STREAMED_WEIGHT = 1.55


def tap_geometry(geometry: ConvGeometry, algorithm: Algorithm) -> ConvGeometry:
    """The geometry of each per-tap conv: kernel 1 and ``ceil(out / m)`` positions along the axes, H and W
    padded before the transforms (``Algorithm.pre_padded_axes``), as ``sparse3d-winograd`` builds it."""
    in_size, kernel, padding = list(geometry.in_size), list(geometry.kernel_size), list(geometry.padding)
    for axis in algorithm.pre_padded_axes:
        if axis in algorithm.axes:
            in_size[axis] = math.ceil(geometry.out_size[axis] / algorithm.tile)
            kernel[axis] = 1
        else:
            in_size[axis] += padding[axis] + padding[axis + 3]
        padding[axis] = padding[axis + 3] = 0
    d, h, w = in_size
    kd, kh, kw = kernel
    d_lo, h_lo, w_lo, d_hi, h_hi, w_hi = padding
    return dataclasses.replace(geometry, in_size=(d, h, w), kernel_size=(kd, kh, kw),
                               padding=(d_lo, h_lo, w_lo, d_hi, h_hi, w_hi))


def streamed_weights(geometry: ConvGeometry, kept: np.ndarray) -> int:
    """The weights a conv with group pattern ``kept`` (GM, GN, Ks) reads: kept positions x kernels of each group."""
    per_group = kernels_per_group(geometry.out_channels, geometry.in_channels, geometry.group_shape)
    return int((kept.sum(axis=-1) * per_group).sum())


def _kernel_cost(target: Target, geometry: ConvGeometry, kept: np.ndarray, permutation: Sequence[int] | None) -> float:
    """Issue slots of the whole conv: its best kernel schedule (the strategy's cost is per output plane), or
    streaming its weights if that takes longer."""
    per_plane = ranked_schedules(target, geometry, kept, permutation)[0][0]
    compute = per_plane * geometry.batch * geometry.out_size[0]
    return max(compute, streamed_weights(geometry, kept) * _CYCLES_PER_STREAMED_WEIGHT * target.vector_fmas_per_cycle)


def algorithm_cost(target: Target, geometry: ConvGeometry, kept: np.ndarray, algorithm: Algorithm,
                   permutation: Sequence[int] | None = None) -> float:
    """Estimated issue slots of the conv computed by ``algorithm`` (transforms included)."""
    if algorithm.is_direct:
        return _kernel_cost(target, geometry, kept, permutation)
    taps = tap_geometry(geometry, algorithm)
    rows, remainder = split_rows(kept, geometry.kernel_size, algorithm)
    if not rows.any():
        return math.inf  # nothing for Winograd: the same conv as direct, plus the transforms
    products = algorithm.taps * _kernel_cost(target, taps, rows, permutation)
    if remainder.any():
        products += _kernel_cost(target, geometry, remainder, permutation)
    tap_inputs = geometry.batch * geometry.in_channels * math.prod(taps.in_size) * algorithm.taps
    tap_outputs = geometry.batch * geometry.out_channels * math.prod(taps.out_size) * algorithm.taps
    return products + (tap_inputs + tap_outputs) * _TRANSFORM_CYCLES_PER_ELEMENT * target.vector_fmas_per_cycle


def applicable(geometry: ConvGeometry, algorithm: Algorithm) -> bool:
    """Whether the conv's kernel, strides and dilations allow ``algorithm`` (and at least one full tile)."""
    if algorithm.problem(geometry.kernel_size, geometry.strides, geometry.dilations) is not None:
        return False
    return all(geometry.out_size[axis] >= algorithm.tile for axis in algorithm.axes)


def ranked_algorithms(target: Target, geometry: ConvGeometry, kept: np.ndarray | None,
                      permutation: Sequence[int] | None = None) -> list[tuple[float, Algorithm]]:
    """Direct and every applicable candidate, cheapest first (direct first on ties); only direct without ``kept``.

    ``kept``: the (GM, GN, Ks) group pattern when the weights and tables are constants, else None.
    """
    if kept is None or not kept.any():
        return [(0.0, Algorithm())]
    ranked = [(algorithm_cost(target, geometry, kept, Algorithm(), permutation), Algorithm())]
    ranked += [(algorithm_cost(target, geometry, kept, candidate, permutation), candidate)
               for candidate in CANDIDATES if applicable(geometry, candidate)]
    return sorted(ranked, key=lambda entry: (entry[0], not entry[1].is_direct))


def choose_algorithm(target: Target, geometry: ConvGeometry, kept: np.ndarray | None,
                     permutation: Sequence[int] | None = None) -> Algorithm:
    """The cheapest algorithm for this conv on ``target`` (see :func:`ranked_algorithms`)."""
    return ranked_algorithms(target, geometry, kept, permutation)[0][1]
