"""The ``lawyers`` spider: walks the configured channel lists and fetches articles.

It navigates and nothing else: parsing is crawler.parsing (pure functions), storing is the
pipeline. Every outcome (a record, a 304, a 404, a failure) leaves as an item so that the
pipeline writes it in one place and counts it in the run.

Incremental mode (default): list pages are walked newest first and the walk of a section
stops after the first page that brings no unseen id. Known articles are re-fetched only
when the archive's plan says so (recent ones every run, older ones on a rotation), with
conditional headers. Full mode walks every list page (up to the cap) and re-fetches every
known article without conditional headers.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import DownloadConnectionRefusedError, DownloadTimeoutError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError

from crawler.config import Config, load_config
from crawler.runner import config_settings
from crawler.parsing import ParseError, ParseRules, decode_html, parse_article, parse_list
from crawler.session import archive_for
from crawler.urls import canonical_article_url, rebase

logger = logging.getLogger(__name__)

GONE = (404, 410)


class LawyersSpider(scrapy.Spider):
    name = "lawyers"
    # 304 and 404/410 are answers we act on, not errors.
    custom_settings = {"HTTPERROR_ALLOWED_CODES": [304, 404, 410]}

    def __init__(self, config: Config | None = None, mode: str = "incremental", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("incremental", "full"):
            raise ValueError(f"mode must be incremental or full, not {mode!r}")
        self.config = config
        self.mode = mode
        self.rules = ParseRules.from_mapping(config.parsing) if config else None

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        # `scrapy crawl lawyers` honours the config's [crawl] table as `barwatch crawl`
        # does (which sets the same values at a higher priority).
        config = load_config(settings.get("BARWATCH_CONFIG"))
        settings.setdict(config_settings(config), priority="spider")

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        settings = crawler.settings
        config = kwargs.pop("config", None)
        if config is None:
            config = load_config(settings.get("BARWATCH_CONFIG")).with_base_url(settings.get("BARWATCH_BASE_URL"))
        kwargs.setdefault("mode", settings.get("BARWATCH_MODE", "incremental"))
        spider = super().from_crawler(crawler, *args, config=config, **kwargs)
        # The fixture site or another --base-url host counts as the site's own host.
        spider.extra_hosts = frozenset({urlsplit(config.base_url).netloc})
        return spider

    # ------------------------------------------------------------------ start
    async def start(self):
        archive = archive_for(self.crawler)
        self.known = archive.known_ids()
        self.seen_on_lists: set[str] = set()
        self.queued: set[str] = set()
        crawl = self.config.crawl
        if self.mode == "full":
            plan = archive.revisit_plan(None, 0)
        else:
            plan = archive.revisit_plan(crawl.revisit_days, crawl.rotation_per_run)
        for section in self.config.sections:
            yield self._list_request(section, section.first_page)
        for entry in plan:
            request = self._article_request(entry["id"], etag=entry["etag"], last_modified=entry["last_modified"])
            if request is not None:
                yield request

    def _list_request(self, section, page: int) -> scrapy.Request:
        return scrapy.Request(
            section.page_url(page, self.config.base_url),
            callback=self.parse_list_page,
            errback=self.on_error,
            cb_kwargs={"section": section, "page": page},
            # Lists first: they decide which articles are new, and revisits can wait.
            priority=10,
        )

    def _article_request(self, article_id: str, etag=None, last_modified=None):
        if article_id in self.queued:
            return None
        self.queued.add(article_id)
        headers = {}
        if self.mode != "full":
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        return scrapy.Request(
            rebase(canonical_article_url(article_id), self.config.base_url),
            callback=self.parse_article_page,
            errback=self.on_error,
            headers=headers,
            cb_kwargs={"article_id": article_id},
        )

    # ------------------------------------------------------------------ lists
    def parse_list_page(self, response, section, page: int):
        if response.status != 200:  # 304/404/410 are let through for articles, not lists
            yield failure_item(response.url, "list", f"{section.name} page {page}: HTTP {response.status}")
            return
        try:
            rows = parse_list(response.text, response.url, extra_hosts=self.extra_hosts)
        except (AttributeError, ValueError) as exc:  # not text at all, or undecodable
            yield failure_item(response.url, "list", f"{section.name} page {page}: cannot read list page: {exc}")
            return
        if not rows:
            if page == section.first_page:
                # The first page of a channel always has rows: an empty one means the
                # markup or the URL moved, and the operator must hear about it.
                yield failure_item(response.url, "list", f"{section.name}: first list page has no article links")
            return
        fresh = [r for r in rows if r["id"] not in self.seen_on_lists]
        unseen = [r for r in fresh if r["id"] not in self.known]
        self.seen_on_lists.update(r["id"] for r in rows)
        for row in rows:
            if row["id"] in self.known and self.mode != "full":
                continue
            request = self._article_request(row["id"])
            if request is not None:
                yield request
        cap = min(x for x in (section.max_pages, self.config.crawl.max_pages) if x is not None)
        pages_done = page - section.first_page + 1
        if pages_done >= cap:
            logger.info("%s: stopping at the page cap (%d pages)", section.name, cap)
            return
        if not fresh:
            # A page that only repeats rows already seen in this run: the site ignores the
            # page parameter (or loops). Stop rather than walk to the cap.
            return
        if self.mode != "full" and not unseen:
            return
        yield self._list_request(section, page + 1)

    # ------------------------------------------------------------------ articles
    def parse_article_page(self, response, article_id: str):
        if response.status == 304:
            yield {"kind": "not_modified", "id": article_id}
            return
        if response.status in GONE:
            yield {"kind": "gone", "id": article_id, "url": response.url, "status": response.status}
            return
        try:
            html = decode_html(response.body, _header(response, b"Content-Type"))
            record = parse_article(html, response.url, self.rules)
        except ParseError as exc:
            yield failure_item(response.url, "parse", str(exc), article_id)
            return
        yield {
            "kind": "article",
            "record": record,
            "etag": _header(response, b"ETag"),
            "last_modified": _header(response, b"Last-Modified"),
        }

    def on_error(self, failure):
        request = failure.request
        article_id = request.cb_kwargs.get("article_id")
        if failure.check(HttpError):  # before IgnoreRequest: HttpError is a subclass of it
            message = f"HTTP {failure.value.response.status}"
        elif failure.check(IgnoreRequest):
            # robots.txt said no: the site's wish, not a failure to retry or to count.
            logger.info("skipped %s: %s", request.url, failure.getErrorMessage())
            return
        elif failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
            message = "timed out"
        elif failure.check(ConnectionRefusedError, DownloadConnectionRefusedError):
            message = "connection refused"
        elif failure.check(DNSLookupError):
            message = "DNS lookup failed"
        else:
            message = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        kind = "fetch" if article_id else "list"
        logger.warning("failed %s: %s", request.url, message)
        yield failure_item(request.url, kind, message, article_id)


def failure_item(url: str, kind: str, message: str, article_id: str | None = None) -> dict:
    return {"kind": "failure", "url": url, "failure": kind, "message": message, "id": article_id}


def _header(response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
