"""Header stage: the article's title (:func:`find_title`), a heading line that matches
the page's ``<title>`` chain ``title - crumbs - site name``, else that chain's head."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crawler.parsing.breadcrumb import Breadcrumb
from crawler.parsing.furniture import is_furniture, is_nav
from crawler.parsing.lines import Line, tag_of
from crawler.parsing.meta import MetaRun
from crawler.parsing.rules import ParseRules
from crawler.textnorm import collapse_ws, key_of

__all__ = ["ELLIPSIS_RE", "Title", "TitleChain", "find_title", "title_chain"]

ELLIPSIS_RE = re.compile(r"(?:\.{3,}|…+)$")


@dataclass(frozen=True)
class TitleChain:
    """The page's ``<title>`` text (``raw``) and its first part with trailing crumbs and
    site name stripped (``head``); both None without a ``<title>``."""

    raw: str | None = None
    head: str | None = None


@dataclass(frozen=True)
class Title:
    """The title and the index of the line that prints it (None: from ``<title>`` only)."""

    text: str | None = None
    index: int | None = None


def title_chain(root: Any, rules: ParseRules, crumbs: Sequence[str]) -> TitleChain:
    raw = None
    for t in root.iter("title"):
        raw = collapse_ws(t.text_content() or "")
        break
    if not raw:
        return TitleChain()
    parts = [p.strip() for p in rules._title_sep.split(raw)]
    site = key_of(rules.site_name)
    crumb_keys = {key_of(c) for c in crumbs} | {key_of(rules.breadcrumb_home)}
    while parts and (not parts[-1] or key_of(parts[-1]) == site):
        parts.pop()
    if not parts:
        return TitleChain(raw)
    while len(parts) > 1 and key_of(parts[-1]) in crumb_keys:
        parts.pop()
    if crumbs and len(parts) > 1:
        # Titles may contain the separator themselves; once the crumbs are known and
        # gone, everything left is the title.
        seps = list(rules._title_sep.finditer(raw))
        n = len(parts)
        return TitleChain(raw, collapse_ws(raw[: seps[n - 1].start()] if n - 1 < len(seps) else raw))
    return TitleChain(raw, parts[0])


def _heading_matches(text: str, chain: TitleChain, rules: ParseRules) -> bool:
    if not text:
        return False
    k = key_of(text)
    if chain.head and k == key_of(chain.head):
        return True
    if chain.raw:
        kr = key_of(chain.raw)
        if kr == k:
            return True
        # The heading is the chain's head when a separator follows it there; this
        # keeps titles that contain the separator themselves whole.
        if kr.startswith(k) and rules._title_sep.match(kr[len(k) :]):
            return True
    if chain.head:
        kc = ELLIPSIS_RE.sub("", key_of(chain.head)).rstrip()
        # <title> may be cut short; the heading then carries the whole title.
        if len(kc) >= 4 and len(k) > len(kc) and k.startswith(kc):
            return True
    return False


def find_title(
    lines: Sequence[Line], root: Any, rules: ParseRules, crumb: Breadcrumb | None, run: MetaRun | None
) -> Title:
    """The line between the breadcrumb and the metadata that matches the ``<title>``
    chain (headings first), else the chain's head, else a guess from the layout."""
    chain = title_chain(root, rules, crumb.crumbs if crumb else ())
    meta_first = run.first if run else None
    lo = crumb.last + 1 if crumb else 0
    hi = meta_first if meta_first is not None else len(lines)
    if lo >= hi:
        lo = 0
    window = range(hi - 1, lo - 1, -1)
    if chain.raw or chain.head:
        found = _matching_line(lines, window, chain, rules, anywhere=meta_first is None)
        if found is not None:
            return found
    if chain.head:
        return Title(chain.head)
    return _layout_title(lines, window, rules, meta_first)


def _matching_line(
    lines: Sequence[Line], window: range, chain: TitleChain, rules: ParseRules, anywhere: bool
) -> Title | None:
    for want_heading in (True, False):
        for i in window:
            line = lines[i]
            if want_heading and not line.heading:
                continue
            if _heading_matches(line.text, chain, rules):
                return Title(line.text, i)
    if anywhere:
        for i, line in enumerate(lines):
            if _heading_matches(line.text, chain, rules):
                return Title(line.text, i)
    return None


def _layout_title(lines: Sequence[Line], window: range, rules: ParseRules, meta_first: int | None) -> Title:
    # No usable <title>: the line right above the metadata, else the first h1.
    if meta_first is not None:
        for i in window:
            if not is_furniture(lines[i], rules) and not is_nav(lines[i], rules):
                return Title(lines[i].text, i)
    for i, line in enumerate(lines):
        if line.heading and tag_of(line.el) == "h1":
            return Title(line.text, i)
    return Title()
