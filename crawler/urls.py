"""Article URL recognition and canonicalisation.

The 32-hex id after ``/info/`` is an article's identity. The same id is served on
www., wx. and info.lawyers.org.cn over http and https (SITE.md); all of them collapse
to one canonical URL so that the archive holds one row per id.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

CANONICAL_BASE = "https://www.lawyers.org.cn"
ARTICLE_PATH_RE = re.compile(r"^/info/([0-9a-f]{32})/?$")
# Hosts that serve the association's news. credit./oa./recruitment./passport3. are
# other services of the same domain and are never crawled.
SITE_HOSTS = frozenset({"lawyers.org.cn", "www.lawyers.org.cn", "wx.lawyers.org.cn", "info.lawyers.org.cn"})


def canonical_article_url(article_id: str) -> str:
    return f"{CANONICAL_BASE}/info/{article_id}"


def article_id_from_path(url: str) -> str | None:
    """The id in an ``/info/<32hex>`` URL on any host, or None."""
    path = urlsplit(url).path
    m = ARTICLE_PATH_RE.match(path)
    return m.group(1) if m else None


def on_site(url: str, extra_hosts: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether an absolute http(s) URL is on the association's hosts or a --base-url host
    (``extra_hosts`` holds host:port, e.g. the fixture site's)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and (parts.hostname in SITE_HOSTS or parts.netloc in extra_hosts)


def article_id_from_link(href: str, page_url: str, extra_hosts: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The id an ``<a href>`` on a list page points to, if it is an article of this site.

    ``extra_hosts`` holds the host:port of a --base-url override (the fixture site), which
    counts as the site's own host. Look-alike sites (zjbar.com, mirrors) use the same
    ``/info/<id>`` paths and must not match.
    """
    absolute = urljoin(page_url, href.strip())
    return article_id_from_path(absolute) if on_site(absolute, extra_hosts) else None


def rebase(url: str, base_url: str | None) -> str:
    """Replace scheme and host of ``url`` with those of ``base_url`` (the --base-url switch)."""
    if not base_url:
        return url
    parts = urlsplit(url)
    base = urlsplit(base_url)
    rest = parts.path or "/"
    if parts.query:
        rest += "?" + parts.query
    return f"{base.scheme}://{base.netloc}{rest}"
