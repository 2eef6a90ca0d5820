"""Header stage: the metadata line ``日期:… 作者:… 来源:… 阅读:…次`` (or the magazine's
``2022年第06期``) and its fields. :func:`parse_meta_line` reads one line,
:func:`find_meta_run` finds the run of lines that is the article's metadata, which
anchors the structural body. Also :func:`issue_month` of a magazine issue.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crawler.parsing.breadcrumb import Breadcrumb
from crawler.parsing.lines import Line
from crawler.parsing.rules import DEFAULT_RULES, ParseRules
from crawler.textnorm import Keyed, key_of

__all__ = ["TRAILING_TOOLS_RE", "Meta", "MetaRun", "find_meta_run", "issue_month", "parse_meta_line"]


@dataclass(frozen=True)
class Meta:
    """The metadata fields read from a line or a run of lines. ``fields`` names every
    label seen, with a value or not (`阅读:次` is a views field without a count)."""

    published: str | None = None
    author: str | None = None
    source: str | None = None
    views: int | None = None
    issue: str | None = None
    fields: frozenset[str] = frozenset()

    def merged(self, later: Meta) -> Meta:
        """Both lines' fields; where both have a value, this one's."""
        values = {name: _first(getattr(self, name), getattr(later, name)) for name in _ATTRIBUTE.values()}
        return Meta(fields=self.fields | later.fields, **values)


def _first(a: Any, b: Any) -> Any:
    return a if a is not None else b


@dataclass(frozen=True)
class MetaRun:
    """The run of consecutive metadata lines (indexes, both inclusive) and its fields."""

    first: int
    last: int
    meta: Meta


_DATE_VALUE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*日?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?"
)
_VIEWS_VALUE_RE = re.compile(r"^(\d[\d,，]*)?\s*次?")
# `【打印】 【关闭】`, `[字体:大 中 小]` printed at the end of the metadata line.
TRAILING_TOOLS_RE = re.compile(r"(?:\s*[【\[][^】\]]{0,16}[】\]])+$")
# The Meta attribute of each kind of field (the named groups of rules._meta_head).
_ATTRIBUTE = {"date": "published", "author": "author", "source": "source", "views": "views", "issue": "issue"}


def _iso_date(value: str) -> str | None:
    m = _DATE_VALUE_RE.match(value)
    if not m or value[m.end() :].strip():
        return None
    try:
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None


def issue_month(text: str | None, rules: ParseRules | None = None) -> str | None:
    """``2022年第06期`` -> ``"2022-06"``: the magazine issue in ``text`` as a month.

    The issue is found with ``rules.issue_pattern`` (so 第6期, full-width digits and
    traditional copies match too); its first number is the year, its last the issue,
    which is the month of the monthly magazine. None without an issue, or when the
    number is no month (1..12).
    """
    if not text:
        return None
    rules = rules or DEFAULT_RULES
    m = rules._issue.search(key_of(text))
    if not m:
        return None
    numbers = re.findall(r"\d+", m.group(0))
    if len(numbers) < 2:
        return None
    year, number = int(numbers[0]), int(numbers[-1])
    if not (1 <= number <= 12) or not (1000 <= year <= 9999):
        return None
    return f"{year:04d}-{number:02d}"


# --------------------------------------------------------------------------- one line


class _NotMeta(Exception):
    """The line is not made only of metadata fields."""


@dataclass(frozen=True)
class _Field:
    """One labelled field of a line: its label match, where its value ends in the line's
    key and whether it is the line's last field."""

    kd: Keyed
    head: re.Match[str]
    end: int
    last: bool


def parse_meta_line(line: Line, rules: ParseRules) -> Meta | None:
    """The fields of a line made only of metadata fields, or None."""
    kd = line.keyed
    key = kd.key
    heads = list(rules._meta_head.finditer(key))
    if not heads or not rules._meta_sep.match(key[: heads[0].start()]):
        return None
    values: dict[str, Any] = {}
    try:
        for i, head in enumerate(heads):
            kind = head.lastgroup
            if kind is None or kind in values:
                return None  # a repeated label is not the header line
            last = i + 1 == len(heads)
            values[kind] = _READERS[kind](_Field(kd, head, heads[i + 1].start() if not last else len(key), last), rules)
    except _NotMeta:
        return None
    return Meta(fields=frozenset(values), **{_ATTRIBUTE[kind]: value for kind, value in values.items()})


def _tail_ok(rest: str, last: bool, rules: ParseRules) -> bool:
    # Only the line's last field may be followed by a little page furniture
    # (print/close buttons, font size switch); anything longer is prose.
    rest = rest.strip()
    return not rest or (last and len(rest) <= rules.meta_trailing_max)


def _value_span(f: _Field, rules: ParseRules) -> tuple[int, int]:
    """The value's span in key coordinates, separators trimmed on both sides."""
    lead, trail = rules._meta_sep_strip
    key = f.kd.key
    vs, ve = f.head.end(), f.end
    ls = lead.match(key[vs:ve])
    vs += ls.end() if ls else 0
    ts = trail.search(key[vs:ve])
    if ts:
        ve = vs + ts.start()
    return vs, ve


def _read_issue(f: _Field, rules: ParseRules) -> str:
    rest = f.kd.key[f.head.end() : f.end]
    if not rules._meta_sep.match(rest) and not _tail_ok(rest, f.last, rules):
        raise _NotMeta
    return re.sub(r"\s+", "", f.kd.original(f.head.start(), f.head.end()))


def _read_date(f: _Field, rules: ParseRules) -> str:
    vs, ve = _value_span(f, rules)
    value_key = f.kd.key[vs:ve]
    dm = _DATE_VALUE_RE.match(value_key)
    if dm is None or not _tail_ok(value_key[dm.end() :], f.last, rules):
        raise _NotMeta
    iso = _iso_date(value_key[: dm.end()])
    if iso is None:
        raise _NotMeta
    return iso


def _read_views(f: _Field, rules: ParseRules) -> int | None:
    vs, ve = _value_span(f, rules)
    value_key = f.kd.key[vs:ve]
    vm = _VIEWS_VALUE_RE.match(value_key)
    if vm is None or not _tail_ok(value_key[vm.end() :], f.last, rules):
        raise _NotMeta
    return int(re.sub(r"[,，]", "", vm.group(1))) if vm.group(1) else None


def _name_value(f: _Field, rules: ParseRules) -> str:
    """The original text of an author or source value, the print/close buttons after the
    line's last field cut off."""
    vs, ve = _value_span(f, rules)
    value = f.kd.original(vs, ve).strip()
    if f.last:
        tm = TRAILING_TOOLS_RE.search(value)
        if tm and tm.start() > 0:
            value = value[: tm.start()].strip()
    if len(value) > 80:
        raise _NotMeta
    return value


def _read_author(f: _Field, rules: ParseRules) -> str | None:
    value = _name_value(f, rules)
    pm = rules._author_prefix.search(key_of(value))
    if pm:
        value = Keyed(value).original(pm.end(), len(key_of(value)))
    return value.strip() or None


def _read_source(f: _Field, rules: ParseRules) -> str | None:
    return _name_value(f, rules) or None


_READERS = {
    "issue": _read_issue,
    "date": _read_date,
    "views": _read_views,
    "author": _read_author,
    "source": _read_source,
}


# --------------------------------------------------------------------------- the run


def find_meta_run(
    lines: Sequence[Line], start: int, rules: ParseRules, crumb: Breadcrumb | None = None
) -> MetaRun | None:
    """First run of consecutive metadata lines that carries a date or an issue number."""
    parsed: dict[int, Meta | None] = {}
    last_crumb = key_of(crumb.crumbs[-1]) if crumb and crumb.crumbs else None
    crumb_last = crumb.last if crumb else None

    def channel_heading(i: int) -> bool:
        # The magazine's channel heading (`2022年第06期`, the last crumb repeated right
        # under the breadcrumb) reads like an issue-only metadata line.
        line = lines[i]
        if last_crumb is None or line.key != last_crumb:
            return False
        return line.heading or (crumb_last is not None and crumb_last < i <= crumb_last + 2)

    def meta_at(i: int) -> Meta | None:
        if i not in parsed:
            parsed[i] = None if channel_heading(i) else parse_meta_line(lines[i], rules)
        return parsed[i]

    for i in range(start, len(lines)):
        m = meta_at(i)
        if m is None or not ({"date", "issue"} & m.fields):
            continue
        first, last, merged = i, i, m
        # Fields may sit one per element; a label already seen means the next line is
        # body text (a byline), not more header.
        while first - 1 >= start:
            prev = meta_at(first - 1)
            if prev is None or prev.fields & merged.fields:
                break
            merged = prev.merged(merged)
            first -= 1
        while last + 1 < len(lines):
            nxt = meta_at(last + 1)
            if nxt is None or nxt.fields & merged.fields:
                break
            merged = merged.merged(nxt)
            last += 1
        return MetaRun(first, last, merged)
    return None
