"""The archive's schema: created and migrated here, and only here, idempotently.

Table and column names are a public contract (operators query them in Datasette).
Migration is additive: a table that exists gets the columns it lacks; nothing is ever
dropped or renamed, so an older archive opens with a newer barwatch without losing a row.
"""
from __future__ import annotations

import sqlite_utils

# name -> (columns in order, primary key, extra options)
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...] | None]] = {
    "articles": (
        {
            "id": str,
            "url": str,
            "section": str,
            "title": str,
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
        },
        "id",
    ),
    "versions": (
        {
            "article_id": str,
            "version": int,
            "fetched_at": str,
            "title": str,
            "published": str,
            "author": str,
            "source": str,
            "body": str,
            "content_hash": str,
            "diff": str,
            "run_id": int,
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
        },
        "id",
    ),
    "views": ({"article_id": str, "seen_at": str, "count": int}, None),
    "alerts": (
        {
            "id": int,
            "article_id": str,
            "kind": str,
            "run_id": int,
            "created_at": str,
            "sent_at": str,
            "attempts": int,
            "last_error": str,
            "version": int,
        },
        "id",
    ),
    "failures": (
        {"id": int, "run_id": int, "url": str, "article_id": str, "kind": str, "message": str, "at": str},
        "id",
    ),
}

NOT_NULL_DEFAULTS = {
    "crawl_runs": {"requests": 0, "new": 0, "changed": 0, "unchanged": 0, "removed": 0, "failed": 0, "baseline": 0},
    "alerts": {"attempts": 0},
}

INDEXES = [
    ("articles", ["status", "last_checked"]),
    ("articles", ["published"]),
    ("versions", ["fetched_at"]),
    ("views", ["article_id", "seen_at"]),
    ("alerts", ["sent_at", "kind"]),
    ("alerts", ["article_id", "kind", "run_id"], True),
    ("failures", ["run_id"]),
]

FOREIGN_KEYS = {
    "versions": [("article_id", "articles", "id")],
    "views": [("article_id", "articles", "id")],
    "alerts": [("article_id", "articles", "id"), ("run_id", "crawl_runs", "id")],
}


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or migrate every table, index and the search index. Safe to call on each open."""
    from storage import search  # the search index is part of the schema, kept with it

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
    search.ensure_schema(db)
