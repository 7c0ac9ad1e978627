"""Inline SVG charts (bars, and a score's line over time): the HTML report stays one
self-contained file, no scripts."""
from __future__ import annotations

import html
from datetime import date

from clientcare.connector.facts import HEALTH_BANDS
from clientcare.jobs.health_history import score_text
from clientcare.rules.i18n import Num, _, render

PALETTE = ["#2e7d32", "#f9a825", "#ef6c00", "#c62828", "#6a1b9a", "#1565c0", "#00838f", "#5d4037"]


def _fmt(value: float, lang: str | None = None) -> str:
    spec = ",.0f" if abs(value) >= 1000 else "g" if float(value).is_integer() else ",.1f"
    return render(Num(value, spec), lang)


#: The colours of each tone a rule may give its chart (:data:`clientcare.rules.spec.CHART_TONES`).
TONES = {"neutral": [PALETTE[5]], "alert": [PALETTE[3]], "scale": PALETTE[:5]}
#: Colour of each client health band, healthiest first (unknown has no bar: it has no score).
BAND_COLORS = dict(zip(HEALTH_BANDS, (PALETTE[0], PALETTE[1], PALETTE[3])))


def bar_chart(title: str, labels: list[str], values: list[float], *, unit: str = "",
              colors: list[str] | None = None, width: int = 640, max_bars: int = 25,
              scale_max: float | None = None, noun: str = "rows", lang: str | None = None) -> str:
    """A horizontal bar chart with labels and values, sized to its data.  ``scale_max`` fixes
    the scale (a score out of 100 is not drawn against the top score); ``colors`` cycle per
    bar; bars beyond ``max_bars`` are not drawn, and the chart says so.  ``title``, ``noun``
    and the values are rendered in ``lang``."""
    title, noun = render(title, lang), render(noun, lang)
    pairs = list(zip(labels, values))[:max_bars]
    hidden = len(labels) - len(pairs)
    bar_h, gap, label_w, top = 22, 6, 190, 34
    height = top + len(pairs) * (bar_h + gap) + 10 + (20 if hidden else 0)
    peak = scale_max if scale_max else max([abs(v) for _, v in pairs] + [1e-9])
    inner = width - label_w - 90
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'aria-label="{html.escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">',
             f'<text x="0" y="20" class="chart-title">{html.escape(title)}</text>']
    if not pairs:
        empty = render(_("nothing to show"), lang)
        parts.append(f'<text x="0" y="{top + 14}" class="chart-empty">{html.escape(empty)}</text>')
    for i, (label, value) in enumerate(pairs):
        y = top + i * (bar_h + gap)
        w = max(2.0, inner * min(abs(value), peak) / peak)
        color = (colors[i % len(colors)] if colors else PALETTE[5])
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="chart-label">'
                     f'<title>{html.escape(label)}</title>{html.escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{color}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="chart-value">'
                     f'{html.escape(_fmt(value, lang))}{html.escape(unit)}</text>')
    if hidden:
        y = top + len(pairs) * (bar_h + gap) + 14
        # TRANSLATORS: bars a chart leaves out; {noun} is what a bar stands for ("clients", "rows")
        more = _("{n} more {noun}: see the CSV/JSON", n=hidden, noun=noun)
        parts.append(f'<text x="0" y="{y}" class="chart-empty">{html.escape(render(more, lang))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def score_line(days: list[date], scores: list, width: int = 160, height: int = 28, lang: str | None = None) -> str:
    """A score (0-100) as a step line over ``days``, small enough for a table cell; a score of
    None (unknown) draws no point, and the title lists every day's score (in ``lang``)."""
    span = max((days[-1] - days[0]).days, 1)
    xy = []
    for i, (d, v) in enumerate(zip(days, scores)):
        if v is None:
            continue
        x = 2 + (width - 4) * (d - days[0]).days / span
        y = height - 2 - (height - 4) * v / 100
        if xy and i:
            xy.append(f"{x:.1f},{xy[-1].split(',')[1]}")
        xy.append(f"{x:.1f},{y:.1f}")
    # TRANSLATORS: a day and a client's fit score that day (or "unknown")
    title = ", ".join(render(_("{day}: {score}", day=d, score=score_text(v)), lang) for d, v in zip(days, scores))
    return (f"<svg width='{width}' height='{height}' role='img'><title>{title}</title>"
            f"<line x1='0' x2='{width}' y1='{height / 2}' y2='{height / 2}' stroke='#eee'/>"
            f"<polyline fill='none' stroke='#1565c0' stroke-width='1.5' points='{' '.join(xy)}'/>"
            + (f"<circle cx='{xy[-1].split(',')[0]}' cy='{xy[-1].split(',')[1]}' r='2.5' fill='#1565c0'/>" if xy else "")
            + "</svg>")
