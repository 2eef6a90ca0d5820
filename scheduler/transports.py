"""Chat alerts through Apprise: WeCom group robots, DingTalk and Feishu bots, and any
other Apprise URL.

Channels come from ``BARWATCH_NOTIFY_URLS`` only, never from a config file, because
every chat URL carries its secret (webhook key, access token, signing secret).

The transport sends each message exactly once and reports the outcome; retrying is the
outbox's job. Findings about Apprise 2.3.0 that shape this module:

* Retries live in ``Apprise.notify()``'s dispatcher (``?retry=N``, tag retry overrides;
  default 0). ``send()`` calls the plugin's own ``notify()``, which never retries, and pins
  ``retry`` to 0 as well. requests itself does not retry (its adapter's ``max_retries`` is 0).
* Most plugins sleep up to 5.5 s between two requests of the same plugin object
  (``request_rate_per_sec``); a fresh object per message avoids that hidden delay, and
  barwatch paces the robots itself.
* WeCom and DingTalk answer a refused message with HTTP 200 and a non-zero ``errcode``
  (bad key, signature mismatch, 20 messages a minute exceeded); their plugins look at the
  HTTP status only and report success. Feishu's plugin does read its ``code``.
* DingTalk's plugin URL-encodes the ``sign`` and then hands it to requests as a query
  parameter, which encodes it again (``%2B`` goes out as ``%252B``); DingTalk answers such
  a request with errcode 310000 "sign not match".
* ``url_id()`` hashes the credentials only ("targets or end points should never be
  identified here"), so ``tgram://BOT/chatA`` and ``tgram://BOT/chatB`` share one id, and
  it is cut to 8 hex digits. The fingerprint below hashes the destination instead.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode

import apprise
from apprise.common import NotifyFormat, OverflowMode
from apprise.manager_plugins import NotificationManager
from apprise.plugins import dingtalk as _dingtalk_plugin
from apprise.plugins import wecombot as _wecombot_plugin
from apprise.plugins.base import NotifyBase
from apprise.url import URLBase

ENV_VAR = "BARWATCH_NOTIFY_URLS"

# What a masked secret looks like in anything barwatch prints.
MASK = "…"

_PLUGINS = NotificationManager()

# Options every Apprise URL accepts that change how a message is delivered (timeouts,
# retries, format, TLS checks) but not where it goes: a fingerprint must survive them.
_DELIVERY_OPTIONS = frozenset(NotifyBase.template_args) | frozenset(URLBase.template_args)

_SCHEMA = re.compile(r"^(?P<schema>[A-Za-z][A-Za-z0-9+.-]*)://")

# Long enough to hold a service's error answer, short enough for a log line or a table cell.
_ERROR_LIMIT = 500


@dataclass(frozen=True)
class ChatChannel:
    """One chat destination from ``BARWATCH_NOTIFY_URLS``.

    ``fingerprint`` keys the outbox: ``schema:`` plus 16 hex digits of the SHA-256 of
    Apprise's normalised URL without its delivery options. The same destination written
    differently (``wecombot://KEY`` or the WeCom webhook address, an added ``?rto=``) keeps
    its fingerprint; another key, chat or topic gets another one. The hash covers the
    secret, so a random webhook key cannot be recovered from it.
    """

    url: str = field(repr=False)
    schema: str
    fingerprint: str
    label: str

    def __str__(self) -> str:
        return self.label


def parse_notify_urls(environ: Mapping[str, str]) -> list[ChatChannel]:
    """The channels in ``BARWATCH_NOTIFY_URLS`` (whitespace separated), duplicates dropped.

    Raises ``ValueError`` naming the entry's position and schema, never its secret.
    """
    channels: dict[str, ChatChannel] = {}
    for n, url in enumerate(environ.get(ENV_VAR, "").split(), start=1):
        channel = _parse_one(n, url)
        channels.setdefault(channel.fingerprint, channel)
    return list(channels.values())


def _parse_one(n: int, url: str) -> ChatChannel:
    where = f"{ENV_VAR} entry {n}"
    match = _SCHEMA.match(url)
    if match is None:
        raise ValueError(f"{where} is not an Apprise URL (expected schema://…)")
    schema = match["schema"].lower()
    shown = f"{schema}://{MASK}"
    if schema == "wecom":
        raise ValueError(
            f"{where} ({shown}): in Apprise wecom:// is PushPlus (pushplus://TOKEN?channel=cp), "
            f"not a WeCom group robot; for a robot's webhook key write wecombot://KEY"
        )
    known = schema in _PLUGINS
    service = str(_PLUGINS[schema].service_name) if known else None
    with _apprise_log():
        try:
            plugin = apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=False)
        except Exception:
            # The plugin's own message quotes the rejected key: give the accepted forms instead.
            raise ValueError(f"{where} ({shown}) is not a valid {service} URL; {_forms(schema)}") from None
    if plugin is None:
        if known:
            raise ValueError(f"{where} ({shown}) is not a valid {service} URL; {_forms(schema)}")
        if schema in ("http", "https"):
            raise ValueError(
                f"{where} ({shown}) is a web address Apprise does not recognise; write it as an "
                f"Apprise URL such as wecombot://KEY, dingtalk://SECRET@TOKEN or json://host/path"
            )
        raise ValueError(f"{where} ({shown}): Apprise has no {schema}:// service")
    if not plugin.enabled:
        raise ValueError(f"{where} ({shown}): {plugin.service_name} needs a Python package that is not installed")
    canonical = plugin.url(privacy=False)
    canonical_schema = canonical.split("://", 1)[0]
    digest = hashlib.sha256(_destination(canonical).encode("utf-8")).hexdigest()[:16]
    label = plugin.url(privacy=True).split("?", 1)[0].rstrip("/")
    return ChatChannel(url=url, schema=canonical_schema, fingerprint=f"{canonical_schema}:{digest}", label=label)


def _forms(schema: str) -> str:
    templates = getattr(_PLUGINS[schema], "templates", ()) or ()
    forms = [t.replace("{schema}", schema) for t in templates]
    return "expected " + " or ".join(forms) if forms else "see its page on appriseit.com"


def _destination(canonical: str) -> str:
    base, _, query = canonical.partition("?")
    kept = sorted((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in _DELIVERY_OPTIONS)
    return base.rstrip("/") + ("?" + urlencode(kept) if kept else "")


def send(channel: ChatChannel, title: str, body: str, markdown: bool, timeout: float) -> str | None:
    """Send ``body`` to ``channel`` once. None on success, else a short, secret-free reason.

    barwatch's body already starts with its title line, so the message text is the body
    alone. ``title`` only becomes the caption a service shows apart from the text when it
    needs one: the preview line of a DingTalk markdown message, the header of a Feishu
    card (Feishu sends markdown as a card), Pushover's or Zulip's title and the like.
    ``timeout`` (seconds) bounds the connection and each read.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout!r}")
    secrets = _secret_words(channel.url)
    refusals: list[str] = []
    failure: str | None = None
    with _apprise_log() as records:
        try:
            plugin = apprise.Apprise.instantiate(channel.url, asset=_asset(title), suppress_exceptions=False)
        except Exception as exc:
            plugin, failure = None, f"could not load the URL: {type(exc).__name__}"
        if plugin is None:
            return _mask(failure or "could not load the URL", secrets)
        secrets |= _private_values(plugin)
        # The outbox decides when to try again; a retry here would hide attempts from it
        # and stretch one send to (retry + 1) timeouts.
        plugin.retry = 0
        plugin.socket_connect_timeout = plugin.socket_read_timeout = float(timeout)
        # A split message is several sends; if a later part failed the outbox would repeat the first.
        overflow = OverflowMode.UPSTREAM if plugin.overflow_mode == OverflowMode.SPLIT else None
        token = _refusals.set(refusals)
        try:
            ok = plugin.notify(
                body=body,
                title="",
                body_format=NotifyFormat.MARKDOWN if markdown else NotifyFormat.TEXT,
                overflow=overflow,
            )
        except Exception as exc:
            ok, failure = False, f"{type(exc).__name__}: {exc}"
        finally:
            _refusals.reset(token)
    if ok and not refusals:
        return None
    return _mask(_reason(records, refusals, failure), secrets)


def _asset(caption: str = "") -> apprise.AppriseAsset:
    return apprise.AppriseAsset(
        app_id="barwatch",
        app_desc=" ".join(caption.split()) or "barwatch",
        # Nothing of Apprise's goes to disk: barwatch's state is its SQLite file.
        storage_mode="memory",
    )


def _reason(records: list[logging.LogRecord], refusals: list[str], failure: str | None) -> str:
    parts: list[str] = []
    for record in records:
        if record.levelno >= logging.WARNING:
            parts.append(record.getMessage())
        elif str(record.msg).startswith("Response Details") and record.args:
            detail = record.args[0] if isinstance(record.args, tuple) else record.args
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            if str(detail).strip():
                parts.append(f"answer: {detail}")
        elif str(record.msg).startswith("Socket Exception"):
            parts.append(record.getMessage())
    parts += refusals
    if failure:
        parts.append(failure)
    text = " ".join(" ".join(parts).split()) or "failed (Apprise gave no reason)"
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + MASK


def _secret_words(url: str) -> set[str]:
    """Every piece of ``url`` that might be secret: user, password, host, path, option values."""
    rest = url.split("://", 1)[1] if "://" in url else url
    head, _, query = rest.partition("?")
    words = set(re.split(r"[/:@#,;\s]+", head))
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() not in _DELIVERY_OPTIONS:
            words.update(re.split(r"[/:@#,;\s]+", value))
    words |= {unquote(w) for w in words}
    # Webhook keys and tokens are long; shorter pieces are ports and paths like /send,
    # whose masking would garble the reason. Short passwords come from _private_values().
    return {w for w in words if len(w) >= 8}


def _private_values(plugin: NotifyBase) -> set[str]:
    values = {getattr(plugin, "password", None), getattr(plugin, "user", None)}
    for name, meta in getattr(plugin, "template_tokens", {}).items():
        if meta.get("private"):
            values.add(getattr(plugin, name, None))
    # Three characters or fewer would mangle ordinary words and protect nothing.
    return {v for v in values if isinstance(v, str) and len(v) > 3}


def _mask(text: str, secrets: set[str]) -> str:
    words = {w for s in secrets for w in (s, quote(s, safe=""), quote(s))}
    for word in sorted(words, key=len, reverse=True):
        text = re.sub(re.escape(word), MASK, text, flags=re.IGNORECASE)
    return text


# Apprise logs request URLs (DingTalk's access_token in the query) and payloads at DEBUG,
# and a few plugins quote a rejected key in a warning. barwatch's root handler would print
# them, so while Apprise works its records stay here; send() turns them into a masked
# reason. apprise.LogCapture cannot do this: it leaves propagation on. The logger is
# shared, so one send or parse at a time holds it.
_APPRISE_LOGGER = logging.getLogger("apprise")
_LOG_LOCK = threading.Lock()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _apprise_log() -> Iterator[list[logging.LogRecord]]:
    handler = _Records()
    with _LOG_LOCK:
        level, propagate = _APPRISE_LOGGER.level, _APPRISE_LOGGER.propagate
        _APPRISE_LOGGER.addHandler(handler)
        _APPRISE_LOGGER.setLevel(logging.DEBUG)
        _APPRISE_LOGGER.propagate = False
        try:
            yield handler.records
        finally:
            _APPRISE_LOGGER.removeHandler(handler)
            _APPRISE_LOGGER.setLevel(level)
            _APPRISE_LOGGER.propagate = propagate


# Refusals the WeCom and DingTalk plugins took for success, for the send() in progress.
# Outside a barwatch send the variable is unset and the plugins behave as shipped.
_refusals: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("barwatch_refusals", default=None)


class _WatchedRequests:
    """``requests`` as the WeCom and DingTalk plugins see it (they call ``requests.post``
    and nothing else that talks to the network)."""

    def __init__(self, real, service: str, fix_sign: bool) -> None:
        self._real = real
        self._service = service
        self._fix_sign = fix_sign

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def post(self, url, *args, **kwargs):
        sink = _refusals.get()
        if sink is None:
            return self._real.post(url, *args, **kwargs)
        params = kwargs.get("params")
        if self._fix_sign and isinstance(params, dict) and params.get("sign"):
            # requests encodes query parameters itself; undoing the plugin's own encoding
            # leaves the one encoding DingTalk expects. A raw base64 sign passes unchanged.
            kwargs["params"] = {**params, "sign": unquote(params["sign"])}
        response = self._real.post(url, *args, **kwargs)
        refusal = _errcode(response)
        if refusal:
            sink.append(f"{self._service} refused the message: {refusal}")
        return response


def _errcode(response) -> str | None:
    if getattr(response, "status_code", None) != 200:
        return None
    try:
        answer = response.json()
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("errcode") in (None, 0):
        return None
    return f"errcode={answer.get('errcode')} errmsg={answer.get('errmsg', '')}"


def _watch(module, service: str, fix_sign: bool) -> None:
    if not isinstance(module.requests, _WatchedRequests):
        module.requests = _WatchedRequests(module.requests, service, fix_sign)


_watch(_wecombot_plugin, "WeCom", fix_sign=False)
_watch(_dingtalk_plugin, "DingTalk", fix_sign=True)
