"""Line classifiers shared by the title, subtitle, body and fallback stages: is a line
the footer, page furniture (boxes, buttons), navigation, or a row of links?"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urljoin

from crawler.parsing.lines import Line
from crawler.parsing.rules import ParseRules
from crawler.textnorm import key_of

__all__ = ["footer_starts", "is_attachment_href", "is_footer", "is_furniture", "is_nav", "link_only"]


def is_footer(key: str, rules: ParseRules) -> bool:
    return any(p.search(key) for p in rules._footer)


def is_furniture(line: Line | str, rules: ParseRules) -> bool:
    key = line.key if isinstance(line, Line) else key_of(line)
    return any(p.search(key) for p in rules._drop)


def is_nav(line: Line | str, rules: ParseRules) -> bool:
    key = line.key if isinstance(line, Line) else key_of(line)
    tokens = key.split()
    return bool(tokens) and all(t in rules._nav_tokens for t in tokens)


def is_attachment_href(href: str, base: str, rules: ParseRules) -> bool:
    try:
        url = urljoin(base, href.strip())
    except ValueError:
        return False
    return any(p.search(url) for p in rules._attachments)


def link_only(line: Line, base: str, rules: ParseRules) -> bool:
    """All (90%) link text, and none of its links an attachment."""
    if not line.links or line.link_chars < 0.9 * len(line.text.replace(" ", "")):
        return False
    return not any(is_attachment_href(h, base, rules) for h in line.hrefs)


def footer_starts(keys: Sequence[str], i: int, rules: ParseRules) -> bool:
    """The footer block starts at ``keys[i]``: two footer lines within the window."""
    window = keys[i : i + max(rules.footer_window, 1)]
    return sum(1 for k in window if is_footer(k, rules)) >= 2
