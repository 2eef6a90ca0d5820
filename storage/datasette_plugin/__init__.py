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
import sqlite3

from datasette import hookimpl
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from storage import search
from storage.datasette_plugin import chart
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


# --------------------------------------------------------------------------- routes
@hookimpl
def register_routes(datasette):
    return [(r"^/(?P<database>[^/.]+)/-/chart$", chart.chart_view)]
