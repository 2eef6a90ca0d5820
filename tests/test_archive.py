"""The archive API on tmp_path databases with a frozen clock."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from storage.archive import Archive, ArchiveError, DriftGuard
from storage.search import search

NOW = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
A, B, C = "a" * 32, "b" * 32, "c" * 32


def rec(aid, **kw):
    base = {
        "id": aid,
        "url": f"https://www.lawyers.org.cn/info/{aid}",
        "section": "行业资讯 > 律协动态",
        "title": f"标题{aid[0]}",
        "published": "2026-11-20",
        "author": "办公室",
        "source": None,
        "views": 10,
        "body": "上海市律师协会召开会议。\n会议研究部署了下一阶段的工作，要求各律师事务所认真落实。",
        "attachments": [],
    }
    return {**base, **kw}


@pytest.fixture
def archive(tmp_path):
    with Archive(tmp_path / "a.db", clock=lambda: NOW) as a:
        yield a


def test_baseline_then_new_changed_unchanged(archive):
    run1 = archive.start_run("full")
    assert [archive.record_article(run1, rec(x)) for x in (A, B)] == ["new", "new"]
    assert archive.finish_run(run1, requests=3)["status"] == "ok"
    assert archive.alerts() == []  # the first crawl is a baseline: no "new" events

    run2 = archive.start_run("incremental")
    assert archive.record_article(run2, rec(A, views=11)) == "unchanged"  # only the counter moved
    edited = rec(B, body=rec(B)["body"].replace("下一阶段", "明年"))
    assert archive.record_article(run2, edited) == "changed"
    assert archive.record_article(run2, rec(C)) == "new"
    run = archive.finish_run(run2, requests=5)
    assert (run["new"], run["changed"], run["unchanged"], run["failed"], run["requests"]) == (1, 1, 1, 0, 5)
    assert [(x["article_id"], x["kind"], x["run_id"], x["version"]) for x in archive.alerts()] == [
        (B, "changed", run2, 2),
        (C, "new", run2, 1),
    ]
    b = archive.get_article(B)
    assert (b["version"], b["status"], b["views"], json.loads(b["attachments"])) == (2, "live", 10, [])
    versions = archive.versions(B)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["diff"] is None
    assert "-会议研究部署了下一阶段的工作，要求各律师事务所认真落实。" in versions[1]["diff"].splitlines()
    assert "+会议研究部署了明年的工作，要求各律师事务所认真落实。" in versions[1]["diff"].splitlines()
    assert [r["count"] for r in archive.db["views"].rows_where("article_id = ?", [A], order_by="rowid")] == [10, 11]


def test_removed_and_back(archive):
    run1 = archive.start_run("full")
    archive.record_article(run1, rec(A))
    archive.finish_run(run1, 1)
    run2 = archive.start_run("incremental")
    assert archive.record_gone(run2, A, "u", 404) == "removed"
    assert archive.record_gone(run2, A, "u", 404) == "unchanged"  # already removed: one event only
    assert archive.record_gone(run2, B, "u", 404) == "failed"  # never archived
    a = archive.get_article(A)
    assert (a["status"], a["removed_at"], a["body"]) == ("removed", "2026-11-28T08:00:00Z", rec(A)["body"])
    assert [r["id"] for r in search(archive.db, "律师事务所")] == []  # removed: not searchable
    run3 = archive.start_run("incremental")
    assert archive.record_article(run3, rec(A)) == "unchanged"
    assert archive.get_article(A)["status"] == "live"
    assert [r["id"] for r in search(archive.db, "律师事务所")] == [A]  # back in the index
    # Back is an event of its own (a reader who heard "removed" must hear it too).
    assert [(x["kind"], x["run_id"], x["version"]) for x in archive.alerts()] == [
        ("removed", run2, 1),
        ("restored", run3, 1),
    ]
    assert [e["kind"] for e in archive.events(A)] == ["removed", "restored"]
    # Back through a 304 answer, and back with new text (restored and changed).
    run4 = archive.start_run("incremental")
    assert archive.record_gone(run4, A, "u", 410) == "removed"
    assert archive.record_not_modified(run4, A) == "unchanged"
    run5 = archive.start_run("incremental")
    assert archive.record_gone(run5, A, "u", 404) == "removed"
    assert archive.record_article(run5, rec(A, body="律师事务所的新正文")) == "changed"
    assert [(x["kind"], x["run_id"], x["version"]) for x in archive.alerts()][2:] == [
        ("removed", run4, 1),
        ("restored", run4, 1),
        ("removed", run5, 1),
        ("changed", run5, 2),
        ("restored", run5, 2),
    ]
    assert [e["kind"] for e in archive.events(A)] == ["removed", "restored"] * 3


def test_drift_guard_keeps_stored_version(archive):
    run1 = archive.start_run("full")
    archive.record_article(run1, rec(A))
    for broken in (rec(A, body=""), rec(A, title="")):
        assert archive.record_article(run1, broken) == "failed"
    a = archive.get_article(A)
    assert (a["version"], a["body"], a["title"]) == (1, rec(A)["body"], "标题a")
    assert [f["kind"] for f in archive.failures(run1)] == ["extraction"] * 2
    assert archive.run(run1)["failed"] == 2
    # A body that only shrank is kept as a version, but held for the operator.
    assert archive.record_article(run1, rec(A, body="短")) == "changed"
    assert archive.versions(A)[-1]["note"] == "held: body shrank from 41 to 1 characters"
    assert archive.finish_run(run1, 4)["held"] == "suspect"


def test_suspect_run_when_most_revisited_change(tmp_path):
    with Archive(tmp_path / "s.db", clock=lambda: NOW, drift=DriftGuard(suspect_share=0.5, suspect_min=4)) as archive:
        ids = [c * 32 for c in "01234"]
        run1 = archive.start_run("full")
        for x in ids:
            archive.record_article(run1, rec(x))
        archive.finish_run(run1, 5)
        run2 = archive.start_run("incremental")
        for x in ids[:3]:
            archive.record_article(run2, rec(x, title="改版后的标题" + x[0]))
        for x in ids[3:]:
            archive.record_article(run2, rec(x))
        run = archive.finish_run(run2, 5)
        assert (run["status"], run["held"], run["note"]) == ("ok", "suspect", "3 of 5 revisited articles changed")
        assert archive.release(run2)["held"] == "released"
        with pytest.raises(ValueError, match="not held"):
            archive.release(run2)


def test_revisit_plan_recent_then_the_cycle_share(archive):
    run = archive.start_run("full")
    archive.record_article(run, rec(A, published="2026-11-20"))  # recent
    archive.record_article(run, rec(B, published="2020-01-01"))
    archive.record_article(run, rec(C, published="2019-01-01"))
    assert archive.reverify_quota(7) == 1  # 3 articles over 168 hourly runs, rounded up
    assert [p["id"] for p in archive.revisit_plan(30, 7)] == [A, B]
    assert [p["id"] for p in archive.revisit_plan(None)] == [A, B, C]


def test_every_article_is_reverified_within_the_cycle(tmp_path):
    """200 articles, a one-day cycle, hourly runs: each run re-checks its share, least
    recently checked first, and after one cycle every article has been checked."""
    clock = {"now": NOW}
    with Archive(tmp_path / "c.db", clock=lambda: clock["now"]) as archive:
        run = archive.start_run("full")
        ids = [f"{n:032x}" for n in range(200)]
        for aid in ids:
            archive.record_article(run, rec(aid, published="2020-01-01"))
        archive.finish_run(run, 200)
        per_run = []
        for hour in range(1, 25):
            clock["now"] = NOW + timedelta(hours=hour)
            run = archive.start_run("incremental")
            plan = archive.revisit_plan(30, 1)
            per_run.append(len(plan))
            for entry in plan:
                archive.record_not_modified(run, entry["id"])
            archive.finish_run(run, len(plan))
        assert per_run == [9] * 24  # 200 / 24 runs, rounded up
        assert archive.reverify_progress(1) == (200, 200)


def test_not_a_database(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ArchiveError, match="cannot open as a barwatch archive"):
        Archive(bad)
    assert bad.read_bytes() == b"this is not sqlite" * 100  # untouched


def test_schema_is_idempotent(tmp_path):
    path = tmp_path / "i.db"
    with Archive(path, clock=lambda: NOW) as a:
        run = a.start_run("full")
        a.record_article(run, rec(A))
    with Archive(path, clock=lambda: NOW) as a:  # second open migrates nothing, loses nothing
        assert a.table_counts()["articles"] == 1
        assert a.db["articles"].columns_dict["version"] is int
        assert a.db.journal_mode == "wal"


def test_a_list_date_fills_an_undated_page_and_is_never_content(archive):
    run = archive.start_run("full")
    undated = rec(A, published=None)
    assert archive.record_article(run, undated, list_date="2022-06-20") == "new"
    a = archive.get_article(A)
    assert (a["published"], a["published_from"]) == ("2022-06-20", "list")
    # Re-fetched without its list row (a revisit): the date stays, no version is made.
    assert archive.record_article(run, undated) == "unchanged"
    assert (archive.get_article(A)["published"], len(archive.versions(A))) == ("2022-06-20", 1)
    # A magazine page names its issue: the issue dates it when no list row does.
    assert archive.record_article(run, rec(B, published=None, issue="2021-12")) == "new"
    assert (archive.get_article(B)["published"], archive.get_article(B)["published_from"]) == ("2021-12", "issue")
    # The page starts printing a date: that is content, and it wins.
    assert archive.record_article(run, rec(A)) == "changed"
    assert (archive.get_article(A)["published"], archive.get_article(A)["published_from"]) == ("2026-11-20", "page")


def test_a_subtitle_a_newer_parser_reads_is_a_repair_not_an_edit(archive):
    run = archive.start_run("full")
    archive.record_article(run, rec(A))
    archive.finish_run(run, 1)
    run = archive.start_run("incremental")
    assert archive.record_article(run, rec(A, subtitle="副标题")) == "changed"
    assert archive.versions(A)[-1]["note"] == "repair: subtitle now extracted from the same page"
    assert archive.alerts() == []
