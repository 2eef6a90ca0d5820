"""The ``lawyers`` spider: walks the configured channel lists and fetches articles.

It navigates and nothing else: parsing is crawler.parsing (pure functions), storing is the
pipeline. Every outcome (a record, a 304, a 404, a failure) leaves as an item so that the
pipeline writes it in one place and counts it in the run.

Incremental mode (default): list pages are walked newest first and the walk of a section
stops after the first page that brings no unseen id; a channel still in baseline (no walk
of it has finished yet, e.g. the first crawl was interrupted) is walked to the end. Known articles are re-fetched only
when the archive's plan says so (recent ones every run, older ones on a rotation), with
conditional headers. Full mode walks every list page (up to the cap) and re-fetches every
known article without conditional headers.

Redirects are not followed by Scrapy: a redirect is followed here only when it stays on
the site's hosts and on the same article (http→https, wx./info. → www., a trailing slash)
or the same list page; anything else (another host, another article, a loop) is a
recorded failure, never a version and never a removal.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError

from crawler import discovery
from crawler.channels import Channel, relative, template_pattern, walk_due
from crawler.config import Config, load_config
from crawler.parsing import ListRow, ParseError, decode_html, parse_article, parse_list
from crawler.robots import RobotsForbidden, RobotsUnavailable
from crawler.runner import config_settings
from crawler.session import archive_for
from crawler.urls import SITE_HOSTS, article_id_from_path, canonical_article_url, on_site, rebase

logger = logging.getLogger(__name__)

GONE = (404, 410)
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5


class LawyersSpider(scrapy.Spider):
    name = "lawyers"
    # 304, 404/410 and redirects are answers we act on, not errors.
    custom_settings = {"HTTPERROR_ALLOWED_CODES": [304, 404, 410, *REDIRECTS]}

    def __init__(self, config: Config, mode: str = "incremental", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("incremental", "full"):
            raise ValueError(f"mode must be incremental or full, not {mode!r}")
        self.config = config
        self.mode = mode
        # What the pipeline needs to close the run honestly (see crawler.pipelines).
        self.walks: dict[str, Walk] = {}
        self.forbidden_lists: set[str] = set()
        self.robots_failed: set[str] = set()
        self.rules = config.rules
        # The fixture site or another --base-url host counts as the site's own host.
        self.extra_hosts = frozenset({urlsplit(config.base_url).netloc})

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
        return super().from_crawler(crawler, *args, config=config, **kwargs)

    # ------------------------------------------------------------------ start
    async def start(self):
        archive = archive_for(self.crawler)
        self.known = archive.known_ids()
        self.seen_on_lists: set[str] = set()
        self.queued: set[str] = set()
        crawl = self.config.crawl
        if self.mode == "full":
            plan = archive.revisit_plan(None)
        else:
            plan = archive.revisit_plan(crawl.revisit_days, crawl.reverify_days)
        self._plan_channels(archive)
        for channel in self.channels.values():
            self.walks[channel.list_url] = Walk()
            yield self._list_request(channel, channel.first_page)
        for entry in plan:
            request = self._article_request(entry["id"], etag=entry["etag"], last_modified=entry["last_modified"])
            if request is not None:
                yield request

    def _plan_channels(self, archive) -> None:
        """The channels walked this run: the enabled sections, then the discovered channels
        that are due (not silenced by a disabled section, not too quiet to walk now)."""
        found = self.config.discovery
        now = archive.clock()
        rows = {r["url_template"]: r for r in archive.channels()}
        self.channels: dict[str, Channel] = {}
        silenced = {s.list_url for s in self.config.sections if not s.enabled}
        for s in self.config.sections:
            if s.enabled and self._due(rows.get(s.list_url), now):
                self.channels[s.list_url] = Channel(s.name, s.list_url, s.first_page, s.max_pages)
        configured = {s.list_url for s in self.config.sections}
        self.in_baseline = {t for t in {*rows, *configured} if (rows.get(t) or {}).get("baseline_done_at") is None}
        if found.enabled:
            for template, row in rows.items():
                if template in configured or template in silenced or row["how_found"] == "config":
                    continue
                if self._due(row, now):
                    self.channels[template] = Channel(
                        row["name"], template, row["first_page"] or 0, None, row["first_url"], row["how_found"]
                    )
        # Pages discovery need not ask about: every page of a known channel, every
        # candidate already classified (an "other" only until its recheck date).
        self.channel_patterns = [template_pattern(t) for t in {*rows, *configured}]
        now_iso = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        # Each with the depth it was asked at this run (-1: classified by an earlier run).
        self.known_pages = {
            relative(c["url"]): -1
            for c in archive.candidates()
            if c["kind"] != "other" or (c["recheck_after"] or "") > now_iso
        }
        # A full crawl, and the archive's first crawl, discover all they can reach (hubs
        # only hub_depth deep); routine runs spend at most max_candidates_per_run.
        first_crawl = not any(r["baseline_done_at"] for r in rows.values())
        unlimited = self.mode == "full" or first_crawl
        self.candidate_budget = (10**9 if unlimited else found.max_candidates_per_run) if found.enabled else 0

    def _due(self, row: dict | None, now) -> bool:
        if row is None or self.mode == "full":
            return True
        found = self.config.discovery
        return walk_due(row, now, found.daily_after_days, found.weekly_after_days)

    def _list_request(self, section, page: int) -> scrapy.Request:
        return scrapy.Request(
            section.page_url(page, self.config.base_url),
            callback=self.parse_list_page,
            errback=self.on_error,
            cb_kwargs={"section": section, "page": page},
            meta={"dont_redirect": True},
            # Lists first: they decide which articles are new, and revisits can wait.
            priority=10,
            # A walk's pages are fetched by the walk even if discovery asked for one of
            # them already (walks stop on repeated rows and at the page cap).
            dont_filter=True,
        )

    def _article_request(
        self, article_id: str, etag=None, last_modified=None, channel: str | None = None, list_date: str | None = None
    ):
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
            meta={"dont_redirect": True, "barwatch_channel": channel, "barwatch_list_date": list_date},
        )

    # ------------------------------------------------------------------ lists
    def parse_list_page(self, response, section, page: int):
        walk = self.walks[section.list_url]
        if response.status in REDIRECTS:
            follow = self._redirect(response, "redirect", same=lambda target: _same_list(response, target))
            walk.failed = walk.failed or isinstance(follow, dict)
            yield follow
            return
        if response.status in GONE and page > section.first_page:
            walk.done = True  # past the last page: path-style lists answer 404 there
            return
        read = self._read_list(response, section, page)
        if isinstance(read, str):
            walk.failed = True
            yield failure_item(response.url, "list", read)
            return
        html, rows = read
        if not rows:
            if page == section.first_page:
                # The first page of a channel always has rows: an empty one means the
                # markup or the URL moved, and the operator must hear about it.
                walk.failed = True
                yield failure_item(response.url, "list", f"{section.name}: first list page has no article links")
            else:
                walk.done = True
            return
        yield from self._offer(html, response.url, depth=0)
        fresh = [r for r in rows if r["id"] not in self.seen_on_lists]
        unseen = [r for r in fresh if r["id"] not in self.known]
        self.seen_on_lists.update(r["id"] for r in rows)
        walk.ids.update(r["id"] for r in rows)
        walk.newest = max([walk.newest or "", *(r.get("date") or "" for r in rows)]) or None
        for row in rows:
            if row["id"] in self.known and self.mode != "full":
                continue
            request = self._article_request(row["id"], channel=section.list_url, list_date=row.get("date"))
            if request is not None:
                yield request
        if self._walk_ends(section, page, fresh, unseen):
            walk.done = True
            return
        yield self._list_request(section, page + 1)

    def _read_list(self, response, section, page: int) -> tuple[str, list[ListRow]] | str:
        """The list page's HTML and rows, or why they cannot be had."""
        if response.status != 200:  # 304/404/410 are let through for articles, not lists
            return f"{section.name} page {page}: HTTP {response.status}"
        try:
            html = decode_html(response.body, _header(response, b"Content-Type"))
            rows = parse_list(html, response.url, extra_hosts=self.extra_hosts)
        except (AttributeError, ValueError) as exc:  # not text at all, or undecodable
            return f"{section.name} page {page}: cannot read list page: {exc}"
        return html, rows

    def _walk_ends(self, section, page: int, fresh: list[ListRow], unseen: list[ListRow]) -> bool:
        """Whether the walk stops after this page (which had rows): ``fresh`` are its rows
        not seen on a list this run, ``unseen`` those not in the archive either."""
        if not section.pages:
            return True  # one page (or a pager that only works by JavaScript)
        cap = min(x for x in (section.max_pages, self.config.crawl.max_pages) if x is not None)
        pages_done = page - section.first_page + 1
        if pages_done >= cap:
            logger.info("%s: stopping at the page cap (%d pages)", section.name, cap)
            return True
        if not fresh:
            # A page that only repeats rows already seen in this run: the site ignores the
            # page parameter (or loops). Stop rather than walk to the cap.
            return True
        baseline = section.list_url in self.in_baseline
        return self.mode != "full" and not unseen and not baseline

    # ------------------------------------------------------------------ articles
    def parse_article_page(self, response, article_id: str):
        if response.status in REDIRECTS:
            yield self._redirect(
                response,
                "redirect",
                same=lambda target: article_id_from_path(target) == article_id,
                article_id=article_id,
            )
            return
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
            "channel": response.meta.get("barwatch_channel"),
            "list_date": response.meta.get("barwatch_list_date"),
        }
        yield from self._offer(html, response.url, depth=0)
        if self.config.discovery.enabled:
            # Side boxes and related items: an id never seen is fetched once; its
            # breadcrumb names its channel.
            for aid in discovery.article_links(html, response.url, self.extra_hosts):
                if aid not in self.known:
                    request = self._article_request(aid)
                    if request is not None:
                        yield request

    # ------------------------------------------------------------------ discovery
    def _offer(self, html: str, url: str, depth: int):
        """Fetch what a page offers as possible channel lists, within the run's budget."""
        if not self.config.discovery.enabled:
            return
        for candidate in discovery.candidate_links(html, url, extra_hosts=self.extra_hosts):
            request = self._candidate_request(candidate, url, depth)
            if request is not None:
                yield request

    def _candidate_request(self, candidate, found_on: str, depth: int):
        # Any of the site's hosts stands for the one being crawled (--base-url moves it).
        url = candidate.url
        if urlsplit(url).hostname in SITE_HOSTS:
            url = rebase(url, self.config.base_url)
        rel = relative(url)
        asked = self.known_pages.get(rel)
        if (asked is not None and asked <= depth) or any(p.match(rel) for p in self.channel_patterns):
            return None
        if self.candidate_budget <= 0:
            return None
        self.candidate_budget -= 1
        self.known_pages[rel] = depth
        # A page first reached through a hub and then offered nearer the start is asked
        # again at the smaller depth: what it links to is within hub_depth from there.
        # Which path comes first depends on the order of the crawl, not on the site.
        return scrapy.Request(
            url,
            dont_filter=asked is not None,
            callback=self.parse_candidate,
            errback=self.on_candidate_error,
            cb_kwargs={"candidate": candidate, "found_on": found_on, "depth": depth},
            meta={"dont_redirect": True},
            priority=-10,  # after the walks and the articles: discovery can wait
        )

    def parse_candidate(self, response, candidate, found_on: str, depth: int):
        def seen(page_kind: str, note: str | None = None, channel: str | None = None) -> dict:
            return candidate_item(candidate, page_kind, found_on, depth, note, channel)

        if response.status in REDIRECTS:
            follow = self._redirect(response, "redirect", same=lambda target: True)
            # off the site, or a loop: not a channel of this site
            yield seen("other", follow["message"]) if isinstance(follow, dict) else follow
            return
        if response.status != 200:
            yield seen("other", f"HTTP {response.status}")
            return
        html = decode_html(response.body, _header(response, b"Content-Type"))
        page = discovery.classify(html, response.url, self.extra_hosts)
        if page.kind != "list" and depth < self.config.discovery.hub_depth:
            # A page reached by discovery offers links too (a section index that links to
            # its lists by name), one level further. (A list offers its own once walked,
            # when its pages are known as its pages.)
            yield from self._offer(html, response.url, depth + 1)
        if page.kind == "hub":
            yield seen("hub")
            if depth < self.config.discovery.hub_depth:
                yield from self._hub_requests(page, response.url, depth)
            return
        if page.kind != "list":
            yield seen("other", "not a list page")
            return
        channel = self._channel_of(page, response.url, candidate, html)
        if self._known_channel(channel):
            # A known channel reached another way (a configured section wins).
            yield seen("list", channel=channel.list_url)
            return
        if page.pager is None and {r["id"] for r in page.rows} <= self.seen_on_lists:
            # The same rows as a list walked this run under another URL (a tab's bare
            # URL): nothing of its own to walk.
            yield seen("list", "the same rows as another channel's list")
            return
        yield seen(
            "list", "a pager that only works by JavaScript: page 1 only" if page.js_pager else None, channel.list_url
        )
        yield from self._adopt(response, page, channel, candidate, found_on)

    def _hub_requests(self, page: discovery.Page, url: str, depth: int):
        """Fetch the lists a hub links to, one level further."""
        for sub in page.sublists:
            request = self._candidate_request(sub, url, depth + 1)
            if request is not None:
                yield request

    def _known_channel(self, channel: Channel) -> bool:
        first = relative(channel.page_url(channel.first_page, self.config.base_url))
        return any(p.match(first) for p in self.channel_patterns)

    def _adopt(self, response, page: discovery.Page, channel: Channel, candidate, found_on: str):
        """Record a newly found channel and start its walk at the list page in hand."""
        self.channel_patterns.append(template_pattern(channel.list_url))
        yield {
            "kind": "channel",
            "template": channel.list_url,
            "name": channel.name,
            "first_page": channel.first_page,
            "first_url": channel.first_url,
            "how_found": candidate.how,
            "found_on": found_on,
            "js_pager": page.js_pager,
        }
        # Walked from here on, this run included; a new channel is in baseline.
        self.in_baseline.add(channel.list_url)
        self.channels[channel.list_url] = channel
        self.walks[channel.list_url] = Walk()
        if page.pager is None or page.pager.current_page == channel.first_page:
            yield from self.parse_list_page(response, channel, channel.first_page)  # this page is page 1
        else:
            yield self._list_request(channel, channel.first_page)

    def _channel_of(self, page, url: str, candidate, html: str) -> Channel:
        """The channel a list page belongs to: its template learnt from its pager, its name
        from the breadcrumb text that led to it (else the page's own last crumb)."""
        name = candidate.text if candidate.how == "breadcrumb" else None
        if not name:
            crumbs = discovery.breadcrumb_links(html, url, extra_hosts=self.extra_hosts)
            name = crumbs[-1].name if crumbs else candidate.text
        pager, first_url = page.pager, None
        if pager is None:  # one page: its own URL, braces escaped, is the template
            template, first = relative(url).replace("{", "{{").replace("}", "}}"), 1
        elif pager.first_url:  # index.html, then index_2.html: the template starts one page later
            template, first, first_url = relative(pager.template), pager.first_page - 1, relative(pager.first_url)
        else:
            template, first = relative(pager.template), pager.first_page
        return Channel(name or relative(url), template, first, None, first_url, candidate.how)

    def on_candidate_error(self, failure):
        request = failure.request
        candidate = request.cb_kwargs["candidate"]
        note = (
            "robots.txt forbids it"
            if failure.check(IgnoreRequest)
            else f"{failure.type.__name__}: {failure.getErrorMessage()}"
        )
        yield candidate_item(candidate, "other", request.cb_kwargs["found_on"], request.cb_kwargs["depth"], note)

    # ------------------------------------------------------------------ redirects
    def _redirect(self, response, kind: str, same, article_id: str | None = None):
        """Follow a redirect that stays on the site and on the same page, else a failure."""
        chain = [*response.meta.get("barwatch_redirects", ()), response.url]
        location = response.headers.get(b"Location")
        if not location:
            return failure_item(response.url, kind, f"HTTP {response.status} without a Location header", article_id)
        target = urljoin(response.url, location.decode("latin-1").strip())
        stays = on_site(target, self.extra_hosts)
        if target in chain:
            return failure_item(chain[0], kind, "redirect loop: " + " -> ".join([*chain, target]), article_id)
        if len(chain) > MAX_REDIRECTS:
            return failure_item(chain[0], kind, f"more than {MAX_REDIRECTS} redirects, last to {target}", article_id)
        if not (stays and same(target)):
            what = "another article" if stays else "another host"
            return failure_item(chain[0], kind, f"HTTP {response.status} redirect to {what}: {target}", article_id)
        meta = {**response.request.meta, "barwatch_redirects": chain}
        return response.request.replace(url=target, meta=meta, dont_filter=True)

    def on_error(self, failure):
        request = failure.request
        article_id = request.cb_kwargs.get("article_id")
        section = request.cb_kwargs.get("section")
        if failure.check(RobotsUnavailable):
            # Recorded once per host; every other request to it is skipped quietly.
            host = urlsplit(request.url).netloc
            if host in self.robots_failed:
                return
            self.robots_failed.add(host)
            yield failure_item(
                f"{urlsplit(request.url).scheme}://{host}/robots.txt", "robots", failure.getErrorMessage()
            )
            return
        if failure.check(RobotsForbidden):
            # robots.txt said no: the site's wish, not a failure to retry or to count.
            logger.info("skipped %s: %s", request.url, failure.getErrorMessage())
            if section is not None:
                self.forbidden_lists.add(section.list_url)
            return
        if section is not None:
            self.walks[section.list_url].failed = True
        if failure.check(HttpError):  # before IgnoreRequest: HttpError is a subclass of it
            message = f"HTTP {failure.value.response.status}"
        elif failure.check(IgnoreRequest):
            logger.info("skipped %s: %s", request.url, failure.getErrorMessage())
            return
        elif failure.check(DownloadCancelledError, CancelledError):
            limit = self.settings.getint("DOWNLOAD_MAXSIZE")
            message = f"download cancelled: larger than the {limit // (1024 * 1024)} MiB limit (DOWNLOAD_MAXSIZE)"
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


class Walk:
    """One channel's walk in this run: the ids its lists showed, whether it got to its end,
    the newest list date it saw."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.done = False
        self.failed = False
        self.newest: str | None = None


def _same_list(response, target: str) -> bool:
    origin = urlsplit(response.meta.get("barwatch_redirects", [response.url])[0])
    parts = urlsplit(target)
    return (parts.path.rstrip("/"), parts.query) == (origin.path.rstrip("/"), origin.query)


def candidate_item(
    candidate, page_kind: str, found_on: str, depth: int, note: str | None = None, channel: str | None = None
) -> dict:
    """What a page offered as a channel turned out to be (list, hub, other), for the archive."""
    return {
        "kind": "candidate",
        "url": candidate.url,
        "page_kind": page_kind,
        "how": candidate.how,
        "text": candidate.text,
        "found_on": found_on,
        "depth": depth,
        "note": note,
        "channel": channel,
    }


def failure_item(url: str, kind: str, message: str, article_id: str | None = None) -> dict:
    return {"kind": "failure", "url": url, "failure": kind, "message": message, "id": article_id}


def _header(response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
