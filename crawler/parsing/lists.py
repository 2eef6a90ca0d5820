"""List pages (:func:`parse_list`): the article links of a channel's list page, each with
the title, date and category its row prints."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from typing import Any, TypedDict, cast

from crawler.parsing.clean import clean_record
from crawler.parsing.document import parse_tree, to_text
from crawler.parsing.lines import visible_text
from crawler.parsing.title import ELLIPSIS_RE
from crawler.textnorm import collapse_ws
from crawler.urls import article_id_from_link, canonical_article_url

__all__ = ["ListRow", "parse_list"]


class ListRow(TypedDict):
    """One article of a list page."""

    id: str  # the article id
    url: str  # its canonical URL
    title: str | None  # the link text (or its title attribute when the text is cut short)
    date: str | None  # the date the row prints, ISO YYYY-MM-DD
    category: str | None  # the bracketed category the row prints: 【律协动态】


_LIST_DATE_RE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)")
_LIST_CAT_RE = re.compile(r"[\[【]\s*([^\[\]【】]{1,30}?)\s*[\]】]")
# Bracketed box links that sit next to a lone article link in side boxes.
_NOT_CATEGORIES = frozenset({"更多", "more", "More", "MORE", "详细", "详情"})


def parse_list(html: str | bytes, url: str, extra_hosts: frozenset[str] | set[str] = frozenset()) -> list[ListRow]:
    """Article links of a list page in page order, deduplicated by id."""
    root = parse_tree(to_text(html))
    if root is None:
        return []
    anchors = _article_anchors(root.iter("a"), url, frozenset(extra_hosts))
    # Which article ids sit under each element: a row is the largest ancestor of a link
    # that holds no other article.
    ids_under: dict[Any, set[str]] = {}
    for a, aid in anchors:
        for anc in a.iterancestors():
            ids_under.setdefault(anc, set()).add(aid)
    rows: dict[str, ListRow] = {}
    for a, aid in anchors:
        chain = [a]
        for anc in a.iterancestors():
            if ids_under.get(anc, set()) != {aid}:
                break
            chain.append(anc)
        entry = _list_row(a, aid, chain)
        if aid not in rows:
            rows[aid] = entry
        else:
            _fill_gaps(rows[aid], entry)
    return [cast(ListRow, clean_record(row)) for row in rows.values()]


def _article_anchors(links: Iterable[Any], url: str, extra_hosts: frozenset[str]) -> list[tuple[Any, str]]:
    """The ``<a>`` elements that link to an article, with its id."""
    anchors: list[tuple[Any, str]] = []
    for a in links:
        href = a.get("href")
        if not href:
            continue
        try:
            aid = article_id_from_link(href, url, extra_hosts)
        except ValueError:
            aid = None
        if aid:
            anchors.append((a, aid))
    return anchors


def _list_row(a: Any, aid: str, chain: list[Any]) -> ListRow:
    """The row of link ``a``: its date and category are the first found in the link, then
    in each larger element of its row."""
    date: str | None = None
    category: str | None = None
    for el in chain:
        text = visible_text(el)
        date = date or _list_date(text)
        category = category or _category(text)
        if date is not None and category is not None:
            break
    return ListRow(id=aid, url=canonical_article_url(aid), title=_list_title(a), date=date, category=category)


def _list_date(text: str) -> str | None:
    dm = _LIST_DATE_RE.search(text)
    if not dm:
        return None
    try:
        return _dt.date(int(dm.group(1)), int(dm.group(2)), int(dm.group(3))).isoformat()
    except ValueError:
        return None


def _category(text: str) -> str | None:
    for cm in _LIST_CAT_RE.finditer(text):
        value = collapse_ws(cm.group(1))
        if value and value not in _NOT_CATEGORIES:
            return value
    return None


def _list_title(a: Any) -> str | None:
    title = visible_text(a)
    # Whole-row links carry the date and category inside the link text.
    title = _LIST_DATE_RE.sub("", title, count=1) if _LIST_DATE_RE.match(title) else title
    title = collapse_ws(title)
    cm = _LIST_CAT_RE.match(title)
    if cm:
        title = collapse_ws(title[cm.end() :])
    title_attr = collapse_ws(a.get("title") or "")
    if title_attr and (not title or ELLIPSIS_RE.search(title)):
        title = title_attr
    return title or None


def _fill_gaps(row: ListRow, entry: ListRow) -> None:
    # an image link first, the text link second: fill the gaps
    row["title"] = row["title"] if row["title"] is not None else entry["title"]
    row["date"] = row["date"] if row["date"] is not None else entry["date"]
    row["category"] = row["category"] if row["category"] is not None else entry["category"]
