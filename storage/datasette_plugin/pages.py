"""The operator's pages: the front door at ``/`` and one page per article.

Each page is a plain function that reads the archive on a Datasette read-only connection
(``Database.execute_fn``) and a template in ``templates/`` that extends Datasette's
``base.html``, so navigation, styles and the JSON API stay Datasette's. Nothing here
writes. Times are shown in the site's zone (``[site] timezone``, passed in through the
plugin config); ``published`` is the site's own date and is shown as it is.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3

from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from storage import outbox, search
from storage.archive import read_article, read_events, read_versions
from storage.diffs import CONTEXT, paragraph_changes, render_changes
from storage.schema import HOLD_FLAG_LABELS, RUN_STATUS_LABELS, dict_rows
from storage.serve import ARTICLE_PAGE, PLUGIN_NAME
from storage.textops import SITE_TIMEZONE, clean_text, local_time, one_line

ARTICLE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
LATEST = 20  # items under 最新动态 on the front page
RESULTS = 20  # search results on the front page


def zone_of(datasette) -> str:
    return (datasette.plugin_config(PLUGIN_NAME) or {}).get("timezone") or SITE_TIMEZONE


def article_path(datasette, database: str, article_id: str) -> str:
    return f"{datasette.urls.database(database)}/{ARTICLE_PAGE.format(id=article_id)}"


def short_section(section: str | None) -> str:
    """``行业资讯 > 律协动态`` -> ``律协动态``: the last crumb names the channel."""
    return re.split(r"\s*[>›»]\s*", one_line(section))[-1]


def is_archive(conn: sqlite3.Connection) -> bool:
    """Whether the database is a barwatch archive: the plugin is active for any Datasette
    in this environment and leaves other databases alone."""
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:  # not a database at all, or encrypted
        return False
    return {"articles", "versions", "alerts", search.FTS_TABLE} <= names


async def archive_db(datasette, database: str):
    try:
        db = datasette.get_database(database)
    except KeyError:
        raise NotFound(f"Database not found: {database}") from None
    if not await db.execute_fn(is_archive):
        raise NotFound(f"{database} is not a barwatch archive")
    return db


# --------------------------------------------------------------------------- front page
# Search hits are marked with two control characters (stored text never holds any: the
# snippet is cleaned first), so the snippet can be escaped before the marks become HTML.
_MARKS = ("\x02", "\x03")


def marked_html(snippet: str) -> Markup:
    return Markup(html.escape(snippet).replace(_MARKS[0], "<mark>").replace(_MARKS[1], "</mark>"))


def _paragraphs(body: str | None, n: int | None = None) -> list[str]:
    lines = [one_line(p) for p in (clean_text(body) or "").split("\n")]
    lines = [p for p in lines if p]
    return lines if n is None else lines[:n]


def _item(alert: outbox.PendingAlert, zone: str) -> dict:
    """One line of 最新动态 (and of an article's history): what happened, when, and for an
    edit the trimmed diff."""
    changes = None
    if alert.kind == "changed" and alert.previous is not None:
        changes = render_changes(paragraph_changes(alert.previous, alert.content), "html")
    return {
        "kind": alert.kind,
        "label": outbox.KIND_LABELS.get(alert.kind, alert.kind),
        "at": local_time(alert.created_at, zone),
        "article_id": alert.article_id,
        "title": one_line(alert.title) or "（无标题）",
        "channel": one_line(alert.channel) or short_section(alert.section),
        "published": one_line(alert.content.get("published")),
        "versions": f"{alert.previous_version} → {alert.version}" if alert.previous_version else "",
        "changes": changes,
    }


def _channels(conn: sqlite3.Connection, zone: str) -> list[dict]:
    rows = conn.execute(
        """
        SELECT c.name, c.url_template, c.first_url, c.first_page, c.baseline_done_at, c.last_walked,
               c.newest_item, c.last_error, c.js_pager,
               (SELECT count(*) FROM articles a WHERE a.channel = c.url_template AND a.status IS NOT 'removed')
        FROM channels c ORDER BY c.name, c.url_template
        """
    ).fetchall()
    out = []
    for name, template, first_url, first_page, baseline_done, walked, newest, error, js_pager, n in rows:
        if error:
            state, tone = f"出错：{one_line(error)}", "bad"
        elif not baseline_done:
            state, tone = "建档中（首次抓取，不发提醒）", "wait"
        else:
            state, tone = "正常", "ok"
        if js_pager:
            state += "；翻页需 JavaScript，只看第 1 页"
        out.append(
            {
                "name": one_line(name) or template,
                "url": first_url or template.replace("{page}", str(first_page)),
                "articles": n,
                "last_walked": local_time(walked, zone) if walked else "—",
                "newest": one_line(newest) or "—",
                "state": state,
                "tone": tone,
            }
        )
    return out


def _runs(conn: sqlite3.Connection, zone: str, limit: int = 5) -> list[dict]:
    cursor = conn.execute(
        "SELECT id, started_at, finished_at, status, mode, new, changed, removed, failed, held, note "
        "FROM crawl_runs ORDER BY id DESC LIMIT ?",
        [limit],
    )
    runs = []
    for run in dict_rows(cursor):
        run["started_at"] = local_time(run["started_at"], zone)
        run["note"] = one_line(run["note"])
        run["status_label"] = RUN_STATUS_LABELS.get(run["status"], run["status"])
        run["held_label"] = HOLD_FLAG_LABELS.get(run["held"], run["held"])
        runs.append(run)
    return runs


def home_context(conn: sqlite3.Connection, query: str, zone: str) -> dict:
    """Everything the front page shows, read in one go."""
    results, total, error = [], 0, None
    if query:
        try:
            results = search.search(conn, query, limit=RESULTS, markers=_MARKS)
            total = search.count(conn, query)
        except ValueError as exc:
            error = str(exc)
    for r in results:
        r["title"] = one_line(r["title"]) or "（无标题）"
        r["section"] = short_section(r["section"])
        r["snippet"] = marked_html(r["snippet"])
    articles, removed = conn.execute("SELECT count(*), coalesce(sum(status = 'removed'), 0) FROM articles").fetchone()
    incidents = [
        {"key": one_line(k), "opened_at": local_time(at, zone), "detail": one_line(d)}
        for k, at, d in conn.execute(
            "SELECT key, opened_at, detail FROM incidents WHERE closed_at IS NULL ORDER BY opened_at"
        )
    ]
    return {
        "q": query,
        "results": results,
        "total": total,
        "error": error,
        "latest": [_item(a, zone) for a in outbox.announced(conn, LATEST)],
        "channels": _channels(conn, zone),
        "runs": _runs(conn, zone),
        "outbox": outbox.outbox_counts(conn),
        "incidents": incidents,
        "articles": articles,
        "removed": removed,
        "zone": zone,
    }


async def _archives(datasette) -> list[str]:
    names = []
    for name, db in datasette.databases.items():
        if name != "_internal" and await db.execute_fn(is_archive):
            names.append(name)
    return names


async def home_view(datasette, request):
    archives = await _archives(datasette)
    if not archives:
        context = {"databases": [n for n in datasette.databases if n != "_internal"]}
        return Response.html(await datasette.render_template("barwatch_none.html", context, request=request))
    database = archives[0]
    query = (request.args.get("q") or "").strip()
    zone = zone_of(datasette)
    context = await datasette.get_database(database).execute_fn(lambda conn: home_context(conn, query, zone))
    context.update(
        database=database, others=archives[1:], article_path=lambda aid: article_path(datasette, database, aid)
    )
    return Response.html(await datasette.render_template("barwatch_home.html", context, request=request))


# --------------------------------------------------------------------------- article page
def _attachments(raw: str | None) -> list[dict]:
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        url = one_line(item if isinstance(item, str) else (item or {}).get("url"))
        if url.lower().startswith(("https://", "http://")):
            out.append({"url": url, "name": url.rsplit("/", 1)[-1] or url})
    return out


def article_context(conn: sqlite3.Connection, article_id: str, zone: str) -> dict | None:
    article = read_article(conn, article_id)
    if article is None:
        return None
    versions = read_versions(conn, article_id)
    history = []
    previous = None
    for v in versions:
        changes = ""
        if previous is not None:
            # The page shows inserted and deleted text whole; only unchanged context is cut.
            changes = render_changes(paragraph_changes(previous, v), "html", context=CONTEXT, max_run=None)
        history.append(
            {
                "at_raw": v["fetched_at"] or "",
                "at": local_time(v["fetched_at"], zone),
                "version": v["version"],
                "what": "首次存档" if previous is None else f"版本 {previous['version']} → {v['version']}",
                "changes": changes,
                "note": one_line(v.get("note")),
            }
        )
        previous = v
    for event in read_events(conn, article_id):
        history.append(
            {
                "at_raw": event["at"] or "",
                "at": local_time(event["at"], zone),
                "version": None,
                "what": "从网站删除（404/410）" if event["kind"] == "removed" else "重新出现在网站上",
                "changes": "",
                "note": "",
            }
        )
    history.sort(key=lambda h: h["at_raw"], reverse=True)
    latest_change = next((h for h in history if h["changes"]), None)
    return {
        "id": article["id"],
        "title": one_line(article["title"]) or "（无标题）",
        "subtitle": one_line(article.get("subtitle")),
        "url": one_line(article["url"]),
        "meta": [
            (label, value)
            for label, value in (
                ("日期", one_line(article["published"])),
                ("栏目", one_line(article["section"])),
                ("作者", one_line(article["author"])),
                ("来源", one_line(article["source"])),
                ("阅读", str(article["views"]) if article["views"] is not None else ""),
            )
            if value
        ],
        "status": article["status"],
        "removed_at": local_time(article["removed_at"], zone) if article.get("removed_at") else "",
        "first_seen": local_time(article["first_seen"], zone),
        "last_checked": local_time(article.get("last_checked") or article.get("last_seen"), zone),
        "version": article["version"],
        "paragraphs": _paragraphs(article["body"]),
        "attachments": _attachments(article.get("attachments")),
        "history": history,
        "latest_change": latest_change,
        "zone": zone,
    }


async def article_view(datasette, request):
    database = request.url_vars["database"]
    article_id = request.url_vars["id"].lower()
    db = await archive_db(datasette, database)
    if not ARTICLE_ID_RE.match(article_id):
        raise NotFound("An article id is 32 hex digits")
    zone = zone_of(datasette)
    context = await db.execute_fn(lambda conn: article_context(conn, article_id, zone))
    if context is None:
        raise NotFound(f"No article {article_id} in {database}")
    context.update(database=database)
    return Response.html(await datasette.render_template("barwatch_article.html", context, request=request))
