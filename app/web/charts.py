"""Bar charts drawn on the server as inline SVG: no script, no style attribute (the CSP's
``style-src 'self'``): geometry in SVG attributes, colours from classes in app.css (``.chart .s0``...).
A chart is a picture of the table printed under it, which carries the numbers for everyone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 44
SERIES_CLASSES = 8  # .s0 ... .s7 in app.css


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above a value (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:g}"


def bar_chart(chart_id: str, title: str, categories: Sequence[str],
              series: Sequence[tuple[str, Sequence[float]]]) -> Markup:
    """Grouped bars: one group per category, one bar per series (legend in the table's header)."""
    top = nice_max(max((v for _, values in series for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = plot_w / max(len(categories), 1)
    bar = max(min((group * 0.8) / max(len(series), 1), 40), 1)
    parts = [f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="{escape(chart_id)}-t" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{escape(chart_id)}-t">{escape(title)}</title>']
    for fraction in (0, 0.5, 1):  # grid lines and the y scale
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{_number(top * fraction)}</text>')
    every = math.ceil(len(categories) / 12) or 1  # at most 12 labels under the bars
    for i, category in enumerate(categories):
        x0 = LEFT + i * group + (group - bar * len(series)) / 2
        for s, (label, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top
            parts.append(f'<rect class="s{s % SERIES_CLASSES}" x="{x0 + s * bar:.1f}" '
                         f'y="{TOP + plot_h - h:.1f}" width="{max(bar - 1, 1):.1f}" height="{h:.1f}">'
                         f'<title>{escape(category)} · '
                         f'{escape(label)} : {_number(value)}</title></rect>')
        if i % every == 0:
            parts.append(f'<text class="tick" x="{LEFT + (i + 0.5) * group:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="middle">{escape(category)}</text>')
    base = TOP + plot_h
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text put in it went through escape()
