"""Retry with exponential back-off.

Scrapy's RetryMiddleware re-queues a failed request at once; against a struggling server
that is the opposite of polite. The retry request carries a delay that the next
middleware sleeps before downloading it. With one request at a time, the sleep holds back
every other request to the host too, which is the point.
"""

from __future__ import annotations

import asyncio

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.utils.response import response_status_message


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry rules (RETRY_TIMES, RETRY_HTTP_CODES, RETRY_EXCEPTIONS, dont_retry),
    through its public ``get_retry_request``, with a growing delay on each retry."""

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("BARWATCH_RETRY_BACKOFF", 2.0)

    def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        return self._retry_later(request, response_status_message(response.status)) or response

    def process_exception(self, request, exception, spider=None):
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get("dont_retry", False):
            return self._retry_later(request, exception)
        return None

    def _retry_later(self, request, reason):
        spider = self.crawler.spider
        assert spider is not None, "responses and download errors reach this middleware only while the spider runs"
        retry = get_retry_request(
            request,
            spider=spider,
            reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
            give_up_log_level=request.meta.get("give_up_log_level", self.give_up_log_level),
        )
        if retry is not None and self.backoff > 0:
            attempt = retry.meta.get("retry_times", 1)
            retry.meta["barwatch_backoff"] = min(self.backoff * 2 ** (attempt - 1), 120.0)
        return retry


class BackoffDelayMiddleware:
    async def process_request(self, request, spider=None):
        delay = request.meta.pop("barwatch_backoff", 0)
        if delay:
            await asyncio.sleep(delay)
        return None
