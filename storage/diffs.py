"""What changed between two versions, at character level, and the one renderer for it.

Mail, the terminal (``barwatch diff``/``history``), the Atom feed and the Datasette pages
all show a change the same way: each changed field or paragraph under its Chinese label
(标题, 第3段), deleted text struck, inserted text marked, and only a sentence of unchanged
context on each side of a change; the rest of a long paragraph becomes "…". Pure
functions, no I/O.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Callable
from dataclasses import dataclass

from storage.textops import CONTENT_FIELDS, clean_text, normalize_text, one_line

# The labels readers see: the mails are Chinese, so are the pages' change lists.
FIELD_LABELS = {
    "title": "标题",
    "subtitle": "副标题",
    "published": "日期",
    "author": "作者",
    "source": "来源",
}
ELLIPSIS = "…"
# Where a sentence ends, in Chinese and in the Latin punctuation some pages use.
SENTENCE_ENDS = frozenset("。！？；!?;")
# Unchanged characters kept on each side of a change when the sentence around it is longer.
CONTEXT = 40
# A deleted or inserted run longer than this is cut (mail and feed); pages show it whole.
MAX_RUN = 300


def paragraph_label(number: int) -> str:
    return f"第{number}段"


@dataclass(frozen=True)
class Segment:
    """A run of characters in a changed paragraph: ``op`` is ``=``, ``-`` or ``+``."""

    op: str
    text: str


@dataclass(frozen=True)
class ParagraphChange:
    """One changed paragraph (or field): what it was, what it is, and the char-level runs."""

    label: str
    old: str | None
    new: str | None
    segments: tuple[Segment, ...]


def char_segments(old: str, new: str) -> tuple[Segment, ...]:
    """Character-level runs between two strings.

    Chinese has no spaces, so a word diff would mark the whole paragraph; characters are
    the unit. autojunk is off because in a long paragraph common characters like 的 would
    otherwise be treated as junk and the match would fall apart.
    """
    out: list[Segment] = []
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            out.append(Segment("=", old[i1:i2]))
            continue
        if tag in ("replace", "delete"):
            out.append(Segment("-", old[i1:i2]))
        if tag in ("replace", "insert"):
            out.append(Segment("+", new[j1:j2]))
    return tuple(out)


def paragraph_changes(old: dict, new: dict) -> list[ParagraphChange]:
    """The changed fields and body paragraphs between two records, each with char runs.

    Paragraphs are aligned with a line diff first; a replaced block is then paired
    paragraph by paragraph so that an edited sentence shows inside its paragraph. A
    paragraph's number is its place in the new version (in the old one when removed).
    """
    changes: list[ParagraphChange] = []
    for f in CONTENT_FIELDS:
        if f == "body":
            continue
        a, b = old.get(f) or "", new.get(f) or ""
        if normalize_text(a) != normalize_text(b):
            changes.append(ParagraphChange(FIELD_LABELS[f], a or None, b or None, char_segments(a, b)))
    a_pars = (old.get("body") or "").split("\n")
    b_pars = (new.get("body") or "").split("\n")
    sm = difflib.SequenceMatcher(None, a_pars, b_pars, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        olds, news = a_pars[i1:i2], b_pars[j1:j2]
        for k in range(max(len(olds), len(news))):
            a = olds[k] if k < len(olds) else None
            b = news[k] if k < len(news) else None
            label = paragraph_label((j1 if b is not None else i1) + k + 1)
            changes.append(ParagraphChange(label, a, b, char_segments(a or "", b or "")))
    return changes


def changes_from_unified(diff: str) -> list[ParagraphChange]:
    """The changes of a stored unified diff (``versions.diff``), for a page that has the
    diff text but not the two versions: paired -/+ lines become character-level changes.
    Field lines (``title: …``) keep their field's label; a body line is labelled 正文,
    since its paragraph number is not in the diff."""
    changes: list[ParagraphChange] = []

    def split(line: str) -> tuple[str, str]:
        field, sep, rest = line.partition(": ")
        return (FIELD_LABELS[field], rest) if sep and field in FIELD_LABELS else ("正文", line)

    lines = [line for line in diff.split("\n") if not line.startswith(("---", "+++", "@@"))]
    i = 0
    while i < len(lines):
        if not lines[i].startswith(("-", "+")):
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].startswith("-"):
            j += 1
        k = j
        while k < len(lines) and lines[k].startswith("+"):
            k += 1
        olds, news = [split(x[1:]) for x in lines[i:j]], [split(x[1:]) for x in lines[j:k]]
        for n in range(max(len(olds), len(news))):
            old = olds[n] if n < len(olds) else None
            new = news[n] if n < len(news) else None
            either = new or old
            assert either is not None  # n is below the longer list's length: one of the two is there
            label = either[0]
            a, b = old[1] if old else None, new[1] if new else None
            changes.append(ParagraphChange(label, a, b, char_segments(a or "", b or "")))
        i = max(k, i + 1)
    return changes


# --------------------------------------------------------------------------- trimming
def _shown(segments: tuple[Segment, ...]) -> list[Segment]:
    """The runs as readers see them: control characters removed (``clean_text``; a stored
    version of an older barwatch may hold them), a line break shown as a space, and a run
    left with no text dropped."""
    out = []
    for seg in segments:
        text = (clean_text(seg.text) or "").replace("\n", " ")
        if text:
            out.append(Segment(seg.op, text))
    return out


def _to_sentence_end(text: str, context: int) -> str:
    """The start of ``text`` up to its first sentence end, at most ``context`` characters."""
    end = next((i + 1 for i, c in enumerate(text) if c in SENTENCE_ENDS), len(text))
    end = min(end, context)
    return text if end >= len(text) else text[:end] + ELLIPSIS


def _from_sentence_start(text: str, context: int) -> str:
    """The end of ``text`` from just after its last sentence end, at most ``context`` characters."""
    start = next((i + 1 for i in range(len(text) - 1, -1, -1) if text[i] in SENTENCE_ENDS), 0)
    start = max(start, len(text) - context)
    return text if start <= 0 else ELLIPSIS + text[start:]


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 1] + ELLIPSIS


def trimmed(change: ParagraphChange, context: int = CONTEXT, max_run: int | None = MAX_RUN) -> list[Segment]:
    """A change's runs with unchanged text cut to the sentence around each change (at
    most ``context`` characters a side) and deleted/inserted runs to ``max_run``
    characters; what is left out is "…"."""
    runs = _shown(change.segments)
    out = []
    for i, seg in enumerate(runs):
        if seg.op != "=":
            out.append(Segment(seg.op, _cut(seg.text, max_run)))
            continue
        first, last = i == 0, i == len(runs) - 1
        if first and last:  # nothing visible changed (a control character, say)
            text = _to_sentence_end(seg.text, context * 2)
        elif first:
            text = _from_sentence_start(seg.text, context)
        elif last:
            text = _to_sentence_end(seg.text, context)
        else:
            head = _to_sentence_end(seg.text, context).removesuffix(ELLIPSIS)
            tail = _from_sentence_start(seg.text, context).removeprefix(ELLIPSIS)
            text = seg.text if len(head) + len(tail) >= len(seg.text) else head + ELLIPSIS + tail
        out.append(Segment("=", text))
    return out


# --------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class _Format:
    escape: Callable[[str], str]
    deleted: str
    inserted: str
    block: str


FORMATS = {
    # Plain text for mail and terminals without colour: [-old-]{+new+} inline.
    "text": _Format(str, "[-{}-]", "{{+{}+}}", "{label}：\n  {text}"),
    # Terminal: deleted red and struck through, inserted green and underlined. The text is
    # cleaned first, so the only escape sequences are these.
    "ansi": _Format(str, "\x1b[31;9m{}\x1b[0m", "\x1b[32;4m{}\x1b[0m", "\x1b[1m{label}：\x1b[0m\n  {text}"),
    # HTML (escaped): <del>/<ins> inside each changed paragraph; styled by the page or mail.
    "html": _Format(
        lambda t: html.escape(t, quote=True),
        "<del>{}</del>",
        "<ins>{}</ins>",
        '<p class="barwatch-change"><b>{label}</b><br>{text}</p>',
    ),
}


def render_changes(
    changes: list[ParagraphChange], fmt: str = "text", context: int = CONTEXT, max_run: int | None = MAX_RUN
) -> str:
    """The changes in one of ``FORMATS`` (text, ansi, html), each trimmed (``trimmed``)."""
    f = FORMATS[fmt]
    esc = f.escape
    blocks = []
    for ch in changes:
        parts = []
        for seg in trimmed(ch, context, max_run):
            t = esc(seg.text)
            parts.append(t if seg.op == "=" else (f.deleted if seg.op == "-" else f.inserted).format(t))
        blocks.append(f.block.format(label=esc(one_line(ch.label)), text="".join(parts)))
    return "\n".join(blocks)


def summarize_changes(changes: list[ParagraphChange], width: int = 60) -> str:
    """One line for ``barwatch history``: which fields moved and the first inserted text."""
    if not changes:
        return "无内容修改"
    labels = [one_line(c.label) for c in changes]
    what = "、".join(labels[:3]) + (f" 等 {len(labels)} 处" if len(labels) > 3 else "")
    shown = [seg for c in changes for seg in _shown(c.segments)]
    first_ins = next((one_line(s.text) for s in shown if s.op == "+" and one_line(s.text)), "")
    first_del = next((one_line(s.text) for s in shown if s.op == "-" and one_line(s.text)), "")
    hint = f"+「{first_ins}」" if first_ins else (f"-「{first_del}」" if first_del else "")
    line = f"{what}：{hint}" if hint else what
    return line if len(line) <= width else line[: width - 1] + ELLIPSIS
