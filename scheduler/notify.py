"""Alert e-mails: compose the queued alerts into mails and deliver each exactly once.

Which alerts are pending, held or sent is the outbox's business (``storage.outbox``); this
module only composes and sends. Delivery contract:

* a message's alerts are marked sent only after the SMTP server accepted the message, in
  one transaction, message by message; a crash between the two may resend that one
  message and no other (its Message-ID is derived from its alerts, so the resend carries
  the same Message-ID and mail clients can fold the duplicate);
* when the server is down, refuses or times out, nothing more is sent in this call: every
  alert that was to go out and did not stays pending with ``attempts`` + 1 and a short
  ``last_error``; the next call sends them;
* kinds not listed in ``AlertSettings.kinds`` are neither sent nor marked: they stay in
  the outbox untouched, never block the other kinds, and go out if the kind is enabled
  later (``outbox_counts`` still reports them as pending).
"""

from __future__ import annotations

import hashlib
import html
import os
import smtplib
import socket
import ssl
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from typing import Any, TextIO, TypedDict, Unpack

import jinja2
from markupsafe import Markup

from crawler.config import ALERT_MODES, AlertSettings, WebSettings, parse_addresses, valid_address
from storage import outbox
from storage.diffs import ParagraphChange, paragraph_changes, render_changes
from storage.lock import LOCKED_EXIT_CODE, ArchiveLocked, CrawlLock
from storage.outbox import KINDS, OPERATIONS, PendingAlert
from storage.textops import SITE_TIMEZONE, clean_text, local_time, one_line

MODES = ALERT_MODES
TLS_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
SITE_NAME = "上海律协网站"
SITE_HOST = "www.lawyers.org.cn"
MAX_LINE = 200  # characters of one body paragraph shown for a new article
MAX_CHANGES = 30  # changed paragraphs shown for one article
MAX_SUBJECT_TITLE = 80

_SUBJECT_COUNT = {"new": "篇新文章", "changed": "篇修改", "removed": "篇删除", "restored": "篇恢复"}
_SUBJECT_SINGLE = {"new": "新文章", "changed": "文章修改", "removed": "文章删除", "restored": "文章恢复"}
_SECTION_HEAD = outbox.KIND_LABELS
_GONE_OR_BACK = {
    "removed": "该文章已从网站删除（{at} 发现）。",
    "restored": "该文章曾从网站删除，现已恢复（{at} 发现）。",
}
# Operations notices (outbox.OPERATIONS: a run failed, failures keep coming, a run is held)
# come first in a digest, under their own heading, and each is its own mail per article.
OPS_HEAD = "运行通知"
_OPS_COUNT = "条运行通知"


# --------------------------------------------------------------------------- settings
# AlertSettings (the [alerts] table) and the address checks live with the config model.
_addresses = parse_addresses
_valid_address = valid_address


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server. Build it with ``from_env``: secrets live only there.

    ``tls``: ``none`` (plain), ``starttls`` (upgrade after connecting) or ``ssl`` (TLS
    from the start); the port defaults to 25, 587 or 465 accordingly. ``cafile``: a CA
    bundle to verify the server's certificate with instead of the system store.
    """

    host: str
    mail_from: str
    mail_to: tuple[str, ...] = ()
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: str = "starttls"
    timeout: float = 30.0
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.tls not in TLS_PORTS:
            raise ValueError(f"tls must be one of {', '.join(TLS_PORTS)} (got {self.tls!r})")
        pairs = _addresses(self.mail_from or "")
        if len(pairs) != 1 or not _valid_address(pairs[0][1]):
            raise ValueError(f"mail_from is not one e-mail address (got {self.mail_from!r})")
        if self.port is None:
            object.__setattr__(self, "port", TLS_PORTS[self.tls])
        object.__setattr__(self, "mail_to", tuple(self.mail_to))

    @property
    def envelope_from(self) -> str:
        return _addresses(self.mail_from)[0][1]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """Read the BARWATCH_SMTP_* and BARWATCH_MAIL_* variables; ValueError names the bad one.

        Required: BARWATCH_SMTP_HOST, BARWATCH_MAIL_FROM. Optional: BARWATCH_SMTP_PORT,
        BARWATCH_SMTP_TLS (none|starttls|ssl, default starttls), BARWATCH_SMTP_USER and
        BARWATCH_SMTP_PASSWORD (both or neither), BARWATCH_MAIL_TO (comma-separated),
        BARWATCH_SMTP_TIMEOUT (seconds, default 30), BARWATCH_SMTP_CAFILE.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        # One parser a variable, called in this order: the first bad variable is the one named.
        values: dict[str, Any] = {
            "host": _env_host(get("BARWATCH_SMTP_HOST")),
            "tls": _env_tls(get("BARWATCH_SMTP_TLS")),
        }
        values["port"] = _env_port(get("BARWATCH_SMTP_PORT"))
        values["user"], values["password"] = _env_login(get("BARWATCH_SMTP_USER"), env.get("BARWATCH_SMTP_PASSWORD"))
        values["mail_from"] = _env_mail_from(get("BARWATCH_MAIL_FROM"))
        values["mail_to"] = _env_mail_to(get("BARWATCH_MAIL_TO"))
        values["timeout"] = _env_timeout(get("BARWATCH_SMTP_TIMEOUT"))
        values["cafile"] = _env_cafile(get("BARWATCH_SMTP_CAFILE"))
        return cls(**values)


# The parsers of SmtpSettings.from_env: each takes its variable's value, stripped ("" when
# unset), and raises ValueError naming the variable.
def _env_host(raw: str) -> str:
    if not raw:
        raise ValueError("BARWATCH_SMTP_HOST is not set: the host name of the SMTP server")
    return raw


def _env_tls(raw: str) -> str:
    tls = raw.lower() or "starttls"
    if tls not in TLS_PORTS:
        raise ValueError(f"BARWATCH_SMTP_TLS must be none, starttls or ssl (got {raw!r})")
    return tls


def _env_port(raw: str) -> int | None:
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"BARWATCH_SMTP_PORT must be a port number from 1 to 65535 (got {raw!r})")
    return port


def _env_login(raw_user: str, raw_password: str | None) -> tuple[str | None, str | None]:
    """(user, password), both or neither. The password is taken as set, blanks included."""
    user = raw_user or None
    password = raw_password or None
    if user and not password:
        raise ValueError("BARWATCH_SMTP_PASSWORD is not set, but BARWATCH_SMTP_USER is")
    if password and not user:
        raise ValueError("BARWATCH_SMTP_USER is not set, but BARWATCH_SMTP_PASSWORD is")
    return user, password


def _env_mail_from(raw: str) -> str:
    if not raw:
        raise ValueError("BARWATCH_MAIL_FROM is not set: the sender address of alert mails")
    pairs = _addresses(raw)
    if len(pairs) != 1 or not _valid_address(pairs[0][1]):
        raise ValueError(f"BARWATCH_MAIL_FROM is not one e-mail address (got {raw!r})")
    return raw


def _env_mail_to(raw: str) -> tuple[str, ...]:
    mail_to = []
    for name, addr in _addresses(raw):
        if not _valid_address(addr):
            raise ValueError(f"BARWATCH_MAIL_TO has {addr or name!r}, which is not an e-mail address")
        mail_to.append(addr if not name else f"{name} <{addr}>")
    return tuple(mail_to)


def _env_timeout(raw: str) -> float:
    if not raw:
        return 30.0
    try:
        timeout = float(raw)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 3600:
        raise ValueError(f"BARWATCH_SMTP_TIMEOUT must be seconds between 0 and 3600 (got {raw!r})")
    return timeout


def _env_cafile(raw: str) -> str | None:
    cafile = raw or None
    if cafile and not os.path.isfile(cafile):
        raise ValueError(f"BARWATCH_SMTP_CAFILE names no readable file ({cafile!r})")
    return cafile


# --------------------------------------------------------------------------- composing
@dataclass(frozen=True)
class View:
    """How a mail shows what it carries: times in ``zone``, archived pages under ``web``."""

    zone: str
    web: WebSettings


@dataclass
class Message:
    """One mail and the alerts it carries (marked sent together once it is accepted)."""

    run_id: int | None
    alert_ids: tuple[int, ...]
    email: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.email["Subject"])

    def text(self) -> str:
        return self._part("plain")

    def html(self) -> str:
        return self._part("html")

    def _part(self, subtype: str) -> str:
        part = self.email.get_body((subtype,))
        assert part is not None  # compose writes both a plain and an html part
        return part.get_content()


# Everything taken from the site or the archive passes through one_line (headers, one-line
# fields) or clean_text (whole parts): rows stored by an older barwatch may hold control
# characters, and a mail must never carry an ESC, a bidi override or a header break.
def _one_line(text) -> str:
    return one_line(None if text is None else str(text))


def title_of(alert: PendingAlert) -> str:
    return _one_line(alert.title) or "（无标题）"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def counts(alerts: Sequence[PendingAlert]) -> dict[str, int]:
    return {k: sum(1 for a in alerts if a.kind == k) for k in (OPERATIONS, *KINDS)}


def summary(numbers: dict[str, int]) -> str:
    words = {OPERATIONS: _OPS_COUNT, **_SUBJECT_COUNT}
    return "，".join(f"{numbers[k]} {words[k]}" for k in (OPERATIONS, *KINDS) if numbers.get(k))


def notice_lines(alert: PendingAlert) -> list[str]:
    """The lines of an operations notice, each cleaned to one line; blank lines dropped."""
    lines = [_one_line(line) for line in (clean_text(alert.notice) or "").split("\n")]
    return [line for line in lines if line] or [_one_line(alert.incident) or "（无说明）"]


def _header(text: str) -> str:
    """A header value: no control characters and no line break (a trailing space stays)."""
    return (clean_text(text) or "").replace("\n", " ")


def subject_for(alerts: Sequence[PendingAlert], config: AlertSettings) -> str:
    """``【barwatch】上海律协网站：2 篇新文章，1 篇修改，1 篇删除`` (zero counts left out);
    in per-article mode ``【barwatch】上海律协网站新文章：<title>``. Operations notices
    count first (``1 条运行通知``); alone in a mail (per-article mode) the subject is
    ``【barwatch】运行通知：<first line of the notice>``."""
    prefix = _header(config.subject_prefix)  # a trailing space is the user's choice
    if config.mode == "per_article" and len(alerts) == 1:
        a = alerts[0]
        if a.kind == OPERATIONS:
            return _header(f"{prefix}{OPS_HEAD}：{_shorten(notice_lines(a)[0], MAX_SUBJECT_TITLE)}")
        return _header(f"{prefix}{SITE_NAME}{_SUBJECT_SINGLE[a.kind]}：{_shorten(title_of(a), MAX_SUBJECT_TITLE)}")
    return _header(f"{prefix}{SITE_NAME}：{summary(counts(alerts))}")


def run_label(alert: PendingAlert, view: View) -> str:
    if alert.run_id is None:
        return "发现"
    when = f"（{local_time(alert.run_started_at, view.zone)} 开始）" if alert.run_started_at else ""
    return f"第 {alert.run_id} 次抓取{when}发现"


# The mail's two parts are two templates of one context (``_digest``): what a part shows is
# decided once, here; how it looks is the templates' business. Every string in the context
# has been through one_line already.
@dataclass
class _Entry:
    """One article. ``note``: the sentence under its links (changed, removed, restored);
    ``quote``/``cut``: the first body lines shown and whether the body goes on (a new
    article, or a removed one with no archived page to link to); ``changes``: the changed
    paragraphs shown, ``unlisted`` how many more there are; ``archived``: its archived page."""

    title: str
    meta: list[tuple[str, str]]
    url: str
    link: str | None  # ``url`` when it may be an href (http or https)
    note: str | None = None
    quote: list[str] = field(default_factory=list)
    cut: bool = False
    changes: list[ParagraphChange] = field(default_factory=list)
    unlisted: int = 0
    archived: str | None = None
    archived_link: str | None = None


@dataclass(frozen=True)
class _Section:
    kind: str
    head: str
    entries: list[_Entry]


@dataclass(frozen=True)
class _Digest:
    run: str
    summary: str
    notices: list[list[str]]  # operations notices, line by line; they come before the articles
    sections: list[_Section]  # one per kind with alerts, in KINDS order
    zone: str


def _href(url: str | None) -> str | None:
    """``url`` if a mail may link to it: a javascript: or data: address stays text."""
    return url if url and url.lower().startswith(("https://", "http://")) else None


def _meta(alert: PendingAlert) -> list[tuple[str, str]]:
    c = alert.content
    items = [
        ("日期", _one_line(c.get("published"))),
        ("栏目", _one_line(alert.section)),
        ("作者", _one_line(c.get("author"))),
    ]
    return [(k, v) for k, v in items if v]


def _body_lines(body: str | None, n: int) -> tuple[list[str], bool]:
    lines = [_one_line(line) for line in (body or "").split("\n")]
    lines = [line for line in lines if line]
    return [_shorten(line, MAX_LINE) for line in lines[:n]], len(lines) > n


def _entry(alert: PendingAlert, config: AlertSettings, view: View) -> _Entry:
    url = _one_line(alert.url)
    e = _Entry(title_of(alert), _meta(alert), url, _href(url))
    if alert.kind == "new":
        e.quote, e.cut = _body_lines(alert.content.get("body"), config.body_lines)
    elif alert.kind == "changed":
        changes = None if alert.previous is None else paragraph_changes(alert.previous, alert.content)
        if changes is None:
            e.note = "（找不到上一版本，无法显示修改内容）"
        elif not changes:
            e.note = "（修改仅涉及空白或标点写法）"
        else:
            e.note = f"版本 {alert.previous_version} → {alert.version}："
            e.changes, e.unlisted = changes[:MAX_CHANGES], max(0, len(changes) - MAX_CHANGES)
    else:
        e.note = _GONE_OR_BACK[alert.kind].format(at=local_time(alert.created_at, view.zone))
        if alert.kind == "removed":
            e.archived = _one_line(view.web.article_url(alert.article_id)) or None
            e.archived_link = _href(e.archived)
            if not e.archived:  # nowhere to link to: the mail keeps what the site took down
                e.quote, e.cut = _body_lines(alert.content.get("body"), config.body_lines)
    return e


def _digest(alerts: Sequence[PendingAlert], config: AlertSettings, view: View) -> _Digest:
    sections = [
        _Section(kind, _SECTION_HEAD[kind], [_entry(a, config, view) for a in alerts if a.kind == kind])
        for kind in KINDS
    ]
    return _Digest(
        run=run_label(alerts[0], view),
        summary=summary(counts(alerts)),
        notices=[notice_lines(a) for a in alerts if a.kind == OPERATIONS],
        sections=[s for s in sections if s.entries],
        zone=_one_line(view.zone),
    )


def _html_escape(value: object) -> object:
    # Runs before autoescape, which then leaves the Markup alone: the stdlib's escaping
    # (&quot;, &#x27;) rather than markupsafe's (&#34;, &#39;), as in render_changes.
    return value if hasattr(value, "__html__") else Markup(html.escape(str(value), quote=True))


@cache  # compiled on first use: importing this module (the chat channels do) needs no templates
def _template(fmt: str) -> jinja2.Template:
    html_part = fmt == "html"

    def diff(changes: list[ParagraphChange]) -> str:
        rendered = render_changes(changes, fmt)
        # render_changes escapes what it shows itself: its HTML goes into the part as it is.
        return Markup(rendered) if html_part else rendered

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scheduler"),
        autoescape=html_part,
        finalize=_html_escape if html_part else None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["diff"] = diff
    env.globals.update(site=SITE_NAME, host=SITE_HOST, ops_head=OPS_HEAD)
    return env.get_template("digest.html" if html_part else "digest.txt")


def _part(fmt: str, digest: _Digest) -> str:
    # The context is clean already; this is the last guard that no control character a
    # template or the diff renderer might add ever reaches a mail.
    return clean_text(_template(fmt).render(vars(digest))) or ""


def _message_id(alerts: Sequence[PendingAlert], domain: str) -> str:
    key = "\n".join(f"{a.id}:{a.article_id}:{a.kind}:{a.version}:{a.created_at}" for a in alerts)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    run = alerts[0].run_id if alerts[0].run_id is not None else "x"
    return f"<barwatch.{run}.{digest}@{domain}>"


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def compose(
    alerts: Sequence[PendingAlert],
    config: AlertSettings,
    now: datetime,
    sender: str | None = None,
    recipients: Sequence[str] = (),
    zone: str = SITE_TIMEZONE,
    web: WebSettings | None = None,
) -> Message:
    """One multipart/alternative mail (text/plain + text/html, UTF-8) for these alerts;
    times in it are wall-clock times in ``zone`` (the config's ``[site] timezone``); a
    removed article links to its page under ``web.public_url``, or its text is included."""
    view = View(zone, web or WebSettings())
    msg = EmailMessage()
    msg["Subject"] = subject_for(alerts, config)
    if sender:
        msg["From"] = sender
    if recipients:
        msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(_aware(now))
    pairs = _addresses(sender) if sender else []
    domain = pairs[0][1].rpartition("@")[2] if pairs else ""
    msg["Message-ID"] = _message_id(alerts, domain or "barwatch.invalid")
    msg["Auto-Submitted"] = "auto-generated"
    if alerts[0].run_id is not None:
        msg["X-Barwatch-Run"] = str(alerts[0].run_id)
    # base64 keeps the Chinese text intact through any relay, 8BITMIME or not.
    digest = _digest(alerts, config, view)
    msg.set_content(_part("text", digest), subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(_part("html", digest), subtype="html", charset="utf-8", cte="base64")
    return Message(alerts[0].run_id, tuple(a.id for a in alerts), msg)


class MailOptions(TypedDict, total=False):
    """``compose``'s optional arguments, which ``build_messages`` passes on to every mail."""

    sender: str | None
    recipients: Sequence[str]
    zone: str
    web: WebSettings | None


def build_messages(archive, config: AlertSettings, now: datetime, **options: Unpack[MailOptions]) -> list[Message]:
    """The mails for every sendable pending alert: one per crawl run, or one per alert."""
    alerts = outbox.pending_alerts(archive, config.kinds)
    if config.mode == "per_article":
        groups = [[a] for a in alerts]
    else:
        by_run: dict[int | None, list[PendingAlert]] = {}
        for a in alerts:
            by_run.setdefault(a.run_id, []).append(a)
        groups = list(by_run.values())
    return [compose(g, config, now, **options) for g in groups]


# --------------------------------------------------------------------------- sending
@dataclass
class NotifyResult:
    """``sent``: messages the server accepted; ``alerts_marked``: alerts marked sent;
    ``pending_left``: sendable alerts of the mailed kinds still unsent; ``errors``: what
    went wrong (delivery stops at the first failure); ``composed``: messages built."""

    sent: int = 0
    alerts_marked: int = 0
    pending_left: int = 0
    errors: list[str] = field(default_factory=list)
    composed: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _connect(s: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=s.cafile) if s.tls != "none" else None
    assert s.port is not None  # __post_init__ filled in the TLS mode's default
    if s.tls == "ssl":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
    else:
        conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
    try:
        if s.tls == "starttls":
            conn.starttls(context=context)
        if s.user:
            conn.login(s.user, s.password or "")
    except BaseException:
        conn.close()
        raise
    return conn


def _describe(exc: BaseException, s: SmtpSettings) -> str:
    """A short, readable line for ``last_error`` (never the password)."""
    where = f"{s.host}:{s.port}"
    what = _smtp_failure(exc, s)
    if what is None:
        what = _transport_failure(exc, s)
    return _shorten(_one_line(f"{where}: {what}"), outbox.MAX_ERROR)


def _reply(code: object, text: object) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"SMTP {code} {_one_line(text)}".strip()


def _smtp_failure(exc: BaseException, s: SmtpSettings) -> str | None:
    """What the SMTP conversation said, or None for an exception from below it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        addr, (code, text) = next(iter(exc.recipients.items()))
        return f"all recipients refused ({addr}: {_reply(code, text)})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused: {_reply(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"refused: {_reply(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
        return f"no answer within {s.timeout:g} s"  # smtplib wraps a read timeout this way
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"not supported by the server: {exc}"
    return None


def _transport_failure(exc: BaseException, s: SmtpSettings) -> str:
    """What went wrong below SMTP: the network, TLS, or anything else."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {s.timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {getattr(exc, 'verify_message', None) or exc.reason or exc}"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def format_message(m: Message) -> str:
    """Headers and text part, for ``--dry-run`` and logs."""
    lines = [f"{h}: {m.email[h]}" for h in ("From", "To", "Subject", "Date", "Message-ID") if m.email[h]]
    return "\n".join(lines) + "\n\n" + m.text()


def notify(
    archive,
    config: AlertSettings,
    smtp: SmtpSettings | None,
    dry_run: bool = False,
    out: TextIO | None = None,
    zone: str = SITE_TIMEZONE,
    web: WebSettings | None = None,
) -> NotifyResult:
    """Mail the pending alerts. ``dry_run`` prints them to ``out`` and marks nothing."""
    out = sys.stdout if out is None else out
    recipients = tuple(config.recipients or (smtp.mail_to if smtp else ()))
    if not dry_run:
        _check_can_send(smtp, recipients)
    sender = smtp.mail_from if smtp else None
    if not dry_run:
        outbox.register_channels(archive, [mail_channel(smtp, recipients)])
    messages = build_messages(
        archive, config, archive.clock(), sender=sender, recipients=recipients, zone=zone, web=web
    )
    result = NotifyResult(composed=len(messages))

    if dry_run:
        _print_dry_run(messages, out)
        result.pending_left = len(outbox.pending_alerts(archive, config.kinds))
        return result

    assert smtp is not None  # _check_can_send refused None
    _send_messages(archive, smtp, recipients, messages, result)
    if messages:
        outbox.channel_result(
            archive, outbox.EMAIL, ok=result.sent > 0, error=result.errors[0] if result.errors else None
        )
    result.pending_left = len(outbox.pending_alerts(archive, config.kinds))
    return result


def _check_can_send(smtp: SmtpSettings | None, recipients: Sequence[str]) -> None:
    if smtp is None:
        raise ValueError("SMTP settings are needed to send alerts (BARWATCH_SMTP_HOST ...), or use a dry run")
    if not recipients:
        raise ValueError("no recipients: set BARWATCH_MAIL_TO or the alert recipients in the configuration")


def _print_dry_run(messages: Sequence[Message], out: TextIO) -> None:
    for i, m in enumerate(messages):
        if i:
            out.write("\n" + "=" * 72 + "\n\n")
        out.write(format_message(m))
    out.write(f"(dry run: {len(messages)} message(s) composed; nothing sent, nothing marked)\n")


def _send_messages(
    archive, smtp: SmtpSettings, recipients: Sequence[str], messages: Sequence[Message], result: NotifyResult
) -> None:
    """Send over one connection, marking each message's alerts as it is accepted; the
    first failure marks it and every later message failed, and ends the call."""
    envelope_to = [addr for _, addr in _addresses(", ".join(recipients))]
    conn: smtplib.SMTP | None = None
    try:
        for i, m in enumerate(messages):
            try:
                if conn is None:
                    conn = _connect(smtp)
                refused = conn.send_message(m.email, from_addr=smtp.envelope_from, to_addrs=envelope_to)
            except (smtplib.SMTPException, OSError) as exc:
                error = _describe(exc, smtp)
                # The server took earlier messages of this call: it is up and refuses this one.
                outbox.mark_failed(archive, m.alert_ids, error, channel=outbox.EMAIL, refused=result.sent > 0)
                untried = [aid for later in messages[i + 1 :] for aid in later.alert_ids]
                outbox.mark_failed(archive, untried, error, channel=outbox.EMAIL)
                result.errors.append(error)
                break
            # Accepted by the server: only now are its alerts sent.
            result.alerts_marked += outbox.mark_sent(archive, m.alert_ids)
            result.sent += 1
            if refused:
                names = ", ".join(f"{addr} ({reply[0]})" for addr, reply in refused.items())
                result.errors.append(f"{smtp.host}:{smtp.port}: {m.subject}: some recipients refused: {names}")
    finally:
        if conn is not None:
            _close(conn)


def mail_channel(smtp: SmtpSettings | None, recipients: Sequence[str]) -> outbox.Channel:
    """The mail as an outbox channel: one, whatever the server or recipients, so a change of
    mail provider neither resends nor skips anything."""
    where = f"{smtp.host}:{smtp.port}" if smtp else "(SMTP not configured)"
    return outbox.Channel(outbox.EMAIL, "email", _one_line(f"e-mail via {where} to {len(recipients)} recipient(s)"))


# --------------------------------------------------------------------------- chat channels
CHAT_TIMEOUT = 20.0  # seconds for one webhook call (connect and read)


def notify_chat(
    archive,
    config: AlertSettings,
    channel,
    dry_run: bool = False,
    out: TextIO | None = None,
    zone: str = SITE_TIMEZONE,
    web: WebSettings | None = None,
    clock=time.monotonic,
    sleep=time.sleep,
) -> NotifyResult:
    """Send the pending alerts of one chat channel (a ``transports.ChatChannel``), message
    by message, each marked delivered as soon as the service accepted it.

    A failed message is tried once more later; two failures in a row mean the service is
    down, and the rest wait for the next call. A message that fails while others of the
    same call go through is one the service refuses (``outbox.mark_failed(refused=True)``).
    """
    from scheduler import chat, transports

    out = sys.stdout if out is None else out
    fmt = chat.format_for(channel.schema)
    alerts = outbox.pending_alerts(archive, config.kinds, channel=channel.fingerprint)
    messages = chat.chat_messages(alerts, fmt, zone=zone, web=web or WebSettings())
    result = NotifyResult(composed=len(messages))
    if dry_run:
        for i, m in enumerate(messages):
            out.write(("\n" if i else "") + f"--- {channel.label} ({i + 1}/{len(messages)}) ---\n{m.body}\n")
        out.write(f"(dry run: {len(messages)} message(s) for {channel.label}; nothing sent, nothing marked)\n")
        result.pending_left = len(alerts)
        return result
    pacer = chat.Pacer(fmt.per_minute, clock=clock, sleep=sleep)
    failed: list[tuple[chat.ChatMessage, str]] = []
    in_a_row = 0
    for m in messages:
        pacer.wait()
        error = transports.send(channel, m.title, m.body, markdown=fmt.markdown, timeout=CHAT_TIMEOUT)
        if error is None:
            result.alerts_marked += outbox.mark_sent(archive, m.alert_ids, channel=channel.fingerprint)
            result.sent += 1
            in_a_row = 0
            continue
        failed.append((m, error))
        result.errors.append(f"{channel.label}: {error}")
        in_a_row += 1
        if in_a_row >= 2:
            break
    for m, error in failed:
        outbox.mark_failed(archive, m.alert_ids, error, channel=channel.fingerprint, refused=result.sent > 0)
    if messages:
        outbox.channel_result(archive, channel.fingerprint, ok=result.sent > 0, error=failed[0][1] if failed else None)
    result.pending_left = len(outbox.pending_alerts(archive, config.kinds, channel=channel.fingerprint))
    return result


def mail_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for mail: any BARWATCH_SMTP_* or BARWATCH_MAIL_FROM set
    (then SmtpSettings.from_env must accept all of it)."""
    env = os.environ if environ is None else environ
    return any((env.get(k) or "").strip() for k in env if k.startswith("BARWATCH_SMTP_") or k == "BARWATCH_MAIL_FROM")


@dataclass(frozen=True)
class Channels:
    """What notify will use: the mail (when the SMTP environment is set) and the chat URLs."""

    smtp: SmtpSettings | None
    chats: tuple
    recipients: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return self.smtp is None and not self.chats

    def describe(self) -> list[str]:
        lines = [mail_channel(self.smtp, self.recipients).label] if self.smtp else []
        return lines + [c.label for c in self.chats]


NO_CHANNEL = (
    "no alert channel is configured: set BARWATCH_SMTP_HOST and BARWATCH_MAIL_FROM (and BARWATCH_MAIL_TO) "
    "for mail, or BARWATCH_NOTIFY_URLS (e.g. wecombot://KEY dingtalk://SECRET@TOKEN json://host/path) for chat"
)


def configured_channels(settings: AlertSettings, environ: Mapping[str, str] | None = None) -> Channels:
    """The channels the environment configures; ValueError names what is wrong."""
    from scheduler import transports

    env = os.environ if environ is None else environ
    smtp = SmtpSettings.from_env(env) if mail_configured(env) else None
    recipients = tuple(settings.recipients or (smtp.mail_to if smtp else ()))
    if smtp is not None and not recipients:
        raise ValueError("no recipients: set BARWATCH_MAIL_TO or the alert recipients in the configuration")
    return Channels(smtp, tuple(transports.parse_notify_urls(env)), recipients)


def register(archive, channels: Channels) -> None:
    """Record the channels in the outbox: their alerts start from here (the daemon does it
    at start, so the first crawl's alerts are theirs)."""
    entries = [mail_channel(channels.smtp, channels.recipients)] if channels.smtp else []
    entries += [outbox.Channel(c.fingerprint, c.schema, c.label) for c in channels.chats]
    if entries:
        outbox.register_channels(archive, entries)


def run_notify(
    archive,
    settings: AlertSettings,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    zone: str = SITE_TIMEZONE,
    web: WebSettings | None = None,
    clock=time.monotonic,
    sleep=time.sleep,
) -> int:
    """``barwatch notify``: settings from the config's [alerts], channels from the
    environment (mail: BARWATCH_SMTP_*; chat: BARWATCH_NOTIFY_URLS). Each channel goes on
    its own: one that is down keeps its alerts pending and does not hold up the others.

    Returns an exit code: 0 sent (or nothing to send), 1 a channel failed (its alerts stay
    pending for the next run), 2 the environment or the recipients are wrong, or no
    channel is configured.
    """
    out = sys.stdout if out is None else out
    config = settings  # validated when the config was loaded
    try:
        channels = configured_channels(config, environ)
        if channels.empty and not dry_run:
            raise ValueError(NO_CHANNEL)
        print(
            "notify: channels: " + ("; ".join(channels.describe()) or "none (dry run: the mail as it would look)"),
            file=out,
        )
        results = []
        # Two senders at once (cron and the daemon, say) could send the same entries twice.
        with CrawlLock(archive.path, "notify"):
            if not dry_run:
                register(archive, channels)
            # Each channel by itself: what one does (or fails to do) never stops the next.
            if channels.smtp is not None or (dry_run and not channels.chats):
                results.append(("e-mail", notify(archive, config, channels.smtp, dry_run, out, zone, web)))
            for c in channels.chats:
                results.append((c.label, notify_chat(archive, config, c, dry_run, out, zone, web, clock, sleep)))
    except ValueError as exc:
        print(f"barwatch notify: {exc}", file=sys.stderr)
        return 2
    except ArchiveLocked as exc:
        print(f"barwatch notify: {exc}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    if not dry_run:
        for label, result in results:
            print(
                f"notify: {label}: {result.sent} message(s) sent, {result.alerts_marked} alert(s) marked, "
                f"{result.pending_left} pending",
                file=out,
            )
    errors = [e for _, result in results for e in result.errors]
    for error in errors:
        print(f"barwatch notify: {error}", file=sys.stderr)
    return 1 if errors else 0


def run_test(
    settings: AlertSettings,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """``barwatch notify --test``: one short message to every configured channel, each
    result reported; the outbox is not touched. 0 when every channel accepted it."""
    from scheduler import chat, transports

    out = sys.stdout if out is None else out
    try:
        channels = configured_channels(settings, environ)
        if channels.empty:
            raise ValueError(NO_CHANNEL)
    except ValueError as exc:
        print(f"barwatch notify: {exc}", file=sys.stderr)
        return 2
    when = _aware(now or datetime.now(UTC))
    title = f"{settings.subject_prefix}测试消息 test message"
    text = f"{title}\nbarwatch 的提醒会发到这里。Alerts from barwatch will arrive here. ({format_datetime(when)})"
    failures = 0
    if channels.smtp is not None:
        s = channels.smtp
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = _header(title), s.mail_from, ", ".join(channels.recipients)
        msg["Date"] = format_datetime(when)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text + "\n", charset="utf-8", cte="base64")
        try:
            conn = _connect(s)
            try:
                conn.send_message(
                    msg, from_addr=s.envelope_from, to_addrs=[a for _, a in _addresses(", ".join(channels.recipients))]
                )
            finally:
                _close(conn)
            print(f"ok      {mail_channel(s, channels.recipients).label}", file=out)
        except (smtplib.SMTPException, OSError) as exc:
            failures += 1
            print(f"FAILED  {mail_channel(s, channels.recipients).label}: {_describe(exc, s)}", file=out)
    for c in channels.chats:
        error = transports.send(c, title, text, markdown=chat.format_for(c.schema).markdown, timeout=CHAT_TIMEOUT)
        failures += error is not None
        print(f"ok      {c.label}" if error is None else f"FAILED  {c.label}: {error}", file=out)
    return 1 if failures else 0
