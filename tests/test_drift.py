"""Layout drift: when extraction breaks, the archive keeps what it had and says so.

The site's markup cannot change here, so the parser is made to misread it instead, through
the [parsing] overrides an operator would use: the archive sees the same thing either way.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from fixtures import spec
from storage import outbox
from storage.archive import Archive
from tests.crawling import FIXTURE_CONFIG, NOW, barwatch, crawl

BASE_IDS = sorted(set(spec.served_ids("base")) - {spec.DISALLOWED_ID})


@pytest.fixture
def baseline(site, tmp_path):
    db = tmp_path / "a.db"
    crawl(db, site, "--full")
    return db


def config_with(tmp_path, crawl_keys: str, parsing: str):
    path = tmp_path / "drift.toml"
    # The fixture config ends in its [crawl] table, so extra crawl keys land there.
    path.write_text(
        FIXTURE_CONFIG.read_text(encoding="utf-8") + crawl_keys + "\n[parsing]\n" + parsing, encoding="utf-8"
    )
    return path


def open_archive(db):
    return Archive(db, clock=lambda: datetime.fromisoformat(NOW))


def test_bodies_that_come_out_empty_are_extraction_failures_not_edits(baseline, site, tmp_path):
    with open_archive(baseline) as archive:
        before = list(archive.iter_articles())
    config = config_with(tmp_path, "", 'extra_drop_patterns = ["."]\n')  # every body line dropped
    crawl(baseline, site, "--full", config=config, check=False)
    with open_archive(baseline) as archive:
        run = archive.runs()[0]
        # every fetch "failed" to extract, nothing stored: a failed run, and one notice
        assert (run["changed"], run["unchanged"], run["failed"], run["status"]) == (0, 0, len(BASE_IDS), "failed")
        failures = archive.failures(run["id"])
        assert {f["kind"] for f in failures} == {"extraction"}
        assert sorted(f["article_id"] for f in failures) == BASE_IDS
        assert all(
            f["message"].startswith("body shrank from ") and " to 0 characters" in f["message"] for f in failures
        )
        assert all(f["url"] == f"https://www.lawyers.org.cn/info/{f['article_id']}" for f in failures)
        assert list(archive.iter_articles()) == before
        assert archive.table_counts()["versions"] == len(BASE_IDS)
        assert [a["kind"] for a in archive.alerts()] == ["operations"]


def test_a_run_where_most_articles_change_is_held_until_released(baseline, site, tmp_path):
    # Dropping every line with 的 changes most bodies without emptying them; with the
    # shrink guard off, those count as edits, and that many edits at once is suspect.
    config = config_with(tmp_path, "\n[drift]\nmin_body_ratio = 0.0\n", 'extra_drop_patterns = ["的"]\n')
    expected_changed = sorted(
        aid for aid in BASE_IDS if any("的" in line for line in site.expected_record(aid)["body"].split("\n"))
    )
    crawl(baseline, site, "--full", config=config)
    with open_archive(baseline) as archive:
        run = archive.runs()[0]
        assert (run["status"], run["held"], run["changed"], run["unchanged"]) == (
            "ok",
            "suspect",
            len(expected_changed),
            len(BASE_IDS) - len(expected_changed),
        )
        assert run["note"] == f"{len(expected_changed)} of {len(BASE_IDS)} revisited articles changed"
        assert sorted(a["article_id"] for a in archive.alerts() if a["kind"] == "changed") == expected_changed
        # all held; only the operations notice that says so is pending
        assert [p.kind for p in outbox.pending_alerts(archive, ("new", "changed", "removed"))] == ["operations"]
    held = barwatch("notify", "--db", str(baseline), "--dry-run")
    # Only the operations notice: the changes themselves wait for the release.
    assert "Subject: 【barwatch】上海律协网站：1 条运行通知\n" in held.stdout
    assert f"待确认 run {run['id']} is held: {run['note']}" in held.stdout
    assert "(dry run: 1 message(s) composed" in held.stdout
    barwatch("release", str(run["id"]), "--db", str(baseline))
    released = barwatch("notify", "--db", str(baseline), "--dry-run")
    assert f"Subject: 【barwatch】上海律协网站：1 条运行通知，{len(expected_changed)} 篇修改" in released.stdout
    assert "(dry run: 1 message(s) composed" in released.stdout
