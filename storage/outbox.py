"""The alert outbox: which queued alerts may go out on which channel, and the outcome.

``Archive`` queues one ``alerts`` row per article event (new, changed, removed, restored)
and per operations notice. Alerts go out on channels (``notify_channels``): the mail,
fingerprint ``email``, and each chat URL. This module is the only place that reads or
writes ``deliveries``, the record of each alert on each channel. On a channel, an alert is

* **sent** when its delivery has ``sent_at``;
* **given up** when the channel refused it ``MAX_REFUSALS`` times while accepting other
  messages (an operations notice says so);
* **waiting** while its crawl run is still ``running`` (the crawl is still writing);
* **held** when it is a ``changed`` alert of a run whose hold flag is ``suspect`` (a layout
  change may have made every article look edited, or a body shrank); ``Archive.release``
  turns the flag to ``released`` and the alert becomes sendable;
* **pending** (sendable) otherwise, if it is numbered after the channel's ``start_after``.

``mark_sent`` and ``mark_failed`` each run in one transaction and touch only unsent rows,
so a late or repeated call can never unsend or re-date an alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# KINDS (the alert kinds about articles), OPERATIONS (the notices' kind, sent whatever
# ``[alerts] kinds`` says) and MAX_REFUSALS are defined with the schema, which describes
# them; they are imported from here too.
from storage.schema import EMAIL_CHANNEL, KINDS, MAX_REFUSALS, OPERATIONS, dict_rows, version_body_sql
from storage.textops import CONTENT_FIELDS

# What readers call each kind: mail headings, the feed's entry titles, the pages.
KIND_LABELS = {"new": "新文章", "changed": "修改", "removed": "删除", "restored": "恢复"}
CONTENT = CONTENT_FIELDS
MAX_ERROR = 300
EMAIL = EMAIL_CHANNEL
# A channel that fails in this many notify calls in a row raises an operations notice
# (it goes out on the other channels); one more when it works again.
DOWN_AFTER = 3

_WAITING = "COALESCE(r.status, '') = 'running'"
_HELD = "a.kind = 'changed' AND COALESCE(r.held, '') = 'suspect'"


@dataclass(frozen=True)
class PendingAlert:
    """A sendable alert with what a message needs to describe it.

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
SELECT a.id, a.article_id, a.kind, a.run_id, a.version, a.created_at,
       COALESCE(d.attempts, 0) AS attempts, d.last_error AS last_error, a.notice, a.incident,
       r.status AS run_status, r.started_at AS run_started_at,
       ar.url AS url, ar.section AS section, ar.status AS article_status, c.name AS channel,
       {_select("ar_", "ar")},
       v.version AS v_version, {_select("v_", "v")},
       p.version AS p_version, {_select("p_", "p")}
FROM alerts a
LEFT JOIN deliveries d ON d.alert_id = a.id AND d.channel = :channel
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


@dataclass(frozen=True)
class Channel:
    """Where alerts go: ``fingerprint`` names it in the outbox and holds no secret;
    ``kind`` is email or the chat service (wecombot, dingtalk, json …); ``label`` is a
    printable description, secrets masked."""

    fingerprint: str
    kind: str
    label: str


def register_channels(archive, channels: Iterable[Channel]) -> list[str]:
    """Record the channels notify will use; returns the fingerprints seen for the first time.

    A channel starts with the alerts numbered after the newest one when it first appears,
    so a channel added later does not replay the archive's history. The archive's first
    channels start from the beginning: the alerts queued before anyone configured
    notifications are what they are for.
    """
    added = []
    with archive.write() as conn:
        first = conn.execute("SELECT COUNT(*) FROM notify_channels").fetchone()[0] == 0
        start = 0 if first else conn.execute("SELECT COALESCE(MAX(id), 0) FROM alerts").fetchone()[0]
        for ch in channels:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO notify_channels(fingerprint, kind, label, first_seen, start_after) "
                "VALUES (?, ?, ?, ?, ?)",
                [ch.fingerprint, ch.kind, ch.label, archive.now(), start],
            )
            if cursor.rowcount:
                added.append(ch.fingerprint)
            else:  # the label may say more now (a renamed sink, new recipients)
                conn.execute("UPDATE notify_channels SET label = ? WHERE fingerprint = ?", [ch.label, ch.fingerprint])
    return added


# Where a channel starts: its own start_after, or for one not registered yet (a dry run
# reads and never writes) what register_channels would give it now.
_START_AFTER = (
    "COALESCE((SELECT start_after FROM notify_channels WHERE fingerprint = :channel), "
    "CASE WHEN EXISTS (SELECT 1 FROM notify_channels) THEN (SELECT COALESCE(MAX(id), 0) FROM alerts) ELSE 0 END)"
)


def pending_alerts(archive, kinds: Iterable[str] | None = KINDS, channel: str = EMAIL) -> list[PendingAlert]:
    """Alerts of ``kinds`` (and operations notices) that ``channel`` may send now: not
    sent or given up on it, not waiting, not held, numbered after its start; oldest run
    first."""
    kinds = tuple(KINDS if kinds is None else kinds) or ("",)
    marks = ", ".join(f":k{i}" for i in range(len(kinds)))
    where = (
        f"(a.kind IN ({marks}) OR a.kind = '{OPERATIONS}') "
        "AND d.sent_at IS NULL AND d.gave_up_at IS NULL "
        f"AND a.id > {_START_AFTER}"
    )
    params = {"channel": channel, **{f"k{i}": k for i, k in enumerate(kinds)}}
    return _alerts(archive.conn, where, params, "a.run_id, a.id")


def announced(conn, limit: int = 50, channel: str | None = None) -> list[PendingAlert]:
    """The newest article alerts (new, changed, removed, restored) whether mailed or not,
    newest first: what the feed and the landing page list. Like the mail, they leave out
    a run still running and the changes of a held run; the baseline raised none.
    ``channel``: only articles found on the channel of that name (channels.name)."""
    where = f"a.kind IN ({', '.join(f':k{i}' for i in range(len(KINDS)))})"
    params: dict = {"channel": None, **{f"k{i}": k for i, k in enumerate(KINDS)}}
    if channel is not None:
        where += " AND ar.channel IN (SELECT url_template FROM channels WHERE name = :site_channel)"
        params["site_channel"] = channel
    return _alerts(conn, where, params, "a.created_at DESC, a.id DESC", limit)


# PendingAlert's fields that come straight from a row of _ALERTS_SQL.
_ROW_FIELDS = (
    "id",
    "article_id",
    "kind",
    "run_id",
    "version",
    "created_at",
    "attempts",
    "last_error",
    "run_status",
    "run_started_at",
    "url",
    "section",
    "article_status",
    "notice",
    "incident",
    "channel",
)


def _alerts(conn, where: str, params: dict, order: str, limit: int | None = None) -> list[PendingAlert]:
    sql = _ALERTS_SQL.replace("{where}", where).replace("{order}", order)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    out = []
    for row in dict_rows(conn.execute(sql, params)):
        source = "v_" if row["v_version"] is not None else "ar_"
        content = {f: row[source + f] for f in CONTENT}
        previous = {f: row["p_" + f] for f in CONTENT} if row["p_version"] is not None else None
        out.append(
            PendingAlert(
                **{f: row[f] for f in _ROW_FIELDS},
                content=content,
                previous=previous,
                previous_version=row["p_version"],
            )
        )
    return out


def _short(error: str) -> str:
    text = " ".join(str(error).split())
    return (text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…") or "unknown error"


def _ids(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


def mark_sent(archive, ids: Iterable[int], channel: str = EMAIL) -> int:
    """``channel`` accepted the message carrying these alerts: set ``sent_at`` (one
    transaction). ``attempts`` counts this delivery too; ``last_error`` is kept as the
    record of the last failure, if any. Already-sent alerts are left as they are.
    Returns the deliveries marked."""
    ids, now, changed = _ids(ids), archive.now(), 0
    with archive.write() as conn:
        for aid in ids:
            conn.execute(
                "INSERT OR IGNORE INTO deliveries(alert_id, channel, attempts, refused) VALUES (?, ?, 0, 0)",
                [aid, channel],
            )
            changed += conn.execute(
                "UPDATE deliveries SET sent_at = ?, attempts = attempts + 1 "
                "WHERE alert_id = ? AND channel = ? AND sent_at IS NULL AND gave_up_at IS NULL",
                [now, aid, channel],
            ).rowcount
        if ids:
            conn.execute("UPDATE notify_channels SET last_ok = ? WHERE fingerprint = ?", [now, channel])
    return changed


def mark_failed(archive, ids: Iterable[int], error: str, channel: str = EMAIL, refused: bool = False) -> list[int]:
    """Delivery on ``channel`` failed: the alerts stay pending, the attempt is counted and
    a short error kept. ``refused``: the channel accepted other messages meanwhile, so it
    is up and refuses this one; after ``MAX_REFUSALS`` of those the alerts are given up
    on that channel and an operations notice says so. Returns the ids given up."""
    ids, now, text = _ids(ids), archive.now(), _short(error)
    gave_up = []
    with archive.write() as conn:
        label = conn.execute("SELECT label FROM notify_channels WHERE fingerprint = ?", [channel]).fetchone()
        for aid in ids:
            conn.execute(
                "INSERT OR IGNORE INTO deliveries(alert_id, channel, attempts, refused) VALUES (?, ?, 0, 0)",
                [aid, channel],
            )
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, refused = refused + ?, last_error = ? "
                "WHERE alert_id = ? AND channel = ? AND sent_at IS NULL AND gave_up_at IS NULL",
                [int(refused), text, aid, channel],
            )
            row = conn.execute(
                "UPDATE deliveries SET gave_up_at = ? WHERE alert_id = ? AND channel = ? AND refused >= ? "
                "AND sent_at IS NULL AND gave_up_at IS NULL RETURNING alert_id",
                [now, aid, channel, MAX_REFUSALS],
            ).fetchone()
            if row:
                gave_up.append(aid)
        if gave_up:
            name = label[0] if label else channel
            archive.notice(
                conn,
                f"refused:{channel}",
                f"通道拒收 {name} refused alert(s) {', '.join(map(str, gave_up))} {MAX_REFUSALS} times while accepting "
                f"other messages; barwatch stopped retrying them there. Last error: {text}. "
                "See `barwatch notify --status`.",
            )
    return gave_up


def channel_result(archive, channel: str, ok: bool, error: str | None = None) -> None:
    """One notify call's outcome on ``channel``: a channel failing ``DOWN_AFTER`` calls in a
    row opens an incident (one notice, on the other channels); working again closes it."""
    now = archive.now()
    with archive.write() as conn:
        row = conn.execute(
            "SELECT label, failing_since FROM notify_channels WHERE fingerprint = ?", [channel]
        ).fetchone()
        if row is None:
            return
        label = row[0] or channel
        if ok:
            conn.execute(
                "UPDATE notify_channels SET last_ok = ?, failing_since = NULL WHERE fingerprint = ?", [now, channel]
            )
            failing = 0
        else:
            conn.execute(
                "UPDATE notify_channels SET last_error = ?, failing_since = COALESCE(failing_since, ?) WHERE fingerprint = ?",
                [_short(error or ""), now, channel],
            )
            failing = conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE channel = ? AND sent_at IS NULL AND gave_up_at IS NULL "
                "AND attempts >= ?",
                [channel, DOWN_AFTER],
            ).fetchone()[0]
        archive.incident(
            conn,
            f"channel-down:{channel}",
            failing > 0,
            f"通道故障 {label} failed {DOWN_AFTER} times in a row: {_short(error or '')}. Its alerts wait for it.",
            f"通道恢复 {label} delivers again.",
        )


def channel_status(archive) -> list[dict]:
    """Each channel with its delivery counts: sent, pending (tried or not), given up."""
    cursor = archive.conn.execute(
        f"""
        SELECT c.fingerprint, c.kind, c.label, c.first_seen, c.start_after, c.last_ok, c.last_error, c.failing_since,
               (SELECT COUNT(*) FROM deliveries d WHERE d.channel = c.fingerprint AND d.sent_at IS NOT NULL) AS sent,
               (SELECT COUNT(*) FROM alerts a LEFT JOIN crawl_runs r ON r.id = a.run_id
                 WHERE a.id > c.start_after AND NOT ({_WAITING}) AND NOT ({_HELD}) AND NOT EXISTS (
                   SELECT 1 FROM deliveries d WHERE d.alert_id = a.id AND d.channel = c.fingerprint
                   AND (d.sent_at IS NOT NULL OR d.gave_up_at IS NOT NULL))) AS pending,
               (SELECT COUNT(*) FROM deliveries d WHERE d.channel = c.fingerprint AND d.gave_up_at IS NOT NULL) AS given_up
        FROM notify_channels c ORDER BY c.first_seen, c.rowid
        """
    )
    return dict_rows(cursor)


def given_up(archive, limit: int = 20) -> list[dict]:
    """The newest deliveries given up on: alert, channel, when, the last error."""
    cursor = archive.conn.execute(
        "SELECT alert_id, channel, gave_up_at, last_error FROM deliveries WHERE gave_up_at IS NOT NULL "
        "ORDER BY gave_up_at DESC, alert_id LIMIT ?",
        [limit],
    )
    return dict_rows(cursor)


def outbox_counts(archive) -> dict[str, int]:
    """How many alerts are pending (sendable on some channel), held (suspect run), waiting
    (run still running) and done (sent or given up on every channel).

    The four numbers add up to the number of alert rows. Pending counts every kind, also
    kinds that the configuration does not send. With no channel yet, every sendable alert
    is pending. ``archive``: an Archive or a bare sqlite3 connection (Datasette's pages).
    """
    undone = (
        "(NOT EXISTS (SELECT 1 FROM notify_channels) OR EXISTS (SELECT 1 FROM notify_channels c "
        "WHERE a.id > c.start_after AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id "
        "AND d.channel = c.fingerprint AND (d.sent_at IS NOT NULL OR d.gave_up_at IS NOT NULL))))"
    )
    row = (
        getattr(archive, "conn", archive)
        .execute(
            f"""
        SELECT
          COALESCE(SUM({undone} AND NOT ({_WAITING}) AND NOT ({_HELD})), 0),
          COALESCE(SUM({undone} AND NOT ({_WAITING}) AND ({_HELD})), 0),
          COALESCE(SUM({undone} AND ({_WAITING})), 0),
          COALESCE(SUM(NOT {undone}), 0)
        FROM alerts a LEFT JOIN crawl_runs r ON r.id = a.run_id
        """
        )
        .fetchone()
    )
    return dict(zip(("pending", "held", "waiting", "sent"), (int(n) for n in row), strict=True))
