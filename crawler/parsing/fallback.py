"""Fallback body stage, for pages without a metadata line or title anchor: trafilatura's
text of the page (:func:`trafilatura_body`), post-filtered with the same rules
(:func:`filter_trafilatura`) because it keeps footers that sit inside the content
wrapper, keeps header lines and drops short paragraphs. Attachments then come from the
whole page except its chrome.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from crawler.parsing.body import Body, clean_lines
from crawler.parsing.furniture import is_footer, is_nav
from crawler.parsing.lines import Line, tag_of
from crawler.parsing.meta import parse_meta_line
from crawler.parsing.rules import ParseRules
from crawler.textnorm import collapse_ws, key_of

__all__ = ["fallback_body", "filter_trafilatura", "trafilatura_body"]

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


def trafilatura_body(root: Any, rules: ParseRules) -> list[str]:
    """trafilatura's text of the page, one paragraph a line ([] when it finds none)."""
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
            copy.deepcopy(root),
            output_format="txt",
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            favor_recall=True,
            deduplicate=False,
            with_metadata=False,
            config=cfg,
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


def filter_trafilatura(texts: Sequence[str], rules: ParseRules, title: str | None, crumbs: Sequence[str]) -> list[str]:
    """trafilatura keeps header lines (breadcrumb, title, metadata) and the footer when
    they share the content wrapper; strip them with the rules."""
    fake = [Line(t, None, False, 0, 0, ()) for t in texts]
    keys = [ln.key for ln in fake]
    # Everything up to the last header line near the top is header.
    title_key = key_of(title) if title else None
    start = 0
    for i, ln in enumerate(fake[:12]):
        k = keys[i]
        if rules._breadcrumb.search(k) or (title_key and k == title_key) or parse_meta_line(ln, rules) is not None:
            start = i + 1
    crumb_keys = {key_of(c) for c in crumbs}
    kept = [ln for ln in fake[start:] if ln.key not in crumb_keys]
    return list(clean_lines(kept, rules, "", structural=False, title=title).paragraphs)


_CHROME_TAGS = frozenset({"header", "nav", "footer", "aside", "form"})


def _outside_chrome(lines: Sequence[Line], rules: ParseRules) -> list[Line]:
    # Without a body region, attachments are taken from the whole page except its
    # chrome: the login strip links 会员须知 to a tk.File document.
    out = []
    for line in lines:
        if any(tag_of(e) in _CHROME_TAGS for e in line.ancestors):
            continue
        if is_nav(line, rules) or is_footer(line.key, rules):
            continue
        out.append(line)
    return out


def fallback_body(
    root: Any, lines: Sequence[Line], rules: ParseRules, title: str | None, crumbs: Sequence[str]
) -> Body:
    """trafilatura's filtered text (none when ``use_trafilatura`` is off), and the page
    without its chrome as the region of attachments."""
    paragraphs: list[str] = []
    if rules.use_trafilatura:
        paragraphs = filter_trafilatura(trafilatura_body(root, rules), rules, title, crumbs)
    return Body(tuple(paragraphs), tuple(_outside_chrome(lines, rules)))
