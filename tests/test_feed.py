"""The Atom feed (storage.datasette_plugin.feed): valid Atom 1.0, stable tag: ids, what is
announced and nothing else (no baseline, no held change), one feed per channel, and no
control character from an old archived row."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest

from storage import serve
from storage.archive import Archive
from storage.datasette_plugin import feed
from tests.test_notify import aid, rec, url
from tests.test_sanitise import CONTROLS, ESC, NEL, RLO, _store_evil_rows, has_control, pending
from tests.test_sanitise import URL as EVIL_URL
from tests.test_search import GUIDE, build_fixture_archive, fixture_record, stepping_clock

A = "{http://www.w3.org/2005/Atom}"
TAG = "tag:barwatch.lawyers.org.cn,2026:"
EDIT_TEXT = "或者购房人书面通知解除合同之日"
LXDT, YWZY = "律协动态", "业务指引"
T_LXDT = "https://www.lawyers.org.cn/news/list/lxdt/{page}"
T_YWZY = "https://www.lawyers.org.cn/news/list/ywzy/{page}"
T0 = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 11, 29, 19, 14, 11, tzinfo=dt.UTC)  # 2026-11-30 03:14:11 in Shanghai
T3 = dt.datetime(2026, 12, 1, 1, 2, 3, tzinfo=dt.UTC)


def get(ds, path: str):
    async def fetch():
        return await ds.client.get(path)

    return asyncio.run(fetch())


def atom(response) -> ET.Element:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert not has_control(response.text)
    root = ET.fromstring(response.content)
    assert root.tag == f"{A}feed"
    assert_valid_atom(root)
    return root


def assert_valid_atom(root: ET.Element) -> None:
    """What RFC 4287 requires of a feed and its entries (the parts a generator can get wrong)."""
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{name}")) == 1, name
    assert root.find(f"{A}author/{A}name").text
    assert [ln.get("rel") for ln in root.findall(f"{A}link")].count("self") == 1
    for entry in root.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, name
        alternates = [ln for ln in entry.findall(f"{A}link") if ln.get("rel", "alternate") == "alternate"]
        assert len(alternates) == 1
        assert entry.find(f"{A}content").get("type") == "html"
    stamps = [e.text for e in root.iter() if e.tag in (f"{A}updated", f"{A}published")]
    for stamp in stamps:
        dt.datetime.fromisoformat(stamp)  # RFC 3339 with an offset
        assert stamp[-6] in "+-" and stamp[-3] == ":"


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def text(el: ET.Element, name: str) -> str:
    return el.find(f"{A}{name}").text


def links(el: ET.Element) -> dict[str, str]:
    return {ln.get("rel", "alternate"): ln.get("href") for ln in el.findall(f"{A}link")}


# ---------------------------------------------------------------------------- an archive with channels
class Clock:
    def __init__(self, t: dt.datetime):
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


GUIDE_BODY = "第一条 律师应当审查合同。\n第二条 律师应当提示风险。"


def baseline(path: Path, clock: Clock) -> None:
    """Two channels walked once: everything in them is backlog, announced to nobody."""
    with Archive(path, clock=clock) as archive:
        run = archive.start_run("full", channels=[(T_LXDT, LXDT), (T_YWZY, YWZY)])
        archive.record_article(run, rec(1, "协会召开理事会"), channel=T_LXDT)
        archive.record_article(
            run, rec(2, "律师办理合同业务指引", GUIDE_BODY, section="业务研究 > 业务指引"), channel=T_YWZY
        )
        archive.record_article(run, rec(3, "关于会费缴纳的通知"), channel=T_LXDT)
        archive.finish_run(run, 3, walked={T_LXDT: [aid(1), aid(3)], T_YWZY: [aid(2)]})


def second_and_third_runs(path: Path, clock: Clock) -> dict[str, int]:
    """A new article, an edit and a removal, then the removed article back. Returns the
    alert id of each."""
    with Archive(path, clock=clock) as archive:
        clock.t = T2
        run = archive.start_run("incremental")
        assert archive.record_article(run, rec(4, "新会员入会仪式举行"), channel=T_LXDT) == "new"
        edited = GUIDE_BODY.replace("提示风险", "书面提示风险")
        assert (
            archive.record_article(run, rec(2, "律师办理合同业务指引", edited, section="业务研究 > 业务指引"))
            == "changed"
        )
        assert archive.record_gone(run, aid(3), url(3), 404) == "removed"
        archive.finish_run(run, 3)
        clock.t = T3
        run = archive.start_run("incremental")
        assert archive.record_article(run, rec(3, "关于会费缴纳的通知")) == "unchanged"
        archive.finish_run(run, 1)
        return {(r["kind"], r["article_id"]): r["id"] for r in archive.alerts()}


@pytest.fixture
def channels_archive(tmp_path):
    path = tmp_path / "watch.db"
    clock = Clock(T0)
    baseline(path, clock)
    return path, clock


def test_baseline_only_archive_gives_a_valid_feed_without_entries(channels_archive):
    path, _ = channels_archive
    root = atom(get(serve.build_datasette(path), "/watch/feed.atom"))
    assert entries(root) == []
    # No alert yet: a fixed time, so that polling readers do not see a change every time.
    assert text(root, "updated") == "1970-01-01T00:00:00+00:00"
    assert text(root, "id") == f"{TAG}feed"


def test_feed_lists_new_changed_removed_and_restored(channels_archive):
    path, clock = channels_archive
    ids = second_and_third_runs(path, clock)
    ds = serve.build_datasette(path)
    root = atom(get(ds, "/watch/feed.atom"))

    assert text(root, "id") == f"{TAG}feed"
    assert text(root, "title") == "barwatch · 东方律师网：新文章、修改与删除"
    assert text(root, "updated") == "2026-12-01T09:02:03+08:00"  # the newest alert, in Shanghai time
    assert text(root, f"author/{A}name") == "barwatch"
    assert text(root, f"author/{A}uri") == "https://www.lawyers.org.cn/"
    assert links(root) == {"self": "http://localhost/watch/feed.atom", "alternate": "http://localhost/"}

    got = [(text(e, "id"), text(e, "title"), text(e, "updated")) for e in entries(root)]
    assert got == [
        (f"{TAG}{aid(3)}/restored/{ids['restored', aid(3)]}", "恢复：关于会费缴纳的通知", "2026-12-01T09:02:03+08:00"),
        (f"{TAG}{aid(3)}/removed/{ids['removed', aid(3)]}", "删除：关于会费缴纳的通知", "2026-11-30T03:14:11+08:00"),
        (f"{TAG}{aid(2)}/v2", "修改：律师办理合同业务指引", "2026-11-30T03:14:11+08:00"),
        (f"{TAG}{aid(4)}/v1", "新文章：新会员入会仪式举行", "2026-11-30T03:14:11+08:00"),
    ]
    restored, removed, changed, new = entries(root)
    archived = "http://localhost/watch/-/article/{}".format

    assert links(new) == {"alternate": url(4)}
    assert [c.get("term") for c in new.findall(f"{A}category")] == [LXDT]
    assert text(new, "content") == (
        "<p>2024-05-01 · 协会动态 · 张三</p><p>第一段。</p><p>第二段。</p><p>第三段。</p><p>…</p>"
        f'<p><a href="{archived(aid(4))}">存档（全部版本）</a></p>'
    )

    assert links(changed) == {"alternate": url(2)}
    assert [c.get("term") for c in changed.findall(f"{A}category")] == [YWZY]
    assert text(changed, "content") == (
        "<p>版本 1 → 2 · 2026-11-30 03:14</p>"
        '<p class="barwatch-change"><b>第2段</b><br>第二条 律师应当<ins>书面</ins>提示风险。</p>'
        f'<p><a href="{archived(aid(2))}">存档（全部版本）</a></p>'
    )

    # The live page answers 404: the entry leads to the archived copy.
    assert links(removed) == {"alternate": archived(aid(3))}
    assert text(removed, "content").startswith(
        "<p>本文已于 2026-11-30 03:14 从网站删除（原网址不再能打开）。以下是存档中的内容：</p>"
        "<p>2024-05-01 · 协会动态 · 张三</p><p>第一段。</p>"
    )
    assert links(restored) == {"alternate": url(3)}
    assert text(restored, "content").startswith("<p>本文已于 2026-12-01 09:02 重新出现在网站上。</p>")

    # The same request again: the same document (ids and times do not move).
    assert get(ds, "/watch/feed.atom").content == get(ds, "/watch/feed.atom").content


def test_channel_feeds(channels_archive):
    path, clock = channels_archive
    second_and_third_runs(path, clock)
    ds = serve.build_datasette(path)
    root = atom(get(ds, f"/watch/feed.atom?channel={LXDT}"))
    assert text(root, "id") == f"{TAG}feed/{quote(LXDT, safe='')}" == f"{TAG}feed/%E5%BE%8B%E5%8D%8F%E5%8A%A8%E6%80%81"
    assert text(root, "title") == f"barwatch · 东方律师网：新文章、修改与删除 · {LXDT}"
    assert links(root)["self"] == f"http://localhost/watch/feed.atom?channel={quote(LXDT)}"
    assert [text(e, "title") for e in entries(root)] == [
        "恢复：关于会费缴纳的通知",
        "删除：关于会费缴纳的通知",
        "新文章：新会员入会仪式举行",
    ]
    root = atom(get(ds, f"/watch/feed.atom?channel={quote(YWZY)}"))
    assert [text(e, "id") for e in entries(root)] == [f"{TAG}{aid(2)}/v2"]
    # An empty parameter is the whole feed; a name no channel has is an error, not a
    # feed that silently stays empty.
    assert len(entries(atom(get(ds, "/watch/feed.atom?channel=")))) == 4
    assert get(ds, "/watch/feed.atom?channel=没有这个栏目").status_code == 404


def test_times_follow_the_configured_zone(channels_archive):
    path, clock = channels_archive
    second_and_third_runs(path, clock)
    root = atom(get(serve.build_datasette(path, zone="UTC"), "/watch/feed.atom"))
    assert text(root, "updated") == "2026-12-01T01:02:03+00:00"
    assert "2026-11-29 19:14" in text(entries(root)[1], "content")


def test_not_an_archive_is_404(channels_archive):
    path, _ = channels_archive
    ds = serve.build_datasette(path)

    async def check():
        ds.add_memory_database("plain")
        return [(await ds.client.get(p)).status_code for p in ("/plain/feed.atom", "/nosuchdb/feed.atom")]

    assert asyncio.run(check()) == [404, 404]


# ---------------------------------------------------------------------------- the fixture site
def test_fixture_archive_feed_has_the_change_only(tmp_path):
    # The 25 articles of the first crawl are the baseline: only the later edit is news.
    path = tmp_path / "fixture.db"
    with build_fixture_archive(path) as archive:
        run_id = archive.start_run("incremental")
        assert archive.record_article(run_id, fixture_record(GUIDE, "edited")) == "changed"
        archive.finish_run(run_id, requests=1)
    [change] = entries(atom(get(serve.build_datasette(path), "/fixture/feed.atom")))
    assert text(change, "id") == f"{TAG}{GUIDE}/v2"
    assert text(change, "title") == "修改：律师办理商品房预售合同纠纷案件业务指引"
    assert links(change)["alternate"] == f"https://www.lawyers.org.cn/info/{GUIDE}"
    assert text(change, "updated").startswith("2026-02-01T16:00:")
    assert text(change, "content").startswith(
        '<p>版本 1 → 2 · 2026-02-01 16:00</p><p class="barwatch-change"><b>第3段</b><br>'
        f"…违约金的计算一般自合同约定的交付期限届满之次日起算至实际交付之日<ins>{EDIT_TEXT}</ins>止。…</p>"
    )


def test_held_change_stays_out_until_released(tmp_path):
    path = tmp_path / "held.db"
    Archive(path).close()
    ds = serve.build_datasette(path)
    assert entries(atom(get(ds, "/held/feed.atom"))) == []
    with Archive(path, clock=stepping_clock()) as archive:
        first = archive.start_run("full")
        archive.record_article(first, fixture_record(GUIDE))
        archive.finish_run(first, 1)
        held = archive.start_run("incremental")
        archive.record_article(held, fixture_record(GUIDE, "edited"))
        archive.finish_run(held, 1)
        archive.conn.execute("UPDATE crawl_runs SET held = 'suspect' WHERE id = ?", [held])
        assert entries(atom(get(ds, "/held/feed.atom"))) == []
        archive.release(held)
    assert [text(e, "id") for e in entries(atom(get(ds, "/held/feed.atom")))] == [f"{TAG}{GUIDE}/v2"]


# ---------------------------------------------------------------------------- control characters
def test_rows_of_an_older_barwatch_with_control_characters(tmp_path):
    path = tmp_path / "evil.db"
    _store_evil_rows(path)
    with sqlite3.connect(path) as conn:
        evil_id = "cd" * 16
        conn.execute(
            "INSERT INTO channels(url_template, name, first_seen) VALUES ('t', ?, '2024-05-01T00:00:00Z')",
            [f"栏目{ESC}[1m{RLO}"],
        )
        conn.execute("UPDATE articles SET channel = 't' WHERE id = ?", [evil_id])
        conn.execute(
            "UPDATE versions SET body = ? WHERE version = 1", [f"第一段{ESC}[2J旧文{NEL}。\n第二段{NEL}{RLO}。"]
        )
        for n, (kind, version) in enumerate((("new", 1), ("changed", 2), ("removed", 2)), 1):
            conn.execute(
                "INSERT INTO alerts(article_id, kind, created_at, version) VALUES (?, ?, ?, ?)",
                [evil_id, kind, f"2024-05-0{n}T08:00:00Z", version],
            )
    response = get(serve.build_datasette(path), "/evil/feed.atom")
    for ref in ("&#27;", "&#7;", "&#133;", "&#x85;", "&#8238;", "&#x202e;", "&#x202E;"):
        assert ref not in response.text
    root = atom(response)
    assert [text(e, "title") for e in entries(root)] == [
        "删除：标题]0;pwned尾",
        "修改：标题]0;pwned尾",
        "新文章：标题]0;pwned尾",
    ]
    removed, changed, new = entries(root)
    assert links(new)["alternate"] == EVIL_URL
    assert [c.get("term") for c in new.findall(f"{A}category")] == ["栏目[1m"]
    assert "第一段[2J<del>旧</del><ins>正</ins>文。" in text(changed, "content")
    assert all(not has_control(e.text or "") for e in root.iter())


def build(alerts, channel=None, zone="Asia/Shanghai") -> ET.Element:
    body = feed.build_feed(
        alerts,
        self_url="https://example.org/barwatch/feed.atom",
        site_url="https://example.org/",
        article_url=lambda a: f"https://example.org/barwatch/-/article/{a}",
        zone=zone,
        channel=channel,
    )
    root = ET.fromstring(body)
    assert_valid_atom(root)
    return root


def test_build_feed_cleans_every_field():
    # Characters XML 1.0 cannot carry, in every field an alert brings, and in the
    # self URL (an odd query string): the document must still parse.
    dirty = "".join(CONTROLS) + "\ufffe\uffff"
    alert = pending(
        1,
        "changed",
        version=2,
        previous_version=1,
        url=url(1) + dirty,
        section="栏" + dirty,
        channel="道" + dirty,
        content={
            "title": "题" + dirty,
            "published": "2024" + dirty,
            "author": "者" + dirty,
            "source": dirty,
            "body": "新" + dirty,
        },
        previous={"title": "题", "published": "2024", "author": "者", "source": "", "body": "旧"},
    )
    root = ET.fromstring(
        feed.build_feed(
            [alert, pending(2, "new", content={**alert.content}), pending(3, "removed", content={**alert.content})],
            self_url="https://example.org/x/feed.atom?channel=" + dirty,
            site_url="https://example.org/",
            article_url=lambda a: f"https://example.org/x/-/article/{a}" + dirty,
            zone="Asia/Shanghai",
            channel="道" + dirty,
        )
    )
    for el in root.iter():
        for value in [el.text or "", *el.attrib.values()]:
            assert not has_control(value) and "\ufffe" not in value and "\uffff" not in value
    assert [text(e, "title") for e in entries(root)] == ["修改：题", "新文章：题", "删除：题"]
    assert text(root, "id") == f"{TAG}feed/{quote('道' + dirty, safe='')}"  # ids are percent-encoded


def test_build_feed_edge_cases():
    # A changed alert whose previous version is missing, an untitled article, no channel,
    # a long paragraph, and an unreadable time: an entry each, never an error.
    long = "长" * 800
    root = build(
        [
            pending(1, "changed", version=3, previous=None, content={"title": None, "body": long}),
            pending(2, "new", created_at="not a time", channel=None),
        ],
        zone="UTC",
    )
    first, second = entries(root)
    assert text(first, "title") == f"修改：{aid(1)}"
    assert text(first, "content").startswith(
        "<p>版本 ? → 3 · 2024-05-02 08:00</p><p>存档中没有上一版本，无法比较。</p>"
    )
    assert f"<p>{'长' * 499}…</p>" in text(first, "content")
    assert text(second, "updated") == "1970-01-01T00:00:00+00:00"
    assert second.find(f"{A}category") is None
    assert text(root, "updated") == "2024-05-02T08:00:00+00:00"
    # HTML in the text is text, not markup.
    [entry] = entries(build([pending(1, "new", content={"title": "<b>x</b>", "body": "<script>alert(1)</script>"})]))
    assert text(entry, "title") == "新文章：<b>x</b>"
    assert "<script>" not in text(entry, "content") and "&lt;script&gt;" in text(entry, "content")
