"""The article pipeline (:func:`parse_article`): document, lines, header (breadcrumb,
metadata, title, subtitle), body (structural, else the trafilatura fallback), record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from crawler.parsing.body import Body, attachments, find_body
from crawler.parsing.breadcrumb import Breadcrumb, find_breadcrumb
from crawler.parsing.clean import clean_record
from crawler.parsing.document import ParseError, parse_tree, to_text
from crawler.parsing.fallback import fallback_body
from crawler.parsing.lines import Line, build_lines
from crawler.parsing.meta import Meta, MetaRun, find_meta_run, issue_month
from crawler.parsing.rules import DEFAULT_RULES, ParseRules
from crawler.parsing.subtitle import find_subtitle
from crawler.parsing.title import find_title
from crawler.textnorm import key_of
from crawler.urls import article_id_from_path, canonical_article_url
from storage.record import ArticleRecord

__all__ = ["RECORD_KEYS", "parse_article"]

RECORD_KEYS = (
    "id",
    "url",
    "section",
    "title",
    "subtitle",
    "published",
    "issue",
    "author",
    "source",
    "views",
    "body",
    "attachments",
)


def parse_article(html: str | bytes, url: str, rules: ParseRules | None = DEFAULT_RULES) -> ArticleRecord:
    """The record of one article page. Raises ParseError when the page is not an article."""
    rules = rules or DEFAULT_RULES
    article_id = article_id_from_path(url or "")
    if article_id is None:
        raise ParseError(f"not an article URL (no /info/<32 hex id> path): {url!r}")
    canonical = canonical_article_url(article_id)
    root = parse_tree(to_text(html))
    if root is None:
        raise ParseError("empty document: no title and no body")
    lines = build_lines(root)

    crumb = find_breadcrumb(lines, rules)
    run = _meta_run(lines, rules, crumb)
    title = find_title(lines, root, rules, crumb, run)
    body = find_body(
        lines, root, rules, canonical, title.text, run.last if run else title.index, crumb.last if crumb else None
    )
    if body is None:
        body = fallback_body(root, lines, rules, title.text, crumb.crumbs if crumb else ())
    _check_article(title.text, body, run, rules)

    meta = run.meta if run else Meta()
    source = meta.source
    if source is None and meta.issue:
        source = f"{rules.magazine_name}{meta.issue}"
    record = ArticleRecord(
        id=article_id,
        url=canonical,
        section=crumb.section if crumb else None,
        title=title.text or None,
        subtitle=find_subtitle(lines, rules, canonical, title, run, crumb),
        published=meta.published,
        issue=issue_month(meta.issue, rules),
        author=meta.author,
        source=source,
        views=meta.views,
        body="\n".join(body.paragraphs),
        attachments=attachments(body.region, canonical, rules),
    )
    return cast(ArticleRecord, clean_record(record))


def _meta_run(lines: Sequence[Line], rules: ParseRules, crumb: Breadcrumb | None) -> MetaRun | None:
    """The metadata run after the breadcrumb, else anywhere on the page."""
    start = crumb.last + 1 if crumb else 0
    run = find_meta_run(lines, start, rules, crumb)
    if run is None and start:
        run = find_meta_run(lines, 0, rules, crumb)
    return run


def _check_article(title: str | None, body: Body, run: MetaRun | None, rules: ParseRules) -> None:
    """Raise ParseError for a page with neither title nor body, or an error page."""
    if not title and not body.paragraphs:
        raise ParseError("not an article: no title (<title>/heading) and no body text found")
    if run is None and len(body.paragraphs) <= 2:
        said = [t for t in (title, *body.paragraphs) if t and any(p.search(key_of(t)) for p in rules._not_found)]
        if said:
            raise ParseError(f"not an article: error page served as content ({said[0]!r})")
