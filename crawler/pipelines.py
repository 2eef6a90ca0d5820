"""The one place a crawl's outcomes reach the archive.

Each item is one call to the storage API, which is one transaction: a crash or a SIGTERM
between items loses nothing already written and leaves nothing half-written. A storage
error (disk full, I/O error) is not a page problem: it stops the crawl at once, and the
run is closed as ``failed`` with the error in its note (if the disk lets even that be
written; if not, the summary still says it and the next run closes this one as
interrupted).
"""

from __future__ import annotations

import contextlib
import logging

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro

from crawler.session import archive_for
from storage.archive import StorageError
from storage.lock import CrawlLock
from storage.record import ArticleRecord

logger = logging.getLogger(__name__)


class ArchivePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.run_id: int | None = None
        self.lock: CrawlLock | None = None
        self.storage_error: str | None = None

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
        channels = [(s.list_url, s.name) for s in spider.config.sections if s.enabled]
        self.run_id = self.archive.start_run(spider.mode, channels)
        self.crawler.stats.set_value("barwatch/run_id", self.run_id)

    def process_item(self, item, spider=None):
        if self.storage_error is not None:
            return item  # the crawl is closing; already logged once (DropItem would log each body)
        try:
            outcome = self._store(item)
        except StorageError as exc:
            self.storage_error = str(exc)
            logger.error("storage error, stopping the crawl: %s", exc)
            with contextlib.suppress(StorageError):  # a small row may still fit where a page did not
                self.archive.record_failure(self.run_id, _url(item), "storage", str(exc), _id(item))
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="storage_error"))
            return item
        self.crawler.stats.inc_value(f"barwatch/{outcome}")
        return item

    def _store(self, item) -> str:
        kind = item["kind"]
        archive = self.archive
        if kind == "article":
            record: ArticleRecord = item["record"]
            outcome = archive.record_article(
                self.run_id,
                record,
                item.get("etag"),
                item.get("last_modified"),
                channel=item.get("channel"),
                list_date=item.get("list_date"),
            )
            if outcome == "failed":
                logger.warning("not stored: %s (see `barwatch runs`)", record["url"])
            return outcome
        if kind == "not_modified":
            return archive.record_not_modified(self.run_id, item["id"])
        if kind == "gone":
            return archive.record_gone(self.run_id, item["id"], item["url"], item["status"])
        if kind == "failure":
            archive.record_failure(self.run_id, item["url"], item["failure"], item["message"], item.get("id"))
            return "failed"
        if kind == "candidate":
            archive.record_candidate(
                item["url"],
                item["page_kind"],
                how=item.get("how"),
                text=item.get("text"),
                found_on=item.get("found_on"),
                depth=item.get("depth", 0),
                channel=item.get("channel"),
                note=item.get("note"),
                recheck_days=self.crawler.spider.config.discovery.recheck_days,
            )
            return "candidate"
        if kind == "channel":
            if archive.add_channel(
                item["template"],
                item["name"],
                how_found=item["how_found"],
                first_page=item["first_page"],
                found_on=item["found_on"],
                first_url=item["first_url"],
                js_pager=item["js_pager"],
            ):
                logger.info(
                    "discovered channel %s (%s), found by %s", item["name"], item["template"], item["how_found"]
                )
            return "channel"
        raise ValueError(f"unknown item kind {kind!r}")  # a programming error, not a site problem

    def spider_closed(self, spider, reason):
        if self.run_id is None:
            return
        stats = self.crawler.stats
        requests = stats.get_value("downloader/request_count", 0)
        fatal = self._fatal(spider)
        interrupted = reason not in (None, "finished", "storage_error")
        walked = {t: w.ids for t, w in spider.walks.items() if w.done and not w.failed}
        news = {
            t: (w.newest, "the walk failed: see the run's failures" if w.failed else None)
            for t, w in spider.walks.items()
            if w.done or w.failed
        }
        try:
            run = self.archive.finish_run(
                self.run_id,
                requests=requests,
                interrupted=interrupted,
                fatal=fatal,
                walked=walked,
                note=f"finish reason: {reason}" if interrupted else None,
                channel_news=news,
            )
        except StorageError as exc:
            logger.error("could not close run %s: %s", self.run_id, exc)
            run = {
                **self.archive.run(self.run_id),
                "status": "failed",
                "requests": requests,
                "note": f"{fatal}; the run row could not be updated",
            }
        stats.set_value("barwatch/run", run)
        self.archive.close()
        if self.lock is not None:
            self.lock.release()

    def _fatal(self, spider) -> str | None:
        if self.storage_error:
            return f"storage error: {self.storage_error}"
        unavailable = self.crawler.stats.get_value("barwatch/robots_unavailable")
        if unavailable:
            return unavailable
        walked = set(getattr(spider, "channels", {}))
        if walked and walked <= spider.forbidden_lists:
            message = "robots.txt disallows every list page this run was to walk: nothing was crawled"
            logger.warning("%s", message)
            return message
        return None


def _url(item) -> str | None:
    return item.get("url") or (item.get("record") or {}).get("url")


def _id(item) -> str | None:
    return item.get("id") or (item.get("record") or {}).get("id")
