"""Helpers for tests that crawl the fixture site: one `barwatch crawl` process per crawl,
exactly as cron or the daemon runs it (a Twisted reactor cannot restart in one process)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from crawler.parsing import RECORD_KEYS

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_CONFIG = ROOT / "fixtures" / "site.toml"
# The frozen "now" of crawls in tests: 2026-01-23 (the newest base article) is within the
# 30-day revisit window, everything else is older.
LOG_LEVEL = "WARNING"
NOW = "2026-02-01T09:00:00Z"


def barwatch(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"barwatch {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def crawl_args(
    db: Path,
    base_url: str,
    *extra: str,
    now: str | None = NOW,
    config: Path = FIXTURE_CONFIG,
    log_level: str = LOG_LEVEL,
) -> list[str]:
    """``barwatch crawl``'s arguments as the tests run it: the fixture config pointed at a
    local site, a frozen clock (``now=None``: the real one) and quiet logs."""
    args = ["crawl", "--db", str(db), "--config", str(config), "--base-url", base_url, "--log-level", log_level]
    return args + (["--now", now] if now else []) + list(extra)


def crawl_argv(db: Path, base_url: str, *extra: str, **options) -> list[str]:
    """The whole command line, for a test that starts the crawl as a process of its own."""
    return [sys.executable, "-m", "scheduler.cli", *crawl_args(db, base_url, *extra, **options)]


def crawl(
    db: Path,
    site,
    *extra: str,
    now: str = NOW,
    config: Path = FIXTURE_CONFIG,
    check: bool = True,
    timeout: float = 120,
):
    return barwatch(*crawl_args(db, site.base_url, *extra, now=now, config=config), check=check, timeout=timeout)


def copy_db(src: Path, dst: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copy(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


def stored_record(row: dict) -> dict:
    """An articles row in the parser's record shape, for comparison with expected JSON.

    ``published`` is the page's own reading (a date from the list row or the magazine
    issue is not content); ``issue`` is not stored and reads as None."""
    out = {k: row.get(k) for k in RECORD_KEYS}
    if row.get("published_from") != "page":
        out["published"] = None
    out["attachments"] = json.loads(row["attachments"])
    return out


def expected_stored(record: dict) -> dict:
    """An expected record as the archive keeps it: ``issue`` is read for the date only."""
    return {**record, "issue": None, "subtitle": record.get("subtitle")}
