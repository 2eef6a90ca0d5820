"""barwatch's Datasette plugin: the operator's pages and the Chinese search in Datasette.

* routes: the front door ``/`` and article pages (:mod:`.pages`), the Atom feed
  (:mod:`.feed`), the chart (:mod:`.chart`) and barwatch.css;
* templates (``templates/``): the pages, the articles list and row pages (``_table.html``),
  stored queries titled by their title (``query.html``); all extend Datasette's own;
* cells: UTC times in the site's zone, titles linking to their article's page, a diff
  column as the trimmed character-level change (:mod:`storage.diffs`);
* SQL functions, the month facet and the search box's Chinese search.

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

import re
import sqlite3
from pathlib import Path

from datasette import hookimpl
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import Response
from markupsafe import Markup

from storage import search
from storage.archive import read_versions
from storage.datasette_plugin import chart, feed, pages
from storage.diffs import changes_from_unified, paragraph_changes, render_changes
from storage.serve import ARTICLE_PAGE, TIME_COLUMNS
from storage.textops import clean_text, local_time, one_line

_CELL_COLUMNS = TIME_COLUMNS | {"title", "diff"}

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
    # Control characters out of stored text (rows of older barwatch versions too), for
    # ad-hoc SQL whose CSV or JSON ends up in a terminal or an XML file.
    conn.create_function("barwatch_clean", 1, sql_clean, deterministic=True)
    conn.create_function("barwatch_one_line", 1, sql_one_line, deterministic=True)
    # trylast: Datasette's own escape_fts is registered before this one and is replaced.
    if pages.is_archive(conn):
        conn.create_function("escape_fts", 1, sql_fts_query)


# --------------------------------------------------------------------------- cells
def _is_archive_name(datasette, database: str):
    """Whether ``database`` is a barwatch archive, asked once per Datasette and database:
    the plugin is active for any Datasette in this environment, and its cells must leave
    other databases alone."""
    cache = datasette.__dict__.setdefault("_barwatch_archives", {})

    async def check() -> bool:
        if database not in cache:
            try:
                cache[database] = await datasette.get_database(database).execute_fn(pages.is_archive)
            except KeyError:
                cache[database] = False
        return cache[database]

    return check()


def _changes_of(article_id: str, version: int):
    """The trimmed change that made ``version`` of an article, as HTML ("" for a first version)."""

    def work(conn: sqlite3.Connection) -> str:
        row = conn.execute(
            "SELECT max(version) FROM versions WHERE article_id = ? AND version < ?", [article_id, version]
        ).fetchone()
        if row is None or row[0] is None:
            return ""
        old, new = read_versions(conn, article_id, row[0]), read_versions(conn, article_id, version)
        if not old or not new:
            return ""
        return render_changes(paragraph_changes(old[0], new[0]), "html") or "（仅空白或标点写法不同）"

    return work


def _row_value(row, name: str):
    try:
        return row[name]
    except (IndexError, KeyError):
        return None


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if column not in _CELL_COLUMNS or value in (None, ""):
        return None

    async def cell():
        if not await _is_archive_name(datasette, database):
            return None
        if column in TIME_COLUMNS and isinstance(value, str):
            zone = pages.zone_of(datasette)
            return Markup('<span class="barwatch-time" title="{} UTC">{}</span>').format(
                one_line(value), local_time(value, zone)
            )
        article_id = _row_value(row, "article_id") or (_row_value(row, "id") if table in (None, "articles") else None)
        if column == "title" and isinstance(article_id, str) and pages.ARTICLE_ID_RE.match(article_id):
            href = pages.article_path(datasette, database, article_id)
            return Markup('<a href="{}">{}</a>').format(href, one_line(str(value)))
        if column == "diff" and isinstance(value, str):
            # Everything shown is escaped by render_changes, so a query that names any
            # column "diff" cannot inject markup.
            version = _row_value(row, "version")
            if isinstance(article_id, str) and isinstance(version, int):
                db = datasette.get_database(database)
                rendered = await db.execute_fn(_changes_of(article_id, version))
            else:
                rendered = render_changes(changes_from_unified(value), "html")
            return Markup(f'<div class="barwatch-diff">{rendered}</div>')
        return None

    return cell()


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
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
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
    # Plugin routes are matched before Datasette's own: "/" is barwatch's front door
    # ("/.json" is still Datasette's index), the others are paths Datasette does not use.
    return [
        (r"^/$", pages.home_view),
        (
            r"^/(?P<database>[^/.]+)/" + re.escape(ARTICLE_PAGE).replace(r"\{id\}", r"(?P<id>[^/.]+)") + "$",
            pages.article_view,
        ),
        (r"^/(?P<database>[^/.]+)/-/chart$", chart.chart_view),
        (r"^/(?P<database>[^/.]+)/feed\.atom$", feed.feed_view),
        (r"^/-/barwatch\.css$", stylesheet),
    ]


# Served by a route of ours: Datasette's /-/static-plugins/<name>/ path depends on whether
# the plugin came from the installed package or was registered by hand.
_CSS = Path(__file__).with_name("static") / "barwatch.css"


async def stylesheet(request):
    return Response(
        _CSS.read_text(encoding="utf-8"),
        content_type="text/css; charset=utf-8",
        headers={"cache-control": "max-age=300"},
    )


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.path("/-/barwatch.css")]
