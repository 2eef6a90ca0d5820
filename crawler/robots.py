"""robots.txt as RFC 9309 says, replacing Scrapy's RobotsTxtMiddleware.

Scrapy's middleware treats a robots.txt that answers 5xx, times out or cannot be reached
as "allow everything" (and logs a traceback). RFC 9309 §2.3.1 says the opposite for a
server error: assume a complete disallow. So, per host and per run:

* 2xx: the rules it holds (parsed by Protego, Scrapy's own parser);
* 4xx: no rules, everything allowed (§2.3.1.3);
* 5xx, a timeout, a refused connection: everything disallowed for this run
  (:class:`RobotsUnavailable`), which the spider records once as a ``robots`` failure and
  the run ends ``failed``.

Redirects of robots.txt itself are followed by Scrapy's RedirectMiddleware (the RFC asks
for at least five hops), and 5xx answers are retried with back-off like any request.
"""

from __future__ import annotations

import logging

from protego import Protego
from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)


class RobotsForbidden(IgnoreRequest):
    """robots.txt disallows this URL: the site's wish, not a failure."""


class RobotsUnavailable(IgnoreRequest):
    """robots.txt could not be read (5xx, timeout, unreachable): nothing may be fetched."""


class _Policy:
    def __init__(self, parser: Protego | None = None, unavailable: str | None = None):
        self.parser = parser
        self.unavailable = unavailable

    def allowed(self, url: str, user_agent: str) -> bool:
        return self.parser is None or self.parser.can_fetch(url, user_agent)


class RobotsPolicyMiddleware:
    DOWNLOAD_PRIORITY = 1000

    def __init__(self, crawler):
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.user_agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get("USER_AGENT")
        self._policies: dict[str, _Policy | Deferred] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request, spider=None):
        if request.meta.get("dont_obey_robotstxt"):
            return None
        policy = await self._policy(request)
        if policy.unavailable:
            raise RobotsUnavailable(policy.unavailable)
        if not policy.allowed(request.url, self.user_agent):
            self.crawler.stats.inc_value("robotstxt/forbidden")
            raise RobotsForbidden("Forbidden by robots.txt")
        return None

    async def _policy(self, request) -> _Policy:
        parts = urlparse_cached(request)
        netloc = parts.netloc
        known = self._policies.get(netloc)
        if isinstance(known, _Policy):
            return known
        if isinstance(known, Deferred):  # another request is fetching it: wait for that one
            return await maybe_deferred_to_future(known)
        waiting: Deferred = Deferred()
        self._policies[netloc] = waiting
        robots_url = f"{parts.scheme}://{netloc}/robots.txt"
        policy = await self._fetch(robots_url)
        self._policies[netloc] = policy
        if policy.unavailable:
            logger.error("%s", policy.unavailable)
            self.crawler.stats.set_value("barwatch/robots_unavailable", policy.unavailable)
        waiting.callback(policy)
        return policy

    async def _fetch(self, robots_url: str) -> _Policy:
        request = Request(
            robots_url,
            priority=self.DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True, "handle_httpstatus_all": True},
            callback=NO_CALLBACK,
        )
        self.crawler.stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:  # timeouts, refused connections, DNS: the RFC's "unreachable"
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return _Policy(
                unavailable=f"{robots_url} unreachable ({type(exc).__name__}: {reason}): nothing fetched from this host"
            )
        status = response.status
        if 200 <= status < 300:
            return _Policy(Protego.parse(response.body.decode("utf-8", "replace")))
        if 400 <= status < 500:
            return _Policy()  # RFC 9309 §2.3.1.3: unavailable rules allow everything
        return _Policy(unavailable=f"{robots_url} answered HTTP {status}: nothing fetched from this host (RFC 9309)")
