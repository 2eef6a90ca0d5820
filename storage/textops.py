"""Pure text functions: normalisation, content hashing, the unified diff, sanitising.

No I/O here. What counts as an edit is decided by ``content_hash``: the fields that make
up an article's content, each normalised so that chrome churn and typographic noise
(full-width versus half-width colons, non-breaking spaces, doubled blanks) never look like
an edit. What changed, character by character, and how it is shown: :mod:`storage.diffs`.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

# The fields whose change is an edit (SITE.md: "An edit is a change in title, date,
# author, source or body text"). The view counter and page chrome are not among them.
# The magazine's subtitle line is content too (SITE.md's "title" of a magazine piece is two
# lines).
CONTENT_FIELDS = ("title", "subtitle", "published", "author", "source", "body")
# Content fields added after archives existed: hashed only when present, so the hash of
# every article without one stays what it was and no upgrade ever looks like an edit.
ADDED_CONTENT_FIELDS = ("subtitle",)

_SPACE_RE = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]+")

# NFKC folds the full-width ASCII forms (：→:, ，→,, （→( ...), but the ideographic
# full stop 。 and comma 、 have no compatibility mapping, and quotes and dashes come in
# several code points that editors swap freely: unify those by hand.
_PUNCT_MAP = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u300c": '"',
        "\u300d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u3002": ".",
        "\u3001": ",",
        "\uff61": ".",
    }
)


def normalize_text(text: str | None) -> str:
    """Fold a piece of text to the form in which two versions are compared.

    This decides what counts as an edit, so it folds only typographic noise (NFKC,
    quotes, dashes, ideographic punctuation, blanks and blank lines) and keeps case,
    script and pinyin notes: a text rewritten in traditional characters hashes
    differently. Matching and search fold further (traditional to simplified, pinyin
    notes dropped, and for search lower case): storage.chinese (key_of, fold_text).
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT_MAP)
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _SPACE_RE.sub(" ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def content_hash(record: Mapping[str, Any]) -> str:
    """A stable hash of the normalised content fields of an article record."""
    payload = {
        f: normalize_text(record.get(f))
        for f in CONTENT_FIELDS
        if f not in ADDED_CONTENT_FIELDS or normalize_text(record.get(f))
    }
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _fields_as_lines(record: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{f}: {record.get(f) or ''}"
        for f in CONTENT_FIELDS
        if f != "body" and (f not in ADDED_CONTENT_FIELDS or record.get(f))
    ]
    return lines + ["", *(record.get("body") or "").split("\n")]


def unified_diff(
    old: Mapping[str, Any], new: Mapping[str, Any], old_label: str = "previous", new_label: str = "current"
) -> str:
    """Unified diff, one paragraph a line, of the content fields of two records."""
    return "\n".join(
        difflib.unified_diff(
            _fields_as_lines(old), _fields_as_lines(new), fromfile=old_label, tofile=new_label, lineterm=""
        )
    )


# --------------------------------------------------------------------------- terminal columns
def display_width(text: str) -> int:
    """Columns a terminal gives ``text``: wide (CJK) and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def fit(text: str, width: int) -> str:
    """``text`` cut with … or padded with spaces to exactly ``width`` terminal columns."""
    text = one_line(text)
    if display_width(text) > width:
        out, used = "", 0
        for c in text:
            w = display_width(c)
            if used + w > width - 1:
                break
            out, used = out + c, used + w
        text = out + "…"
    return text + " " * (width - display_width(text))


# --------------------------------------------------------------------------- sanitising
# Characters that never carry text on this site and do harm at the edges: C0 controls
# (an ESC starts a terminal escape sequence, BEL rings, and XML 1.0 forbids them), DEL,
# the C1 controls U+0080–U+009F (U+009B is a one-byte CSI on some terminals, U+0085 is a
# line break to some readers) and the bidirectional controls, which reorder what a reader
# sees (U+202E can make "exe.txt" read as "txt.exe"). Tab and line breaks are kept, as a
# space and "\n". The one definition: the parser, the mails, the terminal and the feed
# all use it.
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# U+FFFE and U+FFFF are noncharacters that XML 1.0 refuses too: one in a stored row would
# make the Atom feed fail to build.
_NONCHARACTERS = "\ufffe\uffff"
CONTROL_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f" + _BIDI_CONTROLS + _NONCHARACTERS
_CONTROL_RE = re.compile(f"[{CONTROL_CHARS}]")
_ONE_LINE_WS_RE = re.compile(r"\s+")


def clean_text(text: str | None) -> str | None:
    """``text`` without control characters; None stays None.

    Removed: C0 controls other than newline, DEL, C1 controls (U+0080–U+009F), the
    bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) and the
    noncharacters U+FFFE and U+FFFF. A tab becomes a
    space, "\\r\\n" and "\\r" become "\\n". Nothing else changes.
    """
    if text is None:
        return None
    text = str(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", text.replace("\t", " "))


def one_line(text: str | None) -> str:
    """``clean_text`` on one line: every whitespace run (newlines included) is one space,
    the ends stripped. For mail headers, terminal one-liners and XML attributes."""
    return _ONE_LINE_WS_RE.sub(" ", clean_text(text) or "").strip()


# --------------------------------------------------------------------------- times
SITE_TIMEZONE = "Asia/Shanghai"  # the site's, and its readers' (config: [site] timezone)


def local_time(stamp: str | None, zone: str = SITE_TIMEZONE) -> str:
    """A stored UTC time (``2026-11-29T19:14:11Z``) as its readers' wall-clock time,
    ``2026-11-30 03:14``. Stored values stay UTC; ``published`` is already the site's
    local date and never goes through here. Anything unparsable is shown as it is."""
    text = one_line(stamp)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- decoding failures
_CJK_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_COMMON_PUNCT_RE = re.compile("[\u00b7\u2010-\u2027\u3000-\u303f\uff01-\uff5e]")


def _common_char(ch: str) -> bool:
    """A character of everyday Chinese text: CJK/full-width punctuation, or a hanzi of
    the frequent level of GB2312 (simplified) or Big5 (traditional)."""
    if _COMMON_PUNCT_RE.match(ch):
        return True
    for codec, first, last in (("gb2312", 0xB0, 0xD7), ("big5", 0xA4, 0xC6)):
        try:
            raw = ch.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(raw) == 2 and first <= raw[0] <= last:
            return True
    return False


def _commonness(text: str) -> float:
    wide = [ch for ch in text if ord(ch) > 0x7F]
    return sum(map(_common_char, wide)) / len(wide) if wide else 1.0


def _as_utf8(raw: bytes, allow_cut: bool = False) -> str | None:
    """``raw`` decoded as strict UTF-8, or None. With ``allow_cut`` an incomplete
    sequence at the very end (text cut off mid-character) is left out instead."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        return decoder.decode(raw, final=not allow_cut)
    except UnicodeDecodeError:
        return None


def _single_bytes(text: str) -> bytes | None:
    """The bytes that windows-1252 (or latin-1, for the five bytes cp1252 leaves
    undefined) would have decoded to ``text``; None if some character is not one."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return None
            out.append(ord(ch))
    return bytes(out)


def encoding_problem(text: str | None) -> str | None:
    """A short English reason when ``text`` shows that its page was decoded wrongly, else None.

    * U+FFFD: bytes that were not valid in the encoding used.
    * UTF-8 read as GB18030/GBK (``上海市律师协会`` shown as ``涓婃捣甯傚緥甯堝崗浼``):
      GB18030 accepts almost any byte sequence, so there is no U+FFFD. The tell is that
      the text, encoded back to GB18030, is valid UTF-8 holding CJK text. Genuine Chinese
      text almost never passes that test; for the rare short string that does (甬江 in
      GB18030 is F0 AE BD AD, in UTF-8 one rare supplementary character), the reading
      back must also look at least as much like everyday Chinese as the text itself.
    * UTF-8 read as latin-1/windows-1252 (``ä¸Šæµ·``): the text is all single-byte
      characters and, encoded back, valid UTF-8 with non-ASCII characters.
    """
    if not text or text.isascii():
        return None
    if "\ufffd" in text:
        n = text.count("\ufffd")
        return f"{n} U+FFFD replacement character{'s' if n > 1 else ''}: bytes that did not decode"
    raw = _single_bytes(text)
    if raw is not None:
        again = _as_utf8(raw)
        if again is not None and again != text and not again.isascii():
            return f"mojibake: UTF-8 read as latin-1/windows-1252 (reads {_preview(again)!r} as UTF-8)"
        return None
    raw = text.encode("gb18030")
    again = _as_utf8(raw, allow_cut=True)
    if again is None or again == text:
        return None
    cjk = len(_CJK_RE.findall(again))
    cut = len(again.encode("utf-8")) < len(raw)
    # A cut-off last character is tolerated only when enough text came out before it.
    if cjk and (not cut or cjk >= 4) and _commonness(again) >= _commonness(text):
        return f"mojibake: UTF-8 read as GB18030/GBK (reads {_preview(again)!r} as UTF-8)"
    return None


def _preview(text: str, width: int = 12) -> str:
    text = one_line(text)
    return text if len(text) <= width else text[: width - 1] + "…"
