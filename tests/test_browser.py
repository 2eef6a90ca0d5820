"""What an operator sees, in a real browser: Debian's chromium driven by Playwright.

``serve()`` runs in a subprocess on a free 127.0.0.1 port over the archive of
tests/test_pages.py (a baseline, then an edit, a new article, a removal). Chinese text
needs fonts-noto-cjk installed; without it every character is a box, and the widths
measured here would be a box's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixtures.datasette import serving
from storage.archive import Archive
from tests.test_pages import EDIT_TEXT, GUIDE, build_pages_archive
from tests.test_search import fixture_record

CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); in CI this test must run", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (after the skip on purpose)

# Every element whose content is wider than its box by more than 4 px: a page that scrolls
# sideways, a table wrapper that does, or text spilling out of its cell. Elements with
# nothing laid out (display: none, inline) report 0 and 0.
OVERFLOWING = """() => [...document.querySelectorAll('*')]
  .filter(el => el.scrollWidth > el.clientWidth + 4)
  .map(el => `${el.tagName.toLowerCase()}.${el.className} ${el.scrollWidth}>${el.clientWidth}`)"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    path = build_pages_archive(folder / "fixture.db")
    with serving(path, folder / "serve.log") as base:
        yield base, path


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            timeout=60_000,
        )
        try:
            yield b
        finally:
            b.close()


def new_page(browser, width: int, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.set_default_navigation_timeout(30_000)
    return pg


@pytest.fixture(scope="module")
def page(browser):
    pg = new_page(browser, 1280)
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def phone(browser):
    pg = new_page(browser, 390, 844)
    yield pg
    pg.context.close()


# ---------------------------------------------------------------------------- the front door
def test_search_from_the_front_page_opens_the_article(server, page):
    base, _ = server
    page.goto(f"{base}/")
    box = page.locator("input#q")
    expect(box).to_be_focused()  # the search box comes first and takes the keyboard
    box.fill("失权")
    box.press("Enter")
    page.wait_for_url("**/?q=*")
    results = page.locator("section.results ol.results > li")
    expect(results).to_have_count(1)
    results.first.locator("a.title").click()
    page.wait_for_url("**/-/article/6331c7bb2c8d5e80d451f82e2f88ce96")
    expect(page.locator("h1.article-title")).to_have_text("论股东失权制度在有限责任公司中的适用")
    expect(page.locator(".body p").first).to_be_visible()


def test_a_changed_articles_page_shows_its_diff_highlighted_in_the_first_screen(server, page):
    base, _ = server
    page.goto(f"{base}/fixture/-/article/{GUIDE}")
    inserted = page.locator("section.latest-change ins")
    expect(inserted).to_have_text(EDIT_TEXT)
    box = inserted.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900  # no scrolling to find it
    background = inserted.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/?q=律师",
        "/fixture/articles",
        f"/fixture/-/article/{GUIDE}",
        "/fixture/recent_changes",
        "/fixture/-/chart",
    ],
)
def test_nothing_scrolls_sideways_at_1280(server, page, path):
    base, _ = server
    page.goto(base + path)
    assert page.evaluate(OVERFLOWING) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


@pytest.mark.parametrize("path", ["/", "/?q=律师", f"/fixture/-/article/{GUIDE}"])
def test_front_page_and_article_page_work_on_a_phone(server, phone, path):
    base, _ = server
    phone.goto(base + path)
    assert phone.evaluate(OVERFLOWING) == []
    box = phone.locator("input#q" if not path.startswith("/fixture") else "h1.article-title").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_dates_do_not_wrap(server, page):
    base, _ = server
    page.goto(f"{base}/fixture/articles")
    # One line box per date: a date that wraps (2025-12- / 16) has two.
    lines = page.locator(
        "table.barwatch-articles td.col-published, table.barwatch-articles td.col-last_changed"
    ).evaluate_all(
        """cells => cells.map(c => { const r = document.createRange(); r.selectNodeContents(c);
             return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })"""
    )
    assert len(lines) == 2 * 27 and set(lines) == {1}


def test_chart_fits_its_container(server, page, phone):
    base, _ = server
    for pg, width in ((page, 1280), (phone, 390)):
        pg.goto(f"{base}/fixture/-/chart")
        chart = pg.locator("svg.barwatch-chart")
        expect(chart).to_be_visible()
        svg, wrap = chart.bounding_box(), pg.locator(".barwatch-chart-wrap").bounding_box()
        last = pg.locator("svg.barwatch-chart rect.bar").last.bounding_box()
        assert svg["x"] + svg["width"] <= wrap["x"] + wrap["width"] + 0.5, width
        assert last["x"] + last["width"] <= wrap["x"] + wrap["width"] + 0.5, width
        assert pg.locator("svg.barwatch-chart rect.bar").count() >= 22


# ---------------------------------------------------------------------------- Datasette's own pages
def test_search_box_finds_a_two_character_query(server, page):
    base, _ = server
    page.goto(f"{base}/fixture/articles")
    box = page.locator("input#_search")
    box.fill("失权")
    box.press("Enter")
    page.wait_for_url("**_search=*", timeout=15_000)
    rows = page.locator("table.rows-and-columns tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.col-title")).to_have_text("论股东失权制度在有限责任公司中的适用")
    expect(page.locator("input#_search")).to_have_value("失权")  # the box shows what was typed


def test_search_box_finds_the_traditional_copy(server, page):
    base, _ = server
    page.goto(f"{base}/fixture/articles")
    page.locator("input#_search").fill("宝山")
    page.locator("input#_search").press("Enter")
    page.wait_for_url("**_search=*", timeout=15_000)
    rows = page.locator("table.rows-and-columns tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.col-title")).to_contain_text("寶山區(qū)律師行業(yè)黨委")


def test_recent_changes_show_the_diff(server, page):
    base, _ = server
    page.goto(f"{base}/fixture/recent_changes")
    diff = page.locator("div.barwatch-diff").first
    expect(diff).to_be_visible()
    expect(diff.locator("ins")).to_have_text(EDIT_TEXT)
    expect(page.locator("td.col-title a").first).to_have_text("律师办理商品房预售合同纠纷案件业务指引")
    expect(page.locator("pre.wrapped-sql, textarea#sql-editor")).to_have_count(0)  # the SQL is hidden


def test_new_rows_appear_without_restarting(server, page):
    base, path = server
    with Archive(path) as archive:  # the crawler writes while Datasette serves
        run_id = archive.start_run("incremental")
        edited = fixture_record(GUIDE, "edited")
        edited["title"] = edited["title"] + "（修订）"
        assert archive.record_article(run_id, edited) == "changed"
        archive.finish_run(run_id, requests=1)
    page.goto(f"{base}/")
    expect(page.locator("section.latest li a.title").first).to_have_text(
        "律师办理商品房预售合同纠纷案件业务指引（修订）"
    )
