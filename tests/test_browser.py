"""The Datasette front end in a real browser (Debian's chromium driven by Playwright).

``serve()`` runs in a subprocess on a free 127.0.0.1 port over an archive built from the
fixture records, with one edited article so a version 2 exists. Screenshots go to /tmp.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from storage.archive import Archive
from tests.test_search import GUIDE, build_fixture_archive, fixture_record

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
EDIT_TEXT = "或者购房人书面通知解除合同之日"
SHOTS = Path("/tmp")

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); in CI this test must run", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (after the skip on purpose)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve() exited with {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"serve() did not answer {url} within {timeout}s: {log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    path = folder / "fixture.db"
    with build_fixture_archive(path) as archive:
        run_id = archive.start_run("incremental")
        assert archive.record_article(run_id, fixture_record(GUIDE, "edited")) == "changed"
        archive.finish_run(run_id, requests=1)
    port = free_port()
    log = folder / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", f"from storage.serve import serve; serve({str(path)!r}, port={port})"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/-/versions.json", proc, log)
        yield base, path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
            timeout=60_000,
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            pg = context.new_page()
            pg.set_default_timeout(15_000)
            pg.set_default_navigation_timeout(30_000)
            yield pg
        finally:
            browser.close()


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
    page.screenshot(path=str(SHOTS / "barwatch-search.png"), full_page=True)


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
    diff = page.locator("pre.barwatch-diff").first
    expect(diff).to_be_visible()
    expect(diff.locator("ins")).to_have_text(EDIT_TEXT)
    expect(page.locator("td.col-title").first).to_have_text("律师办理商品房预售合同纠纷案件业务指引")
    page.screenshot(path=str(SHOTS / "barwatch-changes.png"), full_page=True)


def test_new_rows_appear_without_restarting(server, page):
    base, path = server
    with Archive(path) as archive:  # the crawler writes while Datasette serves
        run_id = archive.start_run("incremental")
        archive.record_article(run_id, fixture_record("1a149ada6ed3f1c6337d78a382204fdf", "added"))
        archive.finish_run(run_id, requests=1)
    page.goto(f"{base}/fixture/search?q=理事会")
    expect(page.locator("td.col-title").first).to_have_text("上海市律师协会第十二届理事会第五次会议召开")


def test_chart_is_drawn(server, page):
    base, _ = server
    page.goto(f"{base}/fixture/-/chart")
    chart = page.locator("svg.barwatch-chart")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    assert page.locator("svg.barwatch-chart rect.bar").count() >= 22
    page.screenshot(path=str(SHOTS / "barwatch-chart.png"), full_page=True)
