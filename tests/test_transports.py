"""Chat channels through Apprise: the exact requests WeCom, DingTalk and Feishu receive
(intercepted by responses, so nothing leaves the machine), failures reported once and
without secrets, and json:// against a real HTTP sink on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import types
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses
from apprise.plugins import dingtalk as dingtalk_plugin

from scheduler import transports
from scheduler.transports import ENV_VAR, ChatChannel, parse_notify_urls, send

# Shaped like the real ones: a WeCom robot key is a UUID, a DingTalk access_token 64 hex
# digits and its signing secret "SEC" and 64 hex digits, a Feishu hook token a UUID.
WECOM_KEY = "693a91f6-7a0e-4bc4-97a0-0ec2f1fa5aaa"
DING_TOKEN = "7f3b" * 16
DING_SECRET = "SEC" + "c0ffee42" * 8
FEISHU_TOKEN = "3a1e5b2c-9d8f-4f7e-9c5d-6f7e8a9b0c1d"
SECRETS = (WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_TOKEN)

WECOM_HOOK = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}"
DING_HOOK = "https://oapi.dingtalk.com/robot/send"
FEISHU_HOOK = f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}/"

TITLE = "barwatch：1 篇新文章"
BODY = "barwatch：1 篇新文章\n关于律师执业的通知\nhttps://www.lawyers.org.cn/info/0001"

FROZEN = 1714636800.25  # 2024-05-02 08:00:00.250 UTC
FROZEN_MS = "1714636800250"


def channel(url: str) -> ChatChannel:
    (only,) = parse_notify_urls({ENV_VAR: url})
    return only


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def frozen_dingtalk_clock(monkeypatch):
    # Only the plugin's view of the clock: responses and requests keep the real one.
    monkeypatch.setattr(dingtalk_plugin, "time", types.SimpleNamespace(time=lambda: FROZEN))


def body_json(call) -> dict:
    raw = call.request.body
    return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret.lower() not in text.lower()
        assert secret[4:-4].lower() not in text.lower()


# -- exact payloads ---------------------------------------------------------------------


def test_wecombot_posts_the_body_as_a_text_message(http):
    http.post(WECOM_HOOK, json={"errcode": 0, "errmsg": "ok"})
    assert send(channel(f"wecombot://{WECOM_KEY}"), TITLE, BODY, markdown=False, timeout=5) is None
    (call,) = http.calls
    assert call.request.url == WECOM_HOOK
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert call.request.headers["User-Agent"] == "barwatch"
    # The title is in the body already: WeCom gets it once.
    assert body_json(call) == {"msgtype": "text", "text": {"content": BODY}}


def test_wecombot_accepts_the_webhook_address_as_written_by_wecom(http):
    http.post(WECOM_HOOK, json={"errcode": 0, "errmsg": "ok"})
    native = channel(WECOM_HOOK)
    assert native.schema == "wecombot"
    assert native.fingerprint == channel(f"wecombot://{WECOM_KEY}").fingerprint
    assert send(native, TITLE, BODY, markdown=False, timeout=5) is None
    assert body_json(http.calls[0]) == {"msgtype": "text", "text": {"content": BODY}}


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's documented signature, computed here without Apprise."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_dingtalk_signed_text_message(http, frozen_dingtalk_clock):
    http.post(DING_HOOK, json={"errcode": 0, "errmsg": "ok"})
    ding = channel(f"dingtalk://{DING_SECRET}@{DING_TOKEN}")
    assert send(ding, TITLE, BODY, markdown=False, timeout=5) is None
    (call,) = http.calls
    sign = dingtalk_sign(DING_SECRET, FROZEN_MS)
    # Encoded exactly once, as DingTalk's docs build the address.
    assert call.request.url == (
        f"{DING_HOOK}?access_token={DING_TOKEN}&timestamp={FROZEN_MS}&sign={urllib.parse.quote_plus(sign)}"
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(call.request.url).query)
    assert query == {"access_token": [DING_TOKEN], "timestamp": [FROZEN_MS], "sign": [sign]}
    assert body_json(call) == {
        "msgtype": "text",
        "text": {"content": BODY},
        "at": {"atMobiles": [], "isAtAll": False},
    }


def test_dingtalk_markdown_takes_the_title_as_its_preview_only(http, frozen_dingtalk_clock):
    http.post(DING_HOOK, json={"errcode": 0, "errmsg": "ok"})
    md = "### barwatch：1 篇新文章\n- [关于律师执业的通知](https://www.lawyers.org.cn/info/0001)"
    assert send(channel(f"dingtalk://{DING_SECRET}@{DING_TOKEN}"), TITLE, md, markdown=True, timeout=5) is None
    (call,) = http.calls
    assert body_json(call) == {
        "msgtype": "markdown",
        "markdown": {"title": TITLE, "text": md},
        "at": {"atMobiles": [], "isAtAll": False},
    }
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(call.request.url).query)["sign"] == [
        dingtalk_sign(DING_SECRET, FROZEN_MS)
    ]


def test_dingtalk_without_a_secret_is_not_signed(http):
    http.post(DING_HOOK, json={"errcode": 0, "errmsg": "ok"})
    assert send(channel(f"dingtalk://{DING_TOKEN}"), TITLE, BODY, markdown=False, timeout=5) is None
    assert http.calls[0].request.url == f"{DING_HOOK}?access_token={DING_TOKEN}"


def test_feishu_posts_a_text_message_to_the_v2_hook(http):
    http.post(FEISHU_HOOK, json={"code": 0, "msg": "success", "data": {}})
    assert send(channel(f"feishu://{FEISHU_TOKEN}"), TITLE, BODY, markdown=False, timeout=5) is None
    (call,) = http.calls
    assert call.request.url == FEISHU_HOOK
    assert body_json(call) == {"msg_type": "text", "content": {"text": BODY}}
    # UTF-8 as is, not \\u escapes: Feishu limits the request's size.
    assert "关于律师执业的通知".encode() in call.request.body


# -- failures: reported once, without secrets -------------------------------------------


@pytest.mark.parametrize(
    "url, hook, secret",
    [
        (f"wecombot://{WECOM_KEY}?retry=3&wait=0", WECOM_HOOK, WECOM_KEY),
        (f"dingtalk://{DING_SECRET}@{DING_TOKEN}?retry=3&wait=0", DING_HOOK, DING_TOKEN),
        (f"feishu://{FEISHU_TOKEN}?retry=3&wait=0", FEISHU_HOOK, FEISHU_TOKEN),
    ],
    ids=["wecombot", "dingtalk", "feishu"],
)
def test_http_500_is_an_error_sent_once(http, url, hook, secret):
    # A proxy's error page that quotes the request, key and all.
    http.post(hook, status=500, body=f"upstream broke on /send?key={secret}&token={secret}")
    error = send(channel(url), TITLE, BODY, markdown=False, timeout=5)
    assert error and "500" in error
    assert len(http.calls) == 1  # the URL asks for 3 retries; the outbox retries instead
    assert_no_secret(error)


def test_http_400_error_body_is_in_the_reason(http):
    http.post(
        FEISHU_HOOK, status=400, json={"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    )
    error = send(channel(f"feishu://{FEISHU_TOKEN}"), TITLE, BODY, markdown=False, timeout=5)
    assert "400" in error and "19001" in error and "access token invalid" in error
    assert len(http.calls) == 1
    assert_no_secret(error)


def test_connection_error_is_an_error_sent_once(http):
    http.post(WECOM_HOOK, body=requests.ConnectionError(f"cannot reach {WECOM_HOOK}"))
    error = send(channel(f"wecombot://{WECOM_KEY}"), TITLE, BODY, markdown=False, timeout=5)
    assert "Connection error" in error and "cannot reach" in error
    assert len(http.calls) == 1
    assert_no_secret(error)


def test_wecom_refusal_with_http_200_is_an_error(http):
    # WeCom answers a wrong key, a too-long text or a 21st message a minute with HTTP 200.
    http.post(WECOM_HOOK, json={"errcode": 93000, "errmsg": f"invalid webhook url, hint: [{WECOM_KEY}]"})
    error = send(channel(f"wecombot://{WECOM_KEY}"), TITLE, BODY, markdown=False, timeout=5)
    assert "errcode=93000" in error and "invalid webhook url" in error
    assert len(http.calls) == 1
    assert_no_secret(error)


def test_dingtalk_refusal_with_http_200_is_an_error(http, frozen_dingtalk_clock):
    http.post(DING_HOOK, json={"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    error = send(channel(f"dingtalk://{DING_SECRET}@{DING_TOKEN}"), TITLE, BODY, markdown=False, timeout=5)
    assert "errcode=130101" in error and "send too fast" in error
    assert len(http.calls) == 1
    assert_no_secret(error)


def test_feishu_refusal_with_http_200_is_an_error(http):
    http.post(FEISHU_HOOK, json={"code": 19024, "msg": "Key Words Not Found"})
    error = send(channel(f"feishu://{FEISHU_TOKEN}"), TITLE, BODY, markdown=False, timeout=5)
    assert "19024" in error and "Key Words Not Found" in error
    assert_no_secret(error)


def test_apprise_logs_stay_out_of_the_application_log(http, caplog, frozen_dingtalk_clock):
    # Apprise logs DingTalk's request address, access_token included, at DEBUG.
    http.post(DING_HOOK, status=500)
    with caplog.at_level("DEBUG"):
        assert send(channel(f"dingtalk://{DING_SECRET}@{DING_TOKEN}"), TITLE, BODY, markdown=False, timeout=5)
    assert_no_secret(caplog.text)
    assert not [r for r in caplog.records if r.name.startswith("apprise")]


def test_plugins_behave_as_shipped_outside_send(http, frozen_dingtalk_clock):
    import apprise

    http.post(DING_HOOK, json={"errcode": 310000, "errmsg": "sign not match"})
    plugin = apprise.Apprise.instantiate(f"dingtalk://{DING_SECRET}@{DING_TOKEN}")
    assert plugin.notify(body=BODY) is True  # Apprise's own verdict, unchanged
    assert "sign=" + urllib.parse.quote(urllib.parse.quote_plus(dingtalk_sign(DING_SECRET, FROZEN_MS)), safe="") in (
        http.calls[0].request.url
    )


# -- json:// to a real HTTP server on 127.0.0.1 -----------------------------------------


class Sink:
    """A tiny HTTP server that records every request and answers with ``status``."""

    def __init__(self, status: int = 200, delay: float = 0.0):
        self.requests: list[dict] = []
        self.status = status
        self.delay = delay
        self.release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                sink.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                if sink.delay:
                    sink.release.wait(sink.delay)
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_json_sink_receives_the_message_exactly_once():
    with Sink() as sink:
        error = send(channel(f"json://127.0.0.1:{sink.port}/hook"), TITLE, BODY, markdown=False, timeout=5)
    assert error is None
    (got,) = sink.requests
    assert got["path"] == "/hook"
    assert json.loads(got["body"]) == {
        "version": "1.0",
        "title": "",
        "message": BODY,
        "attachments": [],
        "type": "info",
    }


def test_json_sink_failure_is_not_retried():
    with Sink(status=503) as sink:
        error = send(
            channel(f"json://127.0.0.1:{sink.port}/hook?retry=3&wait=0"), TITLE, BODY, markdown=False, timeout=5
        )
    assert error and "503" in error
    assert len(sink.requests) == 1


def test_timeout_bounds_a_silent_service():
    with Sink(delay=10) as sink:
        # The URL asks for 30 s; barwatch's timeout wins.
        error = send(channel(f"json://127.0.0.1:{sink.port}/hook?rto=30"), TITLE, BODY, markdown=False, timeout=0.5)
    assert error and "timed out" in error.lower()
    assert len(sink.requests) == 1


def test_refused_connection_is_an_error():
    with Sink() as sink:
        port = sink.port
    error = send(channel(f"json://127.0.0.1:{port}/hook"), TITLE, BODY, markdown=False, timeout=2)
    assert error and "refused" in error.lower()


def test_json_password_is_masked_in_errors():
    with Sink(status=500) as sink:
        ch = channel(f"json://watch:Pa55word@127.0.0.1:{sink.port}/hook")
        error = send(ch, TITLE, BODY, markdown=False, timeout=5)
    assert error and "Pa55word" not in error
    assert "Pa55word" not in ch.label and "Pa55word" not in repr(ch)


# -- parsing ------------------------------------------------------------------------------


def test_parse_reads_whitespace_separated_urls_and_drops_duplicates():
    env = {
        ENV_VAR: f"""
            wecombot://{WECOM_KEY}
            dingtalk://{DING_SECRET}@{DING_TOKEN}\tfeishu://{FEISHU_TOKEN}
            {WECOM_HOOK}
            wecombot://{WECOM_KEY}?rto=9&cto=2&retry=2
        """
    }
    channels = parse_notify_urls(env)
    assert [c.schema for c in channels] == ["wecombot", "dingtalk", "feishu"]
    assert channels[0].url == f"wecombot://{WECOM_KEY}"  # the first spelling wins
    for c in channels:
        assert c.fingerprint.startswith(c.schema + ":") and len(c.fingerprint) == len(c.schema) + 17
        assert_no_secret(c.fingerprint + c.label + repr(c))
    assert channels[1].label == f"dingtalk://****@{DING_TOKEN[0]}...{DING_TOKEN[-1]}"
    assert parse_notify_urls({}) == [] and parse_notify_urls({ENV_VAR: "  \n "}) == []


def test_fingerprint_tells_destinations_apart():
    bot = "123456789:ABCdefGHIjklMNO_pqrstuvwxyz012345"
    a, b = parse_notify_urls({ENV_VAR: f"tgram://{bot}/111 tgram://{bot}/222"})
    assert a.fingerprint != b.fingerprint  # Apprise's url_id() would give both the same
    signed, unsigned = parse_notify_urls({ENV_VAR: f"dingtalk://{DING_SECRET}@{DING_TOKEN} dingtalk://{DING_TOKEN}"})
    assert signed.fingerprint != unsigned.fingerprint
    one, other = parse_notify_urls({ENV_VAR: "json://127.0.0.1:9/a json://127.0.0.1:9/b"})
    assert one.fingerprint != other.fingerprint


def test_fingerprint_is_stable_across_processes():
    urls = f"wecombot://{WECOM_KEY} dingtalk://{DING_SECRET}@{DING_TOKEN} feishu://{FEISHU_TOKEN}"
    here = [c.fingerprint for c in parse_notify_urls({ENV_VAR: urls})]
    code = (
        "import sys; from scheduler.transports import parse_notify_urls as p;"
        "print(' '.join(c.fingerprint for c in p({'BARWATCH_NOTIFY_URLS': sys.argv[1]})))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code, urls],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
        cwd=transports.__file__.rsplit("/scheduler/", 1)[0],
    ).stdout.split()
    assert there == here


def test_wecom_schema_is_refused_with_the_wecombot_hint():
    with pytest.raises(ValueError) as caught:
        parse_notify_urls({ENV_VAR: f"wecom://{WECOM_KEY}"})
    message = str(caught.value)
    assert "wecombot://" in message and "PushPlus" in message and "pushplus://" in message
    assert_no_secret(message)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("not-a-url", "is not an Apprise URL"),
        (f"{WECOM_KEY}", "is not an Apprise URL"),
        (f"nosuchservice://{WECOM_KEY}", "Apprise has no nosuchservice:// service"),
        (f"wecombot://{WECOM_KEY}!!", "not a valid WeCom Bot URL; expected wecombot://{key}"),
        (f"dingtalk://{DING_SECRET}_x@{DING_TOKEN}", "dingtalk://{secret}@{token}/"),
        (f"feishu://{FEISHU_TOKEN}%", "not a valid Feishu URL"),
        (f"https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}", "web address Apprise does not recognise"),
    ],
)
def test_bad_urls_are_refused_without_their_secret(url, expected):
    with pytest.raises(ValueError) as caught:
        parse_notify_urls({ENV_VAR: f"feishu://{FEISHU_TOKEN} {url}"})
    message = str(caught.value)
    assert expected in message and f"{ENV_VAR} entry 2" in message
    assert_no_secret(message)


def test_bad_url_leaves_no_secret_in_the_log(caplog):
    with caplog.at_level("DEBUG"), pytest.raises(ValueError):
        parse_notify_urls({ENV_VAR: f"dingtalk://{DING_SECRET}_x@{DING_TOKEN}"})
    assert_no_secret(caplog.text)


def test_url_is_kept_out_of_repr():
    c = channel(f"wecombot://{WECOM_KEY}")
    assert WECOM_KEY not in repr(c) and WECOM_KEY not in str(c)
    assert c.url == f"wecombot://{WECOM_KEY}"
