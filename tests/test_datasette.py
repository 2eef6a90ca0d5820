"""The archive in Datasette: metadata, Chinese search box, canned queries, Atom feed,
month facet, chart, and reading while the crawler writes."""
from __future__ import annotations

import asyncio
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from storage import datasette_plugin, serve
from storage.datasette_plugin import chart
from storage.archive import Archive
from storage.schema import TABLES
from tests.test_search import GUIDE, MIRROR, build_fixture_archive, fixture_record, fixture_records, stepping_clock

ATOM = "{http://www.w3.org/2005/Atom}"
EDIT_TEXT = "或者购房人书面通知解除合同之日"
LAOGONGWEI = {  # the four articles that contain 律工委
    "1362fedf6fbb63681419b0ebcf4219d9",
    "2f1b2bc85299f52b4ef92839ed3772ff",
    "6ec2d53345a6900be3354d6f5c65c5bc",
    "7a065150ad9d18091b07b2b340893c4d",
}


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory) -> Path:
    """The fixture archive after a second run that edited one guide (so a version 2 exists)."""
    path = tmp_path_factory.mktemp("ds") / "fixture.db"
    with build_fixture_archive(path) as archive:
        run_id = archive.start_run("incremental")
        assert archive.record_article(run_id, fixture_record(GUIDE, "edited")) == "changed"
        archive.finish_run(run_id, requests=1)
    return path


@pytest.fixture(scope="module")
def ds(archive_path):
    ds = serve.build_datasette(archive_path)
    run(ds.invoke_startup())
    return ds


async def fetch(ds, *paths):
    return [await ds.client.get(p) for p in paths]


def get(ds, path):
    [response] = run(fetch(ds, path))
    return response


# ---------------------------------------------------------------------------- metadata
def test_every_table_and_column_is_described():
    meta = serve.build_metadata("fixture")
    tables = meta["databases"]["fixture"]["tables"]
    for name, (columns, _) in TABLES.items():
        assert tables[name]["title"] and tables[name]["description"], name
        described = tables[name]["columns"]
        assert set(described) == set(columns), f"{name}: {set(columns) ^ set(described)}"
        assert all(described.values())
    assert tables["articles"]["fts_table"] == "articles_fts"
    assert set(meta["databases"]["fixture"]["queries"]) == {
        "search", "new_articles", "recent_changes", "article_history", "feed", "articles_per_month",
    }


def test_metadata_is_served(ds):
    data = get(ds, "/-/metadata.json").json()
    assert data["databases"]["fixture"]["tables"]["articles"]["facets"] == ["section", {"month": "published"}, "status"]
    page = get(ds, "/fixture/articles")
    assert "Articles · 文章" in page.text
    assert "Body text, one paragraph a line" in page.text  # column descriptions are shown


def test_search_index_plumbing_is_hidden(ds):
    tables = {t["name"]: t for t in get(ds, "/fixture.json").json()["tables"]}
    assert tables["articles_fts"]["hidden"] is True
    assert tables["articles"]["hidden"] is False


# ---------------------------------------------------------------------------- the search box
def test_search_box_does_chinese_search_and_shows_what_was_typed(ds):
    page = get(ds, "/fixture/articles?_search=律工委")
    assert page.status_code == 200
    assert '<input id="_search" type="search" name="_search" value="律工委">' in page.text
    assert "松江区律工委举办2025年青年律师执业能力提升培训班" in page.text
    data = get(ds, "/fixture/articles.json?_search=律工委&_shape=array&_col=title").json()
    assert {row["id"] for row in data} == LAOGONGWEI


@pytest.mark.parametrize(
    "query,expected",
    [
        ("疫情", {MIRROR}),  # two characters, in the traditional copy only
        ("宝山区", {MIRROR}),  # simplified query, 寶山區 on the page
        ("失权", {"6331c7bb2c8d5e80d451f82e2f88ce96"}),
        ("仲裁 执行", {"a7eb77026df62b38502ca4fd05471e49"}),
        ("pdf", {"d79b107587527f3052174498a026170e", "ec8bc83555479a532d0d7cabed4feff3"}),
        ("区块链", set()),
        ("，。", set()),  # nothing searchable: no rows, not an error page
    ],
)
def test_search_box_queries(ds, query, expected):
    response = get(ds, f"/fixture/articles.json?_search={query}&_shape=array")
    assert response.status_code == 200
    assert {row["id"] for row in response.json()} == expected


def test_other_databases_keep_datasettes_own_search():
    # The escape_fts override is for barwatch archives only: an ordinary FTS table in
    # another database still searches with Datasette's escaping.
    from datasette.app import Datasette

    ds = Datasette(memory=False, settings=serve.SETTINGS)

    async def check():
        db = ds.add_memory_database("plain")
        await db.execute_write("create table docs (id integer primary key, text text)")
        await db.execute_write("insert into docs (text) values ('hello world'), ('other text')")
        await db.execute_write("create virtual table docs_fts using fts5(text, content=\"docs\", content_rowid=id)")
        await db.execute_write("insert into docs_fts(docs_fts) values ('rebuild')")
        await ds.invoke_startup()
        return await ds.client.get("/plain/docs.json?_search=hello&_shape=array")

    response = run(check())
    assert response.status_code == 200
    assert [row["text"] for row in response.json()] == ["hello world"]


# ---------------------------------------------------------------------------- canned queries
def test_canned_search_ranks_and_marks(ds):
    rows = get(ds, "/fixture/search.json?q=仲裁&_shape=array").json()
    assert rows[0]["id"] == "a7eb77026df62b38502ca4fd05471e49"
    assert len(rows) == 5
    assert "【仲裁】" in rows[0]["snippet"]
    assert get(ds, "/fixture/search.json?q=&_shape=array").json() == []
    page = get(ds, "/fixture/search?q=宝山区")
    assert page.status_code == 200
    assert "【寶山區(qū)】" in page.text


def test_new_articles_newest_first(ds):
    rows = get(ds, "/fixture/new_articles.json?_shape=array").json()
    recorded = [r["id"] for r in fixture_records()]
    assert [r["id"] for r in rows] == list(reversed(recorded))


def test_recent_changes_show_the_diff(ds):
    rows = get(ds, "/fixture/recent_changes.json?_shape=array").json()
    assert [(r["article_id"], r["version"]) for r in rows] == [(GUIDE, 2)]
    assert "+第七条【逾期交房】" in rows[0]["diff"]
    page = get(ds, "/fixture/recent_changes")
    ins = f'<ins style="background:#d8f5d8;color:#064006;text-decoration:none">{EDIT_TEXT}</ins>'
    assert ins in page.text


def test_article_history_by_id_prefix(ds):
    rows = get(ds, f"/fixture/article_history.json?id={GUIDE[:8]}&_shape=array").json()
    assert [r["version"] for r in rows] == [1, 2]
    assert rows[0]["diff"] is None and EDIT_TEXT in rows[1]["diff"]
    assert get(ds, "/fixture/article_history.json?id=d0&_shape=array").json() == []  # too short to guess


def test_diff_cells_are_escaped_and_marked():
    removed_only = datasette_plugin.render_diff_html("--- a\n+++ b\n-<b>旧</b>\n 中间\n+<script>新</script>")
    assert "<script>" not in removed_only and "<b>" not in removed_only
    assert '<span style="background:#ffe0e0;color:#8b0000;text-decoration:line-through">-&lt;b&gt;旧&lt;/b&gt;</span>' in removed_only
    assert '<span style="background:#d8f5d8;color:#064006;text-decoration:none">+&lt;script&gt;新&lt;/script&gt;</span>' in removed_only
    # A removed line followed by an added one is one edited paragraph: marked per character.
    paired = datasette_plugin.render_diff_html("-甲乙丙\n+甲丁丙")
    assert paired == (
        '<pre class="barwatch-diff" style="white-space:pre-wrap;max-width:60em;margin:0">'
        '<span style="color:#8b0000">-甲<del style="background:#ffe0e0;color:#8b0000;text-decoration:line-through">乙</del>丙</span>\n'
        '<span style="color:#064006">+甲<ins style="background:#d8f5d8;color:#064006;text-decoration:none">丁</ins>丙</span></pre>'
    )


# ---------------------------------------------------------------------------- Atom feed
def test_atom_feed_is_valid_and_lists_new_and_changed(ds):
    response = get(ds, "/fixture/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.find(f"{ATOM}title").text == "barwatch: new and changed articles"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 26  # 25 new articles and one change
    by_id = {e.find(f"{ATOM}id").text: e for e in entries}
    change = by_id[f"urn:barwatch:{GUIDE}:v2"]
    assert change.find(f"{ATOM}title").text == "修改 Changed (v2): 律师办理商品房预售合同纠纷案件业务指引"
    assert change.find(f"{ATOM}link").get("href") == f"https://www.lawyers.org.cn/info/{GUIDE}"
    assert EDIT_TEXT in change.find(f"{ATOM}content").text
    assert change.find(f"{ATOM}updated").text.startswith("2026-02-01T08:00:")


def test_atom_feed_of_an_empty_archive_and_held_changes(tmp_path):
    path = tmp_path / "empty.db"
    Archive(path).close()
    ds = serve.build_datasette(path)
    [empty] = run(fetch(ds, "/empty/feed.atom"))
    assert empty.status_code == 200
    assert [e.find(f"{ATOM}id").text for e in ET.fromstring(empty.content).findall(f"{ATOM}entry")] == ["urn:barwatch:empty"]
    # A change found by a run held as suspect stays out of the feed until released.
    with Archive(path, clock=stepping_clock()) as archive:
        first = archive.start_run("full")
        archive.record_article(first, fixture_record(GUIDE))
        archive.finish_run(first, 1)
        held = archive.start_run("incremental")
        archive.record_article(held, fixture_record(GUIDE, "edited"))
        archive.finish_run(held, 1)
        archive.conn.execute("UPDATE crawl_runs SET held = 'suspect' WHERE id = ?", [held])
    [feed] = run(fetch(ds, "/empty/feed.atom"))
    assert [e.find(f"{ATOM}id").text for e in ET.fromstring(feed.content).findall(f"{ATOM}entry")] == [
        f"urn:barwatch:{GUIDE}:v1"
    ]


# ---------------------------------------------------------------------------- facet and chart
def test_month_facet(ds):
    data = get(ds, "/fixture/articles.json").json()
    months = data["facet_results"]["published"]
    assert months["type"] == "month"
    assert [(v["value"], v["count"]) for v in months["results"][:3]] == [("2026-01", 1), ("2025-12", 1), ("2025-11", 1)]
    assert "published__startswith=2025-06" in months["results"][5]["toggle_url"]
    picked = get(ds, "/fixture/articles.json?published__startswith=2025-06&_shape=array").json()
    assert [r["id"] for r in picked] == ["ec8bc83555479a532d0d7cabed4feff3"]
    sections = {v["value"]: v["count"] for v in data["facet_results"]["section"]["results"]}
    assert sections["业务研究大厅 > 业务指引"] == 5


def test_chart_page(ds):
    page = get(ds, "/fixture/-/chart")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script" not in page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'data-month="2025-06" data-section="业务研究大厅 &gt; 业务指引" data-count="1"' in page.text
    # 22 dated articles, no two in the same month, and the 3 magazine articles dated by the
    # issue they name (2022年第05期, two of 第06期: one bar a month and section).
    assert page.text.count('<rect class="bar"') == 24
    assert 'data-month="2022-06" data-section="律师文化 &gt; 上海律师 &gt; 2022 &gt; 2022年第06期" data-count="2"' in page.text
    # The traditional mirror copy (律協(xié)動(dòng)態(tài)) is counted with its simplified channel.
    assert 'data-month="2020-04" data-section="行业资讯 &gt; 律协动态" data-count="1"' in page.text
    assert ">律协动态 (8)</text>" in page.text
    assert get(ds, "/nosuchdb/-/chart").status_code == 404


def test_chart_svg_fills_gaps_and_groups_small_sections():
    rows = [("2024-11", "甲", 2), ("2025-01", "乙", 1), ("2025-01", "丙", 1)]
    svg = chart.chart_svg(rows, max_sections=2)
    # With room for two colours, 甲 keeps its own and 乙 and 丙 share 其他 (one bar segment).
    assert svg.count('class="bar"') == 2
    assert 'data-month="2025-01" data-section="其他 (other)" data-count="2"' in svg
    assert ">2024-12</text>" in svg  # an empty month still gets its place on the axis
    assert chart.chart_svg([]).startswith("<p")


# ---------------------------------------------------------------------------- reading while writing
def test_serving_while_the_archive_is_written(tmp_path):
    path = tmp_path / "live.db"
    Archive(path).close()
    ds = serve.build_datasette(path)
    total = 60
    errors: list[BaseException] = []
    started = threading.Event()

    def writer():
        try:
            with Archive(path) as archive:
                run_id = archive.start_run("full")
                started.set()
                for n in range(total):
                    aid = f"{n:032x}"
                    archive.record_article(
                        run_id,
                        {
                            "id": aid,
                            "url": f"https://www.lawyers.org.cn/info/{aid}",
                            "section": "行业资讯 > 律协动态",
                            "title": f"第{n}号通知 律工委",
                            "published": f"2025-{1 + n % 12:02d}-01",
                            "body": "松江区律师工作委员会召开会议。" * 20,
                        },
                    )
                    time.sleep(0.005)  # a crawler writes one page at a time
                archive.finish_run(run_id, total)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            started.set()

    async def reader():
        seen, statuses = [], []
        thread = threading.Thread(target=writer)
        thread.start()
        started.wait(timeout=30)
        while thread.is_alive():
            for p in ("/live/articles.json?_shape=array&_size=max", "/live/articles.json?_search=律工委&_shape=array&_size=max"):
                response = await ds.client.get(p)
                statuses.append(response.status_code)
                if response.status_code == 200 and "_search" not in p:
                    seen.append(len(response.json()))
            await asyncio.sleep(0.01)
        thread.join(timeout=60)
        final = await ds.client.get("/live/articles.json?_search=律工委&_shape=array&_size=max")
        return seen, statuses, final

    seen, statuses, final = run(reader())
    assert errors == []
    assert set(statuses) == {200}
    assert len(seen) >= 2 and seen == sorted(seen)  # rows appear while the crawl runs
    assert seen[0] < total
    assert len(final.json()) == total
