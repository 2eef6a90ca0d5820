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
        limits = spider_config.drift if spider_config else None
        drift = DriftGuard(limits.min_body_ratio, limits.suspect_share, limits.suspect_min) if limits else DriftGuard()
        archive = Archive(
            crawler.settings.get("BARWATCH_DB"),
            clock=crawler.settings.get("BARWATCH_CLOCK") or utcnow,
            drift=drift,
            # `barwatch crawl` created or migrated the schema under its lock already;
            # `scrapy crawl lawyers` takes the lock in the pipeline and does it here.
            mode="rw" if crawler.settings.getbool("BARWATCH_LOCK_HELD") else "rwc",
            notice_after_partial_runs=spider_config.alerts.notice_after_partial_runs if spider_config else 3,
            # Tests fill the "disk" with SQLite's page limit (barwatch crawl --max-db-pages).
            max_page_count=crawler.settings.getint("BARWATCH_MAX_DB_PAGES") or None,
        )
        crawler._barwatch_archive = archive
    return archive
