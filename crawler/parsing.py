"""Parse article and list pages of www.lawyers.org.cn into plain records.

No raw HTML of the real site is available (SITE.md): tag names and CSS classes are
unknown. The parser therefore works on the page's *visible text* laid out as lines
(one line per block element or ``<br>``), anchored on text patterns the site is known
to print: the breadcrumb ``当前位置: 首页 >> …``, the metadata line ``日期:… 作者:…
阅读:…次`` and the fixed footer. Every guess about wording lives in :class:`ParseRules`
so that a ``[parsing]`` TOML table can override it without code changes.

Body extraction is structural first: the body is the text that follows the metadata
line inside the nearest enclosing element that holds any, cut at the footer and with
page furniture dropped. trafilatura is the fallback for pages without a metadata line
or title anchor; its output is post-filtered with the same rules because it keeps
footers that sit inside the content wrapper, keeps header lines and drops short
paragraphs.

All functions are pure: no I/O, no clock, no logging.
"""
from __future__ import annotations

import codecs
import copy
import dataclasses
import datetime as _dt
import functools
import logging
import re
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping
from urllib.parse import urljoin

import lxml.etree
import lxml.html
from w3lib.encoding import read_bom, resolve_encoding, to_unicode

from crawler.textnorm import Keyed, collapse_ws, key_of, strip_controls
from crawler.urls import article_id_from_link, article_id_from_path, canonical_article_url
from storage.textops import one_line

__all__ = [
    "DEFAULT_RULES",
    "ParseError",
    "ParseRules",
    "decode_html",
    "issue_month",
    "parse_article",
    "parse_list",
]

RECORD_KEYS = ("id", "url", "section", "title", "subtitle", "published", "issue", "author", "source", "views", "body",
               "attachments")


class ParseError(ValueError):
    """The page is not an article (or not HTML at all)."""


# --------------------------------------------------------------------------- rules

_COLON = r"\s*[:：]\s*"

_DEFAULT_FOOTER = (
    r"^\[\s*版权声明\s*\]",
    r"^沪\s*ICP\s*备\s*\d+",
    r"^沪公网安备",
    r"^技术服务" + _COLON + r".{0,40}(?:公司|上海同道)",
    r"^技术电话" + _COLON + r"[\d\s()（）:：,，\-]{7,}",
    r"^技术支持邮箱" + _COLON + r"\S+@\S+",
    # `©` becomes `?` on mirrors; the year range changes over time.
    r"^上海市律师协会\s*版权所有",
    r"^版权所有\s*(?:[©?]|\(c\)|&copy;)?\s*(?:\d{4}|上海市律师协会)",
)

_DEFAULT_FURNITURE = (
    r"^\[?\s*更多\s*\]?$",
    r"^.{0,20}\[\s*更多\s*\]$",
    r"^\[?\s*请点击此处反馈\s*\]?$",
    r"^.{0,30}\[\s*请点击此处反馈\s*\]$",
    r"^常用工具(?:\s*\[?\s*更多\s*\]?)?$",
    # Items of the 常用工具 box; a line made only of them is the box.
    r"^(?:(?:城市地图查询|诉讼费计算器|律师费计算器|利息计算器|违约金计算器|工伤赔偿计算器|交通事故赔偿计算器|"
    r"个税计算器|个人所得税计算器|法律法规查询|律师查询|律所查询|律师事务所查询|邮编查询|区号查询|"
    r"天气查询|列车时刻查询|航班查询|日期计算器|房贷计算器)\s*)+$",
    # Boxes of sponsoring units that sit before the title on older pages.
    r"^(?:主办|协办|支持|承办)单位" + _COLON,
    r"^(?:分享到|打印本页|关闭窗口|返回顶部|【\s*打印\s*】|【\s*关闭\s*】)\s*[:：]?$",
    r"^(?:上一篇|下一篇)" + _COLON,
)

# Top-bar and navigation entries. A line made only of these tokens is navigation
# (the top bar changes between fetches without the article changing).
_DEFAULT_NAV_TOKENS = (
    "申请实习证", "两公律师考核申请", "两公律师转社会律师申请", "注销人员证明申请入口",
    "结业人员实习鉴定表申请入口", "网上投稿", "《上海律师》", "ENGLISH", "English", "切换新版",
    "切换旧版", "首页", "协会介绍", "行业党建", "行业资讯", "业务研究", "律师文化", "会员服务",
    "执业证号/统一社会信用代码", "执业证号", "统一社会信用代码", "密码", "会员须知", "登录",
    "注册", "忘记密码", "退出", "|", "｜", "/",
)

# Structural mode only: once some body text is collected these lines end the body,
# because the boxes they head come after the article.
_DEFAULT_STOP = (
    r"^常用工具",
    r"^\[?\s*请点击此处反馈\s*\]?$",
    r"^(?:相关文章|相关阅读|相关新闻|热点推荐|推荐阅读)\s*[:：]?$",
    r"^(?:上一篇|下一篇)" + _COLON,
)

# The magazine's masthead block: `《上海律师》编委会` then one role per line.
_DEFAULT_MASTHEAD_START = r"^《上海律师》\s*编委会"
_DEFAULT_MASTHEAD_LINE = (
    r"^(?:名誉主任|主\s*任|副主任|主\s*编|副主编|执行主编|编\s*委|委\s*员|编辑部主任|编辑部副主任|"
    r"责任编辑|编\s*辑|美术编辑|编务|顾\s*问|社\s*长|副社长|总编辑|副总编辑|地\s*址|电\s*话|邮\s*编|"
    r"传\s*真|网\s*址|电子信箱|E-?mail|邮\s*箱|出版|印刷|发行|定价|刊号)\s*[:：]"
)

# Error pages served with status 200 (soft 404s) must not become records.
_DEFAULT_NOT_FOUND = (
    r"^(?:404|403|500)(?:\s|$)",
    r"页面不存在|已被删除|不存在或已|找不到(?:该|此|您要访问的)?(?:页面|文章|信息)",
)

_DEFAULT_ATTACHMENTS = (
    r"^https?://(?:[\w-]+\.)*lawyers\.org\.cn(?::\d+)?/service/rest/tk\.File/[0-9A-Fa-f]+/view",
    r"^https?://byfiles\.storage\.lawyers\.org\.cn(?::\d+)?/file/\?(?:[^#]*&)?action=download(?:&|$)",
)


@dataclass(frozen=True)
class ParseRules:
    """Every text pattern the parser relies on. Patterns are matched (``re.search``)
    against the *key* of a line: simplified Chinese, pinyin notes removed (textnorm)."""

    site_name: str = "东方律师网"
    title_separator: str = r"\s+[-–—_|]\s+|\s*[｜|_]\s*"
    breadcrumb_label: str = r"(?:当前位置|您的位置|您现在的位置|现在位置|所在位置)\s*[:：]?"
    breadcrumb_home: str = "首页"
    # `/` only with a space on each side (or at a line edge): crumbs may contain a slash
    crumb_separator: str = r"\s*(?:>>|＞＞|»|›|→|>|＞|(?<!\S)/(?!\S)|／)\s*"
    date_labels: tuple[str, ...] = ("发布时间", "发布日期", "日期", "时间")
    author_labels: tuple[str, ...] = ("作者",)
    source_labels: tuple[str, ...] = ("信息来源", "来源")
    views_labels: tuple[str, ...] = ("阅读", "浏览", "点击")
    issue_pattern: str = r"\d{4}\s*年\s*第\s*\d{1,3}\s*期"
    magazine_name: str = "《上海律师》"
    author_prefix: str = r"^文\s*[│|｜/／:：]\s*"
    meta_separators: str = r"[\s|｜│/·•,，;；]*"
    footer_patterns: tuple[str, ...] = _DEFAULT_FOOTER
    furniture_patterns: tuple[str, ...] = _DEFAULT_FURNITURE
    stop_patterns: tuple[str, ...] = _DEFAULT_STOP
    nav_tokens: tuple[str, ...] = _DEFAULT_NAV_TOKENS
    masthead_start: str = _DEFAULT_MASTHEAD_START
    masthead_line: str = _DEFAULT_MASTHEAD_LINE
    extra_drop_patterns: tuple[str, ...] = ()
    attachment_patterns: tuple[str, ...] = _DEFAULT_ATTACHMENTS
    not_found_patterns: tuple[str, ...] = _DEFAULT_NOT_FOUND
    content_xpath: str | None = None
    min_body_chars: int = 10
    meta_trailing_max: int = 20
    nav_run_min: int = 3
    footer_window: int = 8
    use_trafilatura: bool = True
    # A subtitle (or kicker) printed next to the title: at most this many lines of at
    # most this many characters; only on magazine pages (metadata with an issue number)
    # unless subtitle_magazine_only is false.
    subtitle_max_lines: int = 2
    subtitle_max_chars: int = 80
    subtitle_magazine_only: bool = True

    # ---- configuration

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], base: "ParseRules | None" = None) -> "ParseRules":
        """Rules from a ``[parsing]`` TOML table: any field name overrides the default;
        ``extra_*`` lists add to the defaults. Raises ValueError naming the bad key."""
        base = base or DEFAULT_RULES
        if not isinstance(mapping, Mapping):
            raise ValueError(f"[parsing] must be a table, not {type(mapping).__name__}")
        # Types, regular expressions and XPath are checked by a pydantic model of the
        # fields; its ValidationError (a ValueError) names the key, e.g. `nav_tokens`.
        table = _rules_table().model_validate(dict(mapping))
        changes: dict[str, Any] = {}
        for key in mapping:  # in the table's order: an extra_* list extends what precedes it
            value = getattr(table, key)
            if key in _ADDITIVE:
                target = _ADDITIVE[key]
                changes[target] = tuple(changes.get(target, getattr(base, target))) + value
            else:
                changes[key] = value
        rules = dataclasses.replace(base, **changes)
        rules.validate()
        return rules

    def validate(self) -> None:
        """Compile every pattern; ValueError names the offending key."""
        for name in (
            "title_separator", "breadcrumb_label", "crumb_separator", "issue_pattern",
            "author_prefix", "meta_separators", "masthead_start", "masthead_line",
        ):
            _compile(name, getattr(self, name))
        for name in ("footer_patterns", "furniture_patterns", "stop_patterns",
                     "extra_drop_patterns", "attachment_patterns", "not_found_patterns"):
            for p in getattr(self, name):
                _compile(name, p)
        for name in ("date_labels", "author_labels", "source_labels", "views_labels"):
            if not getattr(self, name):
                raise ValueError(f"[parsing] {name} must not be empty")
        if self.content_xpath is not None:
            try:
                lxml.etree.XPath(self.content_xpath)
            except lxml.etree.XPathError as e:
                raise ValueError(f"[parsing] content_xpath is not a valid XPath: {e}") from None
        for name in ("min_body_chars", "nav_run_min", "footer_window", "meta_trailing_max",
                     "subtitle_max_lines", "subtitle_max_chars"):
            if getattr(self, name) < 0:
                raise ValueError(f"[parsing] {name} must be >= 0")

    # ---- compiled forms (cached per instance; the dataclass is frozen)

    @cached_property
    def _footer(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.footer_patterns]

    @cached_property
    def _drop(self) -> list[re.Pattern]:
        return [re.compile(p) for p in (*self.furniture_patterns, *self.extra_drop_patterns)]

    @cached_property
    def _stop(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.stop_patterns]

    @cached_property
    def _attachments(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.attachment_patterns]

    @cached_property
    def _not_found(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.not_found_patterns]

    @cached_property
    def _nav_tokens(self) -> frozenset[str]:
        return frozenset(key_of(t) for t in self.nav_tokens)

    @cached_property
    def _breadcrumb(self) -> re.Pattern:
        return re.compile(self.breadcrumb_label)

    @cached_property
    def _crumb_sep(self) -> re.Pattern:
        return re.compile(self.crumb_separator)

    @cached_property
    def _crumb_sep_edge(self) -> tuple[re.Pattern, re.Pattern]:
        return re.compile(rf"(?:{self.crumb_separator})$"), re.compile(rf"^(?:{self.crumb_separator})")

    @cached_property
    def _title_sep(self) -> re.Pattern:
        return re.compile(self.title_separator)

    @cached_property
    def _masthead(self) -> tuple[re.Pattern, re.Pattern]:
        return re.compile(self.masthead_start), re.compile(self.masthead_line)

    @cached_property
    def _author_prefix(self) -> re.Pattern:
        return re.compile(self.author_prefix)

    @cached_property
    def _meta_head(self) -> re.Pattern:
        def alt(labels: Iterable[str]) -> str:
            return "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))

        # Labels take a colon; a date or a counter may follow with spaces only
        # (`阅读 876 次` on magazine pages).
        return re.compile(
            rf"(?P<source>{alt(self.source_labels)})\s*[:：]"
            rf"|(?P<author>{alt(self.author_labels)})\s*[:：]"
            rf"|(?P<date>{alt(self.date_labels)})\s*(?:[:：]|(?=\s*\d{{4}}))"
            rf"|(?P<views>{alt(self.views_labels)})(?:次数|量|数)?\s*(?:[:：]|(?=\s*\d))"
            rf"|(?P<issue>{self.issue_pattern})"
        )

    @cached_property
    def _issue(self) -> re.Pattern:
        return re.compile(self.issue_pattern)

    @cached_property
    def _meta_sep(self) -> re.Pattern:
        return re.compile(rf"^{self.meta_separators}$")

    @cached_property
    def _meta_sep_strip(self) -> tuple[re.Pattern, re.Pattern]:
        return re.compile(rf"^{self.meta_separators}"), re.compile(rf"{self.meta_separators}$")


def _compile(name: str, pattern: Any) -> re.Pattern:
    if not isinstance(pattern, str):
        raise ValueError(f"[parsing] {name}: pattern must be a string, not {type(pattern).__name__}")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"[parsing] {name}: bad regular expression {pattern!r}: {e}") from None


# [parsing] keys that add to a default list instead of replacing it.
_ADDITIVE = {
    "extra_footer_patterns": "footer_patterns",
    "extra_furniture_patterns": "furniture_patterns",
    "extra_stop_patterns": "stop_patterns",
    "extra_nav_tokens": "nav_tokens",
    "extra_attachment_patterns": "attachment_patterns",
}
_REGEX_FIELDS = (
    "title_separator", "breadcrumb_label", "crumb_separator", "issue_pattern",
    "author_prefix", "meta_separators", "masthead_start", "masthead_line",
)
_LABEL_FIELDS = ("date_labels", "author_labels", "source_labels", "views_labels")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"bad regular expression {value!r}: {e}") from None
    return value


def _xpath(value: str | None) -> str | None:
    if value is not None:
        try:
            lxml.etree.XPath(value)
        except lxml.etree.XPathError as e:
            raise ValueError(f"not a valid XPath ({e}): {value!r}") from None
    return value


def _rule_type(name: str, hint: Any) -> Any:
    """The strict pydantic type of one [parsing] key (no "3" for an int, no 1 for a bool)."""
    from typing import Annotated

    from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StrictInt, StrictStr

    pattern = Annotated[StrictStr, AfterValidator(_regex)]
    if hint is bool:
        return StrictBool
    if hint is int:
        return Annotated[StrictInt, Field(ge=0)]
    if name == "content_xpath":  # "" means none, as before
        return Annotated[StrictStr | None, BeforeValidator(lambda v: None if v == "" else v), AfterValidator(_xpath)]
    if hint is str:
        return pattern if name in _REGEX_FIELDS else StrictStr
    if hint == tuple[str, ...]:
        if name.endswith("_patterns"):
            return tuple[pattern, ...]
        if name in _LABEL_FIELDS:
            return Annotated[tuple[StrictStr, ...], Field(min_length=1)]
        return tuple[StrictStr, ...]
    raise TypeError(f"ParseRules.{name}: no [parsing] type for {hint!r}")


@functools.cache
def _rules_table():
    """A pydantic model of the [parsing] table: every ParseRules field and the extra_* keys."""
    import typing

    from pydantic import ConfigDict, create_model

    hints = typing.get_type_hints(ParseRules)
    fields = {f.name: (_rule_type(f.name, hints[f.name]), None) for f in dataclasses.fields(ParseRules)}
    fields.update({key: (_rule_type(key, hints[target]), None) for key, target in _ADDITIVE.items()})
    return create_model("parsing", __config__=ConfigDict(extra="forbid", frozen=True), **fields)


DEFAULT_RULES = ParseRules()


# --------------------------------------------------------------------------- decoding

# Labels of the GB family: GB18030 is the superset of each (as in browsers).
_GB_LABELS = frozenset(
    "gb2312 gbk x-gbk gb_2312-80 gb_2312 gb-2312 csgb2312 chinese iso-ir-58 csiso58gb231280 "
    "cp936 ms936 windows-936 euc-cn x-euc-cn gb18030".split()
)
# Python codecs that are no web encoding: never taken from a header or a page.
_NOT_WEB = frozenset(
    "utf-7 unicode-escape raw-unicode-escape punycode idna undefined mbcs oem "
    "utf-16 utf-16-le utf-16-be utf-32 utf-32-le utf-32-be".split()
)
_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_META_SCAN = 4096  # bytes of the page searched for a <meta> declaration
_META_SCAN_RE = re.compile(
    r"<!--.*?(?:-->|$)|<meta(?=[\s/])(?P<meta>[^>]*)|<\?xml\s(?P<xml>[^>]*)|<body[\s>]", re.I | re.S
)
_META_CHARSET_RE = re.compile(r"""\bcharset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING_RE = re.compile(r"""\bencoding\s*=\s*["']\s*([\w.:-]+)""", re.I)


def _encoding(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when it is unknown or no web encoding
    (None: the next source decides). GB2312/GBK and their aliases are GB18030."""
    label = (label or "").strip().lower()
    if not label:
        return None
    if label in _GB_LABELS:
        return "gb18030"
    name = resolve_encoding(label)  # w3lib: WHATWG aliases (latin1 -> cp1252), never UTF-7
    if name is None:
        return None
    info = codecs.lookup(name)
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_WEB:
        return None
    return info.name


def _declared_in_page(data: bytes) -> str | None:
    """The encoding a <meta charset>, <meta http-equiv="Content-Type" content="...;
    charset=..."> or <?xml encoding?> in the first few KB declares (comments skipped,
    nothing after <body>); None if none names a usable encoding."""
    head = data[:_META_SCAN].decode("latin-1")
    for m in _META_SCAN_RE.finditer(head):
        if m.group("meta") is not None:
            found = _META_CHARSET_RE.search(m.group("meta"))
        elif m.group("xml") is not None:
            found = _XML_ENCODING_RE.search(m.group("xml"))
        elif m.group(0).lower().startswith("<body"):
            return None
        else:  # a comment
            continue
        enc = _encoding(found.group(1)) if found else None
        if enc is not None:
            return enc
    return None


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Bytes -> text, by a rule that cannot turn a correct page into mojibake.

    1. Bytes that are valid UTF-8 are UTF-8, whatever the label says. GB18030 decodes
       almost any byte sequence without an error, so UTF-8 read as GB18030 gives
       ``涓婃捣甯傚緥甯堝崗浼`` for 上海市律师协会 and no U+FFFD to notice; the
       converse, a GB page that happens to be valid UTF-8, does not occur in practice.
       (Pure ASCII reads the same in every label the page could carry.)
    2. Otherwise a byte-order mark, then the charset of the HTTP Content-Type header,
       then the ``<meta>`` declaration in the first few KB, then GB18030 (the site's
       legacy encoding). A UTF-8 label is known to be false by then and is skipped (a
       GB18030 page served as ``charset=utf-8`` is the usual mislabel). GB2312/GBK and their aliases are GB18030. Unknown labels, and
       labels of no ASCII-compatible web encoding (UTF-16/32 without a BOM, UTF-7,
       Python's base64 and friends), are skipped. Bytes that do not decode become
       U+FFFD, which ``storage.textops.encoding_problem`` reports.
    """
    if isinstance(data, str):
        return data
    data = bytes(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    bom_encoding, bom = read_bom(data)
    if bom_encoding is not None:
        return to_unicode(data[len(bom):], bom_encoding)
    header = _HEADER_CHARSET_RE.search(content_type or "")
    labels = ((_encoding(header.group(1)) if header else None), _declared_in_page(data))
    encoding = next((e for e in labels if e and e != "utf-8"), "gb18030")
    return to_unicode(data, encoding)


def _to_text(html: str | bytes) -> str:
    if isinstance(html, (bytes, bytearray, memoryview)):
        return decode_html(bytes(html))
    if not isinstance(html, str):
        raise ParseError(f"expected HTML as str or bytes, got {type(html).__name__}")
    return html


# A character reference to NUL, a surrogate or beyond U+10FFFF is parsed as U+FFFD, which
# would read as a decoding failure (storage.textops.encoding_problem): drop it instead.
_CHAR_REF_RE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _drop_void_ref(m: re.Match) -> str:
    digits, base = (m.group(1), 16) if m.group(1) is not None else (m.group(2), 10)
    digits = digits.lstrip("0")
    if len(digits) > 8:
        return ""
    value = int(digits or "0", base)
    return "" if value == 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else m.group(0)


def _parse_tree(text: str) -> lxml.html.HtmlElement | None:
    # Literal control characters go before parsing (lxml makes a NUL U+FFFD); the ones
    # written as character references (&#27;) exist only after it: _clean_record.
    text = strip_controls(text)
    if "&#" in text:
        text = _CHAR_REF_RE.sub(_drop_void_ref, text)
    if not text.strip():
        return None
    # Parse bytes with an explicit encoding: lxml refuses str input that carries an
    # XML encoding declaration, and a stale <meta charset> must not re-decode text.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser=parser)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError, UnicodeError):
        return None
    return root


# --------------------------------------------------------------------------- line model

_BLOCK_TAGS = frozenset(
    "address article aside blockquote body center dd details dialog dir div dl dt fieldset "
    "figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 header hgroup hr html li "
    "main menu nav ol p pre section summary table tbody thead tfoot tr td th caption ul "
    "legend option".split()
)
_SKIP_TAGS = frozenset(
    "script style noscript template head title iframe object embed svg math select "
    "textarea button input map canvas audio video source track".split()
)
_HEADING_TAGS = frozenset("h1 h2 h3 h4 h5 h6".split())
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


@dataclass(eq=False)
class _Line:
    text: str
    el: Any
    heading: bool
    link_chars: int
    links: int
    hrefs: tuple[str, ...]
    index: int = 0

    @cached_property
    def keyed(self) -> Keyed:
        return Keyed(self.text)

    @property
    def key(self) -> str:
        return self.keyed.key

    @cached_property
    def ancestors(self) -> frozenset:
        return frozenset((self.el, *self.el.iterancestors()))


def _tag(el: Any) -> str | None:
    tag = el.tag
    if type(tag) is not str:
        return None  # comment / processing instruction / entity
    return _TAG_NAMES.get(tag) or _tag_name(tag)


_TAG_NAMES: dict[str, str] = {}


def _tag_name(tag: str) -> str:
    # lxml.html gives lower-case names already; XHTML may carry a namespace. Memoised:
    # this runs for every element of every page.
    name = tag.rsplit("}", 1)[1] if "}" in tag else tag
    _TAG_NAMES[tag] = name = name.lower()
    return name


def _is_hidden(el: Any) -> bool:
    if el.get("hidden") is not None:
        return True
    style = el.get("style")
    return bool(style and _HIDDEN_STYLE_RE.search(style))


def _build_lines(root: Any) -> list[_Line]:
    """Visible text of the document as lines, in document order.

    A line is the text between block boundaries (block elements, ``<br>``); each line
    remembers its innermost block element, whether it sits in a heading and how much of
    it is link text (navigation boxes are almost entirely links).
    """
    lines: list[_Line] = []
    pieces: list[str] = []
    link_chars = 0
    links: list[str] = []
    state = {"el": None, "heading": False}
    orphan_links: list[str] = []
    blocks: list[Any] = []
    anchors: list[Any] = []
    headings = 0

    def flush() -> None:
        nonlocal link_chars
        if not pieces and not links and state["el"] is None:
            return  # nothing since the last boundary (most block boundaries)
        text = collapse_ws("".join(pieces))
        if text:
            hrefs = (*orphan_links, *links)
            orphan_links.clear()
            lines.append(_Line(text, state["el"] if state["el"] is not None else root,
                               state["heading"], link_chars, len(links), hrefs, len(lines)))
        elif links:
            # A link without text (an icon) counts with the next line of text.
            orphan_links.extend(links)
        pieces.clear()
        links.clear()
        link_chars = 0
        state["el"] = None
        state["heading"] = False

    def add(text: str | None) -> None:
        nonlocal link_chars
        if not text:
            return
        if state["el"] is None and text.strip():
            state["el"] = blocks[-1] if blocks else root
            state["heading"] = headings > 0
        pieces.append(text)
        if anchors:
            link_chars += len(collapse_ws(text))

    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        el, closing = stack.pop()
        tag = _tag(el)
        if closing:
            if tag in _BLOCK_TAGS:
                flush()
                blocks.pop()
            elif tag == "a":
                anchors.pop()
            if tag in _HEADING_TAGS:
                headings -= 1
            add(el.tail)
            continue
        if tag is None or tag in _SKIP_TAGS or _is_hidden(el):
            add(el.tail)
            continue
        if tag == "br":
            flush()
            add(el.tail)
            continue
        if tag in _BLOCK_TAGS:
            flush()
            blocks.append(el)
        elif tag == "a":
            anchors.append(el)
            href = el.get("href")
            if href:
                links.append(href)
        if tag in _HEADING_TAGS:
            headings += 1
        add(el.text)
        stack.append((el, True))
        for child in reversed(el):
            stack.append((child, False))
    flush()
    return lines


# --------------------------------------------------------------------------- metadata

@dataclass
class _Meta:
    published: str | None = None
    author: str | None = None
    source: str | None = None
    views: int | None = None
    issue: str | None = None
    fields: set = field(default_factory=set)


_DATE_VALUE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*日?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?"
)
_VIEWS_VALUE_RE = re.compile(r"^(\d[\d,，]*)?\s*次?")
# `【打印】 【关闭】`, `[字体:大 中 小]` printed at the end of the metadata line.
_TRAILING_TOOLS_RE = re.compile(r"(?:\s*[【\[][^】\]]{0,16}[】\]])+$")


def _iso_date(value: str) -> str | None:
    m = _DATE_VALUE_RE.match(value)
    if not m or value[m.end():].strip():
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


def _parse_meta_line(line: _Line, rules: ParseRules) -> _Meta | None:
    """The fields of a line made only of metadata fields, or None."""
    kd = line.keyed
    key = kd.key
    heads = list(rules._meta_head.finditer(key))
    if not heads:
        return None
    if not rules._meta_sep.match(key[: heads[0].start()]):
        return None
    lead, trail = rules._meta_sep_strip
    meta = _Meta()

    def tail_ok(rest: str, last: bool) -> bool:
        # Only the line's last field may be followed by a little page furniture
        # (print/close buttons, font size switch); anything longer is prose.
        rest = rest.strip()
        return not rest or (last and len(rest) <= rules.meta_trailing_max)

    for i, m in enumerate(heads):
        kind = m.lastgroup
        last = i + 1 == len(heads)
        end = heads[i + 1].start() if not last else len(key)
        if kind == "issue":
            rest = key[m.end():end]
            if not rules._meta_sep.match(rest) and not tail_ok(rest, last):
                return None
            if kind in meta.fields:
                return None
            meta.fields.add(kind)
            meta.issue = re.sub(r"\s+", "", kd.original(m.start(), m.end()))
            continue
        # value span in key coordinates, separators trimmed on both sides
        vs, ve = m.end(), end
        seg = key[vs:ve]
        ls = lead.match(seg)
        vs += ls.end() if ls else 0
        seg = key[vs:ve]
        ts = trail.search(seg)
        if ts:
            ve = vs + ts.start()
        value_key = key[vs:ve]
        value = kd.original(vs, ve).strip()
        if kind in meta.fields:
            return None  # a repeated label is not the header line
        meta.fields.add(kind)
        if kind == "date":
            dm = _DATE_VALUE_RE.match(value_key)
            if dm is None or not tail_ok(value_key[dm.end():], last):
                return None
            iso = _iso_date(value_key[: dm.end()])
            if iso is None:
                return None
            meta.published = iso
        elif kind == "views":
            vm = _VIEWS_VALUE_RE.match(value_key)
            if vm is None or not tail_ok(value_key[vm.end():], last):
                return None
            if vm.group(1):
                meta.views = int(re.sub(r"[,，]", "", vm.group(1)))
        elif kind in ("author", "source") and last:
            tm = _TRAILING_TOOLS_RE.search(value)
            if tm and tm.start() > 0:
                value = value[: tm.start()].strip()
        if kind == "author":
            if len(value) > 80:
                return None
            pm = rules._author_prefix.search(key_of(value))
            if pm:
                value = Keyed(value).original(pm.end(), len(key_of(value)))
            meta.author = value.strip() or None
        elif kind == "source":
            if len(value) > 80:
                return None
            meta.source = value or None
    return meta


def _find_meta_run(lines: list[_Line], start: int, rules: ParseRules,
                   crumbs: list[str] = (), crumb_last: int | None = None) -> tuple[int, int, _Meta] | None:
    """First run of consecutive metadata lines that carries a date or an issue number."""
    parsed: dict[int, _Meta | None] = {}
    last_crumb = key_of(crumbs[-1]) if crumbs else None

    def channel_heading(i: int) -> bool:
        # The magazine's channel heading (`2022年第06期`, the last crumb repeated right
        # under the breadcrumb) reads like an issue-only metadata line.
        line = lines[i]
        if last_crumb is None or line.key != last_crumb:
            return False
        return line.heading or (crumb_last is not None and crumb_last < i <= crumb_last + 2)

    def meta_at(i: int) -> _Meta | None:
        if i not in parsed:
            parsed[i] = None if channel_heading(i) else _parse_meta_line(lines[i], rules)
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
            merged = _merge_meta(prev, merged)
            first -= 1
        while last + 1 < len(lines):
            nxt = meta_at(last + 1)
            if nxt is None or nxt.fields & merged.fields:
                break
            merged = _merge_meta(merged, nxt)
            last += 1
        return first, last, merged
    return None


def _merge_meta(a: _Meta, b: _Meta) -> _Meta:
    out = _Meta()
    for name in ("published", "author", "source", "views", "issue"):
        va = getattr(a, name)
        setattr(out, name, va if va is not None else getattr(b, name))
    out.fields = a.fields | b.fields
    return out


# --------------------------------------------------------------------------- breadcrumb

def _find_breadcrumb(lines: list[_Line], rules: ParseRules) -> tuple[int, int, list[str]] | None:
    """(first line, last line, crumbs after 首页) of the `当前位置:` breadcrumb."""
    sep = rules._crumb_sep
    ends_sep, starts_sep = rules._crumb_sep_edge
    for i, line in enumerate(lines):
        m = rules._breadcrumb.search(line.key)
        if not m:
            continue
        kd = line.keyed
        text = kd.original(m.end(), len(kd.key))
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
        crumbs = [collapse_ws(c) for c in sep.split(text)]
        crumbs = [c for c in crumbs if c]
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
        return i, last, deduped
    return None


def _undouble(text: str) -> str:
    compact = re.sub(r"\s+", "", text)
    n = len(compact)
    if n and n % 2 == 0 and compact[: n // 2] == compact[n // 2:]:
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


# --------------------------------------------------------------------------- title

_ELLIPSIS_RE = re.compile(r"(?:\.{3,}|…+)$")


def _title_chain(root: Any, rules: ParseRules, crumbs: list[str]) -> tuple[str | None, str | None]:
    """(<title> text, its first part with trailing crumbs and site name stripped)."""
    raw = None
    for t in root.iter("title"):
        raw = collapse_ws(t.text_content() or "")
        break
    if not raw:
        return None, None
    parts = rules._title_sep.split(raw)
    parts = [p.strip() for p in parts]
    site = key_of(rules.site_name)
    crumb_keys = {key_of(c) for c in crumbs} | {key_of(rules.breadcrumb_home)}
    while parts and (not parts[-1] or key_of(parts[-1]) == site):
        parts.pop()
    if not parts:
        return raw, None
    while len(parts) > 1 and key_of(parts[-1]) in crumb_keys:
        parts.pop()
    if crumbs and len(parts) > 1:
        # Titles may contain the separator themselves; once the crumbs are known and
        # gone, everything left is the title.
        seps = list(rules._title_sep.finditer(raw))
        n = len(parts)
        return raw, collapse_ws(raw[: seps[n - 1].start()] if n - 1 < len(seps) else raw)
    return raw, parts[0]


def _heading_matches(text: str, raw: str | None, chain: str | None, rules: ParseRules) -> bool:
    if not text:
        return False
    k = key_of(text)
    if chain and k == key_of(chain):
        return True
    if raw:
        kr = key_of(raw)
        if kr == k:
            return True
        # The heading is the chain's head when a separator follows it there; this
        # keeps titles that contain the separator themselves whole.
        if kr.startswith(k) and rules._title_sep.match(kr[len(k):]):
            return True
    if chain:
        kc = _ELLIPSIS_RE.sub("", key_of(chain)).rstrip()
        # <title> may be cut short; the heading then carries the whole title.
        if len(kc) >= 4 and len(k) > len(kc) and k.startswith(kc):
            return True
    return False


def _find_title(lines: list[_Line], root: Any, rules: ParseRules, crumbs: list[str],
                meta_first: int | None, crumb_last: int | None) -> tuple[str | None, int | None]:
    raw, chain = _title_chain(root, rules, crumbs)
    lo = crumb_last + 1 if crumb_last is not None else 0
    hi = meta_first if meta_first is not None else len(lines)
    if lo >= hi:
        lo = 0
    window = list(range(hi - 1, lo - 1, -1))
    if raw or chain:
        for want_heading in (True, False):
            for i in window:
                line = lines[i]
                if want_heading and not line.heading:
                    continue
                if _heading_matches(line.text, raw, chain, rules):
                    return line.text, i
        if meta_first is None:
            for i in range(len(lines)):
                if _heading_matches(lines[i].text, raw, chain, rules):
                    return lines[i].text, i
    if chain:
        return chain, None
    # No usable <title>: the line right above the metadata, else the first h1.
    if meta_first is not None:
        for i in window:
            if not _is_furniture(lines[i], rules) and not _is_nav(lines[i], rules):
                return lines[i].text, i
    for i, line in enumerate(lines):
        if line.heading and _tag(line.el) == "h1":
            return line.text, i
    return None, None


# --------------------------------------------------------------------------- subtitle

def _subtitle_chrome(line: _Line, rules: ParseRules, base: str, title_key: str | None,
                     crumb_key: str | None) -> bool:
    """A line next to the title that is page chrome, not a subtitle: the breadcrumb, the
    channel heading (the last crumb again), the title again, the magazine masthead,
    sponsor boxes and other furniture, navigation, footer, link rows, a row of bracketed
    buttons, metadata."""
    k = line.key
    ms, ml = rules._masthead
    return bool(
        (title_key is not None and k == title_key)
        or (crumb_key is not None and k == crumb_key)
        or rules._breadcrumb.search(k) or ms.search(k) or ml.search(k)
        or _is_footer(k, rules) or _is_furniture(line, rules) or _is_nav(line, rules)
        or _link_only(line, base, rules)
        or _TRAILING_TOOLS_RE.fullmatch(k.strip()) is not None  # 【打印】 【关闭】 alone
        or _parse_meta_line(line, rules) is not None
    )


def _find_subtitle(lines: list[_Line], rules: ParseRules, base: str, title: str | None,
                   title_idx: int | None, run: tuple[int, int, _Meta] | None,
                   crumbs: list[str], crumb_last: int | None) -> str | None:
    """The subtitle printed with the title, or None.

    1. The line(s) between the title line and the metadata line that are not chrome
       (at most ``subtitle_max_lines``, each at most ``subtitle_max_chars``; more means
       the page is not laid out as title/subtitle/metadata, and nothing is taken).
    2. Else a kicker: the one line right above the title, printed in the same parent
       element as the title (a sibling block), when it is not chrome.
    Only on magazine pages (the metadata carries an issue) unless
    ``subtitle_magazine_only`` is false, and only when the metadata line anchors the page.
    """
    if title_idx is None or run is None or title_idx >= run[0]:
        return None
    if rules.subtitle_magazine_only and not run[2].issue:
        return None
    title_key = key_of(title) if title else None
    crumb_key = key_of(crumbs[-1]) if crumbs else None

    def ok(texts: list[str]) -> bool:
        return 0 < len(texts) <= rules.subtitle_max_lines and all(
            len(t) <= rules.subtitle_max_chars for t in texts)

    between = [ln.text for ln in lines[title_idx + 1: run[0]]
               if not _subtitle_chrome(ln, rules, base, title_key, crumb_key)]
    if between:
        return " ".join(between) if ok(between) else None
    above = title_idx - 1
    if above < 0 or (crumb_last is not None and above <= crumb_last):
        return None
    line, title_line = lines[above], lines[title_idx]
    if line.el is title_line.el or line.el.getparent() is not title_line.el.getparent():
        return None
    if _subtitle_chrome(line, rules, base, title_key, crumb_key) or not ok([line.text]):
        return None
    return line.text


# --------------------------------------------------------------------------- body

def _is_footer(key: str, rules: ParseRules) -> bool:
    return any(p.search(key) for p in rules._footer)


def _is_furniture(line: _Line | str, rules: ParseRules) -> bool:
    key = line.key if isinstance(line, _Line) else key_of(line)
    return any(p.search(key) for p in rules._drop)


def _is_nav(line: _Line | str, rules: ParseRules) -> bool:
    key = line.key if isinstance(line, _Line) else key_of(line)
    tokens = key.split()
    return bool(tokens) and all(t in rules._nav_tokens for t in tokens)


def _is_attachment_href(href: str, base: str, rules: ParseRules) -> bool:
    try:
        url = urljoin(base, href.strip())
    except ValueError:
        return False
    return any(p.search(url) for p in rules._attachments)


def _link_only(line: _Line, base: str, rules: ParseRules) -> bool:
    if not line.links or line.link_chars < 0.9 * len(line.text.replace(" ", "")):
        return False
    return not any(_is_attachment_href(h, base, rules) for h in line.hrefs)


def _footer_starts(keys: list[str], i: int, rules: ParseRules) -> bool:
    window = keys[i: i + max(rules.footer_window, 1)]
    return sum(1 for k in window if _is_footer(k, rules)) >= 2


def _clean_lines(lines: list[_Line], rules: ParseRules, base: str, *, structural: bool,
                 title: str | None) -> tuple[list[str], list[_Line]]:
    """Body lines: cut at the footer block, furniture / navigation / masthead dropped.

    Also returns the region the body was taken from (the lines before the cut), whose
    links are the article's attachments."""
    keys = [ln.key for ln in lines]
    keep = [True] * len(lines)
    end = len(lines)
    for i, k in enumerate(keys):
        if _is_footer(k, rules) and _footer_starts(keys, i, rules):
            end = i
            break
    # Runs of link-only lines are navigation / committee link tables.
    if rules.nav_run_min:
        i = 0
        while i < end:
            if _link_only(lines[i], base, rules):
                j = i
                while j < end and _link_only(lines[j], base, rules):
                    j += 1
                if j - i >= rules.nav_run_min or (j - i == 1 and lines[i].links >= rules.nav_run_min):
                    for n in range(i, j):
                        keep[n] = False
                i = j
            else:
                i += 1
    ms, ml = rules._masthead
    out: list[str] = []
    in_masthead = False
    title_key = key_of(title) if title else None
    for i in range(end):
        if not keep[i]:
            continue
        line, k = lines[i], keys[i]
        if ms.search(k):
            in_masthead = True
            continue
        if in_masthead:
            if ml.search(k):
                continue
            in_masthead = False
        if structural and out and any(p.search(k) for p in rules._stop):
            end = i
            break
        if _is_footer(k, rules) or _is_furniture(line, rules) or _is_nav(line, rules):
            continue
        if rules._breadcrumb.search(k):
            continue
        if not out and title_key and k == title_key:
            continue  # metadata printed above the title
        out.append(line.text)
    return out, lines[:end]


_Body = tuple[list[str], list[_Line]]


def _structural_body(lines: list[_Line], anchor: int, rules: ParseRules, base: str,
                     title: str | None, scope: Any | None) -> _Body | None:
    """Body = lines after ``anchor`` inside the nearest ancestor that holds some."""
    after = lines[anchor + 1:]
    if scope is not None:
        inside = [ln for ln in lines if scope in ln.ancestors]
        if inside and inside[0].index <= anchor:
            # the configured element holds the header too: skip up to the anchor
            inside = [ln for ln in inside if ln.index > anchor]
        found = _clean_lines(inside, rules, base, structural=True, title=title)
        return found if found[0] else None
    first_nonempty: _Body | None = None
    el = lines[anchor].el
    chain = [el, *el.iterancestors()]
    for container in chain:
        inside = [ln for ln in after if container in ln.ancestors]
        if not inside:
            continue
        found = _clean_lines(inside, rules, base, structural=True, title=title)
        if not found[0]:
            continue
        if first_nonempty is None:
            first_nonempty = found
        if sum(len(b) for b in found[0]) >= rules.min_body_chars:
            return found
    return first_nonempty


_TRAFILATURA_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer")
_quiet = threading.local()


class _QuietFilter(logging.Filter):
    """Drops records emitted while this thread is inside a parser call."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet, "active", False)


_QUIET_FILTER = _QuietFilter()


def _silence_trafilatura() -> None:
    # trafilatura and its helpers log at DEBUG..WARNING; the parser must log nothing.
    # A filter on each of their loggers (all created at import time) silences only
    # the records emitted during our own calls, leaving global logging config alone.
    for name in list(logging.root.manager.loggerDict):
        if name.split(".", 1)[0] in _TRAFILATURA_LOGGERS:
            logger = logging.getLogger(name)
            if _QUIET_FILTER not in logger.filters:
                logger.addFilter(_QUIET_FILTER)


def _trafilatura_body(root: Any, rules: ParseRules) -> list[str]:
    try:
        import trafilatura
        from trafilatura.settings import use_config
    except ImportError:  # pragma: no cover - dependency declared in pyproject
        return []
    _silence_trafilatura()
    cfg = _trafilatura_config(use_config)
    _quiet.active = True
    try:
        text = trafilatura.extract(
            copy.deepcopy(root), output_format="txt", include_comments=False,
            include_tables=False, include_images=False, include_links=False,
            favor_recall=True, deduplicate=False, with_metadata=False, config=cfg,
        )
    except Exception:  # noqa: BLE001 - a third-party failure means "no text"
        text = None
    finally:
        _quiet.active = False
    if not text:
        return []
    # txt output marks <li> items with "- ", which is not page text.
    return [t for t in (collapse_ws(_LIST_BULLET_RE.sub("", x)) for x in text.splitlines()) if t]


_LIST_BULLET_RE = re.compile(r"^- ")


_TRAF_CFG: Any = None


def _trafilatura_config(use_config: Any) -> Any:
    global _TRAF_CFG
    if _TRAF_CFG is None:
        cfg = use_config()
        # Short notices are legitimate articles here; don't let size thresholds
        # swap in a worse fallback extractor.
        cfg.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
        cfg.set("DEFAULT", "MIN_OUTPUT_SIZE", "1")
        cfg.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
        _TRAF_CFG = cfg
    return _TRAF_CFG


def _filter_trafilatura(texts: list[str], rules: ParseRules, title: str | None,
                        crumbs: list[str]) -> list[str]:
    """trafilatura keeps header lines (breadcrumb, title, metadata) and the footer when
    they share the content wrapper; strip them with the rules."""
    fake = [_Line(t, None, False, 0, 0, ()) for t in texts]
    keys = [ln.key for ln in fake]
    # Everything up to the last header line near the top is header.
    title_key = key_of(title) if title else None
    start = 0
    for i, ln in enumerate(fake[:12]):
        k = keys[i]
        if (rules._breadcrumb.search(k) or (title_key and k == title_key)
                or _parse_meta_line(ln, rules) is not None):
            start = i + 1
    crumb_keys = {key_of(c) for c in crumbs}
    kept = [ln for ln in fake[start:] if ln.key not in crumb_keys]
    body, _region = _clean_lines(kept, rules, "", structural=False, title=title)
    return body


# --------------------------------------------------------------------------- public

_CHROME_TAGS = frozenset({"header", "nav", "footer", "aside", "form"})


def _attachments(region: Iterable[_Line], base: str, rules: ParseRules) -> list[str]:
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


def _outside_chrome(lines: list[_Line], rules: ParseRules) -> list[_Line]:
    # Without a body region, attachments are taken from the whole page except its
    # chrome: the login strip links 会员须知 to a tk.File document.
    out = []
    for line in lines:
        if any(_tag(e) in _CHROME_TAGS for e in line.ancestors):
            continue
        if _is_nav(line, rules) or _is_footer(line.key, rules):
            continue
        out.append(line)
    return out


def parse_article(html: str | bytes, url: str, rules: ParseRules | None = DEFAULT_RULES) -> dict:
    """The record of one article page. Raises ParseError when the page is not an article."""
    rules = rules or DEFAULT_RULES
    article_id = article_id_from_path(url or "")
    if article_id is None:
        raise ParseError(f"not an article URL (no /info/<32 hex id> path): {url!r}")
    canonical = canonical_article_url(article_id)
    root = _parse_tree(_to_text(html))
    if root is None:
        raise ParseError("empty document: no title and no body")
    lines = _build_lines(root)

    crumb = _find_breadcrumb(lines, rules)
    crumbs = crumb[2] if crumb else []
    crumb_last = crumb[1] if crumb else None
    start = crumb_last + 1 if crumb_last is not None else 0
    run = _find_meta_run(lines, start, rules, crumbs, crumb_last)
    if run is None and start:
        run = _find_meta_run(lines, 0, rules, crumbs, crumb_last)
    meta = run[2] if run else _Meta()
    title, title_idx = _find_title(lines, root, rules, crumbs, run[0] if run else None, crumb_last)

    scope = None
    if rules.content_xpath:
        try:
            found = root.xpath(rules.content_xpath)
        except lxml.etree.XPathError:
            found = []
        scope = next((e for e in found if isinstance(e, lxml.html.HtmlElement)), None)

    found: _Body | None = None
    anchor = run[1] if run else title_idx
    if anchor is None and crumb_last is not None and scope is not None:
        anchor = crumb_last
    if anchor is not None:
        found = _structural_body(lines, anchor, rules, canonical, title, scope)
    elif scope is not None:
        inside = [ln for ln in lines if scope in ln.ancestors]
        found = _clean_lines(inside, rules, canonical, structural=True, title=title)
        if not found[0]:
            found = None
    if found is not None:
        body, region = found
    else:
        body = []
        if rules.use_trafilatura:
            body = _filter_trafilatura(_trafilatura_body(root, rules), rules, title, crumbs)
        region = _outside_chrome(lines, rules)

    if not title and not body:
        raise ParseError("not an article: no title (<title>/heading) and no body text found")
    if run is None and len(body) <= 2:
        said = [t for t in (title, *body) if t and any(p.search(key_of(t)) for p in rules._not_found)]
        if said:
            raise ParseError(f"not an article: error page served as content ({said[0]!r})")

    source = meta.source
    if source is None and meta.issue:
        source = f"{rules.magazine_name}{meta.issue}"
    subtitle = _find_subtitle(lines, rules, canonical, title, title_idx, run, crumbs, crumb_last)
    record = {
        "id": article_id,
        "url": canonical,
        "section": " > ".join(crumbs) if crumbs else None,
        "title": title or None,
        "subtitle": subtitle,
        "published": meta.published,
        "issue": issue_month(meta.issue, rules),
        "author": meta.author,
        "source": source,
        "views": meta.views,
        "body": "\n".join(body or []),
        "attachments": _attachments(region, canonical, rules),
    }
    return _clean_record(record)


def _clean_record(record: dict) -> dict:
    """Control characters out of every string of the record, after entity decoding.

    ``&#27;]0;title&#7;`` in the page is a real ESC and BEL only once lxml has decoded
    it. One-line fields go through ``one_line``; the body keeps one paragraph a line,
    each cleaned the same way, and a paragraph that was nothing but controls goes.
    """
    out: dict = {}
    for key, value in record.items():
        if key == "body" and isinstance(value, str):
            value = "\n".join(p for p in (one_line(line) for line in value.split("\n")) if p)
        elif isinstance(value, str):
            value = one_line(value) or None
        elif isinstance(value, list):
            value = [_clean_value(v) for v in value]
            value = [v for v in value if v not in (None, "")]
        elif isinstance(value, dict):
            value = _clean_value(value)
        out[key] = value
    return out


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, dict):
        return {k: _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


# --------------------------------------------------------------------------- lists

_LIST_DATE_RE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)")
_LIST_CAT_RE = re.compile(r"[\[【]\s*([^\[\]【】]{1,30}?)\s*[\]】]")
# Bracketed box links that sit next to a lone article link in side boxes.
_NOT_CATEGORIES = frozenset({"更多", "more", "More", "MORE", "详细", "详情"})


def _visible_text(el: Any) -> str:
    parts: list[str] = []
    stack = [(el, False)]
    while stack:
        node, closing = stack.pop()
        tag = _tag(node)
        if closing:
            if node is not el and node.tail:
                parts.append(node.tail)
            continue
        if tag is None or tag in _SKIP_TAGS:
            if node is not el and node.tail:
                parts.append(node.tail)
            continue
        if tag in _BLOCK_TAGS or tag == "br":
            parts.append(" ")
        if node.text:
            parts.append(node.text)
        stack.append((node, True))
        for child in reversed(node):
            stack.append((child, False))
    return collapse_ws("".join(parts))


def parse_list(html: str | bytes, url: str, extra_hosts: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """Article links of a list page in page order, deduplicated by id."""
    root = _parse_tree(_to_text(html))
    if root is None:
        return []
    anchors: list[tuple[Any, str]] = []
    for a in root.iter("a"):
        href = a.get("href")
        if not href:
            continue
        try:
            aid = article_id_from_link(href, url, frozenset(extra_hosts))
        except ValueError:
            aid = None
        if aid:
            anchors.append((a, aid))
    # Which article ids sit under each element: a row is the largest ancestor of a link
    # that holds no other article.
    ids_under: dict[Any, set[str]] = {}
    for a, aid in anchors:
        for anc in a.iterancestors():
            ids_under.setdefault(anc, set()).add(aid)

    rows: dict[str, dict] = {}
    order: list[str] = []
    for a, aid in anchors:
        chain = [a]
        for anc in a.iterancestors():
            if ids_under.get(anc, set()) != {aid}:
                break
            chain.append(anc)
        date = None
        category = None
        for el in chain:
            text = _visible_text(el)
            if date is None:
                dm = _LIST_DATE_RE.search(text)
                if dm:
                    try:
                        date = _dt.date(int(dm.group(1)), int(dm.group(2)), int(dm.group(3))).isoformat()
                    except ValueError:
                        date = None
            if category is None:
                for cm in _LIST_CAT_RE.finditer(text):
                    value = collapse_ws(cm.group(1))
                    if value and value not in _NOT_CATEGORIES:
                        category = value
                        break
            if date is not None and category is not None:
                break
        title = _visible_text(a)
        # Whole-row links carry the date and category inside the link text.
        title = _LIST_DATE_RE.sub("", title, count=1) if _LIST_DATE_RE.match(title) else title
        title = collapse_ws(title)
        cm = _LIST_CAT_RE.match(title)
        if cm:
            title = collapse_ws(title[cm.end():])
        title_attr = collapse_ws(a.get("title") or "")
        if title_attr and (not title or _ELLIPSIS_RE.search(title)):
            title = title_attr
        entry = {"id": aid, "url": canonical_article_url(aid), "title": title or None,
                 "date": date, "category": category}
        if aid not in rows:
            rows[aid] = entry
            order.append(aid)
        else:
            # an image link first, the text link second: fill the gaps
            for k in ("title", "date", "category"):
                if rows[aid][k] is None and entry[k] is not None:
                    rows[aid][k] = entry[k]
    return [_clean_record(rows[aid]) for aid in order]
