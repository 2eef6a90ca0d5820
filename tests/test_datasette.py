"""The archive in Datasette: metadata, Chinese search box, canned queries, month facet,
and reading while the crawler writes. The Atom feed: tests/test_feed.py; the chart:
tests/test_chart.py."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from storage import serve
from storage.archive import Archive
from storage.schema import TABLES
from tests.test_search import GUIDE, MIRROR, build_fixture_archive, fixture_record, fixture_records

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
        "search",
        "new_articles",
        "recent_changes",
        "article_history",
        "articles_per_month",
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
        await db.execute_write('create virtual table docs_fts using fts5(text, content="docs", content_rowid=id)')
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
    assert "+第七条【逾期交房】" in rows[0]["diff"]  # the data keeps the stored unified diff
    page = get(ds, "/fixture/recent_changes")
    # The page shows the sentence around the change, character-level, under its label.
    assert (
        '<div class="barwatch-diff"><p class="barwatch-change"><b>第3段</b><br>'
        "…违约金的计算一般自合同约定的交付期限届满之次日起算至实际交付之日"
        f"<ins>{EDIT_TEXT}</ins>止。…</p></div>"
    ) in page.text
    # The title opens the article's page; the time is Shanghai's, the UTC value its tooltip.
    assert f'<a href="/fixture/-/article/{GUIDE}">律师办理商品房预售合同纠纷案件业务指引</a>' in page.text
    stamp = rows[0]["fetched_at"]
    assert f'<span class="barwatch-time" title="{stamp} UTC">' in page.text
    # hide_sql: the query is not on the page, not even in its title.
    assert "select v.fetched_at" not in page.text
    assert "<title>最近修改 Recent changes · fixture</title>" in page.text


def test_article_history_by_id_prefix(ds):
    rows = get(ds, f"/fixture/article_history.json?id={GUIDE[:8]}&_shape=array").json()
    assert [r["version"] for r in rows] == [1, 2]
    assert rows[0]["diff"] is None and EDIT_TEXT in rows[1]["diff"]
    assert get(ds, "/fixture/article_history.json?id=d0&_shape=array").json() == []  # too short to guess


def test_diff_cells_of_any_query_are_escaped_and_marked(ds):
    # A query with a diff column but no article_id/version: the stored text is all there is.
    sql = "select '--- a' || char(10) || '-title: <b>旧</b>' || char(10) || '+title: <script>新</script>' || char(10) || '-甲乙丙' || char(10) || '+甲丁丙' as diff"
    page = get(ds, "/fixture?" + urllib.parse.urlencode({"sql": sql}))
    assert "<script>新" not in page.text and "<b>旧" not in page.text
    assert (
        '<div class="barwatch-diff"><p class="barwatch-change"><b>标题</b><br>'
        "&lt;<del>b</del><ins>script</ins>&gt;<del>旧</del><ins>新</ins>&lt;/<del>b</del><ins>script</ins>&gt;</p>\n"
        '<p class="barwatch-change"><b>正文</b><br>甲<del>乙</del><ins>丁</ins>丙</p></div>'
    ) in page.text


# ---------------------------------------------------------------------------- facet
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
            for p in (
                "/live/articles.json?_shape=array&_size=max",
                "/live/articles.json?_search=律工委&_shape=array&_size=max",
            ):
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
