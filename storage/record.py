"""The article record: what the parser makes of an article page (crawler.parsing.
parse_article), what the crawl pipeline carries and what the archive stores
(storage.archive.Archive.record_article).

A TypedDict, so records stay plain dicts (JSON, the fixture tests' expected records);
the type only names the keys. A parse failure is no record: the parser raises
crawler.parsing.ParseError and the spider records a failure instead.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["ArticleRecord"]


class ArticleRecord(TypedDict, total=False):
    """One article page, in the parser's key order (crawler.parsing.RECORD_KEYS). The
    parser always sets every key; text values are single-line, cleaned of control
    characters, and None when the page has none."""

    id: str  # the article id: the 32 hex digits of /info/<id>
    url: str  # the canonical URL, https://www.lawyers.org.cn/info/<id>
    section: str | None  # the breadcrumb's crumbs after 首页, joined by " > "
    title: str | None  # the title printed on the page, else <title> without crumbs and site name
    subtitle: str | None  # the subtitle or kicker printed with the title (magazine pages)
    published: str | None  # the date of the metadata line, ISO YYYY-MM-DD
    issue: str | None  # the magazine issue as a month, YYYY-MM (2022年第06期 -> 2022-06)
    author: str | None  # the 作者 field, its `文 | ` prefix removed
    source: str | None  # the 来源 field, else 《上海律师》 and the issue
    views: int | None  # the 阅读 counter (changes between fetches; not content)
    body: str  # the body, one paragraph a line ("" when none was found)
    attachments: list[str]  # absolute URLs of the attachment links in the body region
