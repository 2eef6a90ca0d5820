"""Hostile answers, one at a time: the exact outcome of each, end to end.

Every test runs `barwatch crawl` in a subprocess against the fixture site with one fault
switch on (fixtures/server.py documents them), and reads the archive with sqlite3
directly, read-only, so that it pins the tables' contract rather than the storage API:

* failures(run_id, url, article_id, kind, message, at), kinds used here: redirect,
  encoding, fetch, parse, robots;
* crawl_runs: status running/ok/partial/failed/interrupted, held NULL/suspect/released;
  `barwatch crawl` exits 1 when the run failed, else 0, and prints
  `run N (MODE, STATUS): new …, updated …, unchanged …, removed …, failed …, requests …`;
* alerts(article_id, kind, run_id, version), kind new/changed/removed/operations.

A second FixtureSite on another port plays the foreign host: for barwatch another
host:port is another site.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from fixtures import spec
from fixtures.server import FixtureSite
from tests.crawling import FIXTURE_CONFIG, copy_db, crawl, stored_record

BASE_IDS = sorted(set(spec.served_ids("base")) - {spec.DISALLOWED_ID})
TARGET = "6ec2d53345a6900be3354d6f5c65c5bc"  # the newest news item: UTF-8, charset in header and meta
OTHER = "1362fedf6fbb63681419b0ebcf4219d9"  # its neighbour on the list
CONTENT = ("section", "title", "published", "author", "source", "body", "attachments")
BIG = 50 * 1024 * 1024


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def foreign():
    """Another host: it serves the same pages, so following a redirect there would 'work'."""
    with FixtureSite() as s:
        yield s


@pytest.fixture(autouse=True)
def clean_sites(site, foreign):
    for s in (site, foreign):
        s.set_state("base")
        s.reset_faults()
        s.conditional = False
        s.reset_requests()
    yield
    for s in (site, foreign):
        s.reset_faults()


@pytest.fixture(scope="module")
def baseline(site, tmp_path_factory):
    """A full first crawl of the base site; tests copy it."""
    site.set_state("base")
    site.reset_faults()
    db = tmp_path_factory.mktemp("faults-baseline") / "base.db"
    crawl(db, site, "--full")
    assert sorted(r["id"] for r in rows(db, "SELECT id FROM articles")) == BASE_IDS
    return db


@pytest.fixture
def archive(baseline, tmp_path):
    return copy_db(baseline, tmp_path / "a.db")


@pytest.fixture
def quick_config(tmp_path):
    """The fixture config with a 2 s timeout and no retries, so robots.txt trouble is quick."""
    text = FIXTURE_CONFIG.read_text(encoding="utf-8")
    assert "timeout = 10.0" in text and "retry_times" not in text
    path = tmp_path / "quick.toml"
    path.write_text(text.replace("timeout = 10.0", "timeout = 2.0") + "retry_times = 0\n", encoding="utf-8")
    return path


def slow_crawl(db: Path, site, *extra: str, config: Path = FIXTURE_CONFIG, timeout: float = 180):
    """tests.crawling.crawl with a longer timeout and any exit code, for the tests that may hang."""
    return crawl(db, site, *extra, config=config, timeout=timeout, check=False)


# ----------------------------------------------------------------------------- reading
def rows(db: Path, sql: str, *params) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def last_run(db: Path) -> dict:
    return rows(db, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]


def run_failures(db: Path, run_id: int) -> list[tuple]:
    return [
        (f["article_id"], f["kind"]) for f in rows(db, "SELECT * FROM failures WHERE run_id = ? ORDER BY id", run_id)
    ]


def failure_rows(db: Path, run_id: int) -> list[dict]:
    return rows(db, "SELECT * FROM failures WHERE run_id = ? ORDER BY id", run_id)


def run_text(db: Path, run: dict) -> str:
    return (
        f"run {run['id']} {run['status']} (new, changed, unchanged, removed, failed) = {counts(run)}\n"
        + failure_text(db, run["id"])
    )


def failure_text(db: Path, run_id: int) -> str:
    """The run's failures, one short line each, for assertion messages."""
    return (
        "\n".join(f"failure: {f['article_id']} {f['kind']}: {f['message'][:160]}" for f in failure_rows(db, run_id))
        or "no failures"
    )


def version_numbers(db: Path, article_id: str) -> list[int]:
    return [
        r["version"] for r in rows(db, "SELECT version FROM versions WHERE article_id = ? ORDER BY version", article_id)
    ]


def article(db: Path, article_id: str) -> dict | None:
    found = rows(db, "SELECT * FROM articles WHERE id = ?", article_id)
    return found[0] if found else None


def alerts(db: Path) -> list[tuple]:
    return [(a["article_id"], a["kind"]) for a in rows(db, "SELECT * FROM alerts ORDER BY id")]


def counts(run: dict) -> tuple:
    return tuple(run[k] for k in ("new", "changed", "unchanged", "removed", "failed"))


def summary(run: dict) -> str:
    return (
        f"run {run['id']} ({run['mode']}, {run['status']}): new {run['new']}, updated {run['changed']}, "
        f"unchanged {run['unchanged']}, removed {run['removed']}, failed {run['failed']}, requests "
    )


def output(proc) -> str:
    return f"\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr[-3000:]}"


def assert_untouched(db: Path, baseline: Path, article_id: str) -> None:
    """The article is as the baseline left it: live, version 1, same text, no alert."""
    before, after = article(baseline, article_id), article(db, article_id)
    assert after is not None, f"{article_id} vanished"
    assert (after["status"], after["version"], version_numbers(db, article_id)) == ("live", 1, [1]), after
    assert {k: after[k] for k in (*CONTENT, "content_hash")} == {k: before[k] for k in (*CONTENT, "content_hash")}
    assert [a for a in alerts(db) if a[0] == article_id] == []


def assert_one_failure(db: Path, proc, article_id: str, kind: str) -> dict:
    """A run that finished partial (exit 0) with exactly one failure: `kind` for the article;
    every other base article unchanged."""
    run = last_run(db)
    assert proc.returncode == 0, output(proc)
    assert (run["status"], run["finished_at"] is not None) == ("partial", True), run_text(db, run) + output(proc)
    assert counts(run) == (0, 0, len(BASE_IDS) - 1, 0, 1), run_text(db, run)
    assert run_failures(db, run["id"]) == [(article_id, kind)], failure_text(db, run["id"])
    assert summary(run) in proc.stdout, output(proc)
    assert alerts(db) == []
    return failure_rows(db, run["id"])[0]


# ----------------------------------------------------------------------------- redirects
FOLLOWED = {
    # name: how the switch is set (site, article id)
    "trailing slash, 301": lambda site, aid: site.redirect(aid, f"{site.base_url}/info/{aid}/", status=301),
    "query string": lambda site, aid: site.redirect(aid, f"{site.base_url}/info/{aid}?from=wx"),
    "slash and query, 307": lambda site, aid: site.redirect(aid, f"{site.base_url}/info/{aid}/?from=wx", status=307),
    "five hops": lambda site, aid: site.redirect_chain(aid, 5),
}


@pytest.mark.parametrize("how", list(FOLLOWED))
def test_redirect_to_the_same_article_on_the_same_host_is_followed(archive, baseline, site, how):
    """Same host:port and same id: followed, the article read as usual (unchanged), a clean run."""
    FOLLOWED[how](site, TARGET)
    proc = crawl(archive, site, "--full", check=False)
    run = last_run(archive)
    assert proc.returncode == 0, output(proc)
    assert (run["status"], counts(run)) == ("ok", (0, 0, len(BASE_IDS), 0, 0)), run_text(archive, run)
    assert_untouched(archive, baseline, TARGET)
    assert any(r.startswith(f"/info/{TARGET}") and r != f"/info/{TARGET}" for r in site.requests)  # it was followed
    assert summary(run) in proc.stdout


def test_redirect_to_another_host_is_a_redirect_failure(archive, baseline, site, foreign):
    """Another host:port serving the very same page: not followed at all."""
    site.redirect(TARGET, f"{foreign.base_url}/info/{TARGET}")
    proc = crawl(archive, site, "--full", check=False)
    failure = assert_one_failure(archive, proc, TARGET, "redirect")
    assert f"127.0.0.1:{foreign.port}" in failure["message"], failure  # it names the target
    assert foreign.requests == []  # not even its robots.txt
    assert_untouched(archive, baseline, TARGET)


def test_redirect_to_another_article_is_a_redirect_failure(archive, baseline, site):
    """Same host, another id: following it would file OTHER's text under TARGET."""
    site.redirect(TARGET, f"{site.base_url}/info/{OTHER}")
    proc = crawl(archive, site, "--full", check=False)
    failure = assert_one_failure(archive, proc, TARGET, "redirect")
    assert OTHER in failure["message"], failure
    assert_untouched(archive, baseline, TARGET)
    assert_untouched(archive, baseline, OTHER)


def test_redirect_loop_is_a_redirect_failure(archive, baseline, site):
    site.redirect(TARGET, f"{site.base_url}/info/{TARGET}")  # to itself
    proc = crawl(archive, site, "--full", check=False)
    failure = assert_one_failure(archive, proc, TARGET, "redirect")
    assert "loop" in failure["message"].lower(), failure
    assert_untouched(archive, baseline, TARGET)
    # A loop is cut short, not walked to Scrapy's 20 hops.
    assert site.requests.count(f"/info/{TARGET}") <= 6, site.requests


def test_six_hops_are_a_redirect_failure(archive, baseline, site):
    site.redirect_chain(TARGET, 6)
    proc = crawl(archive, site, "--full", check=False)
    assert_one_failure(archive, proc, TARGET, "redirect")
    assert_untouched(archive, baseline, TARGET)
    assert f"/info/{TARGET}?hop=6" not in site.requests  # the sixth hop is never taken


# ----------------------------------------------------------------------------- charsets
MISLABELS = ("gb18030-labelled-utf8", "utf8-labelled-gb18030", "gb18030-unlabelled")
CHARSET_IDS = (TARGET, spec.GB18030_ID, spec.SEED_ID)  # saved as UTF-8, GB18030, traditional UTF-8


@pytest.mark.parametrize("mode", MISLABELS)
def test_mislabelled_page_of_an_archived_article_is_unchanged(archive, baseline, site, mode):
    """The bytes say one thing, the labels another: barwatch reads the text right, so a
    full re-verification finds nothing new."""
    for aid in CHARSET_IDS:
        site.charset_fault(aid, mode)
    proc = crawl(archive, site, "--full", check=False)
    run = last_run(archive)
    assert proc.returncode == 0, output(proc)
    assert (run["status"], counts(run)) == ("ok", (0, 0, len(BASE_IDS), 0, 0)), run_text(archive, run)
    for aid in CHARSET_IDS:
        assert_untouched(archive, baseline, aid)
    assert alerts(archive) == []


@pytest.mark.parametrize("mode", MISLABELS)
def test_first_crawl_of_a_mislabelled_page_stores_the_right_text(site, tmp_path, mode):
    for aid in CHARSET_IDS:
        site.charset_fault(aid, mode)
    db = tmp_path / "first.db"
    proc = crawl(db, site, check=False)
    assert proc.returncode == 0, output(proc)
    run = last_run(db)
    assert (run["status"], run["new"], run["failed"]) == ("ok", len(BASE_IDS), 0), run_text(db, run)
    for aid in CHARSET_IDS:
        stored = stored_record(article(db, aid))
        expected = site.expected_record(aid)
        assert stored["title"] == expected["title"], aid
        assert {k: stored[k] for k in CONTENT} == {k: expected[k] for k in CONTENT}, aid


def test_broken_bytes_are_an_encoding_failure(archive, baseline, site):
    """0xFF is no character in UTF-8 nor GB18030: no reading of the page is the article."""
    site.charset_fault(TARGET, "broken")
    proc = crawl(archive, site, "--full", check=False)
    assert_one_failure(archive, proc, TARGET, "encoding")
    assert_untouched(archive, baseline, TARGET)
    assert not any("\ufffd" in str(v) for r in rows(archive, "SELECT * FROM versions") for v in r.values())


def test_broken_bytes_on_a_first_crawl_store_nothing(site, tmp_path):
    site.charset_fault(TARGET, "broken")
    db = tmp_path / "first.db"
    proc = crawl(db, site, check=False)
    assert proc.returncode == 0, output(proc)
    run = last_run(db)
    assert (run["status"], run["new"], run["failed"]) == ("partial", len(BASE_IDS) - 1, 1), run_text(db, run)
    assert run_failures(db, run["id"]) == [(TARGET, "encoding")]
    assert article(db, TARGET) is None and version_numbers(db, TARGET) == []


# ----------------------------------------------------------------------------- control characters
def test_control_characters_never_reach_the_archive(site, tmp_path):
    """An OSC title-setting escape as character references, a raw ESC and a right-to-left
    override, in the title: stored without any of them (an operator's terminal shows titles)."""
    site.inject_title(TARGET, "&#27;]0;pwned&#7;\x1b\u202e")
    db = tmp_path / "first.db"
    proc = crawl(db, site, check=False)
    assert proc.returncode == 0, output(proc)
    stored = article(db, TARGET)
    assert stored is not None, failure_text(db, last_run(db)["id"])
    expected = site.expected_record(TARGET)["title"]
    assert stored["title"].startswith(expected), repr(stored["title"])  # "]0;pwned" may stay: it is visible text
    for table, where in (("articles", "id"), ("versions", "article_id")):
        for row in rows(db, f"SELECT * FROM {table} WHERE {where} = ?", TARGET):
            bad = {k: v for k, v in row.items() if isinstance(v, str) and any(c in v for c in "\x1b\x07\u202e")}
            assert bad == {}, (table, bad)
    assert not any(c in proc.stdout for c in "\x1b\x07\u202e")


# ----------------------------------------------------------------------------- size
def test_a_50_mb_page_is_a_fetch_failure(site, tmp_path):
    site.huge(TARGET, BIG)
    db = tmp_path / "first.db"
    t0 = time.monotonic()
    proc = slow_crawl(db, site)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, output(proc)
    run = last_run(db)
    assert (run["status"], run["new"], run["failed"]) == ("partial", len(BASE_IDS) - 1, 1), run_text(db, run)
    assert run_failures(db, run["id"]) == [(TARGET, "fetch")], failure_text(db, run["id"])
    assert article(db, TARGET) is None and version_numbers(db, TARGET) == []
    assert run["finished_at"] is not None
    assert elapsed < 60, f"the crawl took {elapsed:.0f} s"


# ----------------------------------------------------------------------------- soft 404
def test_soft_404_is_a_parse_failure_and_the_article_stays(archive, baseline, site):
    """200 with the not-found page: not a removal (only a real 404/410 is), not an edit."""
    site.soft_404(TARGET)
    proc = crawl(archive, site, "--full", check=False)
    assert_one_failure(archive, proc, TARGET, "parse")
    assert_untouched(archive, baseline, TARGET)


# ----------------------------------------------------------------------------- robots.txt
def assert_robots_failure(db: Path, proc, site) -> None:
    """The run failed before any other request: exit 1, one 'robots' failure, nothing stored."""
    assert proc.returncode == 1, output(proc)
    run = last_run(db)
    assert run["status"] == "failed", run_text(db, run)
    assert run_failures(db, run["id"]) == [(None, "robots")], failure_text(db, run["id"])
    assert set(site.requests) == {"/robots.txt"}, site.requests
    assert rows(db, "SELECT id FROM articles") == []
    assert summary(run) in proc.stdout, output(proc)


def test_robots_txt_5xx_fails_the_run(site, tmp_path, quick_config):
    site.robots("5xx")
    db = tmp_path / "a.db"
    proc = crawl(db, site, config=quick_config, check=False)
    assert_robots_failure(db, proc, site)


def test_robots_txt_that_hangs_fails_the_run(site, tmp_path, quick_config):
    site.robots("hang")
    site.hang_seconds = 30  # well past the config's 2 s timeout
    db = tmp_path / "a.db"
    t0 = time.monotonic()
    proc = slow_crawl(db, site, config=quick_config, timeout=60)
    elapsed = time.monotonic() - t0
    assert_robots_failure(db, proc, site)
    assert elapsed < 25, f"barwatch waited {elapsed:.0f} s for robots.txt"


def test_robots_txt_404_allows_everything(site, tmp_path, quick_config):
    site.robots("404")
    db = tmp_path / "a.db"
    proc = crawl(db, site, config=quick_config, check=False)
    assert proc.returncode == 0, output(proc)
    run = last_run(db)
    everything = spec.served_ids("base")  # the article robots.txt normally forbids included
    assert (run["status"], counts(run)) == ("ok", (len(everything), 0, 0, 0, 0)), run_text(db, run)
    assert sorted(r["id"] for r in rows(db, "SELECT id FROM articles")) == everything


def test_robots_txt_disallowing_everything_fails_the_run(site, tmp_path, quick_config):
    site.robots("disallow-all")
    db = tmp_path / "a.db"
    proc = crawl(db, site, config=quick_config, check=False)
    assert proc.returncode == 1, output(proc)
    assert "disallow" in (proc.stdout + proc.stderr).lower(), output(proc)
    assert last_run(db)["status"] == "failed"
    assert set(site.requests) == {"/robots.txt"}, site.requests
    assert rows(db, "SELECT id FROM articles") == []


# ----------------------------------------------------------------------------- disk full
def test_disk_full_fails_the_run_and_keeps_the_archive(archive, baseline, site):
    """SQLite's page limit stands in for a full disk: the crawl must write (a new article)
    and cannot. Exit 1 with SQLite's message; every baseline row intact."""
    pages = rows(archive, "PRAGMA page_count")[0]["page_count"]
    before = {(r["article_id"], r["version"], r["content_hash"]) for r in rows(archive, "SELECT * FROM versions")}
    site.set_state("added")
    # A long title, so that the new article cannot fit into the free space of the pages
    # the archive already has.
    [added] = sorted(set(spec.served_ids("added")) - set(spec.served_ids("base")))
    site.inject_title(added, "附件" * 6000)
    proc = crawl(archive, site, "--full", "--max-db-pages", str(pages), check=False)
    assert proc.returncode == 1, output(proc)
    assert "database or disk is full" in proc.stdout + proc.stderr, output(proc)
    assert rows(archive, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    after = {(r["article_id"], r["version"], r["content_hash"]) for r in rows(archive, "SELECT * FROM versions")}
    assert before <= after
    assert set(BASE_IDS) <= {r["id"] for r in rows(archive, "SELECT id FROM articles")}
    for aid in BASE_IDS:
        assert article(archive, aid)["status"] == "live", aid
    # What was written is whole: an article row has its version, and the other way round.
    for r in rows(archive, "SELECT id, version, content_hash FROM articles"):
        assert (r["id"], r["version"], r["content_hash"]) in after, r
