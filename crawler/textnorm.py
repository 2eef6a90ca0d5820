"""Text helpers for matching the site's fixed phrases on any copy of a page.

Mirrors of the site republish pages converted to traditional Chinese, some with pinyin
notes (``會(huì)``). Rule patterns are written once, in simplified Chinese, and matched
against the *key* of each line (:class:`Keyed`, :func:`key_of`): those come from
storage.chinese, with the one traditional-to-simplified table and the one pinyin-note
pattern that the search index folds with too; this module only re-exports them for the
crawler, next to its whitespace and control-character helpers.
"""

from __future__ import annotations

import re

from storage.chinese import PINYIN_NOTE_RE, TRAD_TO_SIMP, Keyed, key_of
from storage.textops import clean_text

__all__ = ["PINYIN_NOTE_RE", "TRAD_TO_SIMP", "Keyed", "collapse_ws", "key_of", "strip_controls"]

_WS_RE = re.compile(r"\s+")


def collapse_ws(text: str) -> str:
    """Whitespace runs (incl. NBSP and the ideographic space U+3000) -> one space, stripped."""
    return _WS_RE.sub(" ", text).strip()


def strip_controls(text: str) -> str:
    """``text`` without control characters (storage.textops.clean_text, the one definition).

    On raw HTML this keeps a literal NUL from becoming U+FFFD in lxml (which would read
    as a decoding failure); character references such as ``&#27;`` are only decoded by
    the parser, so the parsed record is cleaned again (crawler.parsing).
    """
    return clean_text(text) or ""
