"""Politeness by default, back-off on retries, progress output, and `scrapy crawl lawyers`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import scrapy
from scrapy.settings import Settings

from crawler.config import load_config
from crawler.middlewares import BackoffDelayMiddleware, BackoffRetryMiddleware
from crawler.progress import progress_text
from crawler.runner import crawl_settings
from fixtures.server import FixtureSite
from storage.archive import Archive
from tests.crawling import FIXTURE_CONFIG, ROOT


def test_default_settings_are_polite(tmp_path):
    s = crawl_settings(load_config(), tmp_path / "a.db", "incremental")
    assert s.getbool("ROBOTSTXT_OBEY") is True
    assert (s.getint("CONCURRENT_REQUESTS"), s.getint("CONCURRENT_REQUESTS_PER_DOMAIN")) == (1, 1)
    assert s.getfloat("DOWNLOAD_DELAY") == 1.0
    assert s.getbool("AUTOTHROTTLE_ENABLED") is True
    assert s.getint("RETRY_TIMES") == 3
    assert s.getbool("HTTPCACHE_ENABLED") is False
    assert s.get("USER_AGENT").startswith("barwatch/")
    assert s.getbool("REMOTE_CONTROL_ENABLED") is False


def test_fixture_config_turns_the_delay_off(tmp_path):
    s = crawl_settings(load_config(FIXTURE_CONFIG), tmp_path / "a.db", "full")
    assert (s.getfloat("DOWNLOAD_DELAY"), s.getbool("AUTOTHROTTLE_ENABLED")) == (0.0, False)


class FakeCrawler:
    def __init__(self, settings):
        self.settings = settings
        self.spider = scrapy.Spider("t")
        self.spider.crawler = self
        from scrapy.statscollectors import MemoryStatsCollector

        self.stats = MemoryStatsCollector(self)


def test_retries_back_off_exponentially():
    settings = Settings({"RETRY_ENABLED": True, "RETRY_TIMES": 3, "BARWATCH_RETRY_BACKOFF": 2.0})
    mw = BackoffRetryMiddleware.from_crawler(FakeCrawler(settings))
    request = scrapy.Request("https://www.lawyers.org.cn/info/" + "0" * 32)
    delays = []
    for _ in range(4):
        response = scrapy.http.Response(request.url, status=503, request=request)
        retried = mw.process_response(request, response)
        if not isinstance(retried, scrapy.Request):
            break
        delays.append(retried.meta["barwatch_backoff"])
        request = retried
    assert delays == [2.0, 4.0, 8.0]  # then it gives up: the response goes to the errback


def test_backoff_delay_sleeps_before_the_retry():
    request = scrapy.Request("https://www.lawyers.org.cn/", meta={"barwatch_backoff": 0.2})
    start = time.monotonic()
    assert asyncio.run(BackoffDelayMiddleware().process_request(request)) is None
    assert time.monotonic() - start >= 0.2
    assert "barwatch_backoff" not in request.meta  # slept once, not again on a redirect


def test_progress_text():
    stats = {
        "response_received_count": 12,
        "barwatch/new": 5,
        "barwatch/changed": 1,
        "barwatch/unchanged": 2,
        "barwatch/failed": 1,
    }
    assert progress_text(stats) == (
        "pages fetched 12 · articles stored 8 (new 5, changed 1, unchanged 2, removed 0) · errors 1"
    )


def test_scrapy_crawl_from_the_project_root(tmp_path):
    db = tmp_path / "s.db"
    with FixtureSite() as site:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "lawyers",
                "-s",
                f"BARWATCH_DB={db}",
                "-s",
                f"BARWATCH_CONFIG={FIXTURE_CONFIG}",
                "-s",
                f"BARWATCH_BASE_URL={site.base_url}",
                "-s",
                "LOG_LEVEL=WARNING",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    with Archive(db) as archive:
        run = archive.runs()[0]
        assert (run["mode"], run["status"], run["new"], run["failed"]) == ("incremental", "ok", 24, 0)
