"""The alert outbox: which queued alerts may be mailed, and recording the outcome.

``Archive`` queues one ``alerts`` row per article event (new, changed, removed). This
module is the only place that reads or updates those rows for delivery. An alert is

* **sent** when ``sent_at`` is set;
* **waiting** while its crawl run is still ``running`` (the crawl is still writing);
* **held** when it is a ``changed`` alert of a run whose hold flag is ``suspect`` (a layout
  change may have made every article look edited, or a body shrank); ``Archive.release``
  turns the flag to ``released`` and the alert becomes sendable;
* **pending** (sendable) otherwise.

``mark_sent`` and ``mark_failed`` each run in one transaction and touch only unsent rows,
so a late or repeated call can never unsend or re-date an alert.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storage.schema import version_body_sql
from storage.textops import CONTENT_FIELDS

# restored: an article marked removed (the site answered 404/410) is there again.
KINDS = ("new", "changed", "removed", "restored")
# What readers call each kind: mail headings, the feed's entry titles, the pages.
KIND_LABELS = {"new": "新文章", "changed": "修改", "removed": "删除", "restored": "恢复"}
# Operations notices (a run failed, the same failures keep coming, a run is held) go out
# whatever ``[alerts] kinds`` says: an operator must hear that the watch itself is broken.
OPERATIONS = "operations"
CONTENT = CONTENT_FIELDS
MAX_ERROR = 300
_CHUNK = 500  # ids per UPDATE, far below SQLite's variable limit

_WAITING = "COALESCE(r.status, '') = 'running'"
_HELD = "a.kind = 'changed' AND COALESCE(r.held, '') = 'suspect'"


@dataclass(frozen=True)
class PendingAlert:
    """A sendable alert with what a mail needs to describe it.

    ``content`` holds the content fields (title, published, author, source, body) of the
    article version the alert refers to, or of the article row if that version is missing.
    ``previous`` holds the same fields of the version before it (``changed`` alerts only;
    None if there is none). ``url`` and ``section`` are the article's current ones.
    """

    id: int
    article_id: str
    kind: str
    run_id: int | None
    version: int | None
    created_at: str
    attempts: int
    last_error: str | None
    run_status: str | None
    run_started_at: str | None
    url: str | None
    section: str | None
    article_status: str | None
    content: dict
    previous: dict | None
    previous_version: int | None = None
    notice: str | None = None  # operations notices only: the message
    incident: str | None = None  # operations notices only: the incident key
    channel: str | None = None  # the name of the channel the article was found on

    @property
    def title(self) -> str | None:
        return self.content.get("title")


def _select(prefix: str, alias: str) -> str:
    def column(f: str) -> str:
        return version_body_sql(alias, "ar") if f == "body" and alias != "ar" else f"{alias}.{f}"

    return ", ".join(f"{column(f)} AS {prefix}{f}" for f in CONTENT)


_ALERTS_SQL = f"""
SELECT a.id, a.article_id, a.kind, a.run_id, a.version, a.created_at, a.attempts, a.last_error,
       a.notice, a.incident,
       r.status AS run_status, r.started_at AS run_started_at,
       ar.url AS url, ar.section AS section, ar.status AS article_status, c.name AS channel,
       {_select("ar_", "ar")},
       v.version AS v_version, {_select("v_", "v")},
       p.version AS p_version, {_select("p_", "p")}
FROM alerts a
LEFT JOIN crawl_runs r ON r.id = a.run_id
LEFT JOIN articles ar ON ar.id = a.article_id
LEFT JOIN channels c ON c.url_template = ar.channel
LEFT JOIN versions v ON v.article_id = a.article_id AND v.version = a.version
LEFT JOIN versions p ON a.kind = 'changed' AND p.article_id = a.article_id AND p.version = (
    SELECT MAX(pv.version) FROM versions pv WHERE pv.article_id = a.article_id AND pv.version < a.version
)
WHERE NOT ({_WAITING}) AND NOT ({_HELD}) AND {{where}}
ORDER BY {{order}}
"""


def pending_alerts(archive, kinds: Iterable[str] | None = KINDS) -> list[PendingAlert]:
    """Unsent alerts of ``kinds`` that may be mailed now (not waiting, not held), oldest run first."""
    kinds = tuple(KINDS if kinds is None else kinds) or ("",)
    where = f"a.sent_at IS NULL AND (a.kind IN ({', '.join('?' for _ in kinds)}) OR a.kind = '{OPERATIONS}')"
    return _alerts(archive.conn, where, list(kinds), "a.run_id, a.id")


def announced(conn, limit: int = 50, channel: str | None = None) -> list[PendingAlert]:
    """The newest article alerts (new, changed, removed, restored) whether mailed or not,
    newest first: what the feed and the landing page list. Like the mail, they leave out
    a run still running and the changes of a held run; the baseline raised none.
    ``channel``: only articles found on the channel of that name (channels.name)."""
    where = f"a.kind IN ({', '.join('?' for _ in KINDS)})"
    params: list = list(KINDS)
    if channel is not None:
        where += " AND ar.channel IN (SELECT url_template FROM channels WHERE name = ?)"
        params.append(channel)
    return _alerts(conn, where, params, "a.created_at DESC, a.id DESC", limit)


def _alerts(conn, where: str, params: list, order: str, limit: int | None = None) -> list[PendingAlert]:
    sql = _ALERTS_SQL.replace("{where}", where).replace("{order}", order)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        source = "v_" if row["v_version"] is not None else "ar_"
        content = {f: row[source + f] for f in CONTENT}
        previous = {f: row["p_" + f] for f in CONTENT} if row["p_version"] is not None else None
        out.append(
            PendingAlert(
                id=row["id"],
                article_id=row["article_id"],
                kind=row["kind"],
                run_id=row["run_id"],
                version=row["version"],
                created_at=row["created_at"],
                attempts=row["attempts"],
                last_error=row["last_error"],
                run_status=row["run_status"],
                run_started_at=row["run_started_at"],
                url=row["url"],
                section=row["section"],
                article_status=row["article_status"],
                content=content,
                previous=previous,
                previous_version=row["p_version"],
                notice=row["notice"],
                incident=row["incident"],
                channel=row["channel"],
            )
        )
    return out


def _update_unsent(archive, ids: Sequence[int], assignments: str, params: list) -> int:
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        return 0
    changed = 0
    with archive.write() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            cursor = conn.execute(
                f"UPDATE alerts SET {assignments} WHERE sent_at IS NULL AND id IN ({marks})", [*params, *chunk]
            )
            changed += cursor.rowcount
    return changed


def mark_sent(archive, ids: Iterable[int]) -> int:
    """The server accepted the mail carrying these alerts: set ``sent_at`` (one transaction).

    ``attempts`` counts this delivery too; ``last_error`` is kept as the record of the last
    failure, if any. Already-sent alerts are left as they are. Returns the rows marked.
    """
    return _update_unsent(archive, list(ids), "sent_at = ?, attempts = attempts + 1", [archive.now()])


def mark_failed(archive, ids: Iterable[int], error: str) -> int:
    """Delivery failed: keep the alerts pending, count the attempt and record a short error."""
    text = " ".join(str(error).split())
    if len(text) > MAX_ERROR:
        text = text[: MAX_ERROR - 1] + "…"
    return _update_unsent(archive, list(ids), "attempts = attempts + 1, last_error = ?", [text or "unknown error"])


def outbox_counts(archive) -> dict[str, int]:
    """How many alerts are pending (sendable), held (suspect run), waiting (run still running) and sent.

    The four numbers add up to the number of alert rows. Pending counts every kind, also
    kinds that the mail configuration does not send. ``archive``: an Archive or a bare
    sqlite3 connection (Datasette's pages).
    """
    row = getattr(archive, "conn", archive).execute(
        f"""
        SELECT
          COALESCE(SUM(a.sent_at IS NULL AND NOT ({_WAITING}) AND NOT ({_HELD})), 0),
          COALESCE(SUM(a.sent_at IS NULL AND NOT ({_WAITING}) AND ({_HELD})), 0),
          COALESCE(SUM(a.sent_at IS NULL AND ({_WAITING})), 0),
          COALESCE(SUM(a.sent_at IS NOT NULL), 0)
        FROM alerts a LEFT JOIN crawl_runs r ON r.id = a.run_id
        """
    ).fetchone()
    return dict(zip(("pending", "held", "waiting", "sent"), (int(n) for n in row)))
