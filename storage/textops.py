"""Pure text functions: normalisation, content hashing and diffing.

No I/O here. What counts as an edit is decided by ``content_hash``: the fields that make
up an article's content, each normalised so that chrome churn and typographic noise
(full-width versus half-width colons, non-breaking spaces, doubled blanks) never look like
an edit.
"""
from __future__ import annotations

import difflib
import hashlib
import html
import json
import re
import unicodedata
from dataclasses import dataclass

# The fields whose change is an edit (SITE.md: "An edit is a change in title, date,
# author, source or body text"). The view counter and page chrome are not among them.
CONTENT_FIELDS = ("title", "published", "author", "source", "body")

_SPACE_RE = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]+")

# NFKC folds the full-width ASCII forms (：→:, ，→,, （→( ...), but the ideographic
# full stop 。 and comma 、 have no compatibility mapping, and quotes and dashes come in
# several code points that editors swap freely: unify those by hand.
_PUNCT_MAP = str.maketrans(
    {
        "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'",
        "\u300c": '"', "\u300d": '"',
        "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u3002": ".", "\u3001": ",", "\uff61": ".",
    }
)


def normalize_text(text: str | None) -> str:
    """Fold a piece of text to the form in which two versions are compared."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT_MAP)
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _SPACE_RE.sub(" ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def content_hash(record: dict) -> str:
    """A stable hash of the normalised content fields of an article record."""
    payload = {f: normalize_text(record.get(f)) for f in CONTENT_FIELDS}
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _fields_as_lines(record: dict) -> list[str]:
    lines = [f"{f}: {record.get(f) or ''}" for f in CONTENT_FIELDS if f != "body"]
    return lines + ["", *(record.get("body") or "").split("\n")]


def unified_diff(old: dict, new: dict, old_label: str = "previous", new_label: str = "current") -> str:
    """Unified diff, one paragraph a line, of the content fields of two records."""
    return "\n".join(
        difflib.unified_diff(
            _fields_as_lines(old), _fields_as_lines(new), fromfile=old_label, tofile=new_label, lineterm=""
        )
    )


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
    paragraph by paragraph so that an edited sentence shows inside its paragraph.
    """
    changes: list[ParagraphChange] = []
    for f in CONTENT_FIELDS:
        if f == "body":
            continue
        a, b = old.get(f) or "", new.get(f) or ""
        if normalize_text(a) != normalize_text(b):
            changes.append(ParagraphChange(f, a or None, b or None, char_segments(a, b)))
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
            label = f"paragraph {(j1 if b is not None else i1) + k + 1}"
            changes.append(ParagraphChange(label, a, b, char_segments(a or "", b or "")))
    return changes


def render_changes_text(changes: list[ParagraphChange]) -> str:
    """Plain-text form for email and terminals without colour: [-old-]{+new+} inline."""
    blocks = []
    for ch in changes:
        marked = "".join(
            s.text if s.op == "=" else (f"[-{s.text}-]" if s.op == "-" else f"{{+{s.text}+}}") for s in ch.segments
        )
        blocks.append(f"{ch.label}:\n  {marked}")
    return "\n".join(blocks)


def render_changes_ansi(changes: list[ParagraphChange]) -> str:
    """Terminal form: deletions red and struck through, insertions green and underlined."""
    blocks = []
    for ch in changes:
        marked = "".join(
            s.text if s.op == "=" else (f"\x1b[31;9m{s.text}\x1b[0m" if s.op == "-" else f"\x1b[32;4m{s.text}\x1b[0m")
            for s in ch.segments
        )
        blocks.append(f"\x1b[1m{ch.label}:\x1b[0m\n  {marked}")
    return "\n".join(blocks)


def render_changes_html(changes: list[ParagraphChange]) -> str:
    """HTML form (escaped): <del> and <ins> inside each changed paragraph."""
    blocks = []
    for ch in changes:
        parts = []
        for s in ch.segments:
            t = html.escape(s.text)
            parts.append(t if s.op == "=" else (f"<del>{t}</del>" if s.op == "-" else f"<ins>{t}</ins>"))
        blocks.append(f"<p><b>{html.escape(ch.label)}</b><br>{''.join(parts)}</p>")
    return "\n".join(blocks)


def summarize_changes(changes: list[ParagraphChange], width: int = 60) -> str:
    """One line for ``barwatch history``: which fields moved and the first inserted text."""
    if not changes:
        return "no content change"
    labels = [c.label for c in changes]
    what = ", ".join(labels[:3]) + (f" (+{len(labels) - 3} more)" if len(labels) > 3 else "")
    first_ins = next((s.text for c in changes for s in c.segments if s.op == "+"), "")
    first_del = next((s.text for c in changes for s in c.segments if s.op == "-"), "")
    hint = f"+「{first_ins}」" if first_ins else (f"-「{first_del}」" if first_del else "")
    line = f"{what}: {hint}" if hint else what
    return line if len(line) <= width else line[: width - 1] + "…"
