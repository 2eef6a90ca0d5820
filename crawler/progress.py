"""Progress of a crawl: a live status line on a terminal, plain log lines under cron."""

from __future__ import annotations

import logging
import sys

from scrapy import signals
from twisted.internet import task

logger = logging.getLogger("barwatch.progress")


def progress_text(stats: dict) -> str:
    get = lambda k: stats.get(k, 0)  # noqa: E731
    stored = sum(get(f"barwatch/{k}") for k in ("new", "changed", "unchanged", "removed"))
    return (
        f"pages fetched {get('response_received_count')} · articles stored {stored} "
        f"(new {get('barwatch/new')}, changed {get('barwatch/changed')}, unchanged {get('barwatch/unchanged')}, "
        f"removed {get('barwatch/removed')}) · errors {get('barwatch/failed')}"
    )


class Progress:
    def __init__(self, crawler, stream=None):
        self.crawler = crawler
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = 0.5 if self.tty else crawler.settings.getfloat("BARWATCH_PROGRESS_INTERVAL", 30.0)
        self.loop = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider):
        if self.interval > 0:
            self.loop = task.LoopingCall(self.show)
            self.loop.start(self.interval, now=False)

    def show(self):
        text = progress_text(self.crawler.stats.get_stats())
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
        else:
            logger.info(text)

    def closed(self, spider, reason):
        if self.loop and self.loop.running:
            self.loop.stop()
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
