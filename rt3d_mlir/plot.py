"""Grouped bar charts as standalone SVG (no plotting library): ``rt3d demo --plot`` and the bench scripts' ``--plot``.

>>> chart = BarChart("latency", "ms", ["1 thread", "2 threads"], {"ours, KGS": [30.0, 16.0], "torch eager": [90.0, 50.0]})
>>> write_svg("latency.svg", [chart])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from rt3d_mlir.errors import UserError

# Colour-blind-safe (Okabe-Ito), one per series.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, CHART_HEIGHT, LEFT, TOP, BOTTOM = 900, 340, 70, 50, 90


@dataclass(frozen=True)
class BarChart:
    """One bar per series in each category; ``series`` maps a name to one value per category (None: not measured)."""

    title: str
    unit: str
    categories: list[str]
    series: dict[str, list[float | None]]


def _nice_maximum(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _chart(chart: BarChart, top: int) -> list[str]:
    values = [v for row in chart.series.values() for v in row if v is not None]
    maximum = _nice_maximum(max(values, default=1.0))
    plot_width, plot_height = WIDTH - LEFT - 20, CHART_HEIGHT - TOP - BOTTOM
    base = top + TOP + plot_height
    parts = [f'<text x="{WIDTH / 2}" y="{top + 22}" text-anchor="middle" font-size="16" font-weight="bold">{escape(chart.title)}</text>']
    for tick in range(6):
        y = base - plot_height * tick / 5
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 20}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{maximum * tick / 5:g}</text>')
    parts.append(f'<text x="16" y="{top + TOP + plot_height / 2}" font-size="12" transform="rotate(-90 16 {top + TOP + plot_height / 2})" '
                 f'text-anchor="middle">{escape(chart.unit)}</text>')
    slot = plot_width / max(1, len(chart.categories))
    bar = slot * 0.8 / max(1, len(chart.series))
    for index, category in enumerate(chart.categories):
        x0 = LEFT + index * slot + slot * 0.1
        for number, (name, row) in enumerate(chart.series.items()):
            value = row[index]
            if value is None:
                continue
            height = plot_height * value / maximum
            parts.append(f'<rect x="{x0 + number * bar:.1f}" y="{base - height:.1f}" width="{bar * 0.92:.1f}" height="{height:.1f}" '
                         f'fill="{COLOURS[number % len(COLOURS)]}"><title>{escape(name)}, {escape(category)}: {value:.3g} {escape(chart.unit)}</title></rect>')
        x = x0 + slot * 0.4
        parts.append(f'<text x="{x:.1f}" y="{base + 14}" font-size="11" text-anchor="end" transform="rotate(-30 {x:.1f} {base + 14})">{escape(category)}</text>')
    for number, name in enumerate(chart.series):
        x = LEFT + (number % 4) * 205
        y = top + CHART_HEIGHT - 30 + 14 * (number // 4)  # four legend entries a row, under the category labels
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{COLOURS[number % len(COLOURS)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" font-size="11">{escape(name)}</text>')
    return parts


def render_svg(charts: list[BarChart]) -> str:
    """The charts stacked top to bottom in one SVG document."""
    height = CHART_HEIGHT * len(charts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
             'font-family="sans-serif">', f'<rect width="{WIDTH}" height="{height}" fill="white"/>']
    for index, chart in enumerate(charts):
        parts += _chart(chart, index * CHART_HEIGHT)
    return "\n".join([*parts, "</svg>"]) + "\n"


def write_svg(path: str | Path, charts: list[BarChart]) -> None:
    try:
        Path(path).write_text(render_svg(charts))
    except OSError as error:
        raise UserError(f"cannot write '{path}': {error.strerror}") from None
