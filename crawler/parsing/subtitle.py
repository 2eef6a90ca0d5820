"""Header stage: the subtitle (or kicker) printed with the title on magazine pages
(:func:`find_subtitle`)."""

from __future__ import annotations

from collections.abc import Sequence

from crawler.parsing.breadcrumb import Breadcrumb
from crawler.parsing.furniture import is_footer, is_furniture, is_nav, link_only
from crawler.parsing.lines import Line
from crawler.parsing.meta import TRAILING_TOOLS_RE, MetaRun, parse_meta_line
from crawler.parsing.rules import ParseRules
from crawler.parsing.title import Title
from crawler.textnorm import key_of

__all__ = ["find_subtitle"]


def _chrome(line: Line, rules: ParseRules, base: str, title_key: str | None, crumb_key: str | None) -> bool:
    """A line next to the title that is page chrome, not a subtitle: the breadcrumb, the
    channel heading (the last crumb again), the title again, the magazine masthead,
    sponsor boxes and other furniture, navigation, footer, link rows, a row of bracketed
    buttons, metadata."""
    k = line.key
    ms, ml = rules._masthead
    return bool(
        (title_key is not None and k == title_key)
        or (crumb_key is not None and k == crumb_key)
        or rules._breadcrumb.search(k)
        or ms.search(k)
        or ml.search(k)
        or is_footer(k, rules)
        or is_furniture(line, rules)
        or is_nav(line, rules)
        or link_only(line, base, rules)
        or TRAILING_TOOLS_RE.fullmatch(k.strip()) is not None  # 【打印】 【关闭】 alone
        or parse_meta_line(line, rules) is not None
    )


def find_subtitle(
    lines: Sequence[Line], rules: ParseRules, base: str, title: Title, run: MetaRun | None, crumb: Breadcrumb | None
) -> str | None:
    """The subtitle printed with the title, or None.

    1. The line(s) between the title line and the metadata line that are not chrome
       (at most ``subtitle_max_lines``, each at most ``subtitle_max_chars``; more means
       the page is not laid out as title/subtitle/metadata, and nothing is taken).
    2. Else a kicker: the one line right above the title, printed in the same parent
       element as the title (a sibling block), when it is not chrome.
    Only on magazine pages (the metadata carries an issue) unless
    ``subtitle_magazine_only`` is false, and only when the metadata line anchors the page.
    """
    title_idx = title.index
    if title_idx is None or run is None or title_idx >= run.first:
        return None
    if rules.subtitle_magazine_only and not run.meta.issue:
        return None
    title_key = key_of(title.text) if title.text else None
    crumb_key = key_of(crumb.crumbs[-1]) if crumb and crumb.crumbs else None

    def ok(texts: list[str]) -> bool:
        return 0 < len(texts) <= rules.subtitle_max_lines and all(len(t) <= rules.subtitle_max_chars for t in texts)

    between = [ln.text for ln in lines[title_idx + 1 : run.first] if not _chrome(ln, rules, base, title_key, crumb_key)]
    if between:
        return " ".join(between) if ok(between) else None
    above = title_idx - 1
    if above < 0 or (crumb is not None and above <= crumb.last):
        return None
    line, title_line = lines[above], lines[title_idx]
    if line.el is title_line.el or line.el.getparent() is not title_line.el.getparent():
        return None
    if _chrome(line, rules, base, title_key, crumb_key) or not ok([line.text]):
        return None
    return line.text
