"""Channels the spider walks: the configured sections and the ones discovery found.

A channel's identity is its URL template, relative to the site (``/catalog/<hex>?pageNumber={page}``):
www., wx. and info. serve the same pages, and ``--base-url`` moves the host, so the host
is never part of it. A list that does not page (one page, or a pager that only works by
JavaScript) has a template without ``{page}``: its one URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit


@dataclass(frozen=True)
class Channel:
    name: str
    list_url: str  # the template: relative, with {page} where the page number goes (or none)
    first_page: int = 1
    max_pages: int | None = None
    first_url: str | None = None  # page 1 when it does not fit the template (index.html)
    how: str = "config"

    def page_url(self, page: int, base_url: str) -> str:
        if page == self.first_page and self.first_url:
            return urljoin(base_url.rstrip("/") + "/", self.first_url)
        return urljoin(base_url.rstrip("/") + "/", self.list_url.format(page=page))

    @property
    def pages(self) -> bool:
        """Whether the list has more pages than the first (a template with {page})."""
        return "{page}" in self.list_url


def relative(url: str) -> str:
    """``/path?query`` of a URL: a page's identity on any of the site's hosts."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex for the relative URLs of every page of a channel's template."""
    literal = template.replace("{{", "\x00").replace("}}", "\x01")
    pieces = [re.escape(p.replace("\x00", "{").replace("\x01", "}")) for p in literal.split("{page}")]
    return re.compile(r"\d+".join(pieces) + r"\Z")


def walk_due(row: dict, now: datetime, daily_after_days: int, weekly_after_days: int) -> bool:
    """Whether a channel that finished its baseline is walked this run.

    One whose newest item is older than ``daily_after_days`` is walked once a day, older
    than ``weekly_after_days`` (a closed magazine issue) once a week; the rest every run.
    """
    newest, walked = row.get("newest_item"), row.get("last_walked")
    if not newest or not walked or not row.get("baseline_done_at"):
        return True
    age = (now.date() - _date(newest)).days if _date(newest) else 0
    if age <= daily_after_days:
        return True
    every = timedelta(days=7 if age > weekly_after_days else 1)
    last = datetime.strptime(walked, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=now.tzinfo)
    return now - last >= every - timedelta(minutes=5)  # a run a few minutes early still counts


def _date(text: str):
    try:
        return (
            datetime.strptime(text[:10], "%Y-%m-%d").date()
            if len(text) >= 10
            else (datetime.strptime(text[:7], "%Y-%m").date())
        )
    except ValueError:
        return None
