"""Find the site's channel list pages and learn how they page, from the pages themselves.

Pure functions from (HTML, URL) to plain values: no I/O, no clock, no storage. The spider
uses them to walk from any page it has (an article, a configured list) to the channels:

* :func:`breadcrumb_links` - the crumbs of ``当前位置: 首页 >> 行业资讯 >> 律协动态``
  with their links (the breadcrumb text is found by crawler.parsing's rules);
* :func:`candidate_links` - every link that may lead to a channel list, with how it was
  found (breadcrumb, more, nav, tab, pager);
* :func:`article_links` - every article id the page links to;
* :func:`classify` - list page, hub (links to lists: a magazine year, a year index) or
  other, with the list's rows and its learned :class:`Pager`;
* :func:`issue_month` - ``2022年第06期`` -> ``"2022-06"``.

As in crawler.parsing, tag names and CSS classes of the live site are unknown, so every
rule is a text pattern or a tag-agnostic structure rule, and every word and threshold is a
field of :class:`DiscoveryRules`.

Link groups (nav and tab). An anchor's *group* is the lowest element above it that holds
at least two anchors with text. A group is a navigation block when it holds at least
``nav_min_links`` short links (1..``nav_max_chars`` characters, not article links), those
make at least ``nav_short_share`` of its anchors with text, and link text makes at least
``nav_link_share`` of its visible text (separators ``| / ·`` and spaces not counted). Its
links are ``tab`` when the next link on the page after the group (``more`` links skipped)
is an article link, i.e. the group sits right before a list; otherwise ``nav`` (main
navigation, sub-navigation, committee rows). Links whose text is page furniture
(crawler.parsing's furniture patterns: 常用工具 items, 请点击此处反馈) or a service entry of
the top bar (``skip_texts``: 申请实习证, 网上投稿, ENGLISH, 登录 …) are no candidates.

Pager learning. Links whose text is a next/previous/first/last word or a page number are
compared with the current URL: the one numeric component that differs (a query
parameter's value, or a number in one path segment) carries the page number. See
:func:`learn_pager`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypedDict, Unpack
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from crawler.parsing import DEFAULT_RULES, ParseRules, issue_month, parse_list
from crawler.parsing.breadcrumb import find_breadcrumb
from crawler.parsing.defaults import TOP_BAR_SERVICES
from crawler.parsing.document import parse_tree, to_text
from crawler.parsing.furniture import is_furniture
from crawler.parsing.lines import build_lines, tag_of, visible_text
from crawler.parsing.rules import compile_pattern
from crawler.textnorm import collapse_ws, key_of
from crawler.urls import article_id_from_link, article_id_from_path, on_site

__all__ = [
    "DEFAULT_DISCOVERY_RULES",
    "Candidate",
    "Crumb",
    "DiscoveryRules",
    "Page",
    "Pager",
    "article_links",
    "breadcrumb_links",
    "candidate_links",
    "classify",
    "issue_month",
    "learn_pager",
]

HOWS = ("breadcrumb", "more", "nav", "tab", "pager", "hub")


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class DiscoveryRules:
    """Every word and threshold discovery relies on. Texts are compared after
    crawler.textnorm.key_of (traditional folded, pinyin notes dropped), lowercased,
    brackets and spaces removed."""

    # classify
    min_rows: int = 3  # article rows that make a list page
    min_rows_with_pager: int = 1  # ... or this many when the page has a learnt pager
    min_sublists: int = 1  # list-looking links that make a hub
    # Link texts that name a list: an issue (2022年第06期) or a year of an index (2022, 2022年).
    sublist_patterns: tuple[str, ...] = (
        r"^\d{4}\s*年\s*第\s*\d{1,3}\s*期$",
        r"^(?:19|20)\d{2}\s*年?$",
    )
    # [更多], 更多>>, 查看更多, more …
    more_patterns: tuple[str, ...] = (
        r"^(?:查看|浏览|阅读)?更多(?:内容|信息|新闻|文章|资讯|动态)?$",
        r"^(?:view|read|see)?more$",
    )
    # pager words (compared whole, after brackets, spaces and arrows are removed; an
    # arrow-only text is compared as it is)
    next_texts: tuple[str, ...] = ("下一页", "下页", "后一页", "后页", "next", "nextpage", ">", "›", "»", "＞")
    prev_texts: tuple[str, ...] = ("上一页", "上页", "前一页", "前页", "prev", "previous", "<", "‹", "«", "＜")
    first_texts: tuple[str, ...] = ("首页", "第一页", "first", "|<", "<<")
    last_texts: tuple[str, ...] = ("尾页", "末页", "最后一页", "最末页", "last", ">|", ">>")
    # 第2页, [2]: a page number; four-digit years are never page numbers (year indexes).
    page_number_pattern: str = r"^第?(\d{1,4})页?$"
    year_pattern: str = r"^(?:19|20)\d{2}$"
    default_first_page: int = 1  # when nothing on the page shows the first page
    # link groups
    nav_min_links: int = 3
    nav_max_chars: int = 16
    nav_short_share: float = 0.8
    nav_link_share: float = 0.6
    # Top-bar services and account links: never a channel list.
    skip_texts: tuple[str, ...] = (
        *TOP_BAR_SERVICES,
        "ENGLISH",
        "切换新版",
        "切换旧版",
        "登录",
        "注册",
        "忘记密码",
        "退出",
        "会员须知",
        "个人会员",
        "团体会员",
    )
    # Paths that are never channel lists: articles, attachments, the JavaScript home
    # page, static files.
    exclude_path_patterns: tuple[str, ...] = (
        r"^/info/",
        r"^/service/rest/",
        r"^/?$",
        r"^/static/",
        r"(?i)\.(?:pdf|docx?|xlsx?|pptx?|wps|zip|rar|7z|jpe?g|png|gif|bmp|svg|ico|mp[34]|txt|css|js)$",
    )
    # Query parameter names that carry a page number (when a link adds several at once).
    page_param_pattern: str = r"(?i)^(?:p|pn|pg|page.*|.*page(?:no|num|number|index)?|start)$"

    def __post_init__(self) -> None:
        for name in ("sublist_patterns", "more_patterns", "exclude_path_patterns"):
            for p in getattr(self, name):
                compile_pattern(name, p, "discovery")
        for name in ("page_number_pattern", "year_pattern", "page_param_pattern"):
            compile_pattern(name, getattr(self, name), "discovery")
        for name in (
            "min_rows",
            "min_rows_with_pager",
            "min_sublists",
            "nav_min_links",
            "nav_max_chars",
            "default_first_page",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"[discovery] {name} must be >= 0")

    # ---- compiled forms (cached per instance; the dataclass is frozen)

    @cached_property
    def _sublist(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.sublist_patterns]

    @cached_property
    def _more(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.more_patterns]

    @cached_property
    def _page_param(self) -> re.Pattern:
        return re.compile(self.page_param_pattern)

    @cached_property
    def _exclude(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.exclude_path_patterns]

    @cached_property
    def _roles(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple(
            (role, frozenset(_norm(t) for t in texts))
            for role, texts in (
                ("next", self.next_texts),
                ("prev", self.prev_texts),
                ("first", self.first_texts),
                ("last", self.last_texts),
            )
        )

    @cached_property
    def _skip(self) -> frozenset[str]:
        return frozenset(_norm(t) for t in self.skip_texts)

    @cached_property
    def _page_number(self) -> re.Pattern:
        return re.compile(self.page_number_pattern)

    @cached_property
    def _year(self) -> re.Pattern:
        return re.compile(self.year_pattern)


DEFAULT_DISCOVERY_RULES = DiscoveryRules()

_BRACKETS_RE = re.compile(r"[\s\[\]【】()（）「」『』]+")
_ARROWS_RE = re.compile(r"[<>‹›«»＜＞|+＋→←]+")


def _norm(text: str) -> str:
    """Key of a link text for word comparisons: simplified, lowercased, no brackets or spaces."""
    return _BRACKETS_RE.sub("", key_of(collapse_ws(text))).lower()


def _word(text: str) -> str:
    """_norm without leading/trailing arrows (下一页>> -> 下一页), unless only arrows."""
    n = _norm(text)
    stripped = _ARROWS_RE.sub("", n)
    return stripped or n


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Crumb:
    name: str
    url: str | None


@dataclass(frozen=True)
class Candidate:
    url: str
    text: str
    how: str  # breadcrumb | more | nav | tab | pager (classify's sublists: hub)


@dataclass(frozen=True)
class Pager:
    """How a list pages. ``template.format(page=n)`` is the URL of page n for every
    n >= ``first_page``. ``first_url``, when set, is the list's first page, whose URL
    does not fit the template (``index.html`` before ``index_2.html``): it is page
    ``first_page - 1``. ``current_page`` is the number of the page the pager was learnt
    on (on ``first_url``: ``first_page - 1``)."""

    template: str
    first_page: int
    current_page: int
    first_url: str | None = None


@dataclass(frozen=True)
class Page:
    kind: str  # list | hub | other
    rows: list  # crawler.parsing.parse_list rows
    pager: Pager | None
    js_pager: bool
    sublists: list  # list[Candidate], how="hub"


# --------------------------------------------------------------------------- document

_NO_LINK_RE = re.compile(r"^\s*(?:$|#|javascript:|mailto:|tel:|data:|about:)", re.I)


class PageOptions(TypedDict, total=False):
    """How the public readers read a page: ``extra_hosts`` (netlocs counted as the site's,
    e.g. the --base-url host), the discovery rules and the parser's rules."""

    extra_hosts: Iterable[str]
    rules: DiscoveryRules
    parse_rules: ParseRules


class _Doc:
    """One parse of a page, shared by the public functions."""

    def __init__(
        self,
        html: str | bytes,
        url: str,
        extra_hosts: Iterable[str] = frozenset(),
        rules: DiscoveryRules = DEFAULT_DISCOVERY_RULES,
        parse_rules: ParseRules = DEFAULT_RULES,
    ):
        self.url = _defrag(url)
        self.extra = frozenset(extra_hosts or ())
        self.rules = rules
        self.parse_rules = parse_rules or DEFAULT_RULES
        self.root = parse_tree(to_text(html))
        self.anchors: list[Any] = []
        if self.root is not None:
            self.anchors = [a for a in self.root.iter("a") if _visible_anchor(a)]
        self._texts: dict[Any, str] = {}

    def text(self, a: Any) -> str:
        if a not in self._texts:
            self._texts[a] = visible_text(a) or collapse_ws(a.get("title") or "")
        return self._texts[a]

    def absolute(self, href: str | None) -> str | None:
        if href is None or _NO_LINK_RE.match(href):
            return None
        try:
            url = urljoin(self.url, href.strip())
            parts = urlsplit(url)
        except ValueError:
            return None
        if parts.scheme not in ("http", "https"):
            return None
        return _defrag(url)

    def own_host(self, url: str) -> bool:
        return on_site(url, self.extra)

    def candidate_url(self, href: str | None) -> str | None:
        """The absolute URL of a link that may be a channel list, or None."""
        url = self.absolute(href)
        if url is None or not self.own_host(url):
            return None
        path = urlsplit(url).path or "/"
        if any(p.search(path) for p in self.rules._exclude):
            return None
        if any(p.search(url) for p in self.parse_rules._attachments):
            return None
        return url

    def article_id(self, a: Any) -> str | None:
        href = a.get("href")
        if not href:
            return None
        try:
            return article_id_from_link(href, self.url, self.extra)
        except ValueError:
            return None


def _visible_anchor(a: Any) -> bool:
    return all(tag_of(el) not in ("script", "template", "noscript") for el in (a, *a.iterancestors()))


def _defrag(url: str) -> str:
    parts = urlsplit((url or "").strip())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


# --------------------------------------------------------------------------- breadcrumb


def _breadcrumb(doc: _Doc) -> tuple[list[Crumb], set, set]:
    """The crumbs, the anchors that carry them, and the 首页 anchor(s) of the breadcrumb."""
    if doc.root is None:
        return [], set(), set()
    lines = build_lines(doc.root)
    found = find_breadcrumb(lines, doc.parse_rules)
    if not found:
        return [], set(), set()
    first, last, names = found.first, found.last, found.crumbs
    # Anchors of the breadcrumb: inside its lines' elements, among the hrefs those lines hold.
    hrefs: set[str] = set()
    scopes = []
    for line in lines[first : last + 1]:
        hrefs.update(line.hrefs)
        scopes.append(line.el)
    by_key: dict[str, Any] = {}
    seen: set = set()
    for scope in scopes:
        for a in scope.iter("a"):
            if a in seen or a.get("href") not in hrefs:
                continue
            seen.add(a)
            by_key.setdefault(key_of(doc.text(a)), a)
    crumbs: list[Crumb] = []
    used: set = set()
    for name in names:
        a = by_key.get(key_of(name))
        url = doc.candidate_url(a.get("href")) if a is not None else None
        if a is not None:
            used.add(a)
        crumbs.append(Crumb(name, url))
    home = by_key.get(key_of(doc.parse_rules.breadcrumb_home))
    return crumbs, used, ({home} - used) if home is not None else set()


def breadcrumb_links(html: str | bytes, url: str, **options: Unpack[PageOptions]) -> list[Crumb]:
    """The crumbs after 首页 of the page's ``当前位置`` breadcrumb, each with the absolute
    URL of its link when it has one and that link is a candidate (a page of this site
    that is no article or attachment), else None. [] without a breadcrumb."""
    return _breadcrumb(_Doc(html, url, **options))[0]


# --------------------------------------------------------------------------- pager


@dataclass(frozen=True)
class _Rel:
    template: str
    style: str  # query | path
    link_n: int | None  # None: the link is the bare first page
    cur_n: int | None  # None: the current URL is the bare first page


def _esc(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


_DIGITS_RE = re.compile(r"(\d+)")
_HEX_SEGMENT_RE = re.compile(r"^[0-9a-fA-F]{16,}$")
_NUMBERED_SEGMENT_RE = re.compile(r"^(.*?)([_-]?)(\d+)(\.[A-Za-z0-9]+)?$")


def _query_items(query: str) -> list[tuple[str, str | None]]:
    out = []
    for part in query.split("&"):
        if not part:
            continue
        k, eq, v = part.partition("=")
        out.append((k, v if eq else None))
    return out


def _relate(link: str, cur: str, doc: _Doc) -> _Rel | None:
    """How ``link`` is another page of the list at ``cur``: the one numeric component
    that differs, or None."""
    lp, cp = urlsplit(link), urlsplit(cur)
    # www., wx., info. and the --base-url host serve the same pages: a pager may name any.
    if not (lp.netloc == cp.netloc or (doc.own_host(link) and doc.own_host(cur))):
        return None
    base = f"{_esc(lp.scheme)}://{_esc(lp.netloc)}"
    if lp.path == cp.path or (lp.path or "/") == (cp.path or "/"):
        return _relate_query(lp, cp, base, doc.rules)
    if lp.query != cp.query:
        return None
    query = ("?" + _esc(lp.query)) if lp.query else ""
    ls, cs = lp.path.split("/"), cp.path.split("/")
    if len(ls) == len(cs):
        return _relate_segment(ls, cs, base, query)
    return _relate_appended(ls, cs, base, query)


def _ascii_number(value: str | None) -> int | None:
    """The page number a URL component spells in ASCII digits, else None."""
    return int(value) if value is not None and value.isdigit() and value.isascii() else None


def _relate_query(lp: SplitResult, cp: SplitResult, base: str, rules: DiscoveryRules) -> _Rel | None:
    """The same path: the one query parameter whose value differs carries the page number."""
    li, ci = _query_items(lp.query), _query_items(cp.query)
    ld, cd = dict(li), dict(ci)
    if len(ld) != len(li) or len(cd) != len(ci):
        return None  # repeated keys: not a simple pager
    keys = [k for k in dict.fromkeys([*ld, *cd]) if ld.get(k, "\0") != cd.get(k, "\0")]
    if len(keys) > 1 and not any(k in cd for k in keys):
        # The bare first page of a tab (/papers) whose pager links add the tab and the
        # page (?tab=1&pageNumber=2): the one parameter named like a page number pages,
        # the others are fixed parts of the template.
        keys = [k for k in keys if rules._page_param.search(k)] or keys
    if len(keys) != 1:
        return None
    k = keys[0]
    # "\0" for a missing parameter: no number, and unequal to any value a URL holds.
    link_n, cur_n = _ascii_number(ld.get(k, "\0")), _ascii_number(cd.get(k, "\0"))
    # (a link without the parameter, 首页 from page 3, adds nothing: page 1 fits the template)
    if link_n is None or (cur_n is None and k in cd):
        return None
    parts = [
        f"{_esc(kk)}={{page}}" if kk == k else (_esc(kk) if vv is None else f"{_esc(kk)}={_esc(vv)}") for kk, vv in li
    ]
    return _Rel(base + _esc(lp.path) + "?" + "&".join(parts), "query", link_n, cur_n)


def _path_template(base: str, segs: list[str], i: int, seg_template: str, query: str) -> str:
    """The URL template of a path pager: segment ``i`` replaced by ``seg_template``."""
    return base + "/".join(_esc(s) if j != i else seg_template for j, s in enumerate(segs)) + query


def _relate_segment(ls: list[str], cs: list[str], base: str, query: str) -> _Rel | None:
    """Paths of as many segments: the one segment that differs carries the page number."""
    diff = [i for i, (a, b) in enumerate(zip(ls, cs, strict=True)) if a != b]
    if len(diff) != 1:
        return None
    i = diff[0]
    a, b = ls[i], cs[i]
    if _HEX_SEGMENT_RE.match(a.rsplit(".", 1)[0]) or _HEX_SEGMENT_RE.match(b.rsplit(".", 1)[0]):
        return None
    ta, tb = _DIGITS_RE.split(a), _DIGITS_RE.split(b)
    if len(ta) == len(tb):
        dd = [j for j, (x, y) in enumerate(zip(ta, tb, strict=True)) if x != y]
        if len(dd) == 1 and dd[0] % 2 == 1:
            j = dd[0]
            seg = "".join(_esc(t) if n != j else "{page}" for n, t in enumerate(ta))
            return _Rel(_path_template(base, ls, i, seg, query), "path", int(ta[j]), int(tb[j]))
        return None
    # one of them has the number inserted: index.html / index_2.html, or /news/ /news/index_2.html
    for numbered, bare, link_is_numbered in ((a, b, True), (b, a, False)):
        m = _NUMBERED_SEGMENT_RE.match(numbered)
        if not m:
            continue
        stem, sep, digits, ext = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        if not stem or _DIGITS_RE.search(stem[-1:] or ""):
            continue
        if bare == stem + ext or bare == "":
            seg = _esc(stem) + _esc(sep) + "{page}" + _esc(ext)
            t = _path_template(base, ls if link_is_numbered else cs, i, seg, query)
            return _Rel(t, "path", int(digits), None) if link_is_numbered else _Rel(t, "path", None, int(digits))
    return None


def _relate_appended(ls: list[str], cs: list[str], base: str, query: str) -> _Rel | None:
    """Paths of different lengths: /catalog/abc -> /catalog/abc/2 (a page number appended as a segment)."""
    for longer, shorter, link_longer in ((ls, cs, True), (cs, ls, False)):
        trimmed = shorter[:-1] if shorter and shorter[-1] == "" else shorter
        if len(longer) == len(trimmed) + 1 and longer[:-1] == trimmed and longer[-1].isdigit() and longer[-1].isascii():
            t = _path_template(base, longer, len(longer) - 1, "{page}", query)
            n = int(longer[-1])
            return _Rel(t, "path", n, None) if link_longer else _Rel(t, "path", None, n)
    return None


def _pager_role(text: str, rules: DiscoveryRules) -> tuple[str, int | None] | None:
    """('next'|'prev'|'first'|'last'|'num', number shown) of a pager link text, or None."""
    w = _word(text)
    if not w:
        return None
    n = _norm(text)
    for role, texts in rules._roles:
        if w in texts or n in texts:
            return role, None
    if rules._year.match(w):
        return None
    m = rules._page_number.match(w)
    if m:
        try:
            return "num", int(m.group(1))
        except (ValueError, IndexError):
            return None
    return None


def _pager_links(doc: _Doc) -> tuple[list[tuple[Any, str, int | None, str, _Rel | None]], bool]:
    """Pager anchors: (anchor, role, shown number, url, relation), and whether a pager
    link is a script (javascript:/#/onclick)."""
    out = []
    js = False
    for a in doc.anchors:
        role = _pager_role(doc.text(a), doc.rules)
        if role is None:
            continue
        url = doc.absolute(a.get("href"))
        if url is None:
            # no usable URL (none, #, javascript:): a script pages the list
            js = True
            continue
        if not doc.own_host(url):
            continue
        out.append((a, role[0], role[1], url, _relate(url, doc.url, doc)))
    return out, js


def _learn(doc: _Doc) -> tuple[Pager | None, bool]:
    links, js = _pager_links(doc)
    rels = [(role, shown, url, rel) for _a, role, shown, url, rel in links if rel is not None]
    if not rels:
        return None, js
    templates = Counter(rel.template for _r, _s, _u, rel in rels)
    nexts = [rel.template for role, _s, _u, rel in rels if role == "next" and rel.link_n is not None]
    template = nexts[0] if nexts else templates.most_common(1)[0][0]
    mine = [(role, shown, url, rel) for role, shown, url, rel in rels if rel.template == template]
    style = mine[0][3].style
    cur_n = mine[0][3].cur_n
    nums = [rel.link_n for _r, _s, _u, rel in mine if rel.link_n is not None]
    next_n = next((rel.link_n for role, _s, _u, rel in mine if role == "next" and rel.link_n is not None), None)
    prev_n = next((rel.link_n for role, _s, _u, rel in mine if role == "prev" and rel.link_n is not None), None)
    # page number in the URL minus the number shown on numbered links (0-based lists: -1)
    offsets = Counter(
        rel.link_n - shown
        for role, shown, _u, rel in mine
        if role == "num" and rel.link_n is not None and shown is not None
    )
    offset = offsets.most_common(1)[0][0] if offsets else None
    first_url = None
    if cur_n is None:
        # The current URL has no page number: it is the list's first page.
        if next_n is not None:
            current = next_n - 1
        elif offset is not None:
            current = 1 + offset
        elif prev_n is None and nums:
            current = min(nums) - 1
        else:
            return None, js
        if style == "path":
            first_url, first = doc.url, current + 1
        else:
            first = current
        return Pager(template, first, current, first_url), False
    current = cur_n
    if cur_n == 0 and (next_n == 2 or offset == 0):
        # `currentPageNo=0` is served as page 1 (SITE.md): its next link is 2, or the
        # numbered links show page 1 as 1.
        current = 1
    bare = [url for _r, _s, url, rel in mine if rel.link_n is None]
    if style == "path" and bare:
        # index_3.html linking to index.html: that is page 1, the template starts at 2
        first_url = bare[0]
        first = 2 + offset if offset is not None else min([current, *nums, doc.rules.default_first_page + 1])
    elif offset is not None:
        first = 1 + offset
    else:
        first = min([current, *nums, doc.rules.default_first_page])
    return Pager(template, first, current, first_url), False


def learn_pager(
    html: str | bytes,
    url: str,
    extra_hosts: Iterable[str] = frozenset(),
    rules: DiscoveryRules = DEFAULT_DISCOVERY_RULES,
) -> tuple[Pager | None, bool]:
    """(pager, js_pager) of a page, learnt from its own pager links.

    Candidates are links whose text is a next/previous/first/last word or a page number
    (never a four-digit year). Each is compared with the current URL; the one numeric
    component that differs - a query parameter's value (``?pageNumber=2``) or a number
    in one path segment (``/list-2.html``, ``index_2.html`` next to ``index.html``, a
    trailing ``/2``) - is where ``{page}`` goes. The template the next link uses wins,
    else the one most links use.

    * The current URL without the number is the first page: its number is the next
      link's minus one (``?pageNumber=2`` -> 1, ``?currentPageNo=1`` -> 0), else the one
      numbered links imply. In the path style its URL does not fit the template: it is
      ``first_url``, and the template starts at ``first_page`` = its number + 1.
    * With a number in the current URL, that is the current page; the first page is the
      number numbered links show as 1, else the smallest number seen (links, current
      page, ``default_first_page``). ``currentPageNo=0`` (served as page 1) is page 1.
    * No pager link with a real URL but pager links that are scripts (``javascript:``,
      ``#``, ``onclick``): (None, True).
    """
    doc = _Doc(html, url, extra_hosts, rules, DEFAULT_RULES)
    return _learn(doc)


# --------------------------------------------------------------------------- candidates


def _is_more(text: str, rules: DiscoveryRules) -> bool:
    w = _word(text)
    return bool(w) and any(p.match(w) for p in rules._more)


_SEPARATORS_RE = re.compile(r"[\s|｜│/／·•,，、]+")


def _groups(doc: _Doc, skip: set) -> dict[Any, str]:
    """anchor -> "nav" | "tab" for anchors in a navigation block (see the module doc)."""
    rules = doc.rules
    texted = [a for a in doc.anchors if doc.text(a)]
    count: dict[Any, int] = {}
    for a in texted:
        for anc in a.iterancestors():
            count[anc] = count.get(anc, 0) + 1
    container_of: dict[Any, Any] = {}
    members: dict[Any, list] = {}
    for a in texted:
        for anc in a.iterancestors():
            if count.get(anc, 0) >= 2:
                container_of[a] = anc
                members.setdefault(anc, []).append(a)
                break
    order = {a: i for i, a in enumerate(doc.anchors)}
    articles = {a for a in doc.anchors if doc.article_id(a)}
    mores = {a for a in doc.anchors if _is_more(doc.text(a), rules)}
    out: dict[Any, str] = {}
    for box, group in members.items():
        short = [a for a in group if a not in articles and 0 < len(doc.text(a)) <= rules.nav_max_chars]
        if len(short) < max(rules.nav_min_links, 1) or len(short) < rules.nav_short_share * len(group):
            continue
        box_text = _SEPARATORS_RE.sub("", visible_text(box))
        link_text = sum(len(_SEPARATORS_RE.sub("", doc.text(a))) for a in group)
        if not box_text or link_text < rules.nav_link_share * len(box_text):
            continue
        last = max(order[a] for a in group)
        following = next((a for a in doc.anchors[last + 1 :] if a not in mores and doc.text(a)), None)
        how = "tab" if following is not None and following in articles else "nav"
        for a in short:
            if a not in skip:
                out[a] = how
    return out


def _candidates(doc: _Doc) -> tuple[list[Candidate], list[Crumb]]:
    crumbs, crumb_anchors, home = _breadcrumb(doc)
    rules = doc.rules
    pager_links, _js = _pager_links(doc)
    pager_anchors = {a for a, role, _shown, _url, rel in pager_links if rel is not None or role in ("next", "prev")}
    skip_texts = rules._skip
    groups = _groups(doc, crumb_anchors | home)
    out: list[Candidate] = []
    seen: set[str] = set()
    for a in doc.anchors:
        url = doc.candidate_url(a.get("href"))
        if url is None:
            continue
        text = doc.text(a)
        if a in home:
            continue
        if a in crumb_anchors:
            how = "breadcrumb"
        elif _is_more(text, rules):
            how = "more"
        elif a in pager_anchors:
            how = "pager"
        elif _norm(text) in skip_texts or is_furniture(text, doc.parse_rules):
            continue
        elif a in groups:
            how = groups[a]
        else:
            continue
        if url in seen:
            continue
        seen.add(url)
        out.append(Candidate(url, text, how))
    return out, crumbs


def candidate_links(html: str | bytes, url: str, **options: Unpack[PageOptions]) -> list[Candidate]:
    """Every link of the page that may lead to a channel list, in page order,
    deduplicated by URL (the first occurrence names ``how``):

    * ``breadcrumb``: the crumbs' links;
    * ``more``: 更多 / [更多] / 查看更多 / more links;
    * ``pager``: next/previous links, and first/last/numbered links of this list;
    * ``nav`` / ``tab``: links of a navigation block (module doc).

    Only pages of the site's hosts (crawler.urls.SITE_HOSTS) and of ``extra_hosts``
    (netlocs, e.g. the --base-url host ``127.0.0.1:8000``); never articles (/info/),
    attachments, the home page ``/``, scripts, mail or fragments. URLs are absolute,
    without fragment.
    """
    return _candidates(_Doc(html, url, **options))[0]


def article_links(html: str | bytes, url: str, extra_hosts: Iterable[str] = frozenset()) -> list[str]:
    """Every article id the page links to anywhere (lists, side boxes, related items),
    deduplicated, in page order."""
    doc = _Doc(html, url, extra_hosts, DEFAULT_DISCOVERY_RULES, DEFAULT_RULES)
    out: list[str] = []
    seen: set[str] = set()
    for a in doc.root.iter("a") if doc.root is not None else ():
        aid = doc.article_id(a)
        if aid and aid not in seen:
            seen.add(aid)
            out.append(aid)
    return out


# --------------------------------------------------------------------------- classify


def _sublists(doc: _Doc) -> list[Candidate]:
    pats = doc.rules._sublist
    out: list[Candidate] = []
    seen: set[str] = set()
    for a in doc.anchors:
        text = doc.text(a)
        if not text or not any(p.match(key_of(text)) for p in pats):
            continue
        url = doc.candidate_url(a.get("href"))
        if url is None or url == doc.url or url in seen:
            continue
        seen.add(url)
        out.append(Candidate(url, text, "hub"))
    return out


def classify(
    html: str | bytes,
    url: str,
    extra_hosts: Iterable[str] = frozenset(),
    rules: DiscoveryRules = DEFAULT_DISCOVERY_RULES,
    parse_rules: ParseRules = DEFAULT_RULES,
) -> Page:
    """What kind of page this is for discovery.

    * ``list``: at least ``min_rows`` article rows (crawler.parsing.parse_list; dated or
      not, a magazine issue's table of contents has no dates), or at least
      ``min_rows_with_pager`` rows and a learnt pager (the last page of a list may hold
      one row; an empty page past the end is no list);
    * ``hub``: fewer rows, but at least ``min_sublists`` links whose text names a list
      (an issue ``2022年第06期``, a year ``2022``): those are ``sublists`` (how="hub");
    * ``other``: anything else (the JavaScript home page, a login page), and article
      pages (/info/<id>) whatever they link to.

    ``sublists`` are filled for list pages too (a list may link to its sub-lists);
    ``pager``/``js_pager`` as :func:`learn_pager`.
    """
    doc = _Doc(html, url, extra_hosts, rules, parse_rules)
    if doc.root is None:
        return Page("other", [], None, False, [])
    rows = parse_list(html, url, doc.extra)
    pager, js = _learn(doc)
    sublists = _sublists(doc)
    if article_id_from_path(url or ""):
        kind = "other"
    elif len(rows) >= max(rules.min_rows, 1) or (pager is not None and len(rows) >= max(rules.min_rows_with_pager, 1)):
        kind = "list"
    elif len(sublists) >= max(rules.min_sublists, 1):
        kind = "hub"
    else:
        kind = "other"
    return Page(kind, rows, pager, js, sublists)
