"""Winograd F(m, 3) transforms: the matrices, built exactly from interpolation points, and the weight transform.

For a correlation ``y[s] = sum_k g[k] d[s + k]`` (s < m, k < 3) over a tile of ``alpha = m + 2``
inputs, ``y = AT @ ((G @ g) * (BT @ d))``: alpha multiplications instead of 3m. ``AT`` and ``G``
evaluate at the points ``0, 1, -1, 2, -2, 1/2, -1/2`` (the first alpha - 1 of them) and at
infinity; ``BT`` is solved for in exact rational arithmetic, so the identity holds exactly before
rounding to floating point. Along several axes the transforms apply one axis after another.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from rt3d_mlir.dialect.algorithm import WINOGRAD_KERNEL, Algorithm

_POINTS = (Fraction(0), Fraction(1), Fraction(-1), Fraction(2), Fraction(-2), Fraction(1, 2), Fraction(-1, 2))


@dataclass(frozen=True)
class WinogradMatrices:
    """F(tile, 3): ``output_transform`` AT (tile x alpha), ``weight_transform`` G (alpha x 3), ``input_transform`` BT (alpha x alpha)."""

    output_transform: np.ndarray
    weight_transform: np.ndarray
    input_transform: np.ndarray


def _solve_exact(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """The solution of an over-determined but consistent system, by Gauss-Jordan elimination in rationals."""
    rows = [[*row, value] for row, value in zip(matrix, rhs)]
    unknowns = len(matrix[0])
    pivot_row = 0
    pivots = []
    for column in range(unknowns):
        found = next((r for r in range(pivot_row, len(rows)) if rows[r][column] != 0), None)
        if found is None:
            continue
        rows[pivot_row], rows[found] = rows[found], rows[pivot_row]
        lead = rows[pivot_row][column]
        rows[pivot_row] = [value / lead for value in rows[pivot_row]]
        for r in range(len(rows)):
            if r != pivot_row and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[pivot_row])]
        pivots.append(column)
        pivot_row += 1
    if any(row[-1] != 0 for row in rows[pivot_row:]) or len(pivots) != unknowns:
        raise ArithmeticError("the Winograd input transform has no unique solution")
    solution = [Fraction(0)] * unknowns
    for r, column in enumerate(pivots):
        solution[column] = rows[r][-1]
    return solution


@functools.cache
def winograd_matrices(tile: int) -> WinogradMatrices:
    """The exact F(tile, 3) matrices as float64 arrays (see the module docstring)."""
    alpha = tile + WINOGRAD_KERNEL - 1
    if not 2 <= alpha - 1 <= len(_POINTS):
        raise ValueError(f"no interpolation points for F({tile}, {WINOGRAD_KERNEL})")
    points = _POINTS[: alpha - 1]
    scale = [Fraction(1)] * len(points)
    for i, p in enumerate(points):
        for j, q in enumerate(points):
            if i != j:
                scale[i] *= p - q
    # The point at infinity is the last row / column.
    at = [[p**s for p in points] + [Fraction(int(s == tile - 1))] for s in range(tile)]
    g = [[p**k / scale[i] for k in range(WINOGRAD_KERNEL)] for i, p in enumerate(points)]
    g.append([Fraction(int(k == WINOGRAD_KERNEL - 1)) for k in range(WINOGRAD_KERNEL)])
    # sum_i AT[s, i] G[i, k] BT[i, j] = [j == s + k] for every s, k, j: one system per column j of BT.
    system = [[at[s][i] * g[i][k] for i in range(alpha)] for s in range(tile) for k in range(WINOGRAD_KERNEL)]
    columns = [
        _solve_exact(system, [Fraction(int(j == s + k)) for s in range(tile) for k in range(WINOGRAD_KERNEL)])
        for j in range(alpha)
    ]
    bt = [[columns[j][i] for j in range(alpha)] for i in range(alpha)]

    def floats(matrix: list[list[Fraction]]) -> np.ndarray:
        return np.array([[float(value) for value in row] for row in matrix])

    return WinogradMatrices(floats(at), floats(g), floats(bt))


def transform_weight(weight: np.ndarray, algorithm: Algorithm) -> np.ndarray:
    """(M, C, Kd, Kh, Kw) -> (alpha,) * len(axes) + (M, C, K'): G applied along each transformed axis (K' = 1 there).

    Computed in float64 and returned as float32.
    """
    transformed = np.asarray(weight, np.float64)
    g = winograd_matrices(algorithm.tile).weight_transform
    for count, axis in enumerate(algorithm.axes):
        # The kernel axis (after the `count` tap axes already in front) becomes tap axis `count`; a size-1
        # kernel axis takes its place.
        kernel_axis = count + 2 + axis
        taps = np.tensordot(g, transformed, axes=([1], [kernel_axis]))  # (alpha, taps..., M, C, other axes)
        transformed = np.expand_dims(np.moveaxis(taps, 0, count), kernel_axis + 1)
    return transformed.astype(np.float32)
