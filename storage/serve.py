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
from storage.schema import version_body_sql
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
    expr="barwatch_fts_query(:q)", title_expr="barwatch_fts_query(:q, 1)", query=":q",
    section="nullif(:section, '')", since="nullif(:since, '')", limit="50",
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

ARTICLE_HISTORY_SQL = """
select v.version, v.fetched_at, v.title, v.published, v.author, v.source,
       length(""" + version_body_sql("v", "a") + """) as body_chars, v.diff, v.content_hash
from versions v join articles a on a.id = v.article_id
where v.article_id in (
  select id from articles where id = lower(trim(:id))
     or (length(trim(:id)) >= 6 and id like lower(trim(:id)) || '%')
)
order by v.article_id, v.version
"""

PER_MONTH_QUERY_SQL = """
select substr(published, 1, 7) as month,
       coalesce(nullif(barwatch_fold(section), ''), '(无栏目)') as section,
       count(*) as articles
from articles
where published glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' and status is not 'removed'
group by month, section
order by month, section
"""

COLUMNS: dict[str, dict[str, str]] = {
    "articles": {
        "id": "The article's identity: the 32 hex digits after /info/ in its URL.",
        "url": "Canonical URL, https://www.lawyers.org.cn/info/<id> (wx./info. hosts and http fold to it).",
        "section": "Channel from the page's breadcrumb, e.g. 行业资讯 > 律协动态.",
        "title": "Title as the page shows it.",
        "subtitle": "The line between title and metadata of a magazine piece (上海律师), else empty.",
        "published": "Publication date (YYYY-MM-DD; YYYY-MM for a magazine issue); published_from says where from.",
        "author": "作者 from the metadata line, e.g. 办公室 or a committee.",
        "source": "信息来源/来源 (press reprints name the newspaper).",
        "views": "Last seen view counter (阅读:N次); not content, changes on every fetch.",
        "body": "Body text, one paragraph a line, page chrome and footer removed.",
        "attachments": "JSON list of attachment links found in the body.",
        "content_hash": "SHA-256 of the normalised content fields; a change is a new version.",
        "first_seen": "When barwatch first archived the article (UTC).",
        "last_seen": "When the article was last fetched successfully (UTC).",
        "last_changed": "When the content last changed (UTC).",
        "status": "live, or removed once the site answered 404/410.",
        "version": "Current version number (1 = as first archived).",
        "removed_at": "When the article was found gone (UTC), if removed.",
        "last_checked": "When the article was last re-verified (UTC).",
        "etag": "HTTP ETag of the last fetch, for conditional requests.",
        "last_modified": "HTTP Last-Modified of the last fetch, for conditional requests.",
        "published_from": "page (printed on it), list (the list row that linked to it) or issue (the magazine "
        "issue it names). Only a page date is content: the others never make a version.",
        "channel": "The channel (channels.url_template) whose list first showed the article.",
        "search_key": "The article's row in the search index: its day (published, else first archived) times 256, "
        "plus a slot, so index order is date order; empty when not indexed (removed, or written by another "
        "tool until barwatch reindex).",
        "search_checksum": "CRC-32 of the text the search index holds for the article: a row changed outside "
        "barwatch is detected and the index rebuilt.",
    },
    "versions": {
        "article_id": "The article (articles.id).",
        "version": "1 for the first archived content, then one more per edit.",
        "fetched_at": "When this version was fetched (UTC).",
        "title": "Title of this version.",
        "subtitle": "Subtitle of this version (magazine pieces).",
        "published": "Publication date of this version.",
        "author": "Author of this version.",
        "source": "Source of this version.",
        "body": "Body text of an earlier version; empty for the current one, whose body is articles.body (stored once).",
        "content_hash": "Hash of this version's normalised content fields.",
        "diff": "Unified diff from the previous version (empty for version 1).",
        "run_id": "The crawl run that found this version (crawl_runs.id).",
        "note": "Empty for an edit; 'repair: …' when a garbled stored version was replaced by the clean page "
        "(no alert); 'held: …' when the body shrank so much that the change waits for `barwatch release`.",
    },
    "crawl_runs": {
        "id": "Run number.",
        "started_at": "Start (UTC).",
        "finished_at": "End (UTC); empty while running or after a crash.",
        "status": "running; ok; partial (some pages failed); failed (nothing fetched, robots.txt unreachable, "
        "every list disallowed, or a storage error); interrupted (stopped or killed before the end).",
        "mode": "full (every list page) or incremental.",
        "requests": "HTTP requests made.",
        "new": "Articles archived for the first time.",
        "changed": "Articles whose content changed.",
        "unchanged": "Articles re-checked without change.",
        "removed": "Articles found gone.",
        "failed": "Pages that could not be fetched or parsed.",
        "baseline": "1 for the archive's first crawl (new articles of a channel in baseline send no alerts).",
        "note": "Why a run failed, was interrupted or is held.",
        "held": "Empty, or suspect (too many changes or a shrunken body: change alerts wait), "
        "or released (an operator confirmed it with `barwatch release`).",
    },
    "views": {
        "article_id": "The article (articles.id).",
        "seen_at": "When the counter was read (UTC).",
        "count": "The view counter (阅读:N次) at that time.",
    },
    "alerts": {
        "id": "Alert number.",
        "article_id": "The article (articles.id).",
        "kind": "new, changed, removed, restored (a removed article is back), or operations (a notice about "
        "barwatch itself: a failed run, "
        "repeated failures, a held run; sent whatever [alerts] kinds says).",
        "run_id": "The run that raised it (crawl_runs.id).",
        "created_at": "When it was queued (UTC).",
        "version": "The article version the alert is about.",
        "incident": "Operations notices: the incident (crawl-failed, crawl-partial, held:<run>).",
        "notice": "Operations notices: the message.",
    },
    "notify_channels": {
        "fingerprint": "The channel's identity without its secret: email for the mail, <service>:<hash> for a chat URL.",
        "kind": "email, or the chat service (wecombot, dingtalk, feishu, json …).",
        "label": "A printable description, secrets masked.",
        "first_seen": "When barwatch first used it (UTC).",
        "start_after": "It takes the alerts numbered after this one (a channel added later does not replay history).",
        "last_ok": "When it last accepted a message (UTC).",
        "last_error": "What went wrong the last time it failed.",
        "failing_since": "Since when it has been failing (UTC); empty while it works.",
    },
    "deliveries": {
        "alert_id": "The alert (alerts.id).",
        "channel": "The channel (notify_channels.fingerprint).",
        "sent_at": "When the channel accepted it (UTC); empty while pending.",
        "attempts": "Delivery attempts so far.",
        "refused": "Failures while the same channel accepted other messages (it refuses this one).",
        "last_error": "Error of the last failed attempt.",
        "gave_up_at": "When barwatch stopped retrying it on this channel (UTC): refused 3 times; an operations notice said so.",
    },
    "failures": {
        "id": "Failure number.",
        "run_id": "The run (crawl_runs.id).",
        "url": "The URL that failed.",
        "article_id": "The article, when the URL is one.",
        "kind": "fetch, list, http, parse, extraction (drift guard kept the stored version), encoding (the page "
        "did not decode cleanly), redirect (off the site or to another article, or a loop), robots, storage.",
        "message": "What went wrong.",
        "at": "When (UTC).",
    },
    "channels": {
        "url_template": "The channel's identity: its list URL with {page} where the page number goes.",
        "name": "The channel's name: the config's [[sections]] name, or the breadcrumb text that led to it.",
        "first_page": "The number of its first page (0 or 1 mostly; 2 for index.html / index_2.html lists).",
        "first_url": "Its first page when that does not fit the template (index.html), else empty.",
        "how_found": "config, or how discovery found it: breadcrumb, more, nav, tab, pager, hub.",
        "found_on": "The page whose link led to it.",
        "first_seen": "When barwatch first walked it (UTC).",
        "baseline_done_at": "When its first walk finished (UTC); empty while in baseline "
        "(what it lists until then is backlog, announced to nobody).",
        "last_walked": "When a walk of it last finished (UTC).",
        "newest_item": "The newest list date seen on it: a quiet channel is walked daily, a closed one weekly.",
        "articles_found": "Articles first archived from its lists.",
        "last_error": "What went wrong on its last walk, empty when it went well.",
        "js_pager": "1 when its pager only works by JavaScript: only page 1 is walked.",
    },
    "candidates": {
        "url": "A page some fetched page linked to as a possible channel list.",
        "kind": "list, hub (links to lists), or other (asked again after recheck_after).",
        "how": "How it was offered: breadcrumb, more, nav, tab, pager, hub.",
        "text": "The link text.",
        "found_on": "The page that linked to it.",
        "depth": "Hub levels followed to reach it.",
        "first_seen": "When it was first fetched (UTC).",
        "checked_at": "When it was last classified (UTC).",
        "recheck_after": "For other: when it may be asked again (UTC).",
        "channel": "For list: the channel (channels.url_template) it is a page of.",
        "note": "Why it is not a list, or what is special about it.",
    },
    "backlog": {
        "article_id": "An article a channel's baseline walk listed but could not store then.",
        "url_template": "The channel (channels.url_template).",
        "added_at": "When (UTC). The row goes when the article is stored, without an alert.",
    },
    "incidents": {
        "key": "crawl-failed, crawl-partial (the same failures several runs in a row) or held:<run>.",
        "opened_at": "When it started (UTC); an operations notice went out.",
        "opened_run": "The run that started it.",
        "closed_at": "When it cleared (UTC); empty while open.",
        "closed_run": "The run that cleared it.",
        "detail": "The notice sent when it started.",
    },
    "meta": {
        "key": "A setting barwatch keeps in the archive itself.",
        "value": "Its value.",
    },
}

# Columns that hold a UTC timestamp (their description says so): pages show them in the
# site's zone, with the stored UTC value as the tooltip.
TIME_COLUMNS = frozenset(
    name for columns in COLUMNS.values() for name, text in columns.items() if "(UTC)" in text
)

TABLES: dict[str, dict] = {
    "articles": {
        "title": "Articles · 文章",
        "description": "One row per article of lawyers.org.cn, its newest content. "
        "The search box does Chinese full-text search (any 1+ characters, several words = all of them, "
        '"quoted phrase", -exclude, OR); the ranked version with snippets is the search query.',
        "fts_table": search.FTS_TABLE,
        "fts_pk": "search_key",
        "sort_desc": "published",
        "facets": ["section", {"month": "published"}, "status"],
        "label_column": "title",
    },
    "versions": {
        "title": "Versions · 版本",
        "description": "Every content version of every article, with the diff from the one before.",
        "sort_desc": "fetched_at",
        "facets": ["version"],
    },
    "crawl_runs": {
        "title": "Crawl runs · 抓取记录",
        "description": "One row per crawl, with its counts and outcome.",
        "sort_desc": "id",
        "facets": ["status", "mode"],
    },
    "views": {
        "title": "View counts · 阅读数",
        "description": "The view counter of each article each time it was read.",
        "sort_desc": "seen_at",
    },
    "alerts": {
        "title": "Alerts · 提醒",
        "description": "New, changed, removed and restored articles and operations notices, queued for every channel.",
        "sort_desc": "id",
        "facets": ["kind"],
    },
    "notify_channels": {
        "title": "Alert channels · 提醒通道",
        "description": "The mail and each chat URL alerts go to, by a fingerprint without the secret.",
        "sort_desc": "first_seen",
    },
    "deliveries": {
        "title": "Deliveries · 发送记录",
        "description": "Each alert on each channel: sent, pending with its last error, or given up.",
        "sort_desc": "alert_id",
        "facets": ["channel"],
    },
    "failures": {
        "title": "Failures · 失败",
        "description": "Fetches and parses that failed, per run. Stored articles are never touched by them.",
        "sort_desc": "id",
        "facets": ["kind"],
    },
    "channels": {
        "title": "Channels · 栏目",
        "description": "The list pages barwatch walks, each with a baseline of its own.",
        "sort_desc": "first_seen",
    },
    "candidates": {
        "title": "Discovery candidates",
        "description": "Every page offered as a possible channel list, and what it turned out to be.",
        "sort_desc": "first_seen",
        "facets": ["kind", "how"],
    },
    "backlog": {"title": "Backlog", "description": "Listed before a channel's baseline ended; never announced.", "hidden": True},
    "incidents": {
        "title": "Incidents · 运行事件",
        "description": "Breakage of barwatch itself: one notice when it starts, one when it clears.",
        "sort_desc": "opened_at",
    },
    "meta": {"title": "Meta", "description": "barwatch's own bookkeeping.", "hidden": True},
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
    for name, meta in TABLES.items():
        meta = json.loads(json.dumps(meta))  # a copy per call
        if name in COLUMNS:
            meta["columns"] = dict(COLUMNS[name])
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
