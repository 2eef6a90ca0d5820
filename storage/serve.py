"""Serve an archive with Datasette: metadata, canned queries, settings, the plugin.

``build_datasette(path)`` gives a ready instance (tests drive it through
``datasette.client``); ``serve(path)`` runs it with uvicorn on 127.0.0.1. The file is
opened in Datasette's normal (mutable, read-only connection) mode, not ``immutable``:
the crawler keeps writing to it, WAL lets those writes and these reads run side by side,
and every request sees the newest committed rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from storage import search
from storage.schema import SCHEMA, version_body_sql
from storage.textops import SITE_TIMEZONE

PLUGIN_NAME = "barwatch"  # the plugin's name (pyproject's datasette entry point) and config key
# An article's page, under the archive's database URL (/<db>/-/article/<id>): the plugin's
# route, the pages' and the feed's links, and the mail's links under [web] public_url.
ARTICLE_PAGE = "-/article/{id}"

# Canned queries. Why each one exists is in its description (shown on its page).
# The same ranking as `barwatch search` (search.search_sql); section and since are
# optional filters (an empty form field is no filter).
SEARCH_SQL = search.search_sql(
    "a.id, a.title, a.published, a.section, barwatch_snippet(a.body, :q) as snippet, a.url",
    expr="barwatch_fts_query(:q)",
    title_expr="barwatch_fts_query(:q, 1)",
    query=":q",
    section="nullif(:section, '')",
    since="nullif(:since, '')",
    limit="50",
)

NEW_ARTICLES_SQL = """
select a.first_seen, a.published, a.section, a.title, a.author, a.id, a.url
from articles a
where a.status is not 'removed'
order by a.first_seen desc, a.published desc, a.id
limit 100
"""

RECENT_CHANGES_SQL = """
select v.fetched_at, a.section, a.title, v.version, v.diff, r.held as run_held, v.note, v.article_id, a.url
from versions v
join articles a on a.id = v.article_id
left join crawl_runs r on r.id = v.run_id
where v.version > 1
order by v.fetched_at desc, v.article_id, v.version desc
limit 100
"""

ARTICLE_HISTORY_SQL = (
    """
select v.version, v.fetched_at, v.title, v.published, v.author, v.source,
       length("""
    + version_body_sql("v", "a")
    + """) as body_chars, v.diff, v.content_hash
from versions v join articles a on a.id = v.article_id
where v.article_id in (
  select id from articles where id = lower(trim(:id))
     or (length(trim(:id)) >= 6 and id like lower(trim(:id)) || '%')
)
order by v.article_id, v.version
"""
)

PER_MONTH_QUERY_SQL = """
select substr(published, 1, 7) as month,
       coalesce(nullif(barwatch_fold(section), ''), '(无栏目)') as section,
       count(*) as articles
from articles
where published glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' and status is not 'removed'
group by month, section
order by month, section
"""

# Column descriptions, and each table's one-line summary, are the schema's (storage.schema.SCHEMA).
# Columns that hold a UTC timestamp (their description says so): pages show them in the
# site's zone, with the stored UTC value as the tooltip.
TIME_COLUMNS = frozenset(c.name for table in SCHEMA.values() for c in table.columns if "(UTC)" in c.doc)

# Datasette's presentation of each table: title, sort, facets. Its description is the
# schema's summary, followed by "more" where Datasette has something to add.
TABLES: dict[str, dict] = {
    "articles": {
        "title": "Articles · 文章",
        "more": "The search box does Chinese full-text search (any 1+ characters, several words = all of them, "
        '"quoted phrase", -exclude, OR); the ranked version with snippets is the search query.',
        "fts_table": search.FTS_TABLE,
        "fts_pk": "search_key",
        "sort_desc": "published",
        "facets": ["section", {"month": "published"}, "status"],
        "label_column": "title",
    },
    "versions": {
        "title": "Versions · 版本",
        "sort_desc": "fetched_at",
        "facets": ["version"],
    },
    "crawl_runs": {
        "title": "Crawl runs · 抓取记录",
        "sort_desc": "id",
        "facets": ["status", "mode"],
    },
    "views": {
        "title": "View counts · 阅读数",
        "sort_desc": "seen_at",
    },
    "alerts": {
        "title": "Alerts · 提醒",
        "sort_desc": "id",
        "facets": ["kind"],
    },
    "notify_channels": {
        "title": "Alert channels · 提醒通道",
        "sort_desc": "first_seen",
    },
    "deliveries": {
        "title": "Deliveries · 发送记录",
        "sort_desc": "alert_id",
        "facets": ["channel"],
    },
    "failures": {
        "title": "Failures · 失败",
        "sort_desc": "id",
        "facets": ["kind"],
    },
    "channels": {
        "title": "Channels · 栏目",
        "sort_desc": "first_seen",
    },
    "candidates": {
        "title": "Discovery candidates",
        "sort_desc": "first_seen",
        "facets": ["kind", "how"],
    },
    "backlog": {"title": "Backlog", "hidden": True},
    "incidents": {
        "title": "Incidents · 运行事件",
        "sort_desc": "opened_at",
    },
    "meta": {"title": "Meta", "hidden": True},
}

SETTINGS = {
    "default_page_size": 50,
    # Bodies are long: tables show their start; the row page shows all of it.
    "truncate_cells_html": 160,
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 500,
    "max_returned_rows": 1000,
    # Suggestions run extra queries on every table page; the useful facets are configured.
    "suggest_facets": False,
}


def build_metadata(db_name: str, zone: str = SITE_TIMEZONE) -> dict:
    """Datasette metadata for an archive served under the name ``db_name``; the pages and
    the feed show times in ``zone`` (the config's ``[site] timezone``)."""
    tables = {}
    for name in {**TABLES, **SCHEMA}:  # every table of the schema gets its descriptions
        meta = json.loads(json.dumps(TABLES.get(name, {})))  # a copy per call
        more = meta.pop("more", None)
        meta["description"] = " ".join([f"{SCHEMA[name].summary}.", *([more] if more else [])])
        meta["columns"] = {c.name: c.doc for c in SCHEMA[name].columns}
        tables[name] = meta
    return {
        "title": "barwatch · 东方律师网存档",
        # Read by the plugin's pages and feed: datasette.plugin_config("barwatch").
        "plugins": {PLUGIN_NAME: {"timezone": zone}},
        "description_html": (
            "Archive and change monitor of the Shanghai Bar Association's news site "
            '(<a href="https://www.lawyers.org.cn">www.lawyers.org.cn</a>). '
            f'Start with <a href="/{db_name}/search">search</a>, '
            f'<a href="/{db_name}/recent_changes">recent changes</a>, '
            f'<a href="/{db_name}/new_articles">new articles</a>, '
            f'the <a href="/{db_name}/-/chart">chart of articles per month</a>, '
            f'or subscribe to the <a href="/{db_name}/feed.atom">Atom feed</a>.'
        ),
        "databases": {
            db_name: {
                "title": "上海市律师协会 news archive",
                "description": "Articles, their versions and diffs, crawl runs, alerts and failures.",
                "tables": tables,
                "queries": {
                    "search": {
                        "title": "搜索 Search",
                        "description": "Chinese full-text search, ranked, title hits first. "
                        "Words separated by spaces must all occur; a Chinese word matches anywhere, "
                        'inside longer words too; "quoted phrase"; -word excludes; OR.',
                        "sql": SEARCH_SQL.strip(),
                        "hide_sql": True,
                    },
                    "new_articles": {
                        "title": "最新文章 Latest new articles",
                        "description": "Articles by when barwatch first archived them, newest first.",
                        "sql": NEW_ARTICLES_SQL.strip(),
                        "hide_sql": True,
                    },
                    "recent_changes": {
                        "title": "最近修改 Recent changes",
                        "description": "Edits to archived articles, newest first, with the diff "
                        "(struck red: removed, green: added), only the sentences around each change; the title opens the "
                        "article's page. run_held suspect: the run is held and its alerts wait for barwatch release.",
                        "sql": RECENT_CHANGES_SQL.strip(),
                        "hide_sql": True,
                    },
                    "article_history": {
                        "title": "文章历史 Article history",
                        "description": "Every version of one article (id or its first 6+ hex digits).",
                        "sql": ARTICLE_HISTORY_SQL.strip(),
                        "hide_sql": True,
                    },
                    "articles_per_month": {
                        "title": "每月文章 Articles per month",
                        "description": "Articles per month and section (also drawn at /-/chart; "
                        "datasette-vega can chart it here).",
                        "sql": PER_MONTH_QUERY_SQL.strip(),
                        "hide_sql": True,
                    },
                },
            }
        },
    }


def _register_plugin() -> None:
    """Make sure the plugin is active even when barwatch is not pip-installed."""
    from datasette.plugins import pm

    from storage import datasette_plugin

    if not pm.is_registered(datasette_plugin) and pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(datasette_plugin, name=PLUGIN_NAME)


def build_datasette(db_path: str | Path, settings: dict | None = None, zone: str = SITE_TIMEZONE):
    """A Datasette over the archive at ``db_path`` with barwatch's metadata and plugin.

    The schema (and search index) is brought up to date first, so the first search on an
    archive written by an older barwatch does not find an empty index.
    """
    from datasette.app import Datasette

    from storage.archive import Archive

    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such archive")
    Archive(path).close()
    _register_plugin()
    ds = Datasette(
        files=[str(path)],
        metadata=build_metadata(path.stem, zone),
        settings={**SETTINGS, **(settings or {})},
        cors=False,
    )
    return ds


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001, zone: str = SITE_TIMEZONE) -> None:
    """Run Datasette over the archive until interrupted (uvicorn, one worker)."""
    import uvicorn

    ds = build_datasette(db_path, zone=zone)
    asyncio.run(ds.invoke_startup())
    print(f"barwatch: serving {db_path} at http://{host}:{port}/", file=sys.stderr, flush=True)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on", workers=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage.serve", description=serve.__doc__)
    parser.add_argument("db", help="archive file, e.g. barwatch.db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--print-metadata", action="store_true", help="print the metadata JSON and exit")
    args = parser.parse_args(argv)
    if args.print_metadata:
        print(json.dumps(build_metadata(Path(args.db).stem), ensure_ascii=False, indent=2))
        return 0
    try:
        serve(args.db, host=args.host, port=args.port)
    except FileNotFoundError as exc:
        print(f"barwatch: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
