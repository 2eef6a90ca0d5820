"""Configuration stage: :class:`ParseRules`, every text pattern the parser relies on, and
the ``[parsing]`` TOML table that overrides them (``ParseRules.from_mapping``).

No raw HTML of the real site is available, so every guess about its wording lives here
and can be changed from the config file without code changes.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import lxml.etree

from crawler.parsing import defaults
from crawler.textnorm import key_of

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["DEFAULT_RULES", "ParseRules", "rules_table"]


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
    footer_patterns: tuple[str, ...] = defaults.FOOTER
    furniture_patterns: tuple[str, ...] = defaults.FURNITURE
    stop_patterns: tuple[str, ...] = defaults.STOP
    nav_tokens: tuple[str, ...] = defaults.NAV_TOKENS
    masthead_start: str = defaults.MASTHEAD_START
    masthead_line: str = defaults.MASTHEAD_LINE
    extra_drop_patterns: tuple[str, ...] = ()
    attachment_patterns: tuple[str, ...] = defaults.ATTACHMENTS
    not_found_patterns: tuple[str, ...] = defaults.NOT_FOUND
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
    def from_mapping(cls, mapping: Mapping[str, Any], base: ParseRules | None = None) -> ParseRules:
        """Rules from a ``[parsing]`` TOML table: any field name overrides the default;
        ``extra_*`` lists add to the defaults. Raises ValueError naming the bad key."""
        base = base or DEFAULT_RULES
        if not isinstance(mapping, Mapping):
            raise ValueError(f"[parsing] must be a table, not {type(mapping).__name__}")
        # Types, regular expressions and XPath are checked by a pydantic model of the
        # fields; its ValidationError (a ValueError) names the key, e.g. `nav_tokens`.
        table = rules_table().model_validate(dict(mapping))
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
        for name in _REGEX_FIELDS:
            compile_pattern(name, getattr(self, name))
        for name in _PATTERN_LIST_FIELDS:
            for p in getattr(self, name):
                compile_pattern(name, p)
        for name in _LABEL_FIELDS:
            if not getattr(self, name):
                raise ValueError(f"[parsing] {name} must not be empty")
        if self.content_xpath is not None:
            try:
                lxml.etree.XPath(self.content_xpath)
            except lxml.etree.XPathError as e:
                raise ValueError(f"[parsing] content_xpath is not a valid XPath: {e}") from None
        for name in _COUNT_FIELDS:
            if getattr(self, name) < 0:
                raise ValueError(f"[parsing] {name} must be >= 0")

    # ---- compiled forms (cached per instance; the dataclass is frozen)

    @cached_property
    def _footer(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.footer_patterns]

    @cached_property
    def _drop(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in (*self.furniture_patterns, *self.extra_drop_patterns)]

    @cached_property
    def _stop(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.stop_patterns]

    @cached_property
    def _attachments(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.attachment_patterns]

    @cached_property
    def _not_found(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.not_found_patterns]

    @cached_property
    def _nav_tokens(self) -> frozenset[str]:
        return frozenset(key_of(t) for t in self.nav_tokens)

    @cached_property
    def _breadcrumb(self) -> re.Pattern[str]:
        return re.compile(self.breadcrumb_label)

    @cached_property
    def _crumb_sep(self) -> re.Pattern[str]:
        return re.compile(self.crumb_separator)

    @cached_property
    def _crumb_sep_edge(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        return re.compile(rf"(?:{self.crumb_separator})$"), re.compile(rf"^(?:{self.crumb_separator})")

    @cached_property
    def _title_sep(self) -> re.Pattern[str]:
        return re.compile(self.title_separator)

    @cached_property
    def _masthead(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        return re.compile(self.masthead_start), re.compile(self.masthead_line)

    @cached_property
    def _author_prefix(self) -> re.Pattern[str]:
        return re.compile(self.author_prefix)

    @cached_property
    def _meta_head(self) -> re.Pattern[str]:
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
    def _issue(self) -> re.Pattern[str]:
        return re.compile(self.issue_pattern)

    @cached_property
    def _meta_sep(self) -> re.Pattern[str]:
        return re.compile(rf"^{self.meta_separators}$")

    @cached_property
    def _meta_sep_strip(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        return re.compile(rf"^{self.meta_separators}"), re.compile(rf"{self.meta_separators}$")


def compile_pattern(name: str, pattern: Any, table: str = "parsing") -> re.Pattern[str]:
    """A pattern of a config table ([parsing], [discovery]) compiled, or a ValueError
    that names the table, the key and what is wrong."""
    if not isinstance(pattern, str):
        raise ValueError(f"[{table}] {name}: pattern must be a string, not {type(pattern).__name__}")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"[{table}] {name}: bad regular expression {pattern!r}: {e}") from None


# [parsing] keys that add to a default list instead of replacing it.
_ADDITIVE = {
    "extra_footer_patterns": "footer_patterns",
    "extra_furniture_patterns": "furniture_patterns",
    "extra_stop_patterns": "stop_patterns",
    "extra_nav_tokens": "nav_tokens",
    "extra_attachment_patterns": "attachment_patterns",
}
_REGEX_FIELDS = (
    "title_separator",
    "breadcrumb_label",
    "crumb_separator",
    "issue_pattern",
    "author_prefix",
    "meta_separators",
    "masthead_start",
    "masthead_line",
)
_PATTERN_LIST_FIELDS = (
    "footer_patterns",
    "furniture_patterns",
    "stop_patterns",
    "extra_drop_patterns",
    "attachment_patterns",
    "not_found_patterns",
)
_LABEL_FIELDS = ("date_labels", "author_labels", "source_labels", "views_labels")
_COUNT_FIELDS = (
    "min_body_chars",
    "nav_run_min",
    "footer_window",
    "meta_trailing_max",
    "subtitle_max_lines",
    "subtitle_max_chars",
)


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
def rules_table() -> type[BaseModel]:
    """A pydantic model of the [parsing] table: every ParseRules field and the extra_* keys."""
    import typing

    from pydantic import ConfigDict, create_model

    hints = typing.get_type_hints(ParseRules)
    fields: dict[str, Any] = {f.name: (_rule_type(f.name, hints[f.name]), None) for f in dataclasses.fields(ParseRules)}
    fields.update({key: (_rule_type(key, hints[target]), None) for key, target in _ADDITIVE.items()})
    return create_model("parsing", __config__=ConfigDict(extra="forbid", frozen=True), **fields)


DEFAULT_RULES = ParseRules()
