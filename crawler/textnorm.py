"""Text helpers for matching the site's fixed phrases on any copy of a page.

Mirrors of the site republish pages converted to traditional Chinese and, on some pages,
follow a subset of the converted characters with pinyin in ASCII parentheses
(``會(huì)``, ``區(qū)``). Rule patterns are written once, in simplified Chinese, and are
matched against a *key* of each line: pinyin annotations removed and the traditional
forms of the characters that occur in the rules folded to simplified. The key keeps a
map back to the original text, so values cut out of it (author, source, crumbs) are
returned verbatim, never converted.
"""
from __future__ import annotations

import re

from storage.textops import clean_text

# Traditional -> simplified, limited to characters that occur in ParseRules patterns
# (labels, footer, furniture, top bar, nav). Everything else passes through untouched.
_TRAD = "當頁時間發閱讀瀏覽點擊來權聲滬備號網術務電話郵師協會東編員訴訟費計詢圖請處饋鏈關閉頂實習證兩轉銷結業鑒鑑換執統碼須紹黨導報設規則華達動態聞專論評訊庫區書長門質數類項應從熱載傳單辦據標題檔屬擊鍵錄註賬戶碼鄉級縣條"
_SIMP = "当页时间发阅读浏览点击来权声沪备号网术务电话邮师协会东编员诉讼费计询图请处馈链关闭顶实习证两转销结业鉴鉴换执统码须绍党导报设规则华达动态闻专论评讯库区书长门质数类项应从热载传单办据标题档属击键录注账户码乡级县条"
assert len(_TRAD) == len(_SIMP)
TRAD_TO_SIMP = {ord(t): s for t, s in zip(_TRAD, _SIMP)}

# Pinyin with tone marks, as the mirrors print it: `會(huì)`, `區(qū)`, `為(wèi)`.
_PINYIN_CHARS = "a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüê"
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
PINYIN_NOTE_RE = re.compile(rf"(?<=[{_CJK}])\([{_PINYIN_CHARS}]{{1,7}}\)")

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


class Keyed:
    """A line of text plus its matching key (pinyin notes removed, traditional folded).

    ``original(start, end)`` maps a span of the key back to the original text; a pinyin
    note that follows the last character of the span stays with it.
    """

    __slots__ = ("text", "key", "_idx")

    def __init__(self, text: str):
        self.text = text
        if "(" not in text:  # no pinyin note (nearly every line): key position i is text position i
            self.key = text.translate(TRAD_TO_SIMP)
            self._idx: range | list[int] = range(len(text) + 1)
            return
        key_chars: list[str] = []
        idx: list[int] = []
        pos = 0
        for m in PINYIN_NOTE_RE.finditer(text):
            for i in range(pos, m.start()):
                key_chars.append(text[i])
                idx.append(i)
            pos = m.end()
        for i in range(pos, len(text)):
            key_chars.append(text[i])
            idx.append(i)
        idx.append(len(text))
        self.key = "".join(key_chars).translate(TRAD_TO_SIMP)
        self._idx = idx

    def original(self, start: int, end: int) -> str:
        if end <= start:
            return ""
        # _idx[end] is where the next key character starts, so a pinyin note that
        # follows the span's last character stays with the span.
        return self.text[self._idx[start]:self._idx[end]]

    def group(self, m: re.Match, group: int | str = 0) -> str | None:
        if m.group(group) is None:
            return None
        return self.original(m.start(group), m.end(group))


def key_of(text: str) -> str:
    return PINYIN_NOTE_RE.sub("", text).translate(TRAD_TO_SIMP)
