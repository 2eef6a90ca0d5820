"""Header stage: the ``当前位置: 首页 >> …`` breadcrumb (:func:`find_breadcrumb`), whose
crumbs are the article's section and whose position bounds the title's search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crawler.parsing.lines import Line
from crawler.parsing.rules import ParseRules
from crawler.textnorm import collapse_ws, key_of

__all__ = ["Breadcrumb", "find_breadcrumb"]


@dataclass(frozen=True)
class Breadcrumb:
    """Where the breadcrumb is (line indexes, both inclusive) and its crumbs after 首页."""

    first: int
    last: int
    crumbs: tuple[str, ...]

    @property
    def section(self) -> str | None:
        """The crumbs as the record's section: ``行业资讯 > 律协动态``."""
        return " > ".join(self.crumbs) if self.crumbs else None


def find_breadcrumb(lines: Sequence[Line], rules: ParseRules) -> Breadcrumb | None:
    """The first line with the breadcrumb label, and the lines that continue it."""
    for i, line in enumerate(lines):
        m = rules._breadcrumb.search(line.key)
        if not m:
            continue
        kd = line.keyed
        text, last = _joined(lines, i, kd.original(m.end(), len(kd.key)), rules)
        return Breadcrumb(i, last, _crumbs(text, rules))
    return None


def _joined(lines: Sequence[Line], i: int, text: str, rules: ParseRules) -> tuple[str, int]:
    """The breadcrumb's text from line ``i`` on, and its last line."""
    ends_sep, starts_sep = rules._crumb_sep_edge
    last = i
    # Crumbs may be separate elements (one line each) joined by separator text.
    j = i + 1
    while j < len(lines) and j <= i + 20:
        nxt = lines[j].text
        if not text.strip() or ends_sep.search(text.rstrip()) or starts_sep.match(nxt):
            text = f"{text} {nxt}"
            last = j
            j += 1
            continue
        break
    return text, last


def _crumbs(text: str, rules: ParseRules) -> tuple[str, ...]:
    crumbs = [c for c in (collapse_ws(c) for c in rules._crumb_sep.split(text)) if c]
    if crumbs and key_of(crumbs[0]) == key_of(rules.breadcrumb_home):
        crumbs = crumbs[1:]
    deduped: list[str] = []
    for c in crumbs:
        if deduped and key_of(deduped[-1]) == key_of(c):
            continue
        deduped.append(c)
    if deduped:
        # The channel heading repeats the last crumb; when it is inline it lands in
        # the same line: `律协动态 律协动态`.
        deduped[-1] = _undouble(deduped[-1])
    return tuple(deduped)


def _undouble(text: str) -> str:
    compact = re.sub(r"\s+", "", text)
    n = len(compact)
    if n and n % 2 == 0 and compact[: n // 2] == compact[n // 2 :]:
        half = compact[: n // 2]
        # keep the original spacing of the first half
        parts = text.split()
        acc = ""
        for k, p in enumerate(parts):
            acc += p
            if acc == half:
                return " ".join(parts[: k + 1])
        return half
    return text
