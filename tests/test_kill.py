"""SIGKILL at random moments of a change-detecting crawl, then a normal crawl: the archive
ends exactly as if nothing had been killed.

Each kill: a copy of a baseline archive (base state), the site in state v2 (one article
edited, one added, one removed, all chrome changed), `barwatch crawl --full` killed with
SIGKILL after a random delay (0 to the length of a whole crawl, measured first) counted
from the moment its run row exists, then an
uninterrupted `barwatch crawl --full`. Then:

* every article's versions are 1..n, no gap, no duplicate;
* the articles row carries its newest version's number and content_hash, and the text of
  the v2 page;
* EDITED_ID has exactly one 'changed' alert (version 2), ADDED_ID exactly one 'new'
  alert, REMOVED_ID exactly one 'removed' alert, and nothing else was alerted;
* no run is left 'running'.

BARWATCH_KILLS (default 20) kills, in BARWATCH_KILL_LANES (default 3) parallel lanes, each
with its own archive. The delays come from random.Random(BARWATCH_KILL_SEED); the seed is
printed (run with -s, or see the failure message) so a failing sequence can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fixtures import spec
from fixtures.server import FixtureSite
from tests.crawling import FIXTURE_CONFIG, ROOT, copy_db, crawl, crawl_argv

KILLS = int(os.environ.get("BARWATCH_KILLS", "20"))
LANES = max(1, int(os.environ.get("BARWATCH_KILL_LANES", "3")))
SEED = int(os.environ.get("BARWATCH_KILL_SEED") or random.SystemRandom().randrange(1 << 32))
STATE = "v2"  # the state with the most edits and additions (and a removal)
CONTENT = ("section", "title", "published", "author", "source", "body")
EXPECTED_ALERTS = sorted([(spec.EDITED_ID, "changed", 2), (spec.ADDED_ID, "new", 1), (spec.REMOVED_ID, "removed")])


@pytest.fixture(scope="module")
def baseline(site, tmp_path_factory):
    site.set_state("base")
    db = tmp_path_factory.mktemp("kill-baseline") / "base.db"
    crawl(db, site, "--full")
    return db


@pytest.fixture(scope="module")
def slow_config(tmp_path_factory):
    """A 50 ms delay between requests: the crawl lasts long enough to be hit mid-write."""
    text = FIXTURE_CONFIG.read_text(encoding="utf-8")
    assert "download_delay = 0.0" in text
    path = tmp_path_factory.mktemp("kill-config") / "slow.toml"
    path.write_text(text.replace("download_delay = 0.0", "download_delay = 0.05"), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- reading
def rows(db: Path, sql: str, *params) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def newest_run(db: Path) -> dict | None:
    """The newest crawl_runs row, or None while there is no file, no table or no row."""
    if not db.exists():
        return None
    try:
        found = rows(db, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    except sqlite3.Error:  # the table is not there yet, or the file is being created
        return None
    return found[0] if found else None


def start_crawl(db: Path, site: FixtureSite, config: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            crawl_argv(db, site.base_url, "--full", config=config),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def wait_for_run_row(db: Path, after_id: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> float:
    """Poll (read-only) until the crawl has opened its run; returns that moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = newest_run(db)
        if run is not None and run["id"] > after_id:
            return time.monotonic()
        if proc.poll() is not None:
            raise AssertionError(
                f"the crawl exited {proc.returncode} before opening a run:\n{log.read_text(errors='replace')[-2000:]}"
            )
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"no run row after {timeout} s")


def problems(db: Path, site: FixtureSite) -> list[str]:
    """Everything that is not exactly the v2 site, as messages (empty: consistent)."""
    out = []
    articles = {r["id"]: r for r in rows(db, "SELECT * FROM articles")}
    versions: dict[str, list[dict]] = {}
    for v in rows(db, "SELECT * FROM versions ORDER BY article_id, version"):
        versions.setdefault(v["article_id"], []).append(v)
    want_ids = sorted(set(spec.served_ids("base")) - {spec.DISALLOWED_ID} | {spec.ADDED_ID})
    if sorted(articles) != want_ids:
        out.append(
            f"articles: missing {sorted(set(want_ids) - set(articles))}, extra {sorted(set(articles) - set(want_ids))}"
        )
    if set(versions) - set(articles):
        out.append(f"versions of no article: {sorted(set(versions) - set(articles))}")
    for aid, a in articles.items():
        numbers = [v["version"] for v in versions.get(aid, [])]
        if numbers != list(range(1, len(numbers) + 1)) or not numbers:
            out.append(f"{aid}: versions {numbers}, not 1..n")
            continue
        want_n = 2 if aid == spec.EDITED_ID else 1
        if len(numbers) != want_n:
            out.append(f"{aid}: {len(numbers)} versions, want {want_n}")
        last = versions[aid][-1]
        if (a["version"], a["content_hash"]) != (last["version"], last["content_hash"]):
            out.append(
                f"{aid}: articles row at version {a['version']} / {a['content_hash'][:12]}, "
                f"newest version {last['version']} / {last['content_hash'][:12]}"
            )
        want_status = "removed" if aid == spec.REMOVED_ID else "live"
        if a["status"] != want_status:
            out.append(f"{aid}: status {a['status']}, want {want_status}")
        state = "base" if aid == spec.REMOVED_ID else STATE
        expected = site.expected_record(aid, state)
        for field in CONTENT:
            got = (
                a[field] if field != "published" or a["published_from"] == "page" else None
            )  # a list date is no content
            if got != expected[field]:
                out.append(f"{aid}: {field} is {str(got)[:60]!r}, want {str(expected[field])[:60]!r}")
    got_alerts = sorted(
        (r["article_id"], r["kind"], r["version"]) if r["kind"] != "removed" else (r["article_id"], r["kind"])
        for r in rows(db, "SELECT * FROM alerts")
    )
    if got_alerts != EXPECTED_ALERTS:
        out.append(f"alerts {got_alerts}, want {EXPECTED_ALERTS}")
    running = [r["id"] for r in rows(db, "SELECT id FROM crawl_runs WHERE status = 'running'")]
    if running:
        out.append(f"runs left running: {running}")
    integrity = rows(db, "PRAGMA integrity_check")
    if integrity != [{"integrity_check": "ok"}]:
        out.append(f"integrity_check: {integrity}")
    return out


# ----------------------------------------------------------------------------- the test
def test_random_sigkills_during_a_change_detecting_crawl_leave_a_consistent_archive(
    site, baseline, slow_config, tmp_path
):
    site.set_state(STATE)
    base_run = newest_run(baseline)["id"]

    # One uninterrupted slow crawl: its length (from the run row to the exit) bounds the delays.
    db = copy_db(baseline, tmp_path / "measure.db")
    log = tmp_path / "measure.log"
    t0 = time.monotonic()
    proc = start_crawl(db, site, slow_config, log)
    opened = wait_for_run_row(db, base_run, proc, log)
    assert proc.wait(timeout=120) == 0, log.read_text(errors="replace")
    whole, span = time.monotonic() - t0, time.monotonic() - opened
    print(
        f"\nkill test: seed {SEED} (BARWATCH_KILL_SEED), {KILLS} kills in {LANES} lanes; "
        f"a whole slow crawl takes {whole:.2f} s, {span:.2f} s of it after its run row exists"
    )
    assert problems(db, site) == [], "the uninterrupted crawl itself is wrong"

    rng = random.Random(SEED)
    # Counted from the run row, up to a whole crawl's time: most kills land mid-crawl, some
    # after the end (the run closed, the process on its way out). Drawn up front, so the
    # lanes cannot reorder them.
    delays = [rng.uniform(0, whole) for _ in range(KILLS)]

    def one_kill(i: int) -> tuple[bool, list[str]]:
        work = tmp_path / f"kill{i:03d}"
        work.mkdir()
        db = copy_db(baseline, work / "a.db")
        proc = start_crawl(db, site, slow_config, work / "killed.log")
        try:
            wait_for_run_row(db, base_run, proc, work / "killed.log")
            time.sleep(delays[i])
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        mid = newest_run(db)["status"] == "running"
        done = crawl(db, site, "--full", check=False)
        found = problems(db, site)
        if done.returncode != 0:
            found.insert(0, f"the crawl after the kill exited {done.returncode}: {done.stdout}{done.stderr[-1500:]}")
        return mid, [
            f"kill {i} (after {delays[i]:.3f} s, {'mid-crawl' if mid else 'after the run'}): {p}" for p in found
        ]

    def lane(n: int) -> list[tuple[bool, list[str]]]:
        return [one_kill(i) for i in range(n, KILLS, LANES)]

    with ThreadPoolExecutor(max_workers=LANES) as pool:
        results = [r for lane_results in pool.map(lane, range(LANES)) for r in lane_results]
    mid = sum(1 for m, _ in results if m)
    report = f"seed {SEED}: {mid} kills landed mid-crawl (run left running), {len(results) - mid} after it had finished"
    print(f"kill test: {report}")
    found = [p for _, ps in results for p in ps]
    assert found == [], report + "\n" + "\n".join(found)
    if KILLS >= 5:
        assert mid > 0, f"no kill hit a running crawl; the test tested nothing ({report})"
