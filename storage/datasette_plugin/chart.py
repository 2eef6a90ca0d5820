"""The chart of articles per month by section: an inline SVG at ``/<db>/-/chart``."""
from __future__ import annotations

import html
import re
from collections import OrderedDict

from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from storage.serve import PER_MONTH_QUERY_SQL

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]
OTHER_COLOUR = "#bab0ac"


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


def chart_svg(rows: list[tuple[str, str, int]], max_sections: int = len(PALETTE)) -> str:
    """A stacked bar chart (inline SVG, no script) of articles per month by section.

    Every month between the first and the last is a bar, so gaps show as gaps. The
    sections with most articles get their own colour, the rest are grouped as 其他.
    """
    if not rows:
        return '<p class="barwatch-chart-empty">No dated articles yet.</p>'
    totals: dict[str, int] = {}
    for _, section, n in rows:
        totals[section] = totals.get(section, 0) + n
    ranked = sorted(totals, key=lambda s: (-totals[s], s))
    own = ranked[:max_sections] if len(ranked) <= max_sections else ranked[: max_sections - 1]
    colour = {s: PALETTE[i] for i, s in enumerate(own)}
    other = "其他 (other)"
    months = _month_range(min(r[0] for r in rows), max(r[0] for r in rows))
    stacks: dict[str, OrderedDict] = {m: OrderedDict() for m in months}
    for month, section, n in rows:
        key = section if section in colour else other
        stacks[month][key] = stacks[month].get(key, 0) + n
    peak = max(sum(s.values()) for s in stacks.values())
    bar_w = max(6, min(28, 900 // max(1, len(months))))
    gap = 2
    left, top, plot_h = 40, 10, 220
    width = left + len(months) * (bar_w + gap) + 10
    legend_keys = own + ([other] if len(ranked) > len(own) else [])
    legend_h = 20 * len(legend_keys)
    height = top + plot_h + 60 + legend_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barwatch-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'style="font-family:sans-serif;font-size:11px">',
        "<title>Articles per month by section</title>",
    ]
    # y axis: a few gridlines
    step = max(1, -(-peak // 4))
    for v in range(0, peak + 1, step):
        y = top + plot_h - v * plot_h / peak
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{v}</text>')
    label_every = max(1, len(months) // 12)
    for i, month in enumerate(months):
        x = left + i * (bar_w + gap)
        y = top + plot_h
        for key, n in stacks[month].items():
            h = n * plot_h / peak
            y -= h
            fill = colour.get(key, OTHER_COLOUR)
            tip = html.escape(f"{month} {key}: {n}")
            parts.append(
                f'<rect class="bar" x="{x}" y="{y:.1f}" width="{bar_w}" height="{h:.1f}" fill="{fill}" '
                f'data-month="{month}" data-section="{html.escape(key)}" data-count="{n}"><title>{tip}</title></rect>'
            )
        if i % label_every == 0:
            lx, ly = x + bar_w / 2, top + plot_h + 12
            parts.append(
                f'<text x="{lx:.1f}" y="{ly}" text-anchor="end" transform="rotate(-45 {lx:.1f} {ly})">{month}</text>'
            )
    ly = top + plot_h + 60
    for key in legend_keys:
        fill = colour.get(key, OTHER_COLOUR)
        label = html.escape(_short_section(key) if key != other else key)
        parts.append(f'<rect x="{left}" y="{ly}" width="12" height="12" fill="{fill}"/>')
        parts.append(f'<text x="{left + 18}" y="{ly + 10}">{label} ({totals.get(key, sum(totals[s] for s in ranked if s not in colour))})</text>')
        ly += 20
    parts.append("</svg>")
    return "".join(parts)


_CHART_TEMPLATE = """{% extends "base.html" %}
{% block title %}{{ database }}: articles per month{% endblock %}
{% block crumbs %}<p class="crumbs"><a href="{{ urls.instance() }}">home</a> / <a href="{{ urls.database(database) }}">{{ database }}</a></p>{% endblock %}
{% block content %}
<h1>Articles per month by section · 每月文章数（按栏目）</h1>
<div class="barwatch-chart-wrap" style="overflow-x:auto">{{ svg }}</div>
<h2>Numbers</h2>
<table class="rows-and-columns">
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
        raise NotFound(f"Database not found: {database}")
    if not await db.table_exists("articles"):
        raise NotFound(f"{database} is not a barwatch archive (no articles table)")
    result = await db.execute(PER_MONTH_QUERY_SQL)
    rows = [(r["month"], r["section"], r["articles"]) for r in result.rows]
    template = datasette.jinja_env.from_string(_CHART_TEMPLATE)
    page = await datasette.render_template(
        [template], {"database": database, "rows": rows, "svg": Markup(chart_svg(rows))}, request=request
    )
    return Response.html(page)

