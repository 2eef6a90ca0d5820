"""Nothing lost, nothing invented: the archive's transactions, opening modes, run statuses,
per-channel baseline, repairs, holds and operations notices, on tmp_path archives."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest

from storage import outbox
from storage.archive import Archive, ArchiveError, NoArchive, StorageError
from tests.test_archive import NOW, A, B, C
from tests.test_archive import rec as _rec

D = "d" * 32
T1, T2 = "/list/one?page={page}", "/list/two?page={page}"
BODY = "上海市律师协会召开会议。\n会议研究部署了下一阶段的工作，要求各律师事务所认真落实。\n第三段文字说明具体安排和时间节点。"


def rec(aid, **kw):
    return _rec(aid, **{"body": BODY, **kw})


def open_rwc(path, **kw) -> Archive:
    return Archive(path, clock=lambda: NOW, **kw)


def snapshot(path: Path) -> str:
    """Every row of every table (the FTS index's shadow tables too), read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def baseline_archive(path: Path) -> None:
    with open_rwc(path) as archive:
        run = archive.start_run("full", [(T1, "一")])
        for aid in (A, B):
            archive.record_article(run, rec(aid), channel=T1)
        archive.finish_run(run, requests=3, walked={T1: [A, B]})


# ---------------------------------------------------------------------------- atomicity
OPERATIONS = {
    "changed article": lambda a, run: a.record_article(run, rec(A, body=BODY.replace("下一阶段", "明年")), channel=T1),
    "new article": lambda a, run: a.record_article(run, rec(C), channel=T1),
    "removed article": lambda a, run: a.record_gone(run, B, rec(B)["url"], 404),
    "finish run": lambda a, run: a.finish_run(run, requests=2, walked={T1: [A, B]}),
}


def interrupt_at(step: int):
    """SQLite hooks that fail the ``step``-th statement: a trace callback that counts the
    statements begun and a progress handler that interrupts once ``step`` have begun."""
    statements = 0

    def trace(sql: str) -> None:
        nonlocal statements
        statements += 1

    def progress() -> int:
        return 1 if statements >= step else 0

    return trace, progress


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_a_write_that_fails_at_any_step_leaves_nothing_behind(tmp_path, name):
    """Fail the page's write at every SQL statement in turn, COMMIT included: a trace
    callback counts the statements and SQLite's progress handler interrupts the k-th one.
    Each attempt either stores the whole page or nothing at all, and the final attempt
    stores it exactly once."""
    db = tmp_path / "a.db"
    baseline_archive(db)
    with open_rwc(db) as archive:
        run = archive.start_run("incremental", [(T1, "一")])
    before = snapshot(db)
    step, failures = 0, 0
    while True:
        step += 1
        trace, progress = interrupt_at(step)
        with open_rwc(db) as archive:
            archive.conn.set_trace_callback(trace)
            archive.conn.set_progress_handler(progress, 1)
            try:
                OPERATIONS[name](archive, run)
            except StorageError:  # "interrupted", or what the interrupted statement made of it
                failures += 1
                assert snapshot(db) == before, f"statement {step} left a partial write"
                continue
            finally:
                archive.conn.set_progress_handler(None, 0)
                archive.conn.set_trace_callback(None)
        break
    assert failures == step - 1 >= 8  # every statement of the write was failed once
    after = snapshot(db)
    assert after != before
    # Stored once: redoing the same page now changes no row (apart from timestamps' equal values).
    with open_rwc(db) as archive:
        if name == "changed article":
            assert [v["version"] for v in archive.versions(A)] == [1, 2]
            assert [(x["article_id"], x["kind"], x["version"]) for x in archive.alerts()] == [(A, "changed", 2)]
            assert archive.record_article(run, rec(A, body=BODY.replace("下一阶段", "明年")), channel=T1) == "unchanged"
            assert [v["version"] for v in archive.versions(A)] == [1, 2]
        elif name == "new article":
            assert [(x["article_id"], x["kind"]) for x in archive.alerts()] == [(C, "new")]
        elif name == "removed article":
            assert archive.get_article(B)["status"] == "removed"
            assert [(x["article_id"], x["kind"]) for x in archive.alerts()] == [(B, "removed")]
        else:
            assert archive.run(run)["status"] == "ok"


def test_a_storage_error_says_what_failed_and_keeps_what_was_stored(tmp_path):
    db = tmp_path / "a.db"
    baseline_archive(db)
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    before = snapshot(db)
    with open_rwc(db, max_page_count=pages) as archive:
        run_err = None
        try:
            run = archive.start_run("incremental", [(T1, "一")])
            archive.record_article(run, rec(C, body="新" * 200_000), channel=T1)
        except StorageError as exc:
            run_err = str(exc)
    assert run_err is not None and "database or disk is full" in run_err
    with Archive(db, mode="ro") as archive:
        assert [a["id"] for a in archive.iter_articles()] == [A, B]
        assert archive.get_article(C) is None
    assert snapshot(db).count('INSERT INTO "articles"') == before.count('INSERT INTO "articles"')
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------------- opening
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reading_a_missing_archive_creates_nothing(tmp_path):
    db = tmp_path / "typo.db"
    with pytest.raises(NoArchive) as err:
        Archive(db, mode="ro")
    assert str(err.value) == f"no archive at {db} (run `barwatch crawl` first)"
    with pytest.raises(NoArchive):
        Archive(db, mode="rw")
    assert list(tmp_path.iterdir()) == []


def test_opening_to_read_never_writes(tmp_path):
    db = tmp_path / "a.db"
    baseline_archive(db)
    digest = _digest(db)
    with Archive(db, mode="ro") as archive:
        assert archive.table_counts()["articles"] == 2
        with pytest.raises(ArchiveError):
            archive.record_failure(1, None, "fetch", "x")
    assert _digest(db) == digest


def test_an_old_archive_is_upgraded_by_a_writer_not_a_reader(tmp_path):
    db = tmp_path / "old.db"
    baseline_archive(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 0")  # as barwatch 0.1 left it
    conn.execute("UPDATE crawl_runs SET status = 'suspect'")
    conn.commit()
    conn.close()
    with pytest.raises(ArchiveError, match="older barwatch.*barwatch migrate"):
        Archive(db, mode="ro")
    with open_rwc(db) as archive:
        assert [(r["status"], r["held"]) for r in archive.runs()] == [("ok", "suspect")]
    with Archive(db, mode="ro") as archive:
        assert archive.table_counts()["articles"] == 2


def test_readers_never_make_a_creating_crawl_fail(tmp_path):
    """Readers polling a fresh archive while a writer creates and fills it (the race that
    failed test_daemon under load): no reader error but "not an archive yet", no writer error."""
    db = tmp_path / "race.db"
    errors: list[str] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with Archive(db, mode="ro") as archive:
                    archive.runs()
            except NoArchive:
                pass
            except ArchiveError as exc:
                if "not a barwatch archive" not in str(exc):
                    errors.append(str(exc))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(5):
            with open_rwc(db) as archive:
                run = archive.start_run("full", [(T1, "一")])
                archive.record_article(run, rec(f"{i:x}" * 32), channel=T1)
                archive.finish_run(run, requests=1)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    with Archive(db, mode="ro") as archive:
        assert [r["status"] for r in archive.runs()] == ["ok"] * 5


# ---------------------------------------------------------------------------- statuses
def test_run_status_is_one_of_five_and_the_hold_is_separate(tmp_path):
    with open_rwc(tmp_path / "a.db") as archive:
        run = archive.start_run("full", [(T1, "一")])
        archive.record_failure(run, "http://x/robots.txt", "fetch", "connection refused")
        assert archive.finish_run(run, requests=1)["status"] == "failed"  # nothing fetched
        run = archive.start_run("full", [(T1, "一")])
        archive.record_article(run, rec(A), channel=T1)
        archive.record_failure(run, "http://x/info/b", "fetch", "timed out", B)
        assert archive.finish_run(run, requests=2)["status"] == "partial"
        run = archive.start_run("full", [(T1, "一")])
        archive.record_article(run, rec(A), channel=T1)
        assert archive.finish_run(run, requests=2, fatal="robots.txt unavailable")["status"] == "failed"
        run = archive.start_run("full", [(T1, "一")])
        assert archive.finish_run(run, requests=0, interrupted=True)["status"] == "interrupted"
        run = archive.start_run("full", [(T1, "一")])
        archive.start_run("full")  # the previous process died: its run is closed for it
        assert archive.run(run)["status"] == "interrupted"
        assert {r["status"] for r in archive.runs(100)} <= {"running", "ok", "partial", "failed", "interrupted"}


# ---------------------------------------------------------------------------- baseline
def alerts_of(archive) -> list[tuple[str, str]]:
    return [(a["article_id"], a["kind"]) for a in archive.alerts() if a["kind"] != "operations"]


def test_an_interrupted_first_crawl_announces_nothing_when_it_is_finished(tmp_path):
    with open_rwc(tmp_path / "a.db") as archive:
        for _ in range(3):  # killed or stopped three times in a row
            run = archive.start_run("incremental", [(T1, "一")])
            archive.record_article(run, rec(A), channel=T1)
            archive.finish_run(run, requests=1, interrupted=True)
        run = archive.start_run("incremental", [(T1, "一")])
        archive.record_article(run, rec(B), channel=T1)
        archive.record_failure(run, rec(C)["url"], "fetch", "timed out", C)  # listed, not stored
        assert archive.finish_run(run, requests=3, walked={T1: [A, B, C]})["status"] == "partial"
        assert alerts_of(archive) == []
        run = archive.start_run("incremental", [(T1, "一")])
        archive.record_article(run, rec(C), channel=T1)  # the backlog the baseline walk listed
        archive.record_article(run, rec(D), channel=T1)  # really new
        archive.finish_run(run, requests=3, walked={T1: [C, D]})
        assert alerts_of(archive) == [(D, "new")]


def test_a_channel_added_later_has_a_baseline_of_its_own(tmp_path):
    with open_rwc(tmp_path / "a.db") as archive:
        run = archive.start_run("incremental", [(T1, "一")])
        archive.record_article(run, rec(A), channel=T1)
        archive.finish_run(run, requests=1, walked={T1: [A]})
        run = archive.start_run("incremental", [(T1, "一"), (T2, "二")])
        archive.record_article(run, rec(B), channel=T2)  # backlog of the new channel
        archive.record_article(run, rec(C), channel=T1)  # news of the old one
        archive.finish_run(run, requests=2, walked={T1: [A, C], T2: [B]})
        run = archive.start_run("incremental", [(T1, "一"), (T2, "二")])
        archive.record_article(run, rec(D), channel=T2)
        archive.finish_run(run, requests=1, walked={T2: [D, B]})
        assert alerts_of(archive) == [(C, "new"), (D, "new")]


# ---------------------------------------------------------------------------- repair, hold
def test_a_garbled_stored_version_is_repaired_without_an_alert(tmp_path):
    db = tmp_path / "a.db"
    baseline_archive(db)
    mojibake = "上海市律师协会".encode().decode("gb18030", "ignore")
    conn = sqlite3.connect(db)  # as an older barwatch stored a mislabelled page
    conn.execute("UPDATE articles SET title = ?, content_hash = 'x' WHERE id = ?", [mojibake, A])
    conn.commit()
    conn.close()
    with open_rwc(db) as archive:
        run = archive.start_run("incremental", [(T1, "一")])
        assert archive.record_article(run, rec(A), channel=T1) == "changed"
        v = archive.versions(A)[-1]
        assert v["version"] == 2 and v["note"].startswith("repair: the stored version was garbled")
        assert alerts_of(archive) == []
        assert archive.get_article(A)["title"] == "标题a"


def test_a_garbled_page_is_a_failure_never_a_version(tmp_path):
    db = tmp_path / "a.db"
    baseline_archive(db)
    with open_rwc(db) as archive:
        run = archive.start_run("incremental", [(T1, "一")])
        garbled = rec(A, body=BODY.encode("utf-8").decode("gb18030", "replace"))
        assert archive.record_article(run, garbled, channel=T1) == "failed"
        assert archive.record_article(run, rec(B, title="标题\ufffd"), channel=T1) == "failed"
        assert [f["kind"] for f in archive.failures(run)] == ["encoding", "encoding"]
        assert [len(archive.versions(x)) for x in (A, B)] == [1, 1]


def test_a_shrunken_body_is_kept_but_held_until_released(tmp_path):
    db = tmp_path / "a.db"
    baseline_archive(db)
    with open_rwc(db) as archive:
        run = archive.start_run("incremental", [(T1, "一")])
        assert archive.record_article(run, rec(A, body="上海市律师协会召开会议。"), channel=T1) == "changed"
        finished = archive.finish_run(run, requests=1)
        assert (finished["status"], finished["held"]) == ("ok", "suspect")
        assert archive.versions(A)[-1]["note"].startswith("held: body shrank from")
        assert [p.kind for p in outbox.pending_alerts(archive)] == ["operations"]
        archive.release(run)
        assert [p.kind for p in outbox.pending_alerts(archive)] == ["changed", "operations"]


# ---------------------------------------------------------------------------- notices
def notices(archive) -> list[str]:
    return [a["incident"] for a in archive.alerts() if a["kind"] == "operations"]


def test_operations_notices_once_when_an_incident_starts_and_once_when_it_clears(tmp_path):
    with open_rwc(tmp_path / "a.db", notice_after_partial_runs=3) as archive:
        for _ in range(2):
            run = archive.start_run("incremental", [(T1, "一")])
            archive.finish_run(run, requests=1, fatal="robots.txt unavailable: HTTP 503")
        assert notices(archive) == ["crawl-failed"]
        assert archive.open_incidents()[0]["key"] == "crawl-failed"
        for _ in range(4):
            run = archive.start_run("incremental", [(T1, "一")])
            archive.record_article(run, rec(A), channel=T1)
            archive.record_failure(run, "http://x/info/b", "fetch", "HTTP 500", B)
            assert archive.finish_run(run, requests=2)["status"] == "partial"
        assert notices(archive) == ["crawl-failed", "crawl-failed", "crawl-partial"]
        run = archive.start_run("incremental", [(T1, "一")])
        archive.record_article(run, rec(A), channel=T1)
        archive.finish_run(run, requests=1)
        assert notices(archive) == ["crawl-failed", "crawl-failed", "crawl-partial", "crawl-partial"]
        texts = [a["notice"] for a in archive.alerts() if a["kind"] == "operations"]
        assert texts[0].startswith("抓取失败 crawl failed: run 1: robots.txt unavailable: HTTP 503")
        assert texts[1].startswith("已恢复 crawl works again: run 3 is partial")
        assert texts[2].startswith("持续失败 the same failures in 3 runs in a row (run 5, 1 failed)")
        assert texts[3] == "已恢复 the repeated failures are gone: run 7 is ok"
        assert archive.open_incidents() == []
        # Notices go out whatever [alerts] kinds says.
        assert [p.kind for p in outbox.pending_alerts(archive, kinds=())] == ["operations"] * 4
