"""Channel discovery against the fixture site, from the packaged config's one section
(业务指引), as `barwatch crawl` runs it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC
from pathlib import Path

import pytest

from crawler.channels import Channel, relative, template_pattern, walk_due
from fixtures import spec
from tests.crawling import NOW, ROOT, barwatch, copy_db, crawl

DEFAULT_CONFIG = ROOT / "crawler" / "default_config.toml"
NEXT_DAY = "2026-02-02T09:30:00Z"
REACHABLE = sorted(set(spec.discovered_ids("base")) - {spec.DISALLOWED_ID})  # robots.txt forbids that one


def fast_config(tmp_path: Path, extra: str = "", discovery: bool = True) -> Path:
    """The packaged config (only 业务指引 configured), without the politeness delay."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = text.replace("download_delay = 1.0", "download_delay = 0.0").replace(
        "autothrottle = true", "autothrottle = false"
    )
    text = text.replace("retry_backoff = 2.0", "retry_backoff = 0.1")
    if not discovery:
        text = text.replace("[discovery]\nenabled = true", "[discovery]\nenabled = false")
    path = tmp_path / "discover.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def query(db: Path, sql: str, params=()) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def discovered(site, tmp_path_factory):
    """One crawl from 业务指引 alone into an empty archive."""
    tmp = tmp_path_factory.mktemp("discovered")
    site.set_state("base")
    site.reset_requests()
    proc = crawl(tmp / "d.db", site, config=fast_config(tmp))
    return tmp / "d.db", proc, site.requests


def test_one_crawl_from_one_section_archives_every_channel(discovered):
    db, proc, _requests = discovered
    assert sorted(r["id"] for r in query(db, "SELECT id FROM articles")) == REACHABLE
    run = query(db, "SELECT * FROM crawl_runs")[0]
    assert (run["status"], run["new"], run["failed"]) == ("ok", len(REACHABLE), 0)
    assert query(db, "SELECT * FROM alerts") == []  # all of it is backlog
    channels = {r["url_template"]: r for r in query(db, "SELECT * FROM channels")}
    for c in spec.discoverable_channels("base"):
        if not c["walkable_ids"]:
            continue  # an empty tab is asked about, and kept as a page that is not a list
        matching = [
            t
            for t in channels
            if template_pattern(t).match(c["page_urls"][0]) or c["first_url"] in (t, channels[t]["first_url"])
        ]
        assert matching, c["name"]
        row = channels[matching[0]]
        assert row["how_found"] in c["reach"] and row["baseline_done_at"] is not None, c["name"]
    # Each way of paging, learnt from the pages' own links.
    assert channels["/studies/cases/index_{page}.html"]["first_url"] == "/studies/cases/index.html"
    assert "/studies/achievements/list-{page}.html" in channels
    assert "/studies/papers?tab=1&pageNumber={page}" in channels  # the bare tab URL is its page 1
    assert channels["/party/list"]["js_pager"] == 1  # script pager: page 1 only
    assert "Traceback" not in proc.stderr


def test_discovery_never_leaves_the_site_and_never_fetches_what_robots_forbids(discovered, site):
    db, _proc, requests = discovered
    # Every page asked about was asked of the crawled host (www./wx./info. rebased to it);
    # the login host, credit./oa. and the look-alike zjbar.com never were.
    asked = [r["url"] for r in query(db, "SELECT url FROM candidates")]
    assert asked and all(u.startswith(site.base_url + "/") for u in asked), asked
    assert f"/info/{spec.DISALLOWED_ID}" not in requests
    assert not [r for r in requests if r.startswith("/info/") and r[len("/info/") :] in spec.script_only_ids()]
    # the JavaScript home page is never a candidate; the login host is another host
    assert "/" not in requests


def test_pages_that_are_no_lists_are_remembered_as_such(discovered):
    db, _proc, _requests = discovered
    kinds = {relative(r["url"]): r for r in query(db, "SELECT * FROM candidates")}
    assert kinds[spec.ABOUT_PATH]["kind"] == "other"
    assert kinds[spec.ABOUT_PATH]["recheck_after"] > NOW
    assert kinds[spec.MAG_HUB]["kind"] == "hub"


def test_undated_pages_take_their_list_or_issue_date_and_keep_their_subtitle(discovered):
    db, _proc, _requests = discovered
    rows = {r["id"]: r for r in query(db, "SELECT * FROM articles")}
    with_subtitle = [a for a in spec.ALL_ARTICLES if a.subtitle and a.id in rows]
    assert with_subtitle
    for a in with_subtitle:
        row = rows[a.id]
        expected = spec.expected_record(a)
        assert row["subtitle"] == expected["subtitle"], a.key
        assert row["published_from"] in ("list", "issue") and row["published"], a.key
        if row["published_from"] == "issue":
            assert row["published"] == expected["issue"]
    dated = [r for r in rows.values() if r["published"]]
    assert len(dated) == len(rows)  # every archived article has a date now


def test_the_channels_command_shows_each_channel_and_how_it_was_found(discovered):
    db, _proc, _requests = discovered
    proc = barwatch("channels", "--db", str(db))
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["channel", "found", "by", "state"]
    assert any(
        line.startswith("业务指引") and " config " in line and "/studies/businessguide?currentPageNo={page}" in line
        for line in lines
    )
    assert any(line.startswith("研究成果") and " breadcrumb " in line for line in lines)
    assert any(line.startswith("区律工委") and " more " in line for line in lines)
    assert len([line for line in lines[1:] if not line.startswith(" ")]) == len(query(db, "SELECT * FROM channels"))


def test_a_new_article_in_a_discovered_channel_is_found_next_run_with_few_requests(discovered, site, tmp_path):
    db = copy_db(discovered[0], tmp_path / "next.db")
    site.set_state("discovered-new")
    site.reset_requests()
    try:
        proc = crawl(db, site, config=fast_config(tmp_path), now=NEXT_DAY)
    finally:
        site.set_state("base")
    requests = site.requests
    run = query(db, "SELECT * FROM crawl_runs ORDER BY id DESC")[0]
    alerts = query(db, "SELECT article_id, kind FROM alerts")
    assert alerts == [{"article_id": spec.DISCOVERED_ID, "kind": "new"}], proc.stdout
    lists = [r for r in requests if not r.startswith("/info/") and r != "/robots.txt"]
    articles = [r for r in requests if r.startswith("/info/")]
    assert run["new"] == 1 and run["failed"] == 0
    # A day later: page 1 of each channel with news in the last 30 days or quiet for less
    # than a year (the magazine's list and issues, years old, wait for their weekly walk),
    # and 案例评析 pages on to the page its new article pushed an old one to. No candidate
    # is asked again.
    weekly = {"/catalog/0377490d29ee742dc585905078b276a8?pageNumber=1", *(i for i in spec.ISSUE_PATHS)}
    walked = [r["url_template"] for r in query(db, "SELECT url_template FROM channels")]
    assert len(lists) == len(walked) - 4 + 1, lists
    assert not weekly & set(lists)
    assert "/studies/cases/index_2.html" in lists
    # The new article, the one article of the last 30 days, and the cycle's share: 62
    # articles over the runs of a week spaced as these two (24.5 h): ceil(62 / 6.86) = 10.
    assert articles[0] == f"/info/{spec.DISCOVERED_ID}"
    assert len(articles) == 1 + 1 + 10
    assert len(requests) == 1 + len(lists) + len(articles) == 1 + 10 + 12, requests


def test_a_channel_discovered_on_a_later_run_announces_none_of_its_backlog(site, tmp_path):
    db = tmp_path / "later.db"
    site.set_state("base")
    crawl(db, site, config=fast_config(tmp_path, discovery=False))  # 业务指引 only
    assert len(query(db, "SELECT * FROM channels")) == 1
    # Then discovery is switched on (a full crawl: no candidate budget, so it all comes in one run).
    crawl(db, site, "--full", config=fast_config(tmp_path), now=NEXT_DAY)
    assert sorted(r["id"] for r in query(db, "SELECT id FROM articles")) == REACHABLE
    assert query(db, "SELECT * FROM alerts") == []


def test_a_disabled_section_silences_a_discovered_channel(discovered, site, tmp_path):
    db = copy_db(discovered[0], tmp_path / "silenced.db")
    silence = '\n[[sections]]\nname = "区律工委"\nlist_url = "/catalog/c467177a023a592fbfd1b9c25f85aa62?pageNo={page}"\nenabled = false\n'
    config = fast_config(tmp_path)
    text = config.read_text(encoding="utf-8")
    # [[sections]] tables must come before [crawl]: put the entry after the configured one.
    text = text.replace("first_page = 1\n", "first_page = 1\n" + silence, 1)
    config.write_text(text, encoding="utf-8")
    site.reset_requests()
    crawl(db, site, "--full", config=config, now=NEXT_DAY)
    assert not [r for r in site.requests if "c467177a023a592fbfd1b9c25f85aa62" in r]
    proc = barwatch("channels", "--db", str(db), "--config", str(config))
    assert any(line.startswith("区律工委") and " silenced " in line for line in proc.stdout.splitlines())


# ---------------------------------------------------------------------------- channels module
def test_template_patterns_match_every_page_of_a_channel_and_nothing_else():
    p = template_pattern("/catalog/abc?pageNumber={page}")
    assert p.match("/catalog/abc?pageNumber=12") and not p.match("/catalog/abc?pageNumber=x")
    assert not p.match("/catalog/abcd?pageNumber=1")
    assert template_pattern("/list-{page}.html").match("/list-3.html")
    assert template_pattern("/a{{b}}?p={page}").match("/a{b}?p=2")
    assert relative("http://127.0.0.1:8000/x/y?z=1#f") == "/x/y?z=1"
    assert Channel("c", "/cases/index_{page}.html", 1, first_url="/cases/index.html").page_url(1, "http://h") == (
        "http://h/cases/index.html"
    )
    assert Channel("c", "/cases/index_{page}.html", 1, first_url="/cases/index.html").page_url(2, "http://h") == (
        "http://h/cases/index_2.html"
    )


@pytest.mark.parametrize(
    "newest,walked,due",
    [
        ("2026-01-30", "2026-02-01T08:00:00Z", True),  # recent news: every run
        ("2025-10-01", "2026-02-01T08:00:00Z", False),  # quiet for months: once a day
        ("2025-10-01", "2026-01-31T08:00:00Z", True),
        ("2022-06-20", "2026-01-29T08:00:00Z", False),  # a closed magazine issue: once a week
        ("2022-06-20", "2026-01-25T08:00:00Z", True),
    ],
)
def test_quiet_channels_are_walked_daily_or_weekly(newest, walked, due):
    from datetime import datetime

    now = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    row = {"newest_item": newest, "last_walked": walked, "baseline_done_at": "2025-01-01T00:00:00Z"}
    assert walk_due(row, now, 30, 365) is due
    assert walk_due({**row, "baseline_done_at": None}, now, 30, 365) is True  # in baseline: always


def test_records_keep_the_subtitle_in_the_hash_only_when_there_is_one():
    from storage.textops import content_hash

    record = json.loads(
        next((ROOT / "fixtures" / "pages" / "base" / "info").glob("*.expected.json")).read_text("utf-8")
    )
    without = {k: v for k, v in record.items() if k != "subtitle"}
    assert content_hash(record) == content_hash(without)  # archives from before keep their hashes
    assert content_hash({**record, "subtitle": "副标题"}) != content_hash(record)


def test_a_subtitle_is_searched_with_the_title(discovered):
    from storage.archive import Archive
    from storage.search import search

    db, _proc, _requests = discovered
    with Archive(db, mode="ro") as archive:
        hits = search(archive.db, "律师代表大会第四次会议")
    assert [h["title"] for h in hits] == ["发挥法治保障作用 建设高素质律师队伍"]


def test_the_demo_archives_the_whole_site_from_one_section(tmp_path):
    proc = barwatch("demo", "--dir", str(tmp_path / "demo"), timeout=180)
    assert f"archived {len(REACHABLE)} articles into" in proc.stdout
    assert "alerts 0" in proc.stdout
