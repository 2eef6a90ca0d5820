"""Retry with exponential back-off.

Scrapy's RetryMiddleware re-queues a failed request at once; against a struggling server
that is the opposite of polite. The retry request carries a delay that the next
middleware sleeps before downloading it. With one request at a time, the sleep holds back
every other request to the host too, which is the point.
"""
from __future__ import annotations

import asyncio

from scrapy.downloadermiddlewares.retry import RetryMiddleware


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("BARWATCH_RETRY_BACKOFF", 2.0)

    def _retry(self, request, reason):
        retry = super()._retry(request, reason)
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
