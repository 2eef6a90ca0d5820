"""The daemon and signals, as real processes against the fixture site."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from itertools import pairwise

from storage.archive import Archive, ArchiveError
from tests.crawling import FIXTURE_CONFIG, ROOT, crawl_argv


def config_with(tmp_path, extra: str):
    path = tmp_path / "daemon.toml"
    text = FIXTURE_CONFIG.read_text(encoding="utf-8")
    path.write_text(text + extra, encoding="utf-8")
    return path


def finished_runs(db) -> list[dict]:
    # Read-only, as an operator's Datasette would: it must never race the crawl that is
    # creating the archive (a reader that wrote the schema made crawls die "database is locked").
    try:
        with Archive(db, mode="ro") as archive:
            return [r for r in archive.runs(100) if r["status"] != "running"]
    except ArchiveError:  # not there yet, or its schema not committed yet
        return []


def stored(db) -> int:
    try:
        with Archive(db, mode="ro") as archive:
            return archive.table_counts()["articles"]
    except ArchiveError:
        return 0


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_daemon_runs_scheduled_crawls_without_overlap_and_stops_on_sigterm(site, tmp_path):
    db = tmp_path / "d.db"
    # The schedule fires every second, faster than a crawl takes: the runs must queue, not overlap.
    config = config_with(tmp_path, "\n[schedule]\nnotify = false\n")
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scheduler.cli",
            "daemon",
            "--db",
            str(db),
            "--config",
            str(config),
            "--base-url",
            site.base_url,
            "--every-seconds",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(finished_runs(db)) >= 3, 120, "three finished crawls")
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, err
    runs = sorted(finished_runs(db), key=lambda r: r["id"])
    assert len(runs) >= 3
    assert runs[0]["baseline"] == 1 and runs[0]["new"] == 24
    for earlier, later in pairwise(runs):
        assert later["started_at"] >= earlier["finished_at"]  # strictly one after another
        assert later["status"] in ("ok", "interrupted") and later["new"] == 0 and later["failed"] == 0
    assert "Traceback" not in err and "ReactorNotRestartable" not in err
    assert "daemon started" in err and "received SIGTERM" in err and "daemon stopped after" in err


def test_sigterm_mid_crawl_closes_the_run_cleanly(site, tmp_path):
    db = tmp_path / "s.db"
    # A polite delay makes the crawl last long enough to be interrupted part-way.
    config = (
        config_with(tmp_path, "").read_text(encoding="utf-8").replace("download_delay = 0.0", "download_delay = 0.3")
    )
    (tmp_path / "slow.toml").write_text(config, encoding="utf-8")
    crawl = subprocess.Popen(
        crawl_argv(db, site.base_url, now=None, config=tmp_path / "slow.toml"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )

    try:
        wait_for(lambda: stored(db) >= 2, 60, "the first articles")
        crawl.send_signal(signal.SIGTERM)
        out, err = crawl.communicate(timeout=60)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()
    with Archive(db, mode="ro") as archive:
        run = archive.runs()[0]
        counts = archive.table_counts()
        assert run["status"] == "interrupted" and run["finished_at"] is not None
        assert 2 <= counts["articles"] < 24
        # every stored article has its first version: nothing half-written
        assert counts["versions"] == counts["articles"] == run["new"]
    assert "run 1 (incremental, interrupted)" in out


def test_a_first_crawl_stopped_twice_announces_nothing_when_finished(site, tmp_path):
    """Stopped by SIGTERM, then killed by SIGKILL, then run to its end: the channels stay in
    baseline until one walk of each finishes, so the whole backlog is stored silently."""
    db = tmp_path / "k.db"
    slow = tmp_path / "slow.toml"
    slow.write_text(
        config_with(tmp_path, "").read_text(encoding="utf-8").replace("download_delay = 0.0", "download_delay = 0.3"),
        encoding="utf-8",
    )

    for sig, after in ((signal.SIGTERM, 2), (signal.SIGKILL, 5)):
        proc = subprocess.Popen(
            crawl_argv(db, site.base_url, now=None, config=slow),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda after=after: stored(db) >= after, 60, f"{after} stored articles")
            proc.send_signal(sig)
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert stored(db) < 24
    finish = subprocess.run(
        crawl_argv(db, site.base_url, now=None, config=config_with(tmp_path, "")),
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert finish.returncode == 0, finish.stderr
    with Archive(db, mode="ro") as archive:
        runs = archive.runs()
        assert [r["status"] for r in runs] == ["ok", "interrupted", "interrupted"]
        assert archive.table_counts()["articles"] == 24
        assert archive.alerts() == []
