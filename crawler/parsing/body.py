"""Body stage: the article's paragraphs and the region of the page they come from
(:func:`find_body`), cut at the footer with furniture, navigation and the magazine
masthead dropped; and the attachment links of that region (:func:`attachments`).

Structural first: the body is the text that follows the metadata line (or the title)
inside the nearest enclosing element that holds any. Pages without such an anchor go to
the trafilatura fallback (crawler.parsing.fallback).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html

from crawler.parsing.furniture import footer_starts, is_footer, is_furniture, is_nav, link_only
from crawler.parsing.lines import Line
from crawler.parsing.rules import ParseRules
from crawler.textnorm import key_of

__all__ = ["Body", "attachments", "clean_lines", "content_scope", "find_body"]


@dataclass(frozen=True)
class Body:
    """The body's paragraphs, and the lines it was taken from (before the footer or the
    box that ends it), whose links are the article's attachments."""

    paragraphs: tuple[str, ...]
    region: tuple[Line, ...]


def clean_lines(lines: Sequence[Line], rules: ParseRules, base: str, *, structural: bool, title: str | None) -> Body:
    """Body lines: cut at the footer block, furniture / navigation / masthead dropped."""
    keys = [ln.key for ln in lines]
    end = _footer_cut(keys, rules)
    dropped = _nav_runs(lines, end, base, rules) if rules.nav_run_min else set()
    out: list[str] = []
    masthead = _Masthead(rules)
    title_key = key_of(title) if title else None
    for i in range(end):
        if i in dropped:
            continue
        line, k = lines[i], keys[i]
        if masthead.skips(k):
            continue
        if structural and out and any(p.search(k) for p in rules._stop):
            end = i
            break
        if _chrome(line, k, rules):
            continue
        if not out and title_key and k == title_key:
            continue  # metadata printed above the title
        out.append(line.text)
    return Body(tuple(out), tuple(lines[:end]))


def _footer_cut(keys: Sequence[str], rules: ParseRules) -> int:
    """Where the footer block starts (the number of lines when there is none)."""
    for i, k in enumerate(keys):
        if is_footer(k, rules) and footer_starts(keys, i, rules):
            return i
    return len(keys)


def _nav_runs(lines: Sequence[Line], end: int, base: str, rules: ParseRules) -> set[int]:
    """Indexes of the lines in runs of link-only lines before ``end``."""
    # Runs of link-only lines are navigation / committee link tables.
    dropped: set[int] = set()
    i = 0
    while i < end:
        if not link_only(lines[i], base, rules):
            i += 1
            continue
        j = i
        while j < end and link_only(lines[j], base, rules):
            j += 1
        if j - i >= rules.nav_run_min or (j - i == 1 and lines[i].links >= rules.nav_run_min):
            dropped.update(range(i, j))
        i = j
    return dropped


class _Masthead:
    """The magazine's masthead block: its heading line and the role lines that follow."""

    def __init__(self, rules: ParseRules) -> None:
        self.start, self.line = rules._masthead
        self.inside = False

    def skips(self, key: str) -> bool:
        if self.start.search(key):
            self.inside = True
            return True
        if self.inside:
            if self.line.search(key):
                return True
            self.inside = False
        return False


def _chrome(line: Line, key: str, rules: ParseRules) -> bool:
    return (
        is_footer(key, rules) or is_furniture(line, rules) or is_nav(line, rules) or bool(rules._breadcrumb.search(key))
    )


def content_scope(root: Any, rules: ParseRules) -> Any | None:
    """The first element ``rules.content_xpath`` selects, or None."""
    if not rules.content_xpath:
        return None
    try:
        found = root.xpath(rules.content_xpath)
    except lxml.etree.XPathError:
        found = []
    return next((e for e in found if isinstance(e, lxml.html.HtmlElement)), None)


def find_body(
    lines: Sequence[Line],
    root: Any,
    rules: ParseRules,
    base: str,
    title: str | None,
    anchor: int | None,
    crumb_last: int | None,
) -> Body | None:
    """The body after ``anchor`` (the metadata run's last line, else the title line), or
    the body of the configured content element; None when neither gives any text."""
    scope = content_scope(root, rules)
    if anchor is None and crumb_last is not None and scope is not None:
        anchor = crumb_last
    if anchor is not None:
        return _structural_body(lines, anchor, rules, base, title, scope)
    if scope is not None:
        return _scoped_body(lines, scope, None, rules, base, title)
    return None


def _scoped_body(
    lines: Sequence[Line], scope: Any, anchor: int | None, rules: ParseRules, base: str, title: str | None
) -> Body | None:
    inside = [ln for ln in lines if scope in ln.ancestors]
    if anchor is not None and inside and inside[0].index <= anchor:
        # the configured element holds the header too: skip up to the anchor
        inside = [ln for ln in inside if ln.index > anchor]
    found = clean_lines(inside, rules, base, structural=True, title=title)
    return found if found.paragraphs else None


def _structural_body(
    lines: Sequence[Line], anchor: int, rules: ParseRules, base: str, title: str | None, scope: Any | None
) -> Body | None:
    """Body = lines after ``anchor`` inside the nearest ancestor that holds some."""
    if scope is not None:
        return _scoped_body(lines, scope, anchor, rules, base, title)
    after = lines[anchor + 1 :]
    first_nonempty: Body | None = None
    el = lines[anchor].el
    for container in (el, *el.iterancestors()):
        inside = [ln for ln in after if container in ln.ancestors]
        if not inside:
            continue
        found = clean_lines(inside, rules, base, structural=True, title=title)
        if not found.paragraphs:
            continue
        if first_nonempty is None:
            first_nonempty = found
        if sum(len(b) for b in found.paragraphs) >= rules.min_body_chars:
            return found
    return first_nonempty


def attachments(region: Iterable[Line], base: str, rules: ParseRules) -> list[str]:
    """Absolute URLs of the region's links that are attachments, in page order, once each."""
    out: list[str] = []
    seen: set[str] = set()
    for line in region:
        for href in line.hrefs:
            try:
                url = urljoin(base, href.strip())
            except ValueError:
                continue
            if url not in seen and any(p.search(url) for p in rules._attachments):
                seen.add(url)
                out.append(url)
    return out
