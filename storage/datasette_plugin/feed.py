"""The Atom feed: ``/<db>/feed.atom``, and ``/<db>/feed.atom?channel=<name>`` for one channel.

It lists what the mail announces (:func:`storage.outbox.announced`): new, changed, removed
and restored articles, newest first, without the baseline (which raised no alerts), a
run still running, or the changes of a held run. Built with feedgen as Atom 1.0.

Ids are ``tag:`` URIs (RFC 4151) under :data:`TAG`, so they stay the same whatever host,
port or path the archive is served under (a reader that saw an entry once never shows
it again as new):

* the feed: ``tag:barwatch.lawyers.org.cn,2026:feed``; one channel's feed:
  ``…:feed/<channel name, UTF-8 percent-encoded>``;
* a new or changed article: ``…:<article id>/v<version>`` (one entry per version: an
  edit is a new entry, not an update of the old one);
* a removal or a return: ``…:<article id>/removed/<alert id>`` and
  ``…:<article id>/restored/<alert id>`` (an article can go and come back more than once
  with the same version, so the alert is what identifies the event).

Changing :data:`TAG` changes every id, and every reader then shows the whole feed again.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from datasette.utils.asgi import NotFound, Response
from feedgen.feed import FeedGenerator

from storage import outbox
from storage.datasette_plugin import pages
from storage.diffs import paragraph_changes, render_changes
from storage.textops import clean_text, local_time, one_line

TAG = "tag:barwatch.lawyers.org.cn,2026:"
FEED_ID = TAG + "feed"
FEED_TITLE = "barwatch · 东方律师网：新文章、修改与删除"
FEED_SUBTITLE = "上海市律师协会 www.lawyers.org.cn 的存档与变更监测"
SITE = "https://www.lawyers.org.cn/"
AUTHOR = {"name": "barwatch", "uri": SITE}
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
FEED_SIZE = 50
# An empty feed still needs an <updated>. "Now" would change on every request, and a
# reader that polls would think the feed changed each time; the epoch never moves.
EMPTY_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
PARAGRAPHS = 3  # of the body in a new or removed article's entry: a preview, not the article
MAX_PARAGRAPH = 500  # characters of each; the rest is on the page


# Everything from the site goes through clean_text/one_line: XML 1.0 refuses control
# characters and noncharacters, and one in an archived row would make the feed a 500.
def _xml(text: str | None) -> str:
    return clean_text(text) or ""


_line = one_line


def entry_id(alert) -> str:
    if alert.kind in ("new", "changed") and alert.version is not None:
        return f"{TAG}{alert.article_id}/v{alert.version}"
    return f"{TAG}{alert.article_id}/{alert.kind}/{alert.id}"


def feed_id(channel: str | None) -> str:
    return FEED_ID if channel is None else f"{FEED_ID}/{quote(channel, safe='')}"


def _moment(stamp: str | None, zone: ZoneInfo) -> datetime:
    """A stored UTC time as an aware datetime in the site's zone: feedgen writes it as
    RFC 3339 with the offset (``2026-11-30T03:14:11+08:00``)."""
    try:
        moment = datetime.fromisoformat(one_line(stamp).replace("Z", "+00:00"))
    except ValueError:
        # An unreadable stamp of an old row: a fixed time rather than a feed that fails.
        moment = EMPTY_UPDATED
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def _meta_line(alert) -> str:
    c = alert.content
    parts = [_line(c.get("published")), _line(alert.section), _line(c.get("author"))]
    return "<p>" + " · ".join(html.escape(p) for p in parts if p) + "</p>" if any(parts) else ""


def _preview(body: str | None) -> str:
    paragraphs = [p.strip() for p in _xml(body).split("\n") if p.strip()]
    shown = []
    for p in paragraphs[:PARAGRAPHS]:
        if len(p) > MAX_PARAGRAPH:
            p = p[: MAX_PARAGRAPH - 1] + "…"
        shown.append(f"<p>{html.escape(p)}</p>")
    if len(paragraphs) > PARAGRAPHS:
        shown.append("<p>…</p>")
    return "".join(shown)


def _content(alert, zone_name: str) -> str:
    when = html.escape(local_time(alert.created_at, zone_name))
    c = alert.content
    if alert.kind == "new":
        return _meta_line(alert) + _preview(c.get("body"))
    if alert.kind == "changed":
        old = alert.previous_version if alert.previous_version is not None else "?"
        head = f"<p>版本 {old} → {alert.version} · {when}</p>"
        if alert.previous is None:
            # The version before is not in the archive (a hand-edited or pruned archive).
            return head + "<p>存档中没有上一版本，无法比较。</p>" + _meta_line(alert) + _preview(c.get("body"))
        changes = render_changes(paragraph_changes(alert.previous, c), "html")
        return head + _xml(changes or "<p>没有可见的文字修改。</p>")
    if alert.kind == "removed":
        return (
            f"<p>本文已于 {when} 从网站删除（原网址不再能打开）。以下是存档中的内容：</p>"
            + _meta_line(alert)
            + _preview(c.get("body"))
        )
    return f"<p>本文已于 {when} 重新出现在网站上。</p>" + _meta_line(alert)


def build_feed(
    alerts: Iterable,
    *,
    self_url: str,
    site_url: str,
    article_url: Callable[[str], str],
    zone: str,
    channel: str | None,
) -> bytes:
    """The Atom document (UTF-8) for ``alerts`` (``outbox.PendingAlert``, newest first).

    ``self_url``: where this feed was fetched; ``site_url``: the archive's landing page;
    ``article_url(article_id)``: the archived article's page. Times are shown in ``zone``.
    """
    tz = ZoneInfo(zone)
    alerts = list(alerts)
    fg = FeedGenerator()
    fg.id(feed_id(channel))
    fg.title(FEED_TITLE if channel is None else f"{FEED_TITLE} · {_line(channel)}")
    fg.subtitle(FEED_SUBTITLE)
    fg.author(AUTHOR)
    fg.language("zh-CN")
    fg.generator("barwatch")
    fg.link(href=_line(self_url), rel="self", type="application/atom+xml")
    fg.link(href=_line(site_url), rel="alternate", type="text/html")
    if channel is not None:
        fg.category(term=_line(channel))
    # Newest first, so the first is the feed's last change; none: see EMPTY_UPDATED.
    fg.updated(_moment(alerts[0].created_at, tz) if alerts else EMPTY_UPDATED)
    for alert in alerts:
        fe = fg.add_entry(order="append")  # feedgen prepends by default
        fe.id(entry_id(alert))
        title = _line(alert.content.get("title")) or _line(alert.article_id)
        fe.title(f"{outbox.KIND_LABELS.get(alert.kind, alert.kind)}：{title}")
        fe.updated(_moment(alert.created_at, tz))
        archived = _line(article_url(alert.article_id))
        live = _line(alert.url)
        # One link only: feedgen 1.0.0 writes an entry's links without their rel and type
        # (lkiesow/python-feedgen#135), so a second one (rel="related") would come out as
        # a second alternate, which RFC 4287 forbids. The archived page is linked in the
        # content instead. A removed article's live page is gone: the archive is the link.
        fe.link(href=archived if alert.kind == "removed" or not live else live, rel="alternate")
        if _line(alert.channel):
            fe.category(term=_line(alert.channel))
        fe.content(
            _content(alert, zone) + f'<p><a href="{html.escape(archived)}">存档（全部版本）</a></p>', type="html"
        )
    return fg.atom_str(pretty=True, encoding="UTF-8")


async def feed_view(datasette, request):
    database = request.url_vars["database"]
    db = await pages.archive_db(datasette, database)
    channel = request.args.get("channel") or None
    if channel is not None:
        known = await db.execute("select 1 from channels where name = ? limit 1", [channel])
        if not known.rows:
            # A typo would otherwise be a feed that stays empty forever without a word.
            raise NotFound(f"{database} has no channel named {one_line(channel)!r}")
    alerts = await db.execute_fn(lambda conn: outbox.announced(conn, FEED_SIZE, channel))
    zone = pages.zone_of(datasette)
    qs = request.query_string
    body = build_feed(
        alerts,
        self_url=datasette.absolute_url(request, request.path) + (f"?{qs}" if qs else ""),
        site_url=datasette.absolute_url(request, datasette.urls.instance()),
        article_url=lambda aid: datasette.absolute_url(request, pages.article_path(datasette, database, aid)),
        zone=zone,
        channel=channel,
    )
    return Response(body, content_type=CONTENT_TYPE)
