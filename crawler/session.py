"""One Archive per crawl, shared by the spider (to plan) and the pipeline (to write).

Kept on the crawler object so that ``scrapy crawl lawyers`` and ``barwatch crawl`` build it
the same way, from settings: BARWATCH_DB, BARWATCH_CLOCK (tests freeze time with it) and
the drift thresholds of the config.
"""
from __future__ import annotations

from storage.archive import Archive, DriftGuard, utcnow


def archive_for(crawler) -> Archive:
    archive = getattr(crawler, "_barwatch_archive", None)
    if archive is None:
        spider_config = getattr(crawler.spider, "config", None)
        crawl = spider_config.crawl if spider_config else None
        drift = (
            DriftGuard(crawl.min_body_ratio, crawl.suspect_share, crawl.suspect_min) if crawl else DriftGuard()
        )
        archive = Archive(crawler.settings.get("BARWATCH_DB"), clock=crawler.settings.get("BARWATCH_CLOCK") or utcnow, drift=drift)
        crawler._barwatch_archive = archive
    return archive
