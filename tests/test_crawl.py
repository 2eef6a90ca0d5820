"""End to end: the fixture site crawled into a tmp_path archive by `barwatch crawl`."""

from __future__ import annotations

from datetime import datetime

import pytest

from fixtures import spec
from storage.archive import Archive
from tests.crawling import NOW, copy_db, crawl, expected_stored, stored_record

BASE_IDS = sorted(set(spec.served_ids("base")) - {spec.DISALLOWED_ID})


@pytest.fixture(autouse=True)
def base_state(site):
    site.set_state("base")
    site.clear_failures()
    site.conditional = False
    site.reset_requests()


@pytest.fixture(scope="module")
def baseline(site, tmp_path_factory):
    """A full first crawl of the base site; tests copy it rather than crawl again."""
    site.set_state("base")
    db = tmp_path_factory.mktemp("baseline") / "base.db"
    proc = crawl(db, site, "--full")
    return db, proc


@pytest.fixture
def archive_copy(baseline, tmp_path):
    return copy_db(baseline[0], tmp_path / "a.db")


def open_archive(db):
    return Archive(db, clock=lambda: datetime.fromisoformat(NOW))


def test_first_crawl_archives_every_article_exactly(baseline, site):
    db, proc = baseline
    with open_archive(db) as archive:
        rows = {r["id"]: r for r in archive.iter_articles()}
        assert sorted(rows) == BASE_IDS  # one row per id; nothing disallowed or foreign
        for aid in BASE_IDS:
            assert stored_record(rows[aid]) == expected_stored(site.expected_record(aid)), aid
        # The magazine pages print no date: each takes the date of the list row that
        # linked to it, marked as such (not content, never a version).
        for aid in spec.MAGAZINE_IDS:
            listed = next(a for a in spec.list_rows("magazine", "base") if a.id == aid)
            assert (rows[aid]["published"], rows[aid]["published_from"]) == (listed.list_date, "list")
        run = archive.runs()[0]
        assert (run["mode"], run["status"], run["new"], run["failed"], run["baseline"]) == (
            "full",
            "ok",
            len(BASE_IDS),
            0,
            1,
        )
        assert archive.alerts() == []  # a baseline queues no "new" events
        assert archive.table_counts()["versions"] == len(BASE_IDS)
    assert spec.FOREIGN_ID not in rows and spec.DISALLOWED_ID not in rows
    assert f"run 1 (full, ok): new {len(BASE_IDS)}, updated 0, unchanged 0, removed 0, failed 0" in proc.stdout


def test_crawl_never_requests_disallowed_or_foreign(site, tmp_path):
    crawl(tmp_path / "a.db", site, "--full")
    requested = site.requests
    assert requested[0] == "/robots.txt"
    assert not any(spec.DISALLOWED_ID in r for r in requested)
    assert not any(spec.FOREIGN_ID in r for r in requested)
    assert not any(r.startswith("/service/") for r in requested)
    assert len(requested) == len(set(requested))  # each page once: canonicalised duplicates fold


def test_recrawl_of_same_site_adds_nothing(archive_copy, site):
    crawl(archive_copy, site, "--full")
    with open_archive(archive_copy) as archive:
        run = archive.runs()[0]
        assert (run["new"], run["changed"], run["unchanged"], run["removed"], run["failed"]) == (
            0,
            0,
            len(BASE_IDS),
            0,
            0,
        )
        counts = archive.table_counts()
        assert (counts["articles"], counts["versions"], counts["alerts"]) == (len(BASE_IDS), len(BASE_IDS), 0)


def test_chrome_only_churn_gives_no_version_and_no_event(archive_copy, site):
    site.set_state("chrome")
    crawl(archive_copy, site, "--full")
    with open_archive(archive_copy) as archive:
        run = archive.runs()[0]
        assert (run["changed"], run["unchanged"], run["failed"]) == (0, len(BASE_IDS), 0)
        assert archive.table_counts()["versions"] == len(BASE_IDS)
        assert archive.alerts() == []


def test_one_edit_gives_one_version_with_the_sentence_in_its_diff(archive_copy, site):
    site.set_state("edited")
    crawl(archive_copy, site, "--full")
    with open_archive(archive_copy) as archive:
        assert archive.runs()[0]["changed"] == 1
        versions = archive.versions(spec.EDITED_ID)
        assert [v["version"] for v in versions] == [1, 2]
        diff_lines = versions[1]["diff"].splitlines()
        assert [line for line in diff_lines if line.startswith("-") and not line.startswith("---")][0].find(
            spec.EDIT_OLD_SENTENCE
        ) >= 0
        assert [line for line in diff_lines if line.startswith("+") and not line.startswith("+++")][0].find(
            spec.EDIT_NEW_SENTENCE
        ) >= 0
        assert [(a["article_id"], a["kind"], a["version"]) for a in archive.alerts()] == [
            (spec.EDITED_ID, "changed", 2)
        ]
        article = archive.get_article(spec.EDITED_ID)
        assert (article["version"], article["content_hash"]) == (2, versions[1]["content_hash"])


def test_added_article_gives_one_new_event_incrementally(archive_copy, site):
    site.set_state("added")
    crawl(archive_copy, site)
    with open_archive(archive_copy) as archive:
        run = archive.runs()[0]
        assert (run["mode"], run["new"], run["changed"], run["failed"]) == ("incremental", 1, 0, 0)
        assert [(a["article_id"], a["kind"]) for a in archive.alerts()] == [(spec.ADDED_ID, "new")]
        assert stored_record(archive.get_article(spec.ADDED_ID)) == expected_stored(
            site.expected_record(spec.ADDED_ID, "added")
        )


def test_removed_article_gives_one_removed_event(archive_copy, site):
    site.set_state("removed")
    crawl(archive_copy, site, "--full")
    with open_archive(archive_copy) as archive:
        assert archive.runs()[0]["removed"] == 1
        assert [(a["article_id"], a["kind"]) for a in archive.alerts()] == [(spec.REMOVED_ID, "removed")]
        article = archive.get_article(spec.REMOVED_ID)
        assert (article["status"], article["removed_at"], article["body"]) == (
            "removed",
            "2026-02-01T09:00:00Z",
            site.expected_record(spec.REMOVED_ID)["body"],
        )
    site.set_state("base")  # it comes back unchanged: live again, no new version
    crawl(archive_copy, site, "--full")
    with open_archive(archive_copy) as archive:
        article = archive.get_article(spec.REMOVED_ID)
        assert (article["status"], article["version"]) == ("live", 1)


def test_500_burst_changes_nothing(archive_copy, site):
    with open_archive(archive_copy) as archive:
        before = list(archive.iter_articles())
    site.fail_next(None, status=500)
    proc = crawl(archive_copy, site, "--full", check=False)
    site.clear_failures()
    assert proc.returncode == 1  # nothing worked: cron mail should say so
    with open_archive(archive_copy) as archive:
        run = archive.runs()[0]
        assert (run["new"], run["changed"], run["unchanged"], run["removed"]) == (0, 0, 0, 0)
        assert run["failed"] > 0
        assert list(archive.iter_articles()) == before  # nothing erased, blanked or marked removed
        assert archive.table_counts()["versions"] == len(BASE_IDS)
        # robots.txt answered 500 too: per RFC 9309 nothing else may be fetched, the run
        # failed, and the operator gets one notice of it, no article alert.
        assert run["status"] == "failed"
        assert [f["kind"] for f in archive.failures(run["id"])] == ["robots"]
        assert [(a["kind"], a["incident"]) for a in archive.alerts()] == [("operations", "crawl-failed")]


def test_incremental_run_on_unchanged_site_stays_within_request_bound(archive_copy, site):
    with open_archive(archive_copy) as archive:
        quota = archive.reverify_quota(7)  # 24 articles over a week of hourly runs
        recent = len(archive.revisit_plan(30, 7)) - quota
    assert quota == 1
    crawl(archive_copy, site)
    # Only 律协动态 has an item from the last 30 days: the other three channels were walked
    # by the baseline an instant ago (frozen clock), and a quiet channel is walked once a day.
    lists = 1
    bound = lists + 1 + recent + quota  # list page 1 of each due channel, robots.txt, revisits, the cycle's share
    with open_archive(archive_copy) as archive:
        run = archive.runs()[0]
        # the one article of January 2026 (the magazine pieces now carry their list dates)
        assert (recent, run["requests"]) == (1, bound), site.requests
        assert site.requests[:2] == ["/robots.txt", "/catalog/5dec1124bdded1c563cde8109b32d988?pageNumber=1"]
        assert len(site.requests) == bound
        assert (run["unchanged"], run["new"], run["changed"]) == (recent + quota, 0, 0)


def test_conditional_requests_get_304(archive_copy, site):
    site.conditional = True
    crawl(archive_copy, site, "--full")  # stores validators
    with open_archive(archive_copy) as archive:
        views_before = archive.table_counts()["views"]
        assert archive.get_article(spec.EDITED_ID)["etag"] == site_etag(site, spec.EDITED_ID)
    crawl(archive_copy, site)  # 1 recent revisit + the cycle's share of 1, all conditional
    with open_archive(archive_copy) as archive:
        run = archive.runs()[0]
        assert (run["unchanged"], run["failed"]) == (1 + 1, 0)
        # a 304 carries no page, so no view count was read: every revisit was answered 304
        assert archive.table_counts()["views"] == views_before


def test_lock_held_exits_with_lock_code(archive_copy, site):
    from storage.lock import LOCKED_EXIT_CODE, CrawlLock

    with CrawlLock(archive_copy).acquire("test holder"):
        proc = crawl(archive_copy, site, check=False)
    assert proc.returncode == LOCKED_EXIT_CODE == 75
    assert "is locked by another barwatch process" in proc.stderr and "test holder" in proc.stderr


def site_etag(site, article_id):
    import urllib.request

    with urllib.request.urlopen(f"{site.base_url}/info/{article_id}", timeout=10) as response:
        return response.headers["ETag"]


def test_truncated_pages_change_nothing(archive_copy, site):
    with open_archive(archive_copy) as archive:
        before = list(archive.iter_articles())
    site.truncate_next(None)  # every article page cut off half-way, retries included
    proc = crawl(archive_copy, site, "--full", check=False)
    site.clear_failures()
    assert proc.returncode == 1
    with open_archive(archive_copy) as archive:
        run = archive.runs()[0]
        assert (run["new"], run["changed"], run["unchanged"], run["removed"], run["failed"]) == (
            0,
            0,
            0,
            0,
            len(BASE_IDS),
        )
        assert list(archive.iter_articles()) == before
        assert archive.table_counts()["versions"] == len(BASE_IDS)
        assert run["status"] == "failed"  # nothing fetched whole
        assert [(a["kind"], a["incident"]) for a in archive.alerts()] == [("operations", "crawl-failed")]


def test_list_that_ignores_the_page_number_stops_at_the_first_repeat(site, tmp_path):
    config = tmp_path / "loop.toml"
    config.write_text(
        '[site]\nbase_url = "https://www.lawyers.org.cn"\n[[sections]]\nname = "业务指引"\n'
        'list_url = "/studies/businessguide?currentPageNo=1&ignored={page}"\n'
        "[discovery]\nenabled = false\n[crawl]\ndownload_delay = 0.0\nautothrottle = false\n",
        encoding="utf-8",
    )
    crawl(tmp_path / "a.db", site, "--full", config=config)
    lists = [r for r in site.requests if r.startswith("/studies/")]
    assert lists == [
        "/studies/businessguide?currentPageNo=1&ignored=1",
        "/studies/businessguide?currentPageNo=1&ignored=2",
    ]
