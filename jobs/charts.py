"""Inline SVG bar charts: the HTML report stays one self-contained file, no scripts."""
from __future__ import annotations

import html

PALETTE = ["#2e7d32", "#f9a825", "#ef6c00", "#c62828", "#6a1b9a", "#1565c0", "#00838f", "#5d4037"]


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(title: str, labels: list[str], values: list[float], *, unit: str = "",
              colors: list[str] | None = None, width: int = 640, max_bars: int = 25) -> str:
    """A horizontal bar chart with labels and values, sized to its data."""
    pairs = list(zip(labels, values))[:max_bars]
    bar_h, gap, label_w, top = 22, 6, 190, 34
    height = top + len(pairs) * (bar_h + gap) + 10
    peak = max([abs(v) for _, v in pairs] + [1e-9])
    inner = width - label_w - 90
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'aria-label="{html.escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">',
             f'<text x="0" y="20" class="chart-title">{html.escape(title)}</text>']
    if not pairs:
        parts.append(f'<text x="0" y="{top + 14}" class="chart-empty">nothing to show</text>')
    for i, (label, value) in enumerate(pairs):
        y = top + i * (bar_h + gap)
        w = max(2.0, inner * abs(value) / peak)
        color = (colors[i % len(colors)] if colors else PALETTE[5])
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="chart-label">'
                     f'<title>{html.escape(label)}</title>{html.escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{color}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="chart-value">'
                     f'{html.escape(_fmt(value))}{html.escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)
