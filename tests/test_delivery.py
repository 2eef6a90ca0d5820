"""One outbox, many channels: a crawl's alerts reach each channel once, a channel that is
down does not hold up the others, a refused message is given up after MAX_REFUSALS with a
notice, a channel added later does not replay history, and a kill between a webhook's
acceptance and the mark resends that one message once.

Channels are a json:// sink on 127.0.0.1 (a real HTTP server) and a signed DingTalk robot
whose HTTP calls ``responses`` intercepts; no SMTP settings anywhere."""

from __future__ import annotations

import io
import json

import pytest
import responses

from scheduler import daemon, notify
from scheduler.transports import ENV_VAR
from storage import outbox
from storage.archive import Archive
from tests.test_notify import Clock, crawl, rec
from tests.test_transports import Sink

DING_HOOK = "https://oapi.dingtalk.com/robot/send"
DING = "dingtalk://SEC0123456789abcdef0123456789abcdef@0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
NO_SLEEP: list[float] = []


def run(archive, env: dict, **kw) -> tuple[int, str]:
    out = io.StringIO()
    code = notify.run_notify(
        archive, notify.AlertSettings(), environ=env, out=out, clock=lambda: 0.0, sleep=NO_SLEEP.append, **kw
    )
    return code, out.getvalue()


@pytest.fixture
def archive(tmp_path):
    a = Archive(tmp_path / "a.db", clock=Clock())
    crawl(a, [rec(1, "基线文章")])  # the baseline: announced to nobody
    crawl(a, [rec(1, "基线文章"), rec(2, "关于召开会员大会的通知"), rec(3, "律师执业培训安排")])
    yield a
    a.close()


@pytest.fixture
def ding():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        yield mock


def ding_ok(mock, n: int = 1) -> None:
    for _ in range(n):
        mock.post(DING_HOOK, json={"errcode": 0, "errmsg": "ok"})


def sent_texts(sink: Sink) -> list[str]:
    return [json.loads(r["body"])["message"] for r in sink.requests]


def ding_texts(mock) -> list[str]:
    return [json.loads(c.request.body)["markdown"]["text"] for c in mock.calls if c.request.url.startswith(DING_HOOK)]


def test_each_channel_gets_the_crawls_alerts_once_without_any_smtp(archive, ding):
    ding_ok(ding)
    with Sink() as sink:
        env = {ENV_VAR: f"json://127.0.0.1:{sink.port}/hook {DING}"}
        code, out = run(archive, env)
        assert code == 0, out
        again, out2 = run(archive, env)
    assert again == 0
    [text] = sent_texts(sink)
    assert text.startswith("【barwatch】上海律协网站：2 篇新文章\n")
    assert "关于召开会员大会的通知" in text and "律师执业培训安排" in text
    [md] = ding_texts(ding)
    assert md.startswith("#### 【barwatch】上海律协网站：2 篇新文章")
    assert "notify: channels: json://127.0.0.1" in out
    lines = [line for line in out2.splitlines() if "message(s) sent" in line]
    assert len(lines) == 2 and all(": 0 message(s) sent, 0 alert(s) marked, 0 pending" in line for line in lines)
    assert [(c["kind"], c["sent"], c["pending"]) for c in outbox.channel_status(archive)] == [
        ("json", 2, 0),
        ("dingtalk", 2, 0),
    ]


def test_a_channel_that_is_down_keeps_its_alerts_and_does_not_block_the_other(archive, ding):
    ding.post(DING_HOOK, status=500)
    with Sink() as sink:
        env = {ENV_VAR: f"json://127.0.0.1:{sink.port}/hook {DING}"}
        code, _ = run(archive, env)
        assert code == 1
        assert len(sink.requests) == 1  # the sink got its digest
        dingtalk = next(c for c in outbox.channel_status(archive) if c["kind"] == "dingtalk")
        assert (dingtalk["sent"], dingtalk["pending"], dingtalk["given_up"]) == (0, 2, 0)
        assert [a.id for a in outbox.pending_alerts(archive, channel=dingtalk["fingerprint"])] == [1, 2]
        ding.replace(responses.POST, DING_HOOK, json={"errcode": 0, "errmsg": "ok"})
        code, _ = run(archive, env)
        assert code == 0
        assert len(sink.requests) == 1  # nothing twice
    assert len(ding_texts(ding)) == 2 and "关于召开会员大会的通知" in ding_texts(ding)[1]


def test_a_kill_between_acceptance_and_mark_resends_that_message_once(archive, ding, monkeypatch):
    with Sink() as sink:
        env = {ENV_VAR: f"json://127.0.0.1:{sink.port}/hook"}
        real = outbox.mark_sent

        def killed(*args, **kwargs):
            raise KeyboardInterrupt  # the process dies after the sink said 200

        monkeypatch.setattr(outbox, "mark_sent", killed)
        with pytest.raises(KeyboardInterrupt):
            run(archive, env)
        monkeypatch.setattr(outbox, "mark_sent", real)
        assert run(archive, env)[0] == 0
        assert run(archive, env)[0] == 0
    texts = sent_texts(sink)
    assert len(texts) == 2 and texts[0] == texts[1]  # the one message, resent once, then never


def test_a_channel_added_later_starts_after_the_alerts_it_missed(archive, ding, tmp_path):
    ding_ok(ding)
    with Sink() as sink:
        assert run(archive, {ENV_VAR: f"json://127.0.0.1:{sink.port}/hook"})[0] == 0
        crawl(
            archive,
            [rec(1, "基线文章"), rec(2, "关于召开会员大会的通知"), rec(3, "律师执业培训安排"), rec(4, "新的一篇")],
        )
        env = {ENV_VAR: f"json://127.0.0.1:{sink.port}/hook {DING}"}
        # The robot appears now: alert 3 (新的一篇) was queued before it, so it is not its.
        assert run(archive, env)[0] == 0
        crawl(
            archive,
            [
                rec(1, "基线文章"),
                rec(2, "关于召开会员大会的通知"),
                rec(3, "律师执业培训安排"),
                rec(4, "新的一篇"),
                rec(5, "又一篇"),
            ],
        )
        assert run(archive, env)[0] == 0
    assert [t.count("\n【新文章】") for t in sent_texts(sink)] == [1, 1, 1]
    [md] = ding_texts(ding)
    assert "又一篇" in md and "新的一篇" not in md


def test_a_refused_message_is_given_up_after_max_refusals_and_the_operator_is_told(archive, ding):
    env = {ENV_VAR: DING}
    fp = None
    for attempt in range(outbox.MAX_REFUSALS):
        # Two runs' digests: the first is refused (DingTalk says so with HTTP 200), the
        # second goes through, so the robot is up and refuses that one message.
        crawl(archive, [rec(10 + attempt, f"第{attempt}篇")])
        ding.post(DING_HOOK, json={"errcode": 40035, "errmsg": "content contains blocked word"})
        ding.post(DING_HOOK, json={"errcode": 0, "errmsg": "ok"})
        assert run(archive, env)[0] == 1
        fp = outbox.channel_status(archive)[0]["fingerprint"]
    assert [d["alert_id"] for d in outbox.given_up(archive)] == [1, 2]
    assert outbox.channel_status(archive)[0]["given_up"] == 2
    [notice] = [a for a in archive.alerts(channel=fp) if a["kind"] == "operations"]
    assert notice["notice"].startswith("通道拒收 dingtalk://") and "refused alert(s) 1, 2 3 times" in notice["notice"]
    assert "SEC0123456789abcdef" not in notice["notice"]


def test_dry_run_prints_what_each_channel_would_get_and_marks_nothing(archive, ding):
    with Sink() as sink:
        code, out = run(archive, {ENV_VAR: f"json://127.0.0.1:{sink.port}/hook {DING}"}, dry_run=True)
    assert code == 0 and sink.requests == [] and len(ding.calls) == 0
    assert out.count("(dry run: 1 message(s) for ") == 2
    assert "【barwatch】上海律协网站：2 篇新文章" in out and "#### 【barwatch】上海律协网站：2 篇新文章" in out
    assert outbox.channel_status(archive) == []  # a dry run writes nothing


def test_no_channel_at_all_is_a_usage_error(archive, capsys):
    code, _ = run(archive, {})
    assert code == 2
    assert "no alert channel is configured: set BARWATCH_SMTP_HOST" in capsys.readouterr().err


def test_notify_test_reports_each_channel(ding, capsys):
    ding.post(DING_HOOK, json={"errcode": 310000, "errmsg": "sign not match"})
    with Sink() as sink:
        out = io.StringIO()
        code = notify.run_test(
            notify.AlertSettings(), environ={ENV_VAR: f"json://127.0.0.1:{sink.port}/t {DING}"}, out=out
        )
    assert code == 1
    ok, failed = out.getvalue().splitlines()
    assert ok == f"ok      json://127.0.0.1:{sink.port}/t"
    assert failed.startswith("FAILED  dingtalk://") and "sign not match" in failed
    assert "测试消息" in sent_texts(sink)[0]


def test_daemon_with_notifications_on_and_no_channel_refuses_to_start(tmp_path, monkeypatch):
    from crawler.config import load_config

    for key in [k for k in __import__("os").environ if k.startswith(("BARWATCH_SMTP_", "BARWATCH_MAIL_"))]:
        monkeypatch.delenv(key)
    monkeypatch.delenv(ENV_VAR, raising=False)
    problem = daemon.check_channels(str(tmp_path / "d.db"), load_config(None))
    assert problem is not None and problem.startswith("no alert channel is configured")
    assert problem.endswith("(or set notify = false in [schedule])")
    assert daemon.run_daemon(str(tmp_path / "d.db"), load_config(None)) == 2


def test_a_long_digest_reaches_a_wecom_robot_split_to_its_limit(tmp_path, ding):
    hook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    for _ in range(6):
        ding.post(hook, json={"errcode": 0, "errmsg": "ok"})
    with Archive(tmp_path / "w.db", clock=Clock()) as archive:
        crawl(archive, [rec(1, "基线文章")])
        many = [rec(n, f"关于第{n}期律师执业培训及年度考核工作安排的通知（上海市律师协会）") for n in range(2, 42)]
        crawl(archive, [rec(1, "基线文章"), *many])
        code, _ = run(archive, {ENV_VAR: "wecombot://0123456789abcdef0123456789abcdef"})
        assert code == 0
        [status] = outbox.channel_status(archive)
        assert (status["sent"], status["pending"]) == (40, 0)
    contents = [json.loads(c.request.body)["text"]["content"] for c in ding.calls]
    assert len(contents) > 1 and all(len(c.encode("utf-8")) <= 2048 for c in contents)
    assert contents[1].startswith(f"【barwatch】上海律协网站（续 2/{len(contents)}）")
    assert sum(c.count("https://www.lawyers.org.cn/info/") for c in contents) == 40  # every article once
