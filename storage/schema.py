"""The archive's schema: created and migrated here, and only here, idempotently.

Table and column names are a public contract (operators query them in Datasette).
Migration is additive: a table that exists gets the columns it lacks; nothing is ever
dropped or renamed, so an older archive opens with a newer barwatch without losing a row.
The one exception is derived data: the search index (storage.search) is rebuilt from
``articles`` whenever its layout changes.

Only a writer that holds the crawl lock creates or migrates (``Archive(mode="rwc")``), in
one transaction; ``PRAGMA user_version`` records the schema version, so readers can tell
an archive that is current from one that needs ``barwatch migrate`` without writing.
"""
from __future__ import annotations

import sqlite3

import sqlite_utils

# Version 1: the first release (user_version 0 on disk). Version 2: run statuses
# ok/partial/failed with a separate hold flag, channels with a baseline of their own, the
# backlog, operations notices, incidents, version notes. Version 3: the current version's
# body only in articles; a contentless search index without jieba word columns.
SCHEMA_VERSION = 4

# One defined set of run statuses; ``held`` is separate (a run can be partial and held).
RUN_STATUSES = ("running", "ok", "partial", "failed", "interrupted")
HOLD_FLAGS = ("suspect", "released")
# What the pages call them.
RUN_STATUS_LABELS = {"running": "进行中", "ok": "正常", "partial": "部分失败", "failed": "失败", "interrupted": "中断"}
HOLD_FLAG_LABELS = {"suspect": "可疑，提醒暂扣", "released": "已确认放行"}

# name -> (columns in order, primary key, extra options)
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...] | None]] = {
    "articles": (
        {
            "id": str,
            "url": str,
            "section": str,
            "title": str,
            "subtitle": str,
            "published": str,
            "author": str,
            "source": str,
            "views": int,
            "body": str,
            "attachments": str,
            "content_hash": str,
            "first_seen": str,
            "last_seen": str,
            "last_changed": str,
            "status": str,
            "version": int,
            # Not in the public contract, but useful to operators and needed for
            # conditional requests and the slow re-verification rotation.
            "removed_at": str,
            "last_checked": str,
            "etag": str,
            "last_modified": str,
            # Where `published` came from: page (printed on it), list (the list row that
            # linked to it) or issue (the magazine issue it names, as YYYY-MM). Only a
            # page date is content; the others never make a version.
            "published_from": str,
            # The channel (channels.url_template) whose list first showed the article.
            "channel": str,
            # The article's rowid in the search index (its date in the high bits, so
            # that index order is date order; NULL: not indexed) and a checksum of the
            # text indexed, which a contentless index needs to forget it (storage.search).
            "search_key": int,
            "search_checksum": int,
        },
        "id",
    ),
    "versions": (
        {
            "article_id": str,
            "version": int,
            "fetched_at": str,
            "title": str,
            "subtitle": str,
            "published": str,
            "author": str,
            "source": str,
            # NULL for the current version (articles.version): its body is articles.body,
            # kept once. Read it through version_body_sql().
            "body": str,
            "content_hash": str,
            "diff": str,
            "run_id": int,
            # NULL for an ordinary edit; "repair: ..." when the stored version was garbled
            # (bad decoding) and the clean page replaced it without an alert; "held: ..."
            # when the body shrank so much that the change waits for the operator.
            "note": str,
        },
        ("article_id", "version"),
    ),
    "crawl_runs": (
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "mode": str,
            "requests": int,
            "new": int,
            "changed": int,
            "unchanged": int,
            "removed": int,
            "failed": int,
            "baseline": int,
            "note": str,
            "held": str,
        },
        "id",
    ),
    # A channel (a configured section today) is in baseline until one walk of it has
    # finished: what is first seen before that is backlog and announced to nobody.
    "channels": (
        {
            "url_template": str,
            "name": str,
            "first_page": int,
            "first_url": str,
            "how_found": str,
            "found_on": str,
            "first_seen": str,
            "baseline_done_at": str,
            "last_walked": str,
            "newest_item": str,
            "articles_found": int,
            "last_error": str,
            "js_pager": int,
        },
        "url_template",
    ),
    # Pages offered as possible channel lists and what they turned out to be: list (then
    # `channel` names it), hub (a page of links to lists), other (asked again after
    # `recheck_after`), or pending (not fetched yet).
    "candidates": (
        {
            "url": str,
            "kind": str,
            "how": str,
            "text": str,
            "found_on": str,
            "depth": int,
            "first_seen": str,
            "checked_at": str,
            "recheck_after": str,
            "channel": str,
            "note": str,
        },
        "url",
    ),
    # Ids listed by a channel's finished baseline walk that could not be stored then (a
    # failed fetch): when they arrive later they are still backlog, not news.
    "backlog": ({"article_id": str, "url_template": str, "added_at": str}, "article_id"),
    # Open and closed operational incidents, so that a broken site raises one notice
    # when it starts and one when it clears, not one per run.
    "incidents": (
        {"key": str, "opened_at": str, "opened_run": int, "closed_at": str, "closed_run": int, "detail": str},
        "key",
    ),
    "meta": ({"key": str, "value": str}, "key"),
    "views": ({"article_id": str, "seen_at": str, "count": int}, None),
    "alerts": (
        {
            "id": int,
            "article_id": str,
            "kind": str,
            "run_id": int,
            "created_at": str,
            "version": int,
            # Operations notices (kind "operations", no article): the incident they
            # belong to and the message itself.
            "incident": str,
            "notice": str,
        },
        "id",
    ),
    "failures": (
        {"id": int, "run_id": int, "url": str, "article_id": str, "kind": str, "message": str, "at": str},
        "id",
    ),
    # Where alerts go: the mail (fingerprint "email") and each chat URL, known by a
    # fingerprint that holds no secret. A channel takes the alerts numbered after
    # start_after: one added later does not replay the archive's history.
    "notify_channels": (
        {
            "fingerprint": str,
            "kind": str,
            "label": str,
            "first_seen": str,
            "start_after": int,
            "last_ok": str,
            "last_error": str,
            "failing_since": str,
        },
        "fingerprint",
    ),
    # The outbox's record of each alert on each channel: a row appears at the first
    # attempt. sent_at once the channel accepted it; refused counts failures while the
    # same channel accepted other messages (it is up and refuses this one); gave_up_at
    # after MAX_REFUSALS of those.
    "deliveries": (
        {
            "alert_id": int,
            "channel": str,
            "sent_at": str,
            "attempts": int,
            "refused": int,
            "last_error": str,
            "gave_up_at": str,
        },
        ("alert_id", "channel"),
    ),
}

NOT_NULL_DEFAULTS = {
    "crawl_runs": {"requests": 0, "new": 0, "changed": 0, "unchanged": 0, "removed": 0, "failed": 0, "baseline": 0},
    "deliveries": {"attempts": 0, "refused": 0},
    "channels": {"articles_found": 0, "js_pager": 0},
    "candidates": {"depth": 0},
}

INDEXES = [
    ("articles", ["status", "last_checked"]),
    ("articles", ["published"]),
    ("versions", ["fetched_at"]),
    ("views", ["article_id", "seen_at"]),
    ("deliveries", ["channel", "sent_at"]),
    ("alerts", ["article_id", "kind", "run_id"], True),
    ("failures", ["run_id"]),
    ("articles", ["last_checked"]),
    ("articles", ["channel"]),
    # The search's join by key, and its section filter (storage.search.search_sql).
    ("articles", ["search_key"]),
    ("articles", ["section", "search_key"]),
    ("versions", ["run_id"]),
]

FOREIGN_KEYS = {
    "versions": [("article_id", "articles", "id")],
    "views": [("article_id", "articles", "id")],
    "alerts": [("article_id", "articles", "id"), ("run_id", "crawl_runs", "id")],
    "deliveries": [("alert_id", "alerts", "id"), ("channel", "notify_channels", "fingerprint")],
}


def schema_version(conn: sqlite3.Connection) -> int | None:
    """The archive's schema version, or None if the file holds no barwatch archive. Reads only."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"articles", "versions", "crawl_runs"} <= names:
        return None
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return max(version, 1)


def ensure_schema(db: sqlite_utils.Database, progress=None) -> None:
    """Create or migrate every table, index and the search index.

    The caller holds the crawl lock and an open write transaction (``BEGIN IMMEDIATE``):
    sqlite-utils' own operations nest inside it as savepoints, so the whole migration
    commits at once or not at all.
    """
    from storage import search  # the search index is part of the schema, kept with it

    previous = schema_version(db.conn)

    for name, (columns, pk) in TABLES.items():
        table = db[name]
        if not table.exists():
            table.create(
                columns,
                pk=pk,
                not_null=set(NOT_NULL_DEFAULTS.get(name, {})),
                defaults=NOT_NULL_DEFAULTS.get(name),
                foreign_keys=FOREIGN_KEYS.get(name),
                if_not_exists=True,
            )
        else:
            existing = {c.name for c in table.columns}
            for col, typ in columns.items():
                if col not in existing:
                    table.add_column(col, typ)
    for entry in INDEXES:
        table_name, cols = entry[0], entry[1]
        unique = len(entry) > 2 and entry[2]
        db[table_name].create_index(cols, unique=unique, if_not_exists=True)
    if previous is not None and previous < 2:
        _migrate_1_to_2(db.conn)
    if previous is not None and previous < 3:
        _migrate_2_to_3(db.conn)
    if previous is not None and previous < 4:
        _migrate_3_to_4(db.conn)
    db.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    search.ensure_schema(db, progress)


def version_body_sql(v: str, a: str) -> str:
    """SQL for the body of version row ``v`` joined to its article ``a``: the current
    version's body is stored once, in articles."""
    return f"CASE WHEN {v}.version = {a}.version THEN {a}.body ELSE {v}.body END"


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    # suspect/released were statuses; now they are a hold flag beside ok.
    conn.execute("UPDATE crawl_runs SET held = status, status = 'ok' WHERE status IN ('suspect', 'released')")
    # Version 1 kept one archive-wide baseline: channels configured when it is upgraded
    # have had theirs (if a run ever finished), so they start out of baseline.
    if conn.execute("SELECT 1 FROM crawl_runs WHERE status = 'ok' LIMIT 1").fetchone():
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('inherit_baseline', '1')")


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    # The current version's body was stored twice. (The search index is rebuilt by
    # search.ensure_schema: its layout changed.)
    conn.execute(
        "UPDATE versions SET body = NULL WHERE body IS (SELECT a.body FROM articles a "
        "WHERE a.id = versions.article_id AND a.version = versions.version)"
    )


# The mail's channel: one, whatever the server or the recipients (storage.outbox.EMAIL).
EMAIL_CHANNEL = "email"


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    # The mail's delivery state moves from alerts' own columns to deliveries, where every
    # channel keeps its own. An archive that mailed before has the mail as its channel
    # from the start, so nothing it already sent goes out again and nothing pending is lost.
    columns = {r[1] for r in conn.execute("PRAGMA table_info(alerts)")}
    if "sent_at" not in columns:
        return
    used = conn.execute("SELECT MIN(created_at) FROM alerts WHERE sent_at IS NOT NULL OR attempts > 0").fetchone()[0]
    if used is not None:
        conn.execute(
            "INSERT OR IGNORE INTO notify_channels(fingerprint, kind, label, first_seen, start_after) "
            "VALUES (?, 'email', 'e-mail (SMTP)', ?, 0)",
            [EMAIL_CHANNEL, used],
        )
        conn.execute(
            "INSERT OR IGNORE INTO deliveries(alert_id, channel, sent_at, attempts, refused, last_error) "
            "SELECT id, ?, sent_at, attempts, 0, last_error FROM alerts WHERE sent_at IS NOT NULL OR attempts > 0",
            [EMAIL_CHANNEL],
        )
    conn.execute("DROP INDEX IF EXISTS idx_alerts_sent_at_kind")
    for column in ("sent_at", "attempts", "last_error"):
        conn.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
