"""The one place a crawl's outcomes reach the archive.

Each item is one call to the storage API, which is one short transaction: a crash or a
SIGTERM between items loses nothing already written and leaves nothing half-written.
"""
from __future__ import annotations

import logging

from scrapy import signals

from crawler.session import archive_for
from storage.lock import CrawlLock

logger = logging.getLogger(__name__)


class ArchivePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.run_id: int | None = None
        self.lock: CrawlLock | None = None

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler)
        if not crawler.settings.getbool("BARWATCH_LOCK_HELD"):
            # `scrapy crawl lawyers` excludes other crawls too; barwatch crawl has already
            # taken the lock (and printed who holds it if it could not).
            pipeline.lock = CrawlLock(crawler.settings.get("BARWATCH_DB")).acquire("scrapy crawl lawyers")
        # The run is closed on spider_closed, not in close_spider: only the signal carries
        # the finish reason (finished, shutdown on SIGTERM, an exception).
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def archive(self):
        return archive_for(self.crawler)

    def open_spider(self, spider=None):
        spider = spider or self.crawler.spider
        self.run_id = self.archive.start_run(spider.mode)
        self.crawler.stats.set_value("barwatch/run_id", self.run_id)

    def process_item(self, item, spider=None):
        kind = item["kind"]
        archive = self.archive
        if kind == "article":
            outcome = archive.record_article(self.run_id, item["record"], item.get("etag"), item.get("last_modified"))
            if outcome == "failed":
                logger.warning("extraction failure on %s: kept the stored version", item["record"]["url"])
        elif kind == "not_modified":
            outcome = archive.record_not_modified(self.run_id, item["id"])
        elif kind == "gone":
            outcome = archive.record_gone(self.run_id, item["id"], item["url"], item["status"])
        elif kind == "failure":
            archive.record_failure(self.run_id, item["url"], item["failure"], item["message"], item.get("id"))
            outcome = "failed"
        else:  # a programming error, not a site problem
            raise ValueError(f"unknown item kind {kind!r}")
        self.crawler.stats.inc_value(f"barwatch/{outcome}")
        return item

    def spider_closed(self, spider, reason):
        if self.run_id is None:
            return
        stats = self.crawler.stats
        requests = stats.get_value("downloader/request_count", 0)
        status = None if reason in (None, "finished") else "interrupted"
        run = self.archive.finish_run(self.run_id, requests=requests, status=status, note=None if status is None else f"finish reason: {reason}")
        stats.set_value("barwatch/run", run)
        self.archive.close()
        if self.lock is not None:
            self.lock.release()
