"""barwatch's Datasette plugin: Chinese search, diff rendering, a month facet, a chart.

Loaded through the ``datasette`` entry point (pyproject), so it is active for any
Datasette in this environment; :mod:`storage.serve` also registers it by hand when the
package is not installed. Everything here is read-only.

Chinese search in the table's own search box: Datasette builds its search clause as
``match escape_fts(:search)``, with ``escape_fts`` a SQL function it registers on every
connection. On connections to a barwatch archive this plugin registers its own
``escape_fts`` (last, so it wins) that turns what the user typed into barwatch's FTS5
expression. The box keeps showing the typed text, ``?_search=律师`` links and the JSON API
work, and nothing has to rewrite requests.
"""
from __future__ import annotations

import html
import re
import sqlite3
from collections import OrderedDict

from datasette import hookimpl
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from storage import search
from storage.diffs import char_segments
from storage.textops import clean_text, one_line

# --------------------------------------------------------------------------- SQL functions
_NO_MATCH = '""'  # an empty FTS5 phrase: valid, and matches no row


def sql_fts_query(query, title_only=0):
    """barwatch_fts_query(:q [, 1 for titles only]) for canned queries: never raises.

    An empty or punctuation-only query (a canned query's form before anything is typed)
    gives an expression that matches nothing rather than an error page.
    """
    try:
        return search.fts_query(str(query or ""), title_only=bool(title_only))
    except ValueError:
        return _NO_MATCH


def sql_snippet(text, query, width=80):
    return search.highlight(text, str(query or ""), width=int(width or 80))


def sql_clean(text):
    """barwatch_clean(text): ``clean_text`` on text values; other values unchanged."""
    return clean_text(text) if isinstance(text, str) else text


def sql_one_line(text):
    """barwatch_one_line(text): ``one_line`` on text values; other values unchanged."""
    return one_line(text) if isinstance(text, str) else text


def _is_archive(conn: sqlite3.Connection) -> bool:
    try:
        return (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [search.FTS_TABLE]).fetchone()
            is not None
        )
    except sqlite3.DatabaseError:
        return False


@hookimpl(trylast=True)
def prepare_connection(conn, database, datasette):
    # Functions are registered on every connection so ad-hoc SQL can use them too.
    conn.create_function("barwatch_fts_query", 1, sql_fts_query)
    conn.create_function("barwatch_fts_query", 2, sql_fts_query)
    conn.create_function("barwatch_snippet", 2, sql_snippet)
    conn.create_function("barwatch_snippet", 3, sql_snippet)
    # barwatch_fold: sections of mirror copies are traditional with pinyin (律協(xié)動態):
    # the chart and the per-month query count them with their simplified channel.
    search.register_functions(conn)
    # Control characters out of stored text (rows of older barwatch versions too): the
    # Atom feed's XML cannot carry them, and a terminal or reader must not act on them.
    conn.create_function("barwatch_clean", 1, sql_clean, deterministic=True)
    conn.create_function("barwatch_one_line", 1, sql_one_line, deterministic=True)
    # trylast: Datasette's own escape_fts is registered before this one and is replaced.
    if _is_archive(conn):
        conn.create_function("escape_fts", 1, sql_fts_query)


# --------------------------------------------------------------------------- diff cells
_MAX_DIFF_LINES = 80
_DEL = "background:#ffe0e0;color:#8b0000;text-decoration:line-through"
_INS = "background:#d8f5d8;color:#064006;text-decoration:none"


def render_diff_html(diff: str) -> str:
    """A unified diff as escaped HTML: -/+ lines coloured, paired lines marked per character."""
    lines = diff.split("\n")
    shown, hidden = lines[:_MAX_DIFF_LINES], max(0, len(lines) - _MAX_DIFF_LINES)
    out: list[str] = []
    i = 0
    while i < len(shown):
        line = shown[i]
        if line.startswith("-") and not line.startswith("---"):
            # A run of removed lines followed by added lines: pair them for a char diff.
            j = i
            while j < len(shown) and shown[j].startswith("-") and not shown[j].startswith("---"):
                j += 1
            k = j
            while k < len(shown) and shown[k].startswith("+") and not shown[k].startswith("+++"):
                k += 1
            olds, news = shown[i:j], shown[j:k]
            for n in range(max(len(olds), len(news))):
                old = olds[n][1:] if n < len(olds) else None
                new = news[n][1:] if n < len(news) else None
                if old is not None and new is not None:
                    segs = char_segments(old, new)
                    del_html = "".join(
                        html.escape(s.text) if s.op == "=" else f'<del style="{_DEL}">{html.escape(s.text)}</del>'
                        for s in segs
                        if s.op != "+"
                    )
                    ins_html = "".join(
                        html.escape(s.text) if s.op == "=" else f'<ins style="{_INS}">{html.escape(s.text)}</ins>'
                        for s in segs
                        if s.op != "-"
                    )
                    out.append(f'<span style="color:#8b0000">-{del_html}</span>')
                    out.append(f'<span style="color:#064006">+{ins_html}</span>')
                elif old is not None:
                    out.append(f'<span style="{_DEL}">-{html.escape(old)}</span>')
                else:
                    out.append(f'<span style="{_INS}">+{html.escape(new)}</span>')
            i = k
            continue
        if line.startswith("+") and not line.startswith("+++"):
            out.append(f'<span style="{_INS}">{html.escape(line)}</span>')
        elif line.startswith("@@"):
            out.append(f'<span style="color:#555">{html.escape(line)}</span>')
        else:
            out.append(html.escape(line))
        i += 1
    if hidden:
        out.append(f"<em>… {hidden} more lines</em>")
    body = "\n".join(out)
    return f'<pre class="barwatch-diff" style="white-space:pre-wrap;max-width:60em;margin:0">{body}</pre>'


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    # Only the text of a column named diff is used, and all of it is escaped, so a query
    # that names any column "diff" cannot inject markup.
    if column == "diff" and isinstance(value, str) and value.strip():
        return Markup(render_diff_html(value))
    return None


# --------------------------------------------------------------------------- month facet
_MONTH_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]*"


class MonthFacet(Facet):
    """Counts per YYYY-MM of a date column, newest month first; selecting one filters
    with Datasette's own ``column__startswith=YYYY-MM``."""

    type = "month"

    async def suggest(self):
        return []

    async def facet_results(self):
        results, timed_out = [], []
        args = dict(self.get_querystring_pairs())
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            col = escape_sqlite(column)
            sql = f"""
                select substr({col}, 1, 7) as value, count(*) as count from ({self.sql})
                where {col} glob '{_MONTH_GLOB}'
                group by value order by value desc limit {size + 1}
            """
            try:
                rows = await self.ds.execute(
                    self.database, sql, self.params, truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except Exception:  # QueryInterrupted and friends: report as timed out
                timed_out.append(column)
                continue
            values = []
            for row in rows.rows[:size]:
                key = f"{column}__startswith"
                selected = args.get(key) == row["value"]
                path = (
                    path_with_removed_args(self.request, {key: row["value"]})
                    if selected
                    else path_with_added_args(self.request, {key: row["value"]})
                )
                values.append(
                    {
                        "value": row["value"],
                        "label": row["value"],
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(self.request, path),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": path_with_removed_args(self.request, {"_facet_month": column}),
                    "truncated": len(rows.rows) > size,
                }
            )
        return results, timed_out


@hookimpl
def register_facet_classes():
    return [MonthFacet]


# --------------------------------------------------------------------------- chart
PER_MONTH_SQL = """
select substr(published, 1, 7) as month,
       coalesce(nullif(barwatch_fold(section), ''), '(无栏目)') as section,
       count(*) as articles
from articles
where published glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' and status is not 'removed'
group by month, section
order by month, section
"""

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
    result = await db.execute(PER_MONTH_SQL)
    rows = [(r["month"], r["section"], r["articles"]) for r in result.rows]
    template = datasette.jinja_env.from_string(_CHART_TEMPLATE)
    page = await datasette.render_template(
        [template], {"database": database, "rows": rows, "svg": Markup(chart_svg(rows))}, request=request
    )
    return Response.html(page)


@hookimpl
def register_routes(datasette):
    return [(r"^/(?P<database>[^/.]+)/-/chart$", chart_view)]
