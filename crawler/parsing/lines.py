"""Second stage: the document's visible text as lines (:func:`build_lines`), the model
every later stage of an article page reads; and :func:`visible_text` of one element
(list rows, discovery).

A line is the text between block boundaries (block elements, ``<br>``); it remembers its
innermost block element, whether it sits in a heading and how much of it is link text
(navigation boxes are almost entirely links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from crawler.textnorm import Keyed, collapse_ws

__all__ = ["BLOCK_TAGS", "SKIP_TAGS", "Line", "build_lines", "is_hidden", "tag_of", "visible_text"]

BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "frame",
        "frameset",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "caption",
        "ul",
        "legend",
        "option",
    }
)
SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "title",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "select",
        "textarea",
        "button",
        "input",
        "map",
        "canvas",
        "audio",
        "video",
        "source",
        "track",
    }
)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


@dataclass(eq=False)
class Line:
    """One line of visible text. ``el`` is its innermost block element (None for the
    lines of the trafilatura fallback, which have no element)."""

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
    def ancestors(self) -> frozenset[Any]:
        return frozenset((self.el, *self.el.iterancestors()))


def tag_of(el: Any) -> str | None:
    """The lower-case local name of an element; None for a comment, PI or entity."""
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


def is_hidden(el: Any) -> bool:
    if el.get("hidden") is not None:
        return True
    style = el.get("style")
    return bool(style and _HIDDEN_STYLE_RE.search(style))


class _LineBuilder:
    """The state of one walk of the document: the line being collected and the open
    block, link and heading elements around it."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.lines: list[Line] = []
        self.pieces: list[str] = []
        self.link_chars = 0
        self.links: list[str] = []
        self.el: Any = None  # the block element of the line being collected
        self.heading = False
        self.orphan_links: list[str] = []
        self.blocks: list[Any] = []
        self.anchors: list[Any] = []
        self.headings = 0

    def flush(self) -> None:
        if not self.pieces and not self.links and self.el is None:
            return  # nothing since the last boundary (most block boundaries)
        text = collapse_ws("".join(self.pieces))
        if text:
            hrefs = (*self.orphan_links, *self.links)
            self.orphan_links.clear()
            el = self.el if self.el is not None else self.root
            self.lines.append(Line(text, el, self.heading, self.link_chars, len(self.links), hrefs, len(self.lines)))
        elif self.links:
            # A link without text (an icon) counts with the next line of text.
            self.orphan_links.extend(self.links)
        self.pieces.clear()
        self.links.clear()
        self.link_chars = 0
        self.el = None
        self.heading = False

    def add(self, text: str | None) -> None:
        if not text:
            return
        if self.el is None and text.strip():
            self.el = self.blocks[-1] if self.blocks else self.root
            self.heading = self.headings > 0
        self.pieces.append(text)
        if self.anchors:
            self.link_chars += len(collapse_ws(text))

    def open(self, el: Any, tag: str | None) -> bool:
        """Enter an element; False when its content is not visible text."""
        if tag is None or tag in SKIP_TAGS or is_hidden(el):
            self.add(el.tail)
            return False
        if tag == "br":
            self.flush()
            self.add(el.tail)
            return False
        if tag in BLOCK_TAGS:
            self.flush()
            self.blocks.append(el)
        elif tag == "a":
            self.anchors.append(el)
            href = el.get("href")
            if href:
                self.links.append(href)
        if tag in _HEADING_TAGS:
            self.headings += 1
        self.add(el.text)
        return True

    def close(self, el: Any, tag: str | None) -> None:
        if tag in BLOCK_TAGS:
            self.flush()
            self.blocks.pop()
        elif tag == "a":
            self.anchors.pop()
        if tag in _HEADING_TAGS:
            self.headings -= 1
        self.add(el.tail)


def build_lines(root: Any) -> list[Line]:
    """Visible text of the document as lines, in document order."""
    builder = _LineBuilder(root)
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        el, closing = stack.pop()
        tag = tag_of(el)
        if closing:
            builder.close(el, tag)
        elif builder.open(el, tag):
            stack.append((el, True))
            stack.extend((child, False) for child in reversed(el))
    builder.flush()
    return builder.lines


def visible_text(el: Any) -> str:
    """The text of one element and its descendants, whitespace collapsed, blocks and
    ``<br>`` as spaces, skipped tags (scripts, forms ...) left out."""
    parts: list[str] = []
    stack = [(el, False)]
    while stack:
        node, closing = stack.pop()
        tag = tag_of(node)
        if closing:
            if node is not el and node.tail:
                parts.append(node.tail)
            continue
        if tag is None or tag in SKIP_TAGS:
            if node is not el and node.tail:
                parts.append(node.tail)
            continue
        if tag in BLOCK_TAGS or tag == "br":
            parts.append(" ")
        if node.text:
            parts.append(node.text)
        stack.append((node, True))
        for child in reversed(node):
            stack.append((child, False))
    return collapse_ws("".join(parts))
