"""The operator's pages, as HTML from Datasette's test client: the front door at ``/``,
an article's page, the curated articles list and row pages. What a browser makes of them
(no sideways scrolling, the highlighted diff): tests/test_browser.py."""

from __future__ import annotations

import asyncio
import re
from html import unescape
from pathlib import Path

import pytest

from storage import serve
from tests.test_search import GUIDE, build_fixture_archive, fixture_record

EDIT_TEXT = "或者购房人书面通知解除合同之日"
GONE = "1362fedf6fbb63681419b0ebcf4219d9"  # 松江区律工委举办2025年青年律师执业能力提升培训班
ADDED = "1a149ada6ed3f1c6337d78a382204fdf"  # the fixture site's added article
CHANNEL = "/news/lxdt?page={page}"
EVIL_ID = "e" * 32


def run(coro):
    return asyncio.run(coro)


def build_pages_archive(path: Path) -> Path:
    """The fixture archive (a baseline, announced to nobody), then one run with an edit, a
    new article of a walked channel, a removal and an article titled with markup."""
    with build_fixture_archive(path) as archive:
        archive.add_channel(CHANNEL, "律协动态", how_found="config", first_page=1)
        run_id = archive.start_run("full")
        archive.finish_run(run_id, requests=1, walked={CHANNEL: []})  # its baseline walk
        run_id = archive.start_run("incremental")
        assert archive.record_article(run_id, fixture_record(GUIDE, "edited")) == "changed"
        assert archive.record_article(run_id, fixture_record(ADDED, "added"), channel=CHANNEL) == "new"
        archive.record_gone(run_id, GONE, f"https://www.lawyers.org.cn/info/{GONE}", 404)
        evil = {
            "id": EVIL_ID,
            "url": f"https://www.lawyers.org.cn/info/{EVIL_ID}",
            "title": "<script>alert(1)</script>标题",
            "published": "2026-02-01",
            "body": "<b>正文</b>第一段。",
        }
        assert archive.record_article(run_id, evil, channel=CHANNEL) == "new"
        archive.finish_run(run_id, requests=4)
    return path


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory) -> Path:
    return build_pages_archive(tmp_path_factory.mktemp("pages") / "fixture.db")


@pytest.fixture(scope="module")
def ds(archive_path):
    ds = serve.build_datasette(archive_path)
    run(ds.invoke_startup())
    return ds


def get(ds, path: str):
    return run(ds.client.get(path))


def text_of(html: str) -> str:
    """The visible text, tags dropped and blanks folded: what the assertions compare."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


# ---------------------------------------------------------------------------- the front door
def test_front_page_opens_with_the_search_box_then_the_latest_items(ds):
    page = get(ds, "/")
    assert page.status_code == 200
    html = page.text
    assert html.index('<input type="search" name="q"') < html.index("最新动态") < html.index("栏目状态")
    latest = html[html.index('<section class="latest"') : html.index('<section class="health"')]
    # Newest first; times in Shanghai (the stepping clock starts 2026-02-01 08:00 UTC).
    kinds = re.findall(r'<span class="kind kind-(\w+)">(\w+)</span>', latest)
    assert kinds == [("new", "新文章"), ("removed", "删除"), ("new", "新文章"), ("changed", "修改")]
    assert f'<a class="title" href="/fixture/-/article/{GUIDE}">律师办理商品房预售合同纠纷案件业务指引</a>' in latest
    assert f"<ins>{EDIT_TEXT}</ins>" in latest  # the edit, inline and trimmed
    assert "版本 1 → 2" in latest and "2026-02-01 16:00" in latest
    assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in latest and "<script>alert" not in html


def test_front_page_shows_channel_health_and_the_tables(ds):
    html = get(ds, "/").text
    health = text_of(html[html.index('<section class="health"') : html.index('<section class="tables"')])
    assert "共存档 27 篇（其中 1 篇已从网站删除）" in health
    assert "律协动态 2" in health and "正常" in health  # two live articles found on its lists
    assert 'href="/fixture/feed.atom?channel=%E5%BE%8B%E5%8D%8F%E5%8A%A8%E6%80%81"' in html
    assert "# 开始 结果 新 改 删 失败 3 2026-02-01 16:00 正常 2 1 1 0" in health  # newest run first
    for link in ("/fixture/articles", "/fixture/recent_changes", "/fixture/-/chart", "/fixture/crawl_runs"):
        assert f'href="{link}"' in html


def test_search_from_the_front_page(ds):
    html = get(ds, "/?q=失权").text
    results = html[html.index('<section class="results"') : html.index('<section class="latest"')]
    assert "共 1 篇" in text_of(results)
    links = re.findall(r'<a class="title" href="([^"]+)">([^<]+)</a>', results)
    assert links == [("/fixture/-/article/6331c7bb2c8d5e80d451f82e2f88ce96", "论股东失权制度在有限责任公司中的适用")]
    assert "<mark>失权</mark>" in results
    assert 'value="失权"' in html  # the box shows what was typed


def test_a_search_that_cannot_be_read_says_why(ds):
    html = get(ds, "/?q=OR").text
    assert 'class="message-error"' in html and "OR" in text_of(html)


def test_the_front_page_of_a_datasette_without_an_archive(tmp_path):
    import sqlite3

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.close()
    from datasette.app import Datasette

    serve._register_plugin()
    page = run(Datasette([str(other)]).client.get("/"))
    assert page.status_code == 200
    assert "No barwatch archive is being served" in page.text and 'href="/other"' in page.text


# ---------------------------------------------------------------------------- an article's page
def test_article_page_shows_the_latest_change_then_the_body_and_history(ds):
    page = get(ds, f"/fixture/-/article/{GUIDE}")
    assert page.status_code == 200
    html = page.text
    assert '<h1 class="article-title">律师办理商品房预售合同纠纷案件业务指引</h1>' in html
    meta = text_of(
        html[html.index('<p class="article-meta">') : html.index("</p>", html.index('<p class="article-meta">'))]
    )
    assert meta == "日期：2022-08-05 栏目：业务研究大厅 > 业务指引 作者：房地产业务研究委员会 阅读：3318 版本 2"
    change = html.index('<section class="latest-change"')
    assert change < html.index('<div class="body">') < html.index('<section class="history"')
    assert text_of(html[change : html.index("</h2>", change)]) == "最近修改：版本 1 → 2（ 2026-02-01 16:00 ）"
    assert (
        '<p class="barwatch-change"><b>第3段</b><br>…违约金的计算一般自合同约定的交付期限届满之次日起算至实际交付之日'
        f"<ins>{EDIT_TEXT}</ins>止。…</p>"
    ) in html
    assert (
        '<a class="live" href="https://www.lawyers.org.cn/info/d0239e3ef6a31f91855ff4659b235d23">网站原文</a>' in html
    )
    history = text_of(html[html.index('<section class="history"') :])
    assert history.startswith("历史 2026-02-01 16:00 版本 1 → 2 第3段")
    assert "2026-02-01 16:00 首次存档" in history


def test_a_removed_articles_page_says_so_and_keeps_the_text(ds):
    html = get(ds, f"/fixture/-/article/{GONE}").text
    assert "该文章已从网站删除（2026-02-01 16:00 发现）" in text_of(html)
    assert 'class="live"' not in html  # the live link is dead: not offered
    assert "<p>为进一步提升青年律师的执业能力和职业素养，12月12日，松江区律师工作委员会" in html
    assert "从网站删除（404/410）" in text_of(html[html.index('<section class="history"') :])


def test_article_page_escapes_what_the_site_sent(ds):
    html = get(ds, f"/fixture/-/article/{EVIL_ID}").text
    assert "<script>alert" not in html and "<b>正文" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in html and "&lt;b&gt;正文&lt;/b&gt;第一段。" in html


@pytest.mark.parametrize(
    "path", ["/fixture/-/article/" + "0" * 32, "/fixture/-/article/nothex", "/nodb/-/article/" + GUIDE]
)
def test_unknown_articles_are_404(ds, path):
    assert get(ds, path).status_code == 404


# ---------------------------------------------------------------------------- tables
def test_articles_list_opens_with_date_channel_title_status(ds):
    html = get(ds, "/fixture/articles").text
    table = html[html.index('<table class="rows-and-columns barwatch-articles">') : html.index("</table>")]
    headers = re.findall(r'<th class="col-(\w+)"', table)
    assert headers == ["published", "section", "title", "status", "version", "last_changed"]
    assert f'<a href="/fixture/-/article/{GUIDE}">律师办理商品房预售合同纠纷案件业务指引</a>' in table
    assert '<span class="barwatch-time" title="2026-02-01T08:00' in table  # UTC kept as the tooltip
    assert "显示全部列" in html
    # The column notes are under the table, folded; asking for columns gives Datasette's own.
    assert html.index("</table>") < html.index('<details class="barwatch-columns">')
    own = get(ds, "/fixture/articles?_nocol=body").text
    assert "barwatch-articles" not in own and 'class="col-content_hash' in own


def test_row_page_lists_columns_one_under_another(ds):
    html = get(ds, f"/fixture/articles/{GUIDE}").text
    assert '<dl class="barwatch-row">' in html
    assert re.search(r"<dt>body</dt><dd class=\"col-body\">第一条", html)
