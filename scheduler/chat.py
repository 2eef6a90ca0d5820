"""Chat messages: the queued alerts as the digests a chat bot posts, each within its service's size.

Pure functions and one pacing helper, no I/O. Which alerts are pending is the outbox's
business, delivery is the transport's; this module decides what each service gets:

* one digest per crawl run, as the mail has (``scheduler.notify``), in plain text or, for
  services that render it, markdown;
* split between whole entries to the service's limit, each message carrying the ids of
  exactly the alerts shown in it, so the outbox marks those and only those delivered
  when that message is accepted; an entry too long for a message on its own is
  shortened (its change lines cut with "…"), never dropped;
* every message contains the word ``barwatch``: Feishu, DingTalk and WeCom bots secured by
  a keyword reject a message without it.

The title is also the first line of the body, and the transport should send the body
with an *empty* title. Apprise puts the title into the body itself for services with no
title field (WeCom, Telegram, Feishu's and DingTalk's text messages), while others drop
it or show it only in a preview. Sending the body alone is the one way every service
shows the keyword, and shows it once. The limits below count the body alone: a title
sent as well would be added to the same message and could push it over. Where a
service shows a caption apart from the text (a DingTalk markdown message's preview
line), Apprise takes it from ``AppriseAsset.app_desc``: the title belongs there.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from crawler.config import WebSettings

# The mail's wording, imported rather than copied so mail and chat never drift apart.
from scheduler.notify import OPS_HEAD, SITE_NAME, View, counts, notice_lines, run_label, summary, title_of
from storage.diffs import ELLIPSIS, paragraph_changes, trimmed
from storage.diffs import FORMATS as DIFF_FORMATS
from storage.outbox import KIND_LABELS, KINDS, OPERATIONS, PendingAlert
from storage.textops import SITE_TIMEZONE, clean_text, one_line

# Not the mail's configurable subject prefix: a chat message must carry the keyword
# whatever the mail's subject says.
PREFIX = "【barwatch】"
MAX_CHANGES = 5  # changed paragraphs listed for one article; a chat message is read at a glance
# Narrower than the mail's (storage.diffs.CONTEXT, MAX_RUN): a WeCom message holds ~680 hanzi.
CONTEXT = 20
MAX_RUN = 100


# --------------------------------------------------------------------------- formats
@dataclass(frozen=True)
class ChatFormat:
    """How one chat service takes a message.

    ``limit``: the largest body, counted in ``unit`` (``bytes`` of UTF-8 or ``chars``, i.e.
    code points); ``per_minute``: at most this many messages in any minute (None: no
    pacing needed).
    """

    name: str
    markdown: bool
    limit: int
    unit: Literal["bytes", "chars"]
    per_minute: int | None

    def __post_init__(self) -> None:
        if self.unit not in ("bytes", "chars"):
            raise ValueError(f"unit must be bytes or chars (got {self.unit!r})")
        if self.limit < 1:
            raise ValueError(f"limit must be positive (got {self.limit!r})")


FORMATS: dict[str, ChatFormat] = {
    # Apprise's wecombot sends msgtype text; WeCom counts text.content in UTF-8 bytes
    # (2048), after JSON decoding, so the whole limit is ours. 20 messages a minute a bot.
    "wecombot": ChatFormat("wecombot", markdown=False, limit=2048, unit="bytes", per_minute=20),
    # DingTalk renders markdown. Its 20,000 bytes are those of the whole request, and
    # Apprise's DingTalk plugin encodes the JSON with ensure_ascii: a hanzi (3 UTF-8
    # bytes) travels as \uXXXX (6), a middle dot or an emoji as three times its UTF-8
    # size. 6,000 UTF-8 bytes stay under 20,000 in the worst case, with room for the
    # envelope. Past 20 a minute DingTalk blocks the robot for 10 minutes.
    "dingtalk": ChatFormat("dingtalk", markdown=True, limit=6000, unit="bytes", per_minute=20),
    # Feishu and Lark: plain text (a markdown card would drop the keyword check's text
    # field). The limit is about 20 KB of request body, in bytes, so characters would be
    # unsafe for Chinese (20,000 hanzi are 60 KB). Apprise sends UTF-8 JSON; 16,000 bytes
    # leave room for the envelope and the escaped line breaks. 5 a minute also keeps
    # within Feishu's 5 a second, which a one-minute window cannot otherwise see (100 a
    # minute alone would allow 100 in one second); a run's digest is a message or two.
    "feishu": ChatFormat("feishu", markdown=False, limit=16000, unit="bytes", per_minute=5),
    "lark": ChatFormat("lark", markdown=False, limit=16000, unit="bytes", per_minute=5),
    # ntfy.sh keeps a message up to 4,096 bytes and turns a longer one into an attached
    # file; it refills one message every 5 seconds after a burst.
    "ntfy": ChatFormat("ntfy", markdown=False, limit=4000, unit="bytes", per_minute=12),
    "ntfys": ChatFormat("ntfys", markdown=False, limit=4000, unit="bytes", per_minute=12),
}
# Any other service (json, form, tgram, matrix, ...): Telegram's 4,096 characters are the
# smallest common limit, and its bots may post 20 messages a minute to a group.
DEFAULT_FORMAT = ChatFormat("default", markdown=False, limit=4000, unit="chars", per_minute=20)


def format_for(schema: str) -> ChatFormat:
    """The format of an Apprise schema (``wecombot``) or of a whole URL (``wecombot://key``)."""
    key = (schema or "").split("://", 1)[0].strip().lower()
    return FORMATS.get(key, DEFAULT_FORMAT)


def size(text: str, unit: str) -> int:
    """``text``'s length as a service counts it."""
    return len(text.encode("utf-8")) if unit == "bytes" else len(text)


# --------------------------------------------------------------------------- spans
# An entry is built as lines of spans (site text, our own markup, deletions, insertions,
# links) and rendered per format only at the end, so that a line cut to fit is cut in
# the site text, never inside an escape, a link or a pair of ** markers.
_Style = Literal["site", "ours", "del", "ins", "link"]


@dataclass(frozen=True)
class _Span:
    text: str
    style: _Style = "site"
    url: str = ""


_Line = tuple[_Span, ...]

_MD_SPECIAL = re.compile(r"([\\`*_~\[\]<>|])")
# At a line's start these open a heading, a quote, a list item or a rule.
_MD_LINE_START = re.compile(r"^(\s*)(?:([#>+=-])|(\d+)([.)]))")
_MD_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\\": "%5C"}


def _md(text: str, line_start: bool = False) -> str:
    out = _MD_SPECIAL.sub(r"\\\1", text)
    if line_start:
        out = _MD_LINE_START.sub(
            lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"), out
        )
    return out


def _md_url(url: str) -> str:
    return "".join(_MD_URL_UNSAFE.get(c, c) for c in url)


def _web_url(url) -> str | None:
    url = one_line(None if url is None else str(url))
    return url if url.lower().startswith(("https://", "http://")) else None


def _wrap(marker: str, text: str) -> str:
    # CommonMark does not open ** or ~~ before a space: keep blanks outside the markers.
    core = text.strip()
    if not core:
        return text if marker == "**" else ""
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    return f"{lead}{marker}{_md(core)}{marker}{trail}"


_TEXT_DIFF = DIFF_FORMATS["text"]  # the mail's [-old-]{+new+}


def _render_span(span: _Span, markdown: bool, line_start: bool) -> str:
    if not span.text and span.style != "link":
        return ""
    if not markdown:
        if span.style == "del":
            return _TEXT_DIFF.deleted.format(span.text)
        if span.style == "ins":
            return _TEXT_DIFF.inserted.format(span.text)
        return span.text
    if span.style == "ours":
        return span.text
    if span.style == "del":
        return _wrap("~~", span.text)
    if span.style == "ins":
        return _wrap("**", span.text)
    if span.style == "link":
        return f"[{_md(span.text)}]({_md_url(span.url)})" if span.text else ""
    return _md(span.text, line_start)


def _render_line(line: _Line, markdown: bool) -> str:
    return "".join(_render_span(s, markdown, i == 0) for i, s in enumerate(line))


def _fit_line(line: _Line, allowed: int, markdown: bool, unit: str) -> str:
    """The line, or as much of it as fits in ``allowed`` with "…" after it ("" if not even that)."""
    whole = _render_line(line, markdown)
    if size(whole, unit) <= allowed:
        return whole
    room = allowed - size(ELLIPSIS, unit)
    if room < 0:
        return ""
    out = ""
    for i, span in enumerate(line):
        rendered = _render_span(span, markdown, i == 0)
        if size(out + rendered, unit) <= room:
            out += rendered
            continue
        inside = span.style == "link"
        # The longest prefix of this span that fits: rendered sizes grow with the prefix.
        lo, hi = 0, len(span.text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if size(out + _cut_span(span, mid, markdown, i == 0), unit) <= (allowed if inside else room):
                lo = mid
            else:
                hi = mid - 1
        cut = _cut_span(span, lo, markdown, i == 0)
        if inside and size(out + cut, unit) <= allowed:
            return out + cut
        out += cut if not inside else ""
        break
    return out + ELLIPSIS


def _cut_span(span: _Span, k: int, markdown: bool, line_start: bool) -> str:
    """The first ``k`` characters of ``span``, rendered."""
    # A cut link keeps its "…" inside the label, where it reads as part of the title.
    text = span.text[:k] + (ELLIPSIS if span.style == "link" else "")
    return _render_span(replace(span, text=text), markdown, line_start)


@dataclass(frozen=True)
class _Entry:
    """One alert as shown: ``head`` lines are kept (cut if need be), ``detail`` lines may go."""

    alert_id: int
    kind: str
    head: tuple[_Line, ...]
    detail: tuple[_Line, ...] = ()


def _sep(markdown: bool) -> str:
    # DingTalk's markdown joins single newlines; two trailing spaces are a hard break.
    return "  \n" if markdown else "\n"


def _render_entry(entry: _Entry, markdown: bool) -> str:
    return _sep(markdown).join(r for r in (_render_line(line, markdown) for line in entry.head + entry.detail) if r)


def _shorten_entry(entry: _Entry, budget: int, markdown: bool, unit: str) -> str:
    """The entry rendered in at most ``budget``: detail lines kept while they fit, the
    first that does not cut with "…" and the rest left out; head lines cut only if they
    alone are too long (the later ones, a URL say, keep their room)."""
    whole = _render_entry(entry, markdown)
    if size(whole, unit) <= budget:
        return whole
    sep = _sep(markdown)
    sep_size = size(sep, unit)
    out: list[str] = []

    def used() -> int:
        return size(sep.join(out), unit)

    head = [_render_line(h, markdown) for h in entry.head]
    for i, line in enumerate(entry.head):
        later = sum(size(h, unit) + sep_size for h in head[i + 1 :])
        allowed = budget - used() - (sep_size if out else 0) - later
        rendered = _fit_line(line, allowed, markdown, unit)
        if rendered:
            out.append(rendered)
    marker = sep_size + size(ELLIPSIS, unit)
    for i, line in enumerate(entry.detail):
        allowed = budget - used() - (sep_size if out else 0)
        rendered = _render_line(line, markdown)
        last = i == len(entry.detail) - 1
        # A line is kept whole only if a "…" line still fits after it, so that a cut
        # entry always says so.
        if size(rendered, unit) <= allowed - (0 if last else marker):
            out.append(rendered)
            continue
        cut = _fit_line(line, allowed, markdown, unit)
        if cut:
            out.append(cut)
        break
    return sep.join(out)


# --------------------------------------------------------------------------- entries
def _title_line(alert: PendingAlert, markdown: bool) -> list[_Line]:
    title, url = title_of(alert), _web_url(alert.url)
    if markdown:
        return [(_Span(title, "link", url),) if url else (_Span(title),)]
    link = one_line(None if alert.url is None else str(alert.url))
    lines: list[_Line] = [(_Span(title),)]
    if link:
        lines.append((_Span(link, "ours"),))
    return lines


_SEGMENT_STYLES: dict[str, _Style] = {"=": "site", "-": "del", "+": "ins"}  # by Segment.op


def _change_lines(alert: PendingAlert, max_changes: int) -> list[_Line]:
    if alert.previous is None:
        return [(_Span("（找不到上一版本，无法显示修改内容）", "ours"),)]
    changes = paragraph_changes(alert.previous, alert.content)
    if not changes:
        return [(_Span("（修改仅涉及空白或标点写法）", "ours"),)]
    lines: list[_Line] = []
    for ch in changes[:max_changes]:
        spans = [_Span(f"{one_line(ch.label)}：", "ours")]
        for seg in trimmed(ch, CONTEXT, MAX_RUN):
            spans.append(_Span(seg.text, _SEGMENT_STYLES[seg.op]))
        lines.append(tuple(spans))
    if len(changes) > max_changes:
        lines.append((_Span(f"（另有 {len(changes) - max_changes} 处修改未列出）", "ours"),))
    return lines


def _entry(alert: PendingAlert, markdown: bool, web: WebSettings, max_changes: int) -> _Entry:
    if alert.kind == OPERATIONS:
        first, *rest = notice_lines(alert)
        return _Entry(alert.id, alert.kind, ((_Span(first),),), tuple((_Span(line),) for line in rest))
    head = _title_line(alert, markdown)
    detail: list[_Line] = []
    if alert.kind == "changed":
        detail = _change_lines(alert, max_changes)
    elif alert.kind == "removed":
        archived = _web_url(web.article_url(alert.article_id))
        if archived:
            # The site's own link is dead now: the archived copy is the one to open.
            head.append((_Span("存档页面", "link", archived),) if markdown else (_Span(f"存档：{archived}", "ours"),))
    return _Entry(alert.id, alert.kind, tuple(head), tuple(detail))


def _heading(kind: str, markdown: bool) -> str:
    label = OPS_HEAD if kind == OPERATIONS else KIND_LABELS.get(kind) or one_line(kind) or "其他"
    return f"**{_md(label)}**" if markdown else f"【{label}】"


# --------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class ChatMessage:
    """One chat message: ``body`` starts with ``title`` (send the body with an empty
    title, see the module's notes); ``alert_ids``: the alerts shown in it, in order, to be
    marked delivered once the service accepted it."""

    title: str
    body: str
    alert_ids: tuple[int, ...]


def _titles(summary: str, n: int) -> list[str]:
    base = f"{PREFIX}{SITE_NAME}"
    if n == 1:
        return [f"{base}：{summary}"]
    return [f"{base}：{summary}（1/{n}）"] + [f"{base}（续 {k}/{n}）" for k in range(2, n + 1)]


def _message(title: str, run_line: str, items: Sequence[tuple[str, str]], markdown: bool) -> str:
    """A message's body: title, run line, then each entry under its kind's heading (again
    wherever the kind changes, so a continuation starts with one)."""
    head = (f"#### {title}" if markdown else title) + (f"\n{run_line}" if run_line else "")
    blocks = [head]
    previous = None
    for kind, text in items:
        if kind != previous:
            heading = _heading(kind, markdown)
            text = f"{heading}\n\n{text}" if markdown else f"{heading}\n{text}"
            previous = kind
        blocks.append(text)
    return "\n\n".join(blocks)


def _hard_cut(text: str, limit: int, unit: str) -> str:
    # Only a limit smaller than a title and a heading gets here; code points are never split.
    while size(text, unit) > limit:
        text = text[: max(0, len(text) - max(1, (size(text, unit) - limit) // 4))]
    return text


def _digest(
    alerts: Sequence[PendingAlert], fmt: ChatFormat, zone: str, web: WebSettings, max_changes: int
) -> list[ChatMessage]:
    md, unit, limit = fmt.markdown, fmt.unit, fmt.limit
    order = [OPERATIONS, *KINDS]
    order += list(dict.fromkeys(a.kind for a in alerts if a.kind not in order))  # shown rather than lost
    entries = [_entry(a, md, web, max_changes) for kind in order for a in alerts if a.kind == kind]
    headline = summary(counts(alerts))
    first = alerts[0]
    run_line = f"{run_label(first, View(zone, web))}：" if first.run_id is not None else ""
    # Parts are split before their titles are known; no title is longer than these,
    # since a digest has no more parts than entries.
    n_max = len(entries)
    worst = max(
        (f"{PREFIX}{SITE_NAME}：{headline}（{n_max}/{n_max}）", f"{PREFIX}{SITE_NAME}（续 {n_max}/{n_max}）"),
        key=lambda t: size(t, unit),
    )

    parts: list[list[tuple[_Entry, str]]] = []
    current: list[tuple[_Entry, str]] = []

    def fits(items) -> bool:
        return size(_message(worst, run_line, [(e.kind, t) for e, t in items], md), unit) <= limit

    for entry in entries:
        text = _render_entry(entry, md)
        if fits(current + [(entry, text)]):
            current.append((entry, text))
            continue
        if current:
            parts.append(current)
        if not fits([(entry, text)]):
            overhead = size(_message(worst, run_line, [(entry.kind, "")], md), unit)
            text = _shorten_entry(entry, limit - overhead, md, unit)
        current = [(entry, text)]
    if current:
        parts.append(current)

    messages = []
    for title, part in zip(_titles(headline, len(parts)), parts, strict=True):
        body = clean_text(_message(title, run_line, [(e.kind, t) for e, t in part], md)) or ""
        messages.append(ChatMessage(title, _hard_cut(body, limit, unit), tuple(e.alert_id for e, _ in part)))
    return messages


def chat_messages(
    alerts: Sequence[PendingAlert],
    fmt: ChatFormat,
    *,
    zone: str = SITE_TIMEZONE,
    web: WebSettings | None = None,
    max_changes: int = MAX_CHANGES,
) -> list[ChatMessage]:
    """The chat messages for these alerts: a digest per crawl run (runs in the order
    their alerts come), each split to ``fmt.limit`` between whole entries. Operations
    notices first, then new, changed, removed and restored articles; an edit shows up to
    ``max_changes`` changed paragraphs, a removal its archived page under
    ``web.public_url``; times in ``zone``. Every alert is in exactly one message."""
    web = web or WebSettings()
    by_run: dict[int | None, list[PendingAlert]] = {}
    for a in alerts:
        by_run.setdefault(a.run_id, []).append(a)
    return [m for group in by_run.values() for m in _digest(group, fmt, zone, web, max(0, max_changes))]


# --------------------------------------------------------------------------- pacing
class Pacer:
    """Keeps to a service's rate: ``wait()`` before each message blocks just long enough
    that at most ``per_minute`` messages leave in any ``window`` seconds (a sliding window:
    a message may go ``window`` seconds after the ``per_minute``-th one before it).
    ``per_minute=None``: never waits.

    ``window`` is a minute and a second: a message leaves here and reaches the service a
    moment later, by a varying delay, and DingTalk blocks a robot for 10 minutes for one
    message too many. A message is counted when ``wait`` lets it go, sent or not.
    """

    def __init__(
        self,
        per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window: float = 61.0,
    ) -> None:
        if per_minute is not None and per_minute < 1:
            raise ValueError(f"per_minute must be at least 1 or None (got {per_minute!r})")
        self.per_minute = per_minute
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def wait(self) -> float:
        """Block until the next message may go and count it; returns the seconds slept."""
        if self.per_minute is None:
            return 0.0
        now = self._clock()
        slept = 0.0
        if len(self._sent) >= self.per_minute:
            delay = self._sent[-self.per_minute] + self.window - now
            if delay > 0:
                self._sleep(delay)
                slept = delay
                now = self._clock()
        self._sent.append(now)
        while len(self._sent) > self.per_minute:
            self._sent.popleft()
        return slept
