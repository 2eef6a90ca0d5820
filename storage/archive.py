"""The archive: one Python API over the SQLite file. The only module that writes rows.

Every outcome of a fetch goes through one method here, and each of them is one write
transaction that starts with ``BEGIN IMMEDIATE`` and ends with ``COMMIT``: the article
row, its version, the search index rows, the view sample, the alert and the run's
counters commit together or not at all. A kill at any point leaves either the whole
effect of a page or none of it, and the next run redoes the page. (A deferred ``BEGIN``
that reads and then writes fails at once with SQLITE_BUSY when another writer got in
between; ``IMMEDIATE`` takes the write lock first and waits for it with the busy timeout.)

Opening modes, as SQLite names them:

* ``"ro"``: read-only. Never writes, never creates a file: a missing file or one that is
  not a barwatch archive is an :class:`ArchiveError`. Readers see WAL snapshots and never
  block the crawl.
* ``"rw"``: read and write rows of an archive that exists and is current (notify, release).
* ``"rwc"``: create or migrate the schema, then read and write. Only under the crawl lock.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import sqlite_utils

from storage import search
from storage.record import ArticleRecord
from storage.schema import (
    EMAIL_CHANNEL,
    OPERATIONS,
    SCHEMA_VERSION,
    TABLES,
    dict_rows,
    ensure_schema,
    schema_version,
    version_body_sql,
)
from storage.textops import (
    ADDED_CONTENT_FIELDS,
    CONTENT_FIELDS,
    clean_text,
    content_hash,
    encoding_problem,
    normalize_text,
    unified_diff,
)

Clock = Callable[[], datetime]

NEW, CHANGED, UNCHANGED, FAILED, REMOVED = "new", "changed", "unchanged", "failed", "removed"
RESTORED = "restored"  # an alert kind, not an outcome: a removed article is back

# The text fields of a record that come from the site (attachments are cleaned item by item).
_TEXT_FIELDS = ("url", "section", "title", "subtitle", "published", "issue", "author", "source", "body")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ArchiveError(Exception):
    """The database cannot be opened or is not a barwatch archive."""


class NoArchive(ArchiveError):
    """A read-only command was pointed at a file that does not exist."""


class StorageError(ArchiveError):
    """A write failed (disk full, I/O error, locked for too long): nothing of it was stored."""


@dataclass(frozen=True)
class DriftGuard:
    """Thresholds that tell a layout change from an edit.

    ``min_body_ratio``: a new body shorter than this share of the stored one is held for
    the operator (stored, not announced) rather than taken for an edit. ``suspect_share``:
    if more than this share of the revisited articles change in one run (with at least
    ``suspect_min`` revisited), the run is held and its change alerts wait.
    """

    min_body_ratio: float = 0.5
    suspect_share: float = 0.5
    suspect_min: int = 4


class Archive:
    def __init__(
        self,
        path: str | Path,
        clock: Clock = utcnow,
        drift: DriftGuard = DriftGuard(),
        *,
        mode: str = "rwc",
        notice_after_partial_runs: int = 3,
        max_page_count: int | None = None,
    ):
        if mode not in ("ro", "rw", "rwc"):
            raise ValueError(f"mode must be ro, rw or rwc, not {mode!r}")
        self.path = str(path)
        self.clock = clock
        self.drift = drift
        self.mode = mode
        self.notice_after_partial_runs = notice_after_partial_runs
        if mode != "rwc" and not Path(self.path).is_file():
            raise NoArchive(f"no archive at {self.path} (run `barwatch crawl` first)")
        try:
            if mode == "ro":
                uri = f"file:{Path(self.path).resolve().as_posix()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.conn = conn
            conn.execute("PRAGMA busy_timeout = 30000")
            if mode != "ro":
                conn.execute("PRAGMA foreign_keys = ON")
                # WAL: readers never wait for the writer. NORMAL is durable across a
                # process kill (the WAL is on disk); only a power cut may lose the last
                # transactions, never corrupt the file.
                conn.execute("PRAGMA synchronous = NORMAL")
                # NORMAL syncs only at checkpoints; the default one per 1,000 pages came
                # every ~50 articles and was a fifth of the time a page's write took. At
                # 8,000 pages (32 MiB of WAL) it is rare; the last close checkpoints all.
                conn.execute("PRAGMA wal_autocheckpoint = 8000")
                if max_page_count:
                    conn.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
            self.db = sqlite_utils.Database(conn)
            if mode == "rwc":
                self._create_or_migrate()
            else:
                self._check_current()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{self.path}: cannot open as a barwatch archive: {exc}") from exc

    def _create_or_migrate(self) -> None:
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            self.conn.execute("PRAGMA journal_mode = WAL")  # persistent; outside any transaction
        with self.write():
            ensure_schema(self.db)

    def _check_current(self) -> None:
        version = schema_version(self.conn)
        if version is None:
            raise ArchiveError(f"{self.path} is not a barwatch archive (no articles table yet)")
        if version < SCHEMA_VERSION:
            raise ArchiveError(
                f"{self.path} was made by an older barwatch (schema {version}, now {SCHEMA_VERSION}): "
                f"run `barwatch migrate --db {self.path}` (or the next `barwatch crawl`) to upgrade it"
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def now(self) -> str:
        return iso(self.clock())

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error.

        A database error inside becomes :class:`StorageError` (nothing of it is stored);
        other exceptions pass through after the rollback.
        """
        if self.mode == "ro":
            raise ArchiveError(f"{self.path} is open read-only")
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                # The connection may have dropped the transaction itself (e.g. disk full).
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"{self.path}: {exc}") from exc
            raise

    # ------------------------------------------------------------------ runs
    def start_run(self, mode: str, channels: Sequence[tuple[str, str]] = ()) -> int:
        """Open a run and register its configured channels ((url_template, name) pairs).

        The caller holds the crawl lock, so a run still marked running was left by a crawl
        that died: close it as interrupted (its alerts become sendable).
        """
        now = self.now()
        with self.write() as conn:
            conn.execute(
                "UPDATE crawl_runs SET status = 'interrupted', note = 'the crawl process died', finished_at = ? "
                "WHERE status = 'running'",
                [now],
            )
            inherit = conn.execute("SELECT 1 FROM meta WHERE key = 'inherit_baseline'").fetchone() is not None
            for template, name in channels:
                conn.execute(
                    "INSERT OR IGNORE INTO channels(url_template, name, first_seen, baseline_done_at, how_found) "
                    "VALUES (?, ?, ?, ?, 'config')",
                    [template, name, now, now if inherit else None],
                )
                conn.execute(
                    "UPDATE channels SET name = ?, how_found = 'config' WHERE url_template = ?", [name, template]
                )
            conn.execute("DELETE FROM meta WHERE key = 'inherit_baseline'")
            # baseline = nothing has been announced-ready yet: the archive's very first crawl.
            done = conn.execute(
                "SELECT 1 FROM channels WHERE baseline_done_at IS NOT NULL "
                "UNION ALL SELECT 1 FROM crawl_runs WHERE status IN ('ok', 'partial') LIMIT 1"
            ).fetchone()
            cursor = conn.execute(
                "INSERT INTO crawl_runs(started_at, status, mode, baseline) VALUES (?, 'running', ?, ?)",
                [now, mode, 0 if done else 1],
            )
            assert cursor.lastrowid is not None  # set by the INSERT that just succeeded
            return cursor.lastrowid

    def finish_run(
        self,
        run_id: int,
        requests: int,
        *,
        interrupted: bool = False,
        fatal: str | None = None,
        walked: dict[str, Iterable[str]] | None = None,
        note: str | None = None,
        channel_news: dict[str, tuple[str | None, str | None]] | None = None,
    ) -> dict:
        """Close a run with its one true status.

        ``interrupted``: the crawl was stopped (SIGTERM) before it finished. ``fatal``: why
        the run as a whole failed (robots.txt unreachable, every list disallowed, a storage
        error). Otherwise a run that fetched nothing and failed something is ``failed``,
        one with failures is ``partial``, the rest ``ok``. ``walked`` maps each channel
        whose walk finished in this run to the ids its lists showed; a channel in baseline
        leaves it here (unless the run was interrupted or failed). ``channel_news`` maps
        each channel walked to (the newest list date seen, the error of its walk or None).
        """
        now = self.now()
        with self.write() as conn:
            run = self.run(run_id)
            worked = run["new"] + run["changed"] + run["unchanged"] + run["removed"]
            notes = [note] if note else []
            if interrupted:
                status = "interrupted"
            elif fatal:
                status, notes = "failed", [fatal, *notes]
            elif run["failed"] and not worked:
                status = "failed"
                notes.append("nothing fetched: every request failed")
            elif run["failed"]:
                status = "partial"
            else:
                status = "ok"
            held = run["held"]
            revisited = run["changed"] + run["unchanged"]
            shrunk = conn.execute(
                "SELECT COUNT(*) FROM versions WHERE run_id = ? AND note LIKE 'held:%'", [run_id]
            ).fetchone()[0]
            if (
                held is None
                and revisited >= self.drift.suspect_min
                and run["changed"] > self.drift.suspect_share * revisited
            ):
                held = "suspect"
                notes.append(f"{run['changed']} of {revisited} revisited articles changed")
            if held is None and shrunk:
                held = "suspect"
                notes.append(f"{shrunk} article bodies shrank below {self.drift.min_body_ratio:.0%} of the stored text")
            conn.execute(
                "UPDATE crawl_runs SET finished_at = ?, status = ?, requests = ?, note = ?, held = ? WHERE id = ?",
                [now, status, requests, "; ".join(notes) or None, held, run_id],
            )
            if status in ("ok", "partial"):
                for template, ids in (walked or {}).items():
                    self._finish_walk(conn, template, list(ids), now)
            for template, (newest, error) in (channel_news or {}).items():
                # An undated list (a magazine issue's contents) is as new as its newest article.
                conn.execute(
                    "UPDATE channels SET newest_item = NULLIF(MAX(COALESCE(newest_item, ''), COALESCE(?, "
                    "(SELECT MAX(published) FROM articles WHERE channel = ?), '')), ''), last_error = ? "
                    "WHERE url_template = ?",
                    [newest, template, clean_text(error), template],
                )
            finished = self.run(run_id)
            self._raise_notices(conn, finished, now)
        return finished

    def _finish_walk(self, conn: sqlite3.Connection, template: str, ids: list[str], now: str) -> None:
        row = conn.execute("SELECT baseline_done_at FROM channels WHERE url_template = ?", [template]).fetchone()
        conn.execute("UPDATE channels SET last_walked = ? WHERE url_template = ?", [now, template])
        if row is None or row[0] is not None:
            return
        conn.execute("UPDATE channels SET baseline_done_at = ? WHERE url_template = ?", [now, template])
        for aid in ids:
            conn.execute(
                "INSERT OR IGNORE INTO backlog(article_id, url_template, added_at) "
                "SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM articles WHERE id = ?)",
                [aid, template, now, aid],
            )

    def run(self, run_id: int) -> dict:
        row = self._run(run_id)
        if row is None:
            raise KeyError(f"no run {run_id}")
        return row

    def _run(self, run_id: int) -> dict | None:
        cursor = self.conn.execute("SELECT * FROM crawl_runs WHERE id = ?", [run_id])
        row = cursor.fetchone()
        return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))

    def runs(self, limit: int = 20) -> list[dict]:
        return list(self.db["crawl_runs"].rows_where(order_by="id desc", limit=limit))

    def release(self, run_id: int) -> dict:
        """An operator confirms a held run: its held change alerts become sendable."""
        with self.write() as conn:
            run = self._run(run_id)
            if run is None:
                raise KeyError(f"no run {run_id}")
            if run["held"] != "suspect":
                raise ValueError(
                    f"run {run_id} is not held" + (" (already released)" if run["held"] == "released" else "")
                )
            conn.execute("UPDATE crawl_runs SET held = 'released' WHERE id = ?", [run_id])
            conn.execute(
                "UPDATE incidents SET closed_at = ?, closed_run = ? WHERE key = ? AND closed_at IS NULL",
                [self.now(), run_id, f"held:{run_id}"],
            )
        return self.run(run_id)

    def _bump(self, conn: sqlite3.Connection, run_id: int, counter: str) -> None:
        conn.execute(f"UPDATE crawl_runs SET [{counter}] = [{counter}] + 1 WHERE id = ?", [run_id])

    # ------------------------------------------------------------------ channels, discovery
    def channels(self) -> list[dict]:
        return dict_rows(self.conn.execute("SELECT * FROM channels ORDER BY first_seen, url_template"))

    def add_channel(
        self,
        template: str,
        name: str,
        *,
        how_found: str,
        first_page: int = 1,
        found_on: str | None = None,
        first_url: str | None = None,
        js_pager: bool = False,
    ) -> bool:
        """A list page discovery found: walked like a section from now on, in baseline
        until one walk of it finishes. False if the template was known already."""
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO channels(url_template, name, first_page, first_url, how_found, found_on, "
                "first_seen, js_pager) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    template,
                    clean_text(name),
                    first_page,
                    first_url,
                    how_found,
                    clean_text(found_on),
                    self.now(),
                    int(js_pager),
                ],
            )
            return cursor.rowcount == 1

    def candidates(self) -> list[dict]:
        return dict_rows(self.conn.execute("SELECT * FROM candidates ORDER BY first_seen, url"))

    def record_candidate(
        self,
        url: str,
        kind: str,
        *,
        how: str | None = None,
        text: str | None = None,
        found_on: str | None = None,
        depth: int = 0,
        channel: str | None = None,
        note: str | None = None,
        recheck_days: int = 30,
    ) -> None:
        """What a page offered as a possible channel turned out to be: list, hub or other
        (asked again after ``recheck_days``)."""
        now = self.clock()
        recheck = iso(now + timedelta(days=recheck_days)) if kind == "other" else None
        with self.write() as conn:
            conn.execute(
                "INSERT INTO candidates(url, kind, how, text, found_on, depth, first_seen, checked_at, recheck_after, "
                "channel, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET kind = excluded.kind, checked_at = excluded.checked_at, "
                "recheck_after = excluded.recheck_after, channel = excluded.channel, note = excluded.note",
                [
                    url,
                    kind,
                    how,
                    clean_text(text),
                    clean_text(found_on),
                    depth,
                    iso(now),
                    iso(now),
                    recheck,
                    channel,
                    clean_text(note),
                ],
            )

    # ------------------------------------------------------------------ operations notices
    def _raise_notices(self, conn: sqlite3.Connection, run: dict, now: str) -> None:
        """One notice when an incident starts and one when it clears, never one a run."""
        rid, status = run["id"], run["status"]
        if status == "interrupted":
            return  # says nothing about the site; the next run decides
        if status == "failed" or status in ("ok", "partial"):
            self._incident(
                conn,
                "crawl-failed",
                status == "failed",
                rid,
                now,
                f"抓取失败 crawl failed: run {rid}: {run['note'] or 'see `barwatch runs`'}",
                f"已恢复 crawl works again: run {rid} is {status}",
            )
        n = self.notice_after_partial_runs
        recent = conn.execute(
            "SELECT id, status FROM crawl_runs WHERE status NOT IN ('interrupted', 'running') ORDER BY id DESC LIMIT ?",
            [n],
        ).fetchall()
        signatures = {self._failure_signature(conn, r[0]) for r in recent}
        repeated = len(recent) == n and all(r[1] == "partial" for r in recent) and len(signatures) == 1
        # A partial run with other failures, or a failed run, neither opens nor clears it.
        if repeated or status == "ok":
            sample = conn.execute(
                "SELECT kind, url, message FROM failures WHERE run_id = ? ORDER BY id LIMIT 3", [rid]
            ).fetchall()
            what = "; ".join(f"{k} {u or ''}: {m}" for k, u, m in sample)
            self._incident(
                conn,
                "crawl-partial",
                repeated,
                rid,
                now,
                f"持续失败 the same failures in {n} runs in a row (run {rid}, {run['failed']} failed): {what}",
                f"已恢复 the repeated failures are gone: run {rid} is {status}",
            )
        if run["held"] == "suspect":
            self._incident(
                conn,
                f"held:{rid}",
                True,
                rid,
                now,
                f"待确认 run {rid} is held: {run['note']}. Check, then `barwatch release {rid}`",
                "",
            )

    def _failure_signature(self, conn: sqlite3.Connection, run_id: int) -> str:
        rows = conn.execute(
            "SELECT DISTINCT kind, COALESCE(url, '') FROM failures WHERE run_id = ? ORDER BY 1, 2", [run_id]
        )
        return hashlib.sha256(json.dumps(rows.fetchall()).encode()).hexdigest()

    def _incident(self, conn, key: str, active: bool, run_id: int | None, now: str, started: str, cleared: str) -> None:
        row = conn.execute("SELECT closed_at FROM incidents WHERE key = ?", [key]).fetchone()
        is_open = row is not None and row[0] is None
        if active and not is_open:
            conn.execute(
                "INSERT OR REPLACE INTO incidents(key, opened_at, opened_run, closed_at, closed_run, detail) "
                "VALUES (?, ?, ?, NULL, NULL, ?)",
                [key, now, run_id, started],
            )
            self._notice(conn, run_id, key, started, now)
        elif not active and is_open:
            conn.execute("UPDATE incidents SET closed_at = ?, closed_run = ? WHERE key = ?", [now, run_id, key])
            if cleared:
                self._notice(conn, run_id, key, cleared, now)

    def _notice(self, conn, run_id: int | None, key: str, text: str, now: str) -> None:
        conn.execute(
            "INSERT INTO alerts(article_id, kind, run_id, created_at, incident, notice) VALUES (NULL, ?, ?, ?, ?, ?)",
            [OPERATIONS, run_id, now, key, clean_text(text)],
        )

    def incident(self, conn, key: str, active: bool, started: str, cleared: str) -> None:
        """An incident outside a crawl run (a notify channel down): one notice when it
        starts, one when it clears. ``conn``: the caller's open write transaction."""
        self._incident(conn, key, active, None, self.now(), started, cleared)

    def notice(self, conn, key: str, text: str) -> None:
        """A one-off operations notice outside a crawl run, in the caller's transaction."""
        self._notice(conn, None, key, text, self.now())

    def open_incidents(self) -> list[dict]:
        return dict_rows(self.conn.execute("SELECT * FROM incidents WHERE closed_at IS NULL ORDER BY opened_at"))

    # ------------------------------------------------------------------ planning
    def known_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM articles")}

    def revisit_plan(self, revisit_days: int | None, reverify_days: int = 7) -> list[dict]:
        """Known articles to re-fetch this run: the recent ones, then this run's share of the
        re-verification cycle.

        ``revisit_days=None`` means every known article (a full run). Recent means published
        or edited within ``revisit_days`` (with no date, first seen within it): re-fetched
        every run. Every other article is re-fetched at least once every ``reverify_days``:
        each run takes ``reverify_quota`` of them, least recently checked first.
        """
        cols = "id, url, etag, last_modified, status"
        if revisit_days is None:
            return [dict(r) for r in self.db.query(f"SELECT {cols} FROM articles ORDER BY published DESC, id")]
        cutoff_dt = self.clock() - timedelta(days=revisit_days)
        cutoff_date, cutoff_ts = cutoff_dt.strftime("%Y-%m-%d"), iso(cutoff_dt)
        recent_where = (
            "(published >= ? OR (version > 1 AND last_changed >= ?) OR (published IS NULL AND first_seen >= ?))"
        )
        params = [cutoff_date, cutoff_ts, cutoff_ts]
        recent = [
            dict(r)
            for r in self.db.query(
                f"SELECT {cols} FROM articles WHERE {recent_where} ORDER BY published DESC, id", params
            )
        ]
        quota = self.reverify_quota(reverify_days)
        rotation = [
            dict(r)
            for r in self.db.query(
                f"SELECT {cols} FROM articles WHERE NOT {recent_where} "
                "ORDER BY last_checked IS NOT NULL, last_checked, id LIMIT ?",
                [*params, quota],
            )
        ]
        return recent + rotation

    def run_interval(self) -> float:
        """Seconds between runs, as the recent runs were spaced (median of the last 10
        gaps; an hour until there are two runs). The cycle is planned on it."""
        starts = [
            datetime.strptime(r[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            for r in self.conn.execute("SELECT started_at FROM crawl_runs ORDER BY id DESC LIMIT 11")
        ]
        gaps = sorted((a - b).total_seconds() for a, b in pairwise(starts) if a > b)
        if not gaps:
            return 3600.0
        return min(max(gaps[len(gaps) // 2], 60.0), 7 * 86400.0)

    def reverify_quota(self, reverify_days: int) -> int:
        """This run's share of the cycle: the archive spread over the runs of a cycle, or
        more when articles would otherwise miss their deadline before the next run."""
        interval = self.run_interval()
        total = self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        runs_per_cycle = max(1.0, reverify_days * 86400.0 / interval)
        share = math.ceil(total / runs_per_cycle)
        deadline = iso(self.clock() - timedelta(days=reverify_days) + timedelta(seconds=interval))
        due = self.conn.execute(
            "SELECT COUNT(*) FROM articles WHERE last_checked IS NULL OR last_checked < ?", [deadline]
        ).fetchone()[0]
        return max(share, due)

    def reverify_progress(self, reverify_days: int) -> tuple[int, int]:
        """(articles checked within the last ``reverify_days``, all articles)."""
        since = iso(self.clock() - timedelta(days=reverify_days))
        row = self.conn.execute(
            "SELECT COALESCE(SUM(last_checked >= ?), 0), COUNT(*) FROM articles", [since]
        ).fetchone()
        return int(row[0]), int(row[1])

    # ------------------------------------------------------------------ recording
    def get_article(self, article_id: str) -> dict | None:
        return read_article(self.conn, article_id)

    def record_article(
        self,
        run_id: int,
        record: ArticleRecord,
        etag: str | None = None,
        last_modified: str | None = None,
        channel: str | None = None,
        list_date: str | None = None,
    ) -> str:
        """Store a parsed article. Returns new, changed, unchanged or failed.

        ``channel`` is the url_template of the channel whose list led here (None: reached
        otherwise, e.g. a revisit or a side link). What is first seen while that channel is
        in baseline, or was listed by its baseline walk, is stored without an alert.
        ``list_date`` is the date of the list row that linked here: the article's date when
        the page prints none (so is the magazine issue the page names, ``record["issue"]``).
        Neither is content: they fill ``published`` with ``published_from`` saying so, and
        never make or change a version.
        """
        cleaned = clean_record(record)
        aid = cleaned["id"]
        garbled = encoding_problem(cleaned.get("title")) or encoding_problem(cleaned.get("body"))
        if garbled:
            # A page that did not decode is the transport's fault, never an edit.
            self.record_failure(
                run_id, cleaned.get("url"), "encoding", f"the page did not decode cleanly: {garbled}", aid
            )
            return FAILED
        now = self.now()
        new_hash = content_hash(cleaned)
        with self.write() as conn:
            old = self._comparable_article(aid)
            note = None
            if old is not None and old["content_hash"] != new_hash:
                problem, note = self._judge_change(old, cleaned)
                if problem:
                    self._failure(conn, run_id, cleaned.get("url"), aid, "extraction", problem, now)
                    self._bump(conn, run_id, FAILED)
                    return FAILED
            published, published_from = _published(cleaned, list_date, old)
            row = _article_row(cleaned, published, published_from, new_hash, now, etag, last_modified)
            diff = None
            if old is None:
                outcome, version = NEW, 1
                row.update(id=aid, first_seen=now, last_changed=now, version=1, channel=channel)
            elif old["content_hash"] != new_hash:
                outcome, version = CHANGED, old["version"] + 1
                diff = unified_diff(old, cleaned, f"version {old['version']}", f"version {version}")
                row.update(last_changed=now, version=version)
            else:
                # Section and url are not content: keep the newest reading without a version.
                outcome, version = UNCHANGED, None
            restored = old is not None and old["status"] == "removed"
            self._write_article_row(conn, aid, old, row, reindex=version is not None or restored)
            if version is not None:
                self._write_version(conn, run_id, aid, old, cleaned, version, new_hash, diff, note, now)
            if cleaned.get("views") is not None:
                conn.execute(
                    "INSERT INTO views(article_id, seen_at, count) VALUES (?, ?, ?)", [aid, now, cleaned["views"]]
                )
            if outcome == NEW:
                self._queue_new(conn, run_id, aid, channel, published, now)
            elif outcome == CHANGED and not (note or "").startswith("repair"):
                self._queue(conn, run_id, aid, CHANGED, version, now)
            if restored:
                assert old is not None  # only a stored article can have been removed
                self._queue(conn, run_id, aid, RESTORED, version or old["version"], now)
            self._bump(conn, run_id, outcome)
        return outcome

    def _judge_change(self, old: Mapping[str, Any], record: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """A reading whose content differs from the stored one: (why it is refused as a
        failure, None), or (None, the note its version carries: a repair, a held shrink, or
        None for a plain edit)."""
        note = _repair_note(old, record)
        if note is not None:
            return None, note
        problem = self._lost_title(old, record)
        if problem:
            return problem, None
        return None, self._shrunk(old, record)

    def _comparable_article(self, aid: str) -> dict[str, Any] | None:
        """The stored article as the new reading is compared with it."""
        old = self.get_article(aid)
        if old is not None and old.get("published_from") not in (None, "page"):
            # The page's own reading, for the comparison; the stored list/issue date stays.
            old = {**old, "_stored_published": old["published"], "published": None}
        return old

    def _write_article_row(
        self, conn: sqlite3.Connection, aid: str, old: dict[str, Any] | None, row: dict[str, Any], *, reindex: bool
    ) -> None:
        """The articles row, inserted or updated; ``reindex``: new text, or back from removal."""
        if reindex:
            entry = {**row, "id": aid, "first_seen": old["first_seen"] if old else row["first_seen"]}
            row["search_key"], row["search_checksum"] = search.index_entry(conn, old, entry)
        if old is None:
            cols = ", ".join(row)
            conn.execute(f"INSERT INTO articles({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        else:
            sets = ", ".join(f"{c} = ?" for c in row)
            conn.execute(f"UPDATE articles SET {sets} WHERE id = ?", [*row.values(), aid])

    def _write_version(
        self,
        conn: sqlite3.Connection,
        run_id: int,
        aid: str,
        old: dict[str, Any] | None,
        record: Mapping[str, Any],
        version: int,
        new_hash: str,
        diff: str | None,
        note: str | None,
        now: str,
    ) -> None:
        if old is not None:
            # The current version's body lives in articles only (schema 3): the
            # body it replaces moves into that version's row now.
            conn.execute(
                "UPDATE versions SET body = ? WHERE article_id = ? AND version = ?",
                [old["body"], aid, old["version"]],
            )
        cols = [
            "article_id",
            "version",
            "fetched_at",
            *CONTENT_FIELDS,
            "content_hash",
            "diff",
            "run_id",
            "note",
        ]
        content = [None if f == "body" else record.get(f) for f in CONTENT_FIELDS]
        conn.execute(
            f"INSERT INTO versions({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [aid, version, now, *content, new_hash, diff, run_id, note],
        )

    def _queue_new(
        self, conn: sqlite3.Connection, run_id: int, aid: str, channel: str | None, published: str | None, now: str
    ) -> None:
        if not self._is_backlog(conn, run_id, aid, channel, published):
            self._queue(conn, run_id, aid, NEW, 1, now)
        conn.execute("DELETE FROM backlog WHERE article_id = ?", [aid])
        if channel is not None:
            conn.execute("UPDATE channels SET articles_found = articles_found + 1 WHERE url_template = ?", [channel])

    def _is_backlog(self, conn, run_id: int, aid: str, channel: str | None, published: str | None) -> bool:
        if conn.execute("SELECT 1 FROM backlog WHERE article_id = ?", [aid]).fetchone():
            return True
        if channel is not None:
            row = conn.execute("SELECT baseline_done_at FROM channels WHERE url_template = ?", [channel]).fetchone()
            return row is None or row[0] is None
        first, count = conn.execute("SELECT MIN(baseline_done_at), COUNT(*) FROM channels").fetchone()
        if count == 0:  # an archive written without channels (the Python API): one baseline for all
            return bool(conn.execute("SELECT baseline FROM crawl_runs WHERE id = ?", [run_id]).fetchone()[0])
        # Reached without a list (a side link): older than the first finished walk is backlog.
        return first is None or published is None or published < first[:10]

    def _lost_title(self, old: Mapping[str, Any], record: Mapping[str, Any]) -> str | None:
        # A page without its title or its whole body is a layout or extraction problem,
        # never an edit: the stored version stays and the failure is counted.
        if old.get("title") and not (record.get("title") or "").strip():
            return "the page lost its title while the stored version has one"
        old_len = len(normalize_text(old.get("body")))
        if old_len and not normalize_text(record.get("body")):
            return f"body shrank from {old_len} to 0 characters; kept the stored version"
        return None

    def _shrunk(self, old: Mapping[str, Any], record: Mapping[str, Any]) -> str | None:
        old_len = len(normalize_text(old.get("body")))
        new_len = len(normalize_text(record.get("body")))
        if old_len and new_len < self.drift.min_body_ratio * old_len:
            return f"held: body shrank from {old_len} to {new_len} characters"
        return None

    def record_not_modified(self, run_id: int, article_id: str) -> str:
        """A 304 answer to a conditional request: unchanged, and still there."""
        now = self.now()
        with self.write() as conn:
            old = self.get_article(article_id)
            if old is None:  # only known articles are asked conditionally; a 304 here is the site's error
                self._failure(conn, run_id, None, article_id, "http", "HTTP 304 for an article never archived", now)
                self._bump(conn, run_id, FAILED)
                return FAILED
            key, checksum = old["search_key"], old["search_checksum"]
            if old["status"] == "removed":
                key, checksum = search.index_entry(conn, old, {**old, "status": "live"})
                self._queue(conn, run_id, article_id, RESTORED, old["version"], now)
            conn.execute(
                "UPDATE articles SET last_seen = ?, last_checked = ?, status = 'live', removed_at = NULL, "
                "search_key = ?, search_checksum = ? WHERE id = ?",
                [now, now, key, checksum, article_id],
            )
            self._bump(conn, run_id, UNCHANGED)
        return UNCHANGED

    def record_gone(self, run_id: int, article_id: str, url: str, http_status: int) -> str:
        """A 404/410 for an article. Known and live: mark removed and queue an event."""
        now = self.now()
        with self.write() as conn:
            old = self.get_article(article_id)
            if old is None:
                self._failure(
                    conn, run_id, url, article_id, "http", f"HTTP {http_status} for an article never archived", now
                )
                self._bump(conn, run_id, FAILED)
                return FAILED
            if old["status"] == "removed":
                conn.execute("UPDATE articles SET last_checked = ? WHERE id = ?", [now, article_id])
                self._bump(conn, run_id, UNCHANGED)
                return UNCHANGED
            search.forget(conn, old)
            conn.execute(
                "UPDATE articles SET status = 'removed', removed_at = ?, last_checked = ?, "
                "search_key = NULL, search_checksum = NULL WHERE id = ?",
                [now, now, article_id],
            )
            self._queue(conn, run_id, article_id, REMOVED, old["version"], now)
            self._bump(conn, run_id, REMOVED)
        return REMOVED

    def record_failure(
        self, run_id: int, url: str | None, kind: str, message: str, article_id: str | None = None
    ) -> None:
        """A fetch or parse that failed: counted and logged, and nothing stored is touched."""
        with self.write() as conn:
            self._failure(conn, run_id, url, article_id, kind, message, self.now())
            self._bump(conn, run_id, FAILED)

    def _failure(
        self,
        conn: sqlite3.Connection,
        run_id: int,
        url: str | None,
        article_id: str | None,
        kind: str,
        message: str,
        now: str,
    ) -> None:
        conn.execute(
            "INSERT INTO failures(run_id, url, article_id, kind, message, at) VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, clean_text(url), article_id, kind, (clean_text(message) or "")[:2000], now],
        )

    def _queue(self, conn, run_id: int, article_id: str, kind: str, version: int | None, now: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO alerts(article_id, kind, run_id, created_at, version) VALUES (?, ?, ?, ?, ?)",
            [article_id, kind, run_id, now, version],
        )

    def reindex(self, progress: search.Progress | None = None) -> int:
        """Rebuild the search index from ``articles`` (rows written with plain SQL too), in
        one transaction: searches see the old index until it is done. Returns the number
        of articles indexed."""
        with self.write() as conn:
            return search.rebuild(conn, progress)

    # ------------------------------------------------------------------ reading
    def versions(self, article_id: str) -> list[dict]:
        """Every version of an article, oldest first, each with its full body."""
        return read_versions(self.conn, article_id)

    def version(self, article_id: str, version: int) -> dict | None:
        rows = read_versions(self.conn, article_id, version)
        return rows[0] if rows else None

    def events(self, article_id: str) -> list[dict]:
        """When the article was found removed and found back (``read_events``)."""
        return read_events(self.conn, article_id)

    def failures(self, run_id: int) -> list[dict]:
        return list(self.db["failures"].rows_where("run_id = ?", [run_id], order_by="id"))

    def alerts(self, pending_only: bool = False, channel: str = EMAIL_CHANNEL) -> list[dict]:
        """The alert rows with their delivery on ``channel`` (sent_at, attempts,
        last_error, gave_up_at; empty where it was never tried), oldest first."""
        cursor = self.conn.execute(
            "SELECT a.*, d.sent_at, COALESCE(d.attempts, 0) AS attempts, d.last_error, d.gave_up_at "
            "FROM alerts a LEFT JOIN deliveries d ON d.alert_id = a.id AND d.channel = ? "
            + ("WHERE d.sent_at IS NULL " if pending_only else "")
            + "ORDER BY a.id",
            [channel],
        )
        return dict_rows(cursor)

    def find_article_id(self, prefix: str) -> str:
        """Resolve an id given in full or as an unambiguous prefix (hex digits only)."""
        key = prefix.strip().lower()
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise KeyError(f"no article matches {prefix!r} (an id is 32 hex digits; a unique prefix will do)")
        rows = [
            r[0]
            for r in self.conn.execute("SELECT id FROM articles WHERE substr(id, 1, ?) = ? LIMIT 2", [len(key), key])
        ]
        if len(rows) == 1:
            return rows[0]
        raise KeyError(f"no article matches {prefix!r}" if not rows else f"{prefix!r} is ambiguous")

    def table_counts(self) -> dict[str, int]:
        names = ("articles", "versions", "crawl_runs", "alerts", "views", "failures")
        return {name: self.conn.execute(f"SELECT COUNT(*) FROM [{name}]").fetchone()[0] for name in names}

    def iter_articles(self, where: str | None = None, params: Iterable = ()) -> Iterable[dict]:
        return self.db["articles"].rows_where(where, list(params), order_by="published desc, id")


# Readers that take a bare connection: Datasette's pages run them on its own read-only
# connections (``Database.execute_fn``), the CLI through ``Archive``.
def read_article(conn: sqlite3.Connection, article_id: str) -> dict | None:
    cursor = conn.execute("SELECT * FROM articles WHERE id = ?", [article_id])
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def read_versions(conn: sqlite3.Connection, article_id: str, version: int | None = None) -> list[dict]:
    """An article's versions oldest first (or the one numbered ``version``), each with its full body."""
    columns = ", ".join(
        f"v.{c}" if c != "body" else f"{version_body_sql('v', 'a')} AS body" for c in TABLES["versions"][0]
    )
    where = "v.article_id = ?"
    params: list[object] = [article_id]
    if version is not None:
        where, params = where + " AND v.version = ?", params + [version]
    cursor = conn.execute(
        f"SELECT {columns} FROM versions v JOIN articles a ON a.id = v.article_id WHERE {where} ORDER BY v.version",
        params,
    )
    return dict_rows(cursor)


def read_events(conn: sqlite3.Connection, article_id: str) -> list[dict]:
    """When the article was found removed and found back: (kind, at) from the outbox,
    oldest first. Versions are the other half of its history."""
    rows = conn.execute(
        "SELECT kind, created_at FROM alerts WHERE article_id = ? AND kind IN (?, ?) ORDER BY created_at, id",
        [article_id, REMOVED, RESTORED],
    )
    return [{"kind": kind, "at": at} for kind, at in rows]


def _published(
    record: Mapping[str, Any], list_date: str | None, old: Mapping[str, Any] | None
) -> tuple[str | None, str | None]:
    """The article's date and where it came from: the page, else the list row, else what
    was stored from a list before (a revisit has no list row), else the magazine issue."""
    if record.get("published"):
        return record["published"], "page"
    if list_date:
        return list_date, "list"
    if old is not None and old.get("_stored_published") and old.get("published_from") in ("list", "issue"):
        return old["_stored_published"], old["published_from"]
    if record.get("issue"):
        return record["issue"], "issue"
    return None, None


def _repair_note(old: Mapping[str, Any], record: Mapping[str, Any]) -> str | None:
    """Why a new reading of unchanged content differs from the stored one, when barwatch
    is the cause (a garbled stored version, a field it did not read before), else None."""
    old_garbled = encoding_problem(old.get("title")) or encoding_problem(old.get("body"))
    newly = _newly_extracted(old, record)
    if old_garbled:
        return f"repair: the stored version was garbled ({old_garbled})"
    if newly:
        return f"repair: {', '.join(newly)} now extracted from the same page"
    return None


def _article_row(
    record: Mapping[str, Any],
    published: str | None,
    published_from: str | None,
    new_hash: str,
    now: str,
    etag: str | None,
    last_modified: str | None,
) -> dict[str, Any]:
    """The articles columns every reading of a page sets, new, changed or unchanged."""
    return {
        "url": record["url"],
        "section": record.get("section"),
        "title": record.get("title"),
        "subtitle": record.get("subtitle"),
        "published": published,
        "published_from": published_from,
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


def _newly_extracted(old: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """Content fields a newer parser reads from a page where the stored version has none,
    when nothing else differs: the page did not change, barwatch learnt to read more."""
    added = [f for f in ADDED_CONTENT_FIELDS if not old.get(f) and record.get(f)]
    if not added:
        return []
    rest = {f: None for f in added}
    return added if content_hash({**old, **rest}) == content_hash({**record, **rest}) else []


def clean_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with control and bidi characters gone from every text field (defence in
    depth: the parser cleans too, but nothing from the site reaches a row uncleaned)."""
    out = dict(record)
    for f in _TEXT_FIELDS:
        if isinstance(out.get(f), str):
            out[f] = clean_text(out[f])
    attachments = out.get("attachments") or []
    out["attachments"] = [
        {k: clean_text(v) if isinstance(v, str) else v for k, v in a.items()} if isinstance(a, dict) else a
        for a in attachments
    ]
    return out
