"""The chart of articles per month by section: an inline SVG at ``/<db>/-/chart``."""

from __future__ import annotations

import html
import math
import re
from collections import OrderedDict
from dataclasses import dataclass

from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from storage.serve import PER_MONTH_QUERY_SQL

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]
OTHER_COLOUR = "#bab0ac"
OTHER = "其他 (other)"

# The SVG has a fixed coordinate system and is scaled to its container's width, so every
# month fits at any width. Text scales with it, which would make it unreadable on a phone
# and huge on a wide screen; so a container query picks the font size (in viewBox units)
# for the width the chart is shown at, aiming at 10-18 CSS px, and month labels are
# spaced for each font size separately.
VIEW_W = 960
# (container width in CSS px from which the tier applies, font size in viewBox units)
TIERS = [(0, 32.0), (480, 22.0), (720, 15.0), (1050, 11.5), (1440, 9.0)]
# Outside the page's wrapper (no container) the browser shows the SVG at about its
# viewBox width, which is this tier's range.
DEFAULT_TIER = 2
FONT_MAX = max(f for _, f in TIERS)
# Geometry cannot change with the tier, so the margins hold the largest font.
TOP = math.ceil(FONT_MAX / 2)
PLOT_H = 260
AXIS_GAP = 4
BOTTOM = AXIS_GAP + math.ceil(FONT_MAX * 1.2)
RIGHT = 8
VIEW_H = TOP + PLOT_H + BOTTOM
# Generous for DejaVu Sans (digits 0.64 em), so that a wider fallback font still leaves
# neighbouring labels apart.
DIGIT_EM, HYPHEN_EM, LABEL_GAP_EM = 0.64, 0.4, 0.8
# Label every Nth month, N from this list. Steps of 12 and more fall on Januaries and
# show only the year, which is shorter, so long ranges still get several labels.
LABEL_STEPS = [1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200]


def _short_section(section: str) -> str:
    # "行业资讯 > 律协动态" -> "律协动态": the last crumb names the channel.
    return re.split(r"\s*[>›»]\s*", section)[-1] or section


def _month_range(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text_em(text: str) -> float:
    return sum(DIGIT_EM if c.isdigit() else HYPHEN_EM for c in text)


def _nice_step(peak: int, most: int = 5) -> int:
    raw = peak / most
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    m = next(m for m in (1, 2, 5, 10) if m * mag >= raw)
    return max(1, round(m * mag))


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _label(month: str, step: int) -> str:
    return month[:4] if step % 12 == 0 else month


def label_step(months: int, font: float, plot_w: float) -> int:
    """The smallest step (label every Nth month) at which labels of this font size do not touch."""
    slot = plot_w / max(1, months)
    for step in LABEL_STEPS:
        width = (_text_em(_label("2000-01", step)) + LABEL_GAP_EM) * font
        if step * slot >= width:
            return step
    return LABEL_STEPS[-1]


@dataclass
class _Chart:
    months: list[str]
    stacks: dict[str, OrderedDict]
    colour: dict[str, str]
    legend: list[tuple[str, str, int]]  # (key, colour, articles)


def _prepare(rows: list[tuple[str, str, int]], max_sections: int) -> _Chart:
    totals: dict[str, int] = {}
    for _, section, n in rows:
        totals[section] = totals.get(section, 0) + n
    ranked = sorted(totals, key=lambda s: (-totals[s], s))
    own = ranked[:max_sections] if len(ranked) <= max_sections else ranked[: max_sections - 1]
    colour = {s: PALETTE[i] for i, s in enumerate(own)}
    months = _month_range(min(r[0] for r in rows), max(r[0] for r in rows))
    stacks: dict[str, OrderedDict] = {m: OrderedDict() for m in months}
    for month, section, n in rows:
        key = section if section in colour else OTHER
        stacks[month][key] = stacks[month].get(key, 0) + n
    legend = [(s, colour[s], totals[s]) for s in own]
    if len(ranked) > len(own):
        legend.append((OTHER, OTHER_COLOUR, sum(totals[s] for s in ranked if s not in colour)))
    return _Chart(months, stacks, colour, legend)


def _style() -> str:
    sel = "svg.barwatch-chart"
    rules = [
        f"{sel} text{{font-family:sans-serif;fill:#333}}",
        f"{sel} rect.bar:hover{{opacity:.75}}",
        f"{sel} text.tick{{display:none}}",
        f"{sel} text{{font-size:{_num(TIERS[DEFAULT_TIER][1])}px}}",
        f"{sel} text.tick.t{DEFAULT_TIER}{{display:inline}}",
    ]
    for i, (low, font) in enumerate(TIERS):
        cond = [f"(min-width:{low}px)"] if low else []
        if i + 1 < len(TIERS):
            cond.append(f"(max-width:{TIERS[i + 1][0] - 0.02}px)")
        rules.append(
            f"@container {' and '.join(cond)}{{{sel} text{{font-size:{_num(font)}px}}"
            f"{sel} text.tick:not(.t{i}){{display:none}}{sel} text.tick.t{i}{{display:inline}}}}"
        )
    return "<style>" + "".join(rules) + "</style>"


def chart_svg(rows: list[tuple[str, str, int]], max_sections: int = len(PALETTE)) -> str:
    """A stacked bar chart (inline SVG, no script) of articles per month by section.

    Every month between the first and the last is a bar, so gaps show as gaps. The
    sections with most articles get their own colour, the rest are grouped as 其他.
    The SVG has no size of its own: it is as wide as its container (see ``VIEW_W``).
    The legend is separate HTML (``chart_legend``), so that it can wrap.
    """
    if not rows:
        return '<p class="barwatch-chart-empty">No dated articles yet.</p>'
    chart = _prepare(rows, max_sections)
    months = chart.months
    peak = max(sum(s.values()) for s in chart.stacks.values())
    step = _nice_step(peak)
    axis_max = step * math.ceil(peak / step)
    widest = _text_em(str(axis_max)) * FONT_MAX
    left = math.ceil(widest) + 8
    plot_w = VIEW_W - left - RIGHT
    slot = plot_w / len(months)
    # A gap narrower than about a pixel only blurs the bars, so dense charts go without;
    # the cap keeps a chart of few months from looking like a wall.
    bar_w = min(slot * 0.8 if slot >= 2 else slot, 48)
    base = TOP + PLOT_H
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barwatch-chart" role="img" '
        f'viewBox="0 0 {VIEW_W} {VIEW_H}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'style="display:block;width:100%;height:auto">',
        "<title>Articles per month by section</title>",
        _style(),
        '<g class="y">',
    ]
    for v in range(0, axis_max + 1, step):
        y = base - v * PLOT_H / axis_max
        parts.append(f'<line x1="{left}" x2="{VIEW_W - RIGHT}" y1="{_num(y)}" y2="{_num(y)}" stroke="#ddd"/>')
        # dy in em keeps the number centred on its line whatever the tier's font size.
        parts.append(f'<text x="{left - 6}" y="{_num(y)}" dy="0.35em" text-anchor="end">{v}</text>')
    parts.append('</g><g class="bars">')
    for i, month in enumerate(months):
        x = left + i * slot + (slot - bar_w) / 2
        y = base
        for key, n in chart.stacks[month].items():
            h = n * PLOT_H / axis_max
            y -= h
            fill = chart.colour.get(key, OTHER_COLOUR)
            tip = html.escape(f"{month} {key}: {n}")
            parts.append(
                f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(h)}" '
                f'fill="{fill}" data-month="{month}" data-section="{html.escape(key)}" data-count="{n}">'
                f"<title>{tip}</title></rect>"
            )
    parts.append('</g><g class="x">')
    # One element per distinct label and place, with a class for each tier that shows it.
    labels: dict[tuple[int, str, str], list[int]] = {}
    for t, (_, font) in enumerate(TIERS):
        every = label_step(len(months), font, plot_w)
        gap = LABEL_GAP_EM * font
        previous_right = -math.inf
        for i, month in enumerate(months):
            if _month_index(month) % every:
                continue
            text = _label(month, every)
            half = _text_em(text) * font / 2
            # The newest month is often the one looked for: rather than lose a label at
            # the edge, slide it inwards, unless that would crowd its neighbour.
            cx = min(max(left + (i + 0.5) * slot, half), VIEW_W - half)
            if cx - half - gap < previous_right:
                continue
            previous_right = cx + half
            labels.setdefault((i, text, _num(cx)), []).append(t)
    for (_, text, label_x), tiers in sorted(labels.items()):
        classes = " ".join(f"t{t}" for t in tiers)
        parts.append(
            f'<text class="tick {classes}" x="{label_x}" y="{base + AXIS_GAP}" dy="0.9em" text-anchor="middle">{text}</text>'
        )
    parts.append("</g></svg>")
    return "".join(parts)


def chart_legend(rows: list[tuple[str, str, int]], max_sections: int = len(PALETTE)) -> str:
    """The chart's legend as an HTML list, which wraps and keeps CJK text at page size."""
    if not rows:
        return ""
    items = []
    for key, fill, n in _prepare(rows, max_sections).legend:
        label = html.escape(_short_section(key) if key != OTHER else key)
        items.append(
            f'<li title="{html.escape(key)}"><span class="swatch" style="background:{fill}"></span>{label} ({n})</li>'
        )
    return '<ul class="barwatch-chart-legend">' + "".join(items) + "</ul>"


_CHART_TEMPLATE = """{% extends "base.html" %}
{% block title %}{{ database }}: articles per month{% endblock %}
{% block extra_head %}{{ super() }}
<style>
/* The chart's font tiers are container queries on this wrapper's width. */
.barwatch-chart-wrap { container-type: inline-size; max-width: 100%; }
.barwatch-chart-legend { display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; list-style: none; padding: 0; margin: 0.5em 0 1em; }
.barwatch-chart-legend li { display: flex; align-items: center; gap: 0.4em; }
.barwatch-chart-legend .swatch { display: inline-block; width: 0.9em; height: 0.9em; flex: none; }
table.barwatch-numbers { max-width: 100%; }
table.barwatch-numbers td { overflow-wrap: anywhere; }
table.barwatch-numbers td:nth-of-type(3) { text-align: right; }
@media only screen and (max-width: 576px) {
  table.barwatch-numbers td:nth-of-type(3) { text-align: left; }
  .barwatch-numbers td:nth-of-type(1):before { content: "month"; }
  .barwatch-numbers td:nth-of-type(2):before { content: "section"; }
  .barwatch-numbers td:nth-of-type(3):before { content: "articles"; }
}
</style>
{% endblock %}
{% block crumbs %}<p class="crumbs"><a href="{{ urls.instance() }}">home</a> / <a href="{{ urls.database(database) }}">{{ database }}</a></p>{% endblock %}
{% block content %}
<h1>Articles per month by section · 每月文章数（按栏目）</h1>
<div class="barwatch-chart-wrap">{{ svg }}</div>
{{ legend }}
<h2>Numbers</h2>
<table class="rows-and-columns barwatch-numbers">
<thead><tr><th>month</th><th>section</th><th>articles</th></tr></thead>
<tbody>
{% for month, section, n in rows %}<tr><td>{{ month }}</td><td>{{ section }}</td><td>{{ n }}</td></tr>
{% endfor %}</tbody></table>
<p>The same numbers as a query: <a href="{{ urls.database(database) }}/articles_per_month">articles_per_month</a>.</p>
{% endblock %}
"""


async def chart_view(datasette, request):
    database = request.url_vars["database"]
    try:
        db = datasette.get_database(database)
    except KeyError:
        raise NotFound(f"Database not found: {database}") from None
    if not await db.table_exists("articles"):
        raise NotFound(f"{database} is not a barwatch archive (no articles table)")
    result = await db.execute(PER_MONTH_QUERY_SQL)
    rows = [(r["month"], r["section"], r["articles"]) for r in result.rows]
    template = datasette.jinja_env.from_string(_CHART_TEMPLATE)
    context = {
        "database": database,
        "rows": rows,
        "svg": Markup(chart_svg(rows)),
        "legend": Markup(chart_legend(rows)),
    }
    page = await datasette.render_template([template], context, request=request)
    return Response.html(page)
