"""The archive: one Python API over the SQLite file. The only module that writes rows.

Every outcome of a fetch goes through one method here, and each of them is one short
write transaction, so a crash or a kill leaves either the whole effect of a page or none
of it, and Datasette readers (WAL) are never blocked for long.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlite_utils

from storage import search
from storage.schema import ensure_schema
from storage.textops import CONTENT_FIELDS, content_hash, normalize_text, unified_diff

Clock = Callable[[], datetime]

NEW, CHANGED, UNCHANGED, FAILED, REMOVED = "new", "changed", "unchanged", "failed", "removed"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ArchiveError(Exception):
    """The database cannot be opened or is not a barwatch archive."""


@dataclass(frozen=True)
class DriftGuard:
    """Thresholds that tell a layout change from an edit.

    ``min_body_ratio``: a new body shorter than this share of the stored one is taken for an
    extraction failure, not an edit. ``suspect_share``: if more than this share of the
    revisited articles change in one run (with at least ``suspect_min`` revisited), the run
    is marked suspect and its change alerts are held.
    """

    min_body_ratio: float = 0.5
    suspect_share: float = 0.5
    suspect_min: int = 4


class Archive:
    def __init__(self, path: str | Path, clock: Clock = utcnow, drift: DriftGuard = DriftGuard()):
        self.path = str(path)
        self.clock = clock
        self.drift = drift
        try:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            # One writer, many readers: WAL lets Datasette read while a crawl writes.
            self.db.enable_wal()
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.execute("PRAGMA foreign_keys = ON")
            ensure_schema(self.db)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{self.path}: cannot open as a barwatch archive: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def now(self) -> str:
        return iso(self.clock())

    # ------------------------------------------------------------------ runs
    def start_run(self, mode: str) -> int:
        """Open a run. The caller holds the crawl lock, so a run still marked running was
        left by a crawl that died: close it as interrupted (its alerts become sendable)."""
        with self.db.conn:
            self.db.execute(
                "UPDATE crawl_runs SET status = 'interrupted', note = 'the crawl process died', finished_at = ? "
                "WHERE status = 'running'",
                [self.now()],
            )
            baseline = 0 if self.db["articles"].count else 1
            table = self.db["crawl_runs"]
            table.insert({"started_at": self.now(), "status": "running", "mode": mode, "baseline": baseline})
            return table.last_pk

    def finish_run(self, run_id: int, requests: int, status: str | None = None, note: str | None = None) -> dict:
        """Close a run. Unless ``status`` is forced, decide between ok and suspect."""
        run = self.run(run_id)
        if status is None:
            revisited = run["changed"] + run["unchanged"]
            status = "ok"
            if revisited >= self.drift.suspect_min and run["changed"] > self.drift.suspect_share * revisited:
                status = "suspect"
                note = note or f"{run['changed']} of {revisited} revisited articles changed"
        with self.db.conn:
            self.db["crawl_runs"].update(
                run_id, {"finished_at": self.now(), "status": status, "requests": requests, "note": note}
            )
        return self.run(run_id)

    def run(self, run_id: int) -> dict:
        try:
            return self.db["crawl_runs"].get(run_id)
        except sqlite_utils.db.NotFoundError:
            raise KeyError(f"no run {run_id}") from None

    def runs(self, limit: int = 20) -> list[dict]:
        return list(self.db["crawl_runs"].rows_where(order_by="id desc", limit=limit))

    def release(self, run_id: int) -> dict:
        """An operator confirms a suspect run: its held change alerts become sendable."""
        run = self.run(run_id)
        if run["status"] != "suspect":
            raise ValueError(f"run {run_id} is {run['status']}, not suspect")
        with self.db.conn:
            self.db["crawl_runs"].update(run_id, {"status": "released"})
        return self.run(run_id)

    def _bump(self, run_id: int, counter: str) -> None:
        self.db.execute(f"UPDATE crawl_runs SET [{counter}] = [{counter}] + 1 WHERE id = ?", [run_id])

    # ------------------------------------------------------------------ planning
    def known_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM articles")}

    def revisit_plan(self, revisit_days: int | None, rotation_quota: int) -> list[dict]:
        """Known articles to re-fetch this run: every recent one, then the rotation quota.

        ``revisit_days=None`` means every known article (a full run). Recent means published within ``revisit_days`` (or, with no date on the page, first
        seen within it). The rest are re-verified slowly, least recently checked first, so
        the whole archive is covered over time without hammering the site.
        """
        cols = "id, url, etag, last_modified, status"
        if revisit_days is None:
            return [dict(r) for r in self.db.query(f"SELECT {cols} FROM articles ORDER BY published DESC, id")]
        cutoff_dt = self.clock() - timedelta(days=revisit_days)
        cutoff_date, cutoff_ts = cutoff_dt.strftime("%Y-%m-%d"), iso(cutoff_dt)
        recent_where = "(published >= ? OR (published IS NULL AND first_seen >= ?))"
        recent = [
            dict(r)
            for r in self.db.query(
                f"SELECT {cols} FROM articles WHERE {recent_where} ORDER BY published DESC, id", [cutoff_date, cutoff_ts]
            )
        ]
        rotation = []
        if rotation_quota > 0:
            rotation = [
                dict(r)
                for r in self.db.query(
                    f"SELECT {cols} FROM articles WHERE NOT {recent_where} "
                    "ORDER BY last_checked IS NOT NULL, last_checked, id LIMIT ?",
                    [cutoff_date, cutoff_ts, rotation_quota],
                )
            ]
        return recent + rotation

    # ------------------------------------------------------------------ recording
    def get_article(self, article_id: str) -> dict | None:
        try:
            return self.db["articles"].get(article_id)
        except sqlite_utils.db.NotFoundError:
            return None

    def record_article(
        self,
        run_id: int,
        record: dict,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> str:
        """Store a parsed article. Returns new, changed, unchanged or failed (drift guard)."""
        now = self.now()
        aid = record["id"]
        new_hash = content_hash(record)
        with self.db.conn:
            old = self.get_article(aid)
            if old is not None:
                problem = self._drift_problem(old, record)
                if problem:
                    self._failure(run_id, record.get("url"), aid, "extraction", problem, now)
                    self._bump(run_id, "failed")
                    return FAILED
            row = {
                "id": aid,
                "url": record["url"],
                "section": record.get("section"),
                "title": record.get("title"),
                "published": record.get("published"),
                "author": record.get("author"),
                "source": record.get("source"),
                "views": record.get("views"),
                "body": record.get("body"),
                "attachments": json.dumps(record.get("attachments") or [], ensure_ascii=False),
                "content_hash": new_hash,
                "last_seen": now,
                "last_checked": now,
                "status": "live",
                "removed_at": None,
                "etag": etag,
                "last_modified": last_modified,
            }
            if old is None:
                outcome, version, diff = NEW, 1, None
                row.update(first_seen=now, last_changed=now, version=1)
                self.db["articles"].insert(row)
            elif old["content_hash"] != new_hash:
                outcome, version = CHANGED, old["version"] + 1
                diff = unified_diff(old, record, f"version {old['version']}", f"version {version}")
                row.update(last_changed=now, version=version)
                self.db["articles"].update(aid, row)
            else:
                outcome, version, diff = UNCHANGED, None, None
                # Section and url are not content: keep the newest reading without a version.
                self.db["articles"].update(aid, row)
            if version is not None:
                self.db["versions"].insert(
                    {
                        "article_id": aid,
                        "version": version,
                        "fetched_at": now,
                        **{f: record.get(f) for f in CONTENT_FIELDS},
                        "content_hash": new_hash,
                        "diff": diff,
                        "run_id": run_id,
                    }
                )
            if version is not None or old["status"] == "removed":  # new text, or back from removal
                search.index_article(self.db, self.db["articles"].get(aid))
            if record.get("views") is not None:
                self.db["views"].insert({"article_id": aid, "seen_at": now, "count": record["views"]})
            if outcome == NEW and not self.run(run_id)["baseline"]:
                self._queue(run_id, aid, NEW, 1, now)
            elif outcome == CHANGED:
                self._queue(run_id, aid, CHANGED, version, now)
            self._bump(run_id, outcome)
        return outcome

    def _drift_problem(self, old: dict, record: dict) -> str | None:
        if old.get("title") and not (record.get("title") or "").strip():
            return "the page lost its title while the stored version has one"
        old_len = len(normalize_text(old.get("body")))
        new_len = len(normalize_text(record.get("body")))
        if old_len and new_len < self.drift.min_body_ratio * old_len:
            return f"body shrank from {old_len} to {new_len} characters; kept the stored version"
        return None

    def record_not_modified(self, run_id: int, article_id: str) -> str:
        """A 304 answer to a conditional request: unchanged, and still there."""
        now = self.now()
        with self.db.conn:
            old = self.get_article(article_id)
            if old is None:  # only known articles are asked conditionally; a 304 here is the site's error
                self._failure(run_id, None, article_id, "http", "HTTP 304 for an article never archived", now)
                self._bump(run_id, FAILED)
                return FAILED
            self.db["articles"].update(article_id, {"last_seen": now, "last_checked": now, "status": "live", "removed_at": None})
            if old["status"] == "removed":
                search.index_article(self.db, self.db["articles"].get(article_id))
            self._bump(run_id, UNCHANGED)
        return UNCHANGED

    def record_gone(self, run_id: int, article_id: str, url: str, http_status: int) -> str:
        """A 404/410 for an article. Known and live: mark removed and queue an event."""
        now = self.now()
        with self.db.conn:
            old = self.get_article(article_id)
            if old is None:
                self._failure(run_id, url, article_id, "http", f"HTTP {http_status} for an article never archived", now)
                self._bump(run_id, FAILED)
                return FAILED
            if old["status"] == "removed":
                self.db["articles"].update(article_id, {"last_checked": now})
                self._bump(run_id, UNCHANGED)
                return UNCHANGED
            self.db["articles"].update(article_id, {"status": "removed", "removed_at": now, "last_checked": now})
            search.unindex_article(self.db, article_id)
            self._queue(run_id, article_id, REMOVED, old["version"], now)
            self._bump(run_id, REMOVED)
        return REMOVED

    def record_failure(self, run_id: int, url: str | None, kind: str, message: str, article_id: str | None = None) -> None:
        """A fetch or parse that failed: counted and logged, and nothing stored is touched."""
        with self.db.conn:
            self._failure(run_id, url, article_id, kind, message, self.now())
            self._bump(run_id, FAILED)

    def _failure(self, run_id, url, article_id, kind, message, now) -> None:
        self.db["failures"].insert(
            {"run_id": run_id, "url": url, "article_id": article_id, "kind": kind, "message": message[:2000], "at": now}
        )

    def _queue(self, run_id: int, article_id: str, kind: str, version: int | None, now: str) -> None:
        self.db["alerts"].insert(
            {"article_id": article_id, "kind": kind, "run_id": run_id, "created_at": now, "version": version},
            ignore=True,
        )

    # ------------------------------------------------------------------ reading
    def versions(self, article_id: str) -> list[dict]:
        return list(self.db["versions"].rows_where("article_id = ?", [article_id], order_by="version"))

    def version(self, article_id: str, version: int) -> dict | None:
        rows = list(self.db["versions"].rows_where("article_id = ? AND version = ?", [article_id, version]))
        return rows[0] if rows else None

    def failures(self, run_id: int) -> list[dict]:
        return list(self.db["failures"].rows_where("run_id = ?", [run_id], order_by="id"))

    def alerts(self, pending_only: bool = False) -> list[dict]:
        where = "sent_at IS NULL" if pending_only else None
        return list(self.db["alerts"].rows_where(where, order_by="id"))

    def find_article_id(self, prefix: str) -> str:
        """Resolve an id given in full or as an unambiguous prefix."""
        key = prefix.strip().lower()
        rows = [r[0] for r in self.db.execute("SELECT id FROM articles WHERE id LIKE ? LIMIT 2", [key + "%"])]
        if len(rows) == 1:
            return rows[0]
        raise KeyError(f"no article matches {prefix!r}" if not rows else f"{prefix!r} is ambiguous")

    def table_counts(self) -> dict[str, int]:
        return {name: self.db[name].count for name in ("articles", "versions", "crawl_runs", "alerts", "views", "failures")}

    def iter_articles(self, where: str | None = None, params: Iterable = ()) -> Iterable[dict]:
        return self.db["articles"].rows_where(where, list(params), order_by="published desc, id")
