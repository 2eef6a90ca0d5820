"""Run one crawl in this process: the Python API under ``barwatch crawl``.

Scrapy's reactor cannot be restarted inside one process, so this runs exactly one crawl
per process; the daemon starts a fresh process for each scheduled crawl.
"""

from __future__ import annotations

import logging

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.config import Config


def config_settings(config: Config) -> dict:
    """The Scrapy settings that the config's [crawl] table decides."""
    crawl = config.crawl
    return {
        "USER_AGENT": crawl.user_agent,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle and crawl.download_delay > 0,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "RETRY_TIMES": crawl.retry_times,
        "BARWATCH_RETRY_BACKOFF": crawl.retry_backoff,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
    }


def crawl_settings(
    config: Config, db_path: str, mode: str, clock=None, log_level: str = "INFO", max_db_pages: int | None = None
) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.setdict(
        {
            **config_settings(config),
            "BARWATCH_DB": str(db_path),
            "BARWATCH_CONFIG": config.path,
            "BARWATCH_MODE": mode,
            "BARWATCH_CLOCK": clock,
            "BARWATCH_LOCK_HELD": True,
            "BARWATCH_MAX_DB_PAGES": max_db_pages,
            "LOG_LEVEL": log_level,
        },
        priority="cmdline",
    )
    return settings


def run_crawl(
    config: Config,
    db_path: str,
    mode: str = "incremental",
    clock=None,
    log_level: str = "INFO",
    max_db_pages: int | None = None,
) -> dict:
    """Crawl once into ``db_path``; returns the finished ``crawl_runs`` row."""
    process = CrawlerProcess(crawl_settings(config, db_path, mode, clock, log_level, max_db_pages))
    if log_level.upper() != "DEBUG":
        # Scrapy's start-up inventory (middlewares, settings) is noise in cron mail and the
        # journal; barwatch's own lines (progress, skips, failures) stay at the chosen level.
        logging.getLogger("scrapy").setLevel(max(logging.getLevelName(log_level.upper()), logging.WARNING))
    crawler = process.create_crawler("lawyers")
    process.crawl(crawler, config=config, mode=mode)
    process.start()
    run = crawler.stats.get_value("barwatch/run")
    if run is None:
        raise RuntimeError("the crawl ended before it could record its run; see the log above")
    return run
