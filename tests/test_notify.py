"""Alert mails end to end: a real archive in tmp_path and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import ipaddress
import socket
import ssl
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from crawler.config import AlertSettings, WebSettings
from scheduler.notify import SmtpSettings, build_messages, notify
from storage import outbox
from storage.archive import Archive

T0 = dt.datetime(2024, 5, 2, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, t: dt.datetime = T0):
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **kw) -> None:
        self.t += dt.timedelta(**kw)


def aid(n: int) -> str:
    return f"{n:032x}"


def url(n: int) -> str:
    return f"https://www.lawyers.org.cn/info/{aid(n)}"


def rec(n: int, title: str, body: str = "第一段。\n第二段。\n第三段。\n第四段。", **kw) -> dict:
    record = {
        "id": aid(n),
        "url": url(n),
        "section": "协会动态",
        "title": title,
        "published": "2024-05-01",
        "author": "张三",
        "source": "上海市律师协会",
        "views": 10,
        "body": body,
        "attachments": [],
    }
    record.update(kw)
    return record


def crawl(archive: Archive, records=(), gone=(), finish=True) -> int:
    run = archive.start_run("full")
    for r in records:
        archive.record_article(run, r)
    for n in gone:
        archive.record_gone(run, aid(n), url(n), 404)
    if finish:
        archive.finish_run(run, requests=len(records) + len(gone))
    return run


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def archive(tmp_path, clock):
    a = Archive(tmp_path / "a.db", clock=clock)
    yield a
    a.close()


def alert_rows(archive: Archive) -> list[tuple]:
    return [(r["id"], r["kind"], r["sent_at"], r["attempts"], r["last_error"]) for r in archive.alerts()]


# ----------------------------------------------------------------------------- SMTP server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """Collects accepted envelopes; ``replies`` (consumed in order) overrides the DATA reply."""

    def __init__(self):
        self.envelopes = []
        self.replies: list[str] = []
        self.data_calls = 0
        self.reject_rcpt: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject_rcpt:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_calls += 1
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply.startswith("250"):
            self.envelopes.append(envelope)
        return reply

    def messages(self):
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


def start_server(port: int, handler: Collector | None = None, **kw) -> SimpleNamespace:
    handler = handler or Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    return SimpleNamespace(handler=handler, port=port, controller=controller)


@pytest.fixture
def server():
    srv = start_server(free_port())
    yield srv
    srv.controller.stop()


def settings(port: int, **kw) -> SmtpSettings:
    values = dict(
        host="127.0.0.1",
        port=port,
        tls="none",
        mail_from="barwatch@example.org",
        mail_to=("ops@example.org",),
        timeout=5,
    )
    values.update(kw)
    return SmtpSettings(**values)


def text_of(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def html_of(msg) -> str:
    return msg.get_body(("html",)).get_content()


def two_new(archive: Archive) -> int:
    crawl(archive, [rec(1, "基线文章")])
    return crawl(archive, [rec(1, "基线文章"), rec(2, "关于召开会员大会的通知"), rec(3, "律师执业培训安排")])


# ----------------------------------------------------------------------------- delivery
def test_baseline_then_two_new_articles_send_one_digest_once(archive, server, clock):
    crawl(archive, [rec(1, "基线文章")])
    assert archive.alerts() == []  # the baseline run queues nothing
    run = crawl(archive, [rec(1, "基线文章"), rec(2, "关于召开会员大会的通知"), rec(3, "律师执业培训安排")])
    clock.advance(minutes=5)

    result = notify(archive, AlertSettings(), settings(server.port))

    assert (result.sent, result.alerts_marked, result.pending_left, result.errors, result.composed) == (1, 2, 0, [], 1)
    [env] = server.handler.envelopes
    assert env.mail_from == "barwatch@example.org"
    assert env.rcpt_tos == ["ops@example.org"]
    [msg] = server.handler.messages()
    assert msg["Subject"] == "【barwatch】上海律协网站：2 篇新文章"
    assert msg["From"] == "barwatch@example.org"
    assert msg["To"] == "ops@example.org"
    assert msg["Date"] == "Thu, 02 May 2024 08:05:00 +0000"
    assert msg["Message-ID"].startswith(f"<barwatch.{run}.")
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in msg.iter_parts()] == ["utf-8", "utf-8"]
    text = text_of(msg)
    for title, link in (("关于召开会员大会的通知", url(2)), ("律师执业培训安排", url(3))):
        assert title in text
        assert f"链接：{link}" in text
        assert f'<a href="{link}">{title}</a>' in html_of(msg)
    assert "基线文章" not in text
    assert alert_rows(archive) == [
        (1, "new", "2024-05-02T08:05:00Z", 1, None),
        (2, "new", "2024-05-02T08:05:00Z", 1, None),
    ]

    again = notify(archive, AlertSettings(), settings(server.port))
    assert (again.sent, again.alerts_marked, again.pending_left, again.errors, again.composed) == (0, 0, 0, [], 0)
    assert len(server.handler.envelopes) == 1


def test_digest_text_part_literally(archive, server):
    crawl(archive, [rec(1, "基线文章"), rec(2, "将删除的文章")])
    crawl(
        archive,
        [
            rec(1, "基线文章", "第一段。\n第二段改了。\n第三段。\n第四段。"),
            rec(3, "新文章标题", "一\n二\n三\n四", author=None),
        ],
        gone=[2],
    )

    notify(archive, AlertSettings(body_lines=2), settings(server.port))

    [msg] = server.handler.messages()
    assert msg["Subject"] == "【barwatch】上海律协网站：1 篇新文章，1 篇修改，1 篇删除"
    assert text_of(msg) == (
        "上海律协网站（www.lawyers.org.cn）第 2 次抓取（2024-05-02 16:00 开始）发现：1 篇新文章，1 篇修改，1 篇删除\n"
        "\n"
        "【新文章】\n"
        "1. 新文章标题\n"
        "   日期：2024-05-01｜栏目：协会动态\n"
        f"   链接：{url(3)}\n"
        "   一\n"
        "   二\n"
        "   ……\n"
        "\n"
        "【修改】\n"
        "1. 基线文章\n"
        "   日期：2024-05-01｜栏目：协会动态｜作者：张三\n"
        f"   链接：{url(1)}\n"
        "   版本 1 → 2：\n"
        "   第2段：\n"
        "     第二段{+改了+}。\n"
        "\n"
        "【删除】\n"
        "1. 将删除的文章\n"
        "   日期：2024-05-01｜栏目：协会动态｜作者：张三\n"
        f"   链接：{url(2)}\n"
        "   该文章已从网站删除（2024-05-02 16:00 发现）。\n"
        "   存档内容：\n"
        "   第一段。\n"
        "   第二段。\n"
        "   ……\n"
        "\n"
        "-- \n"
        "barwatch 自动发送，请勿回复。时间为 Asia/Shanghai 时间。\n"
    )


def test_a_removed_article_links_to_its_archived_page_when_the_archive_is_public(archive, server):
    crawl(archive, [rec(1, "将删除的文章")])
    crawl(archive, gone=[1])
    web = WebSettings(public_url="https://barwatch.example.org/barwatch")

    notify(archive, AlertSettings(), settings(server.port), web=web)

    [msg] = server.handler.messages()
    page = f"https://barwatch.example.org/barwatch/-/article/{aid(1)}"
    assert f"   该文章已从网站删除（2024-05-02 16:00 发现）。\n   存档：{page}\n" in text_of(msg)
    assert "存档内容" not in text_of(msg)
    assert f'<p><a href="{page}">存档页面</a></p>' in html_of(msg)


def test_server_rejecting_data_leaves_alerts_pending_until_it_accepts(archive, server, clock):
    two_new(archive)
    server.handler.replies = ["550 5.7.1 relay denied"]

    failed = notify(archive, AlertSettings(), settings(server.port))

    error = f"127.0.0.1:{server.port}: refused: SMTP 550 5.7.1 relay denied"
    assert (failed.sent, failed.alerts_marked, failed.pending_left, failed.errors) == (0, 0, 2, [error])
    assert server.handler.envelopes == []
    assert alert_rows(archive) == [(1, "new", None, 1, error), (2, "new", None, 1, error)]
    assert outbox.outbox_counts(archive) == {"pending": 2, "held": 0, "waiting": 0, "sent": 0}

    clock.advance(hours=1)
    ok = notify(archive, AlertSettings(), settings(server.port))

    assert (ok.sent, ok.alerts_marked, ok.pending_left, ok.errors) == (1, 2, 0, [])
    [msg] = server.handler.messages()
    assert msg["Subject"] == "【barwatch】上海律协网站：2 篇新文章"
    assert alert_rows(archive) == [
        (1, "new", "2024-05-02T09:00:00Z", 2, error),
        (2, "new", "2024-05-02T09:00:00Z", 2, error),
    ]


def test_server_down_then_back_sends_exactly_one_digest(archive):
    two_new(archive)
    port = free_port()  # nothing listens here yet: connection refused

    down = notify(archive, AlertSettings(), settings(port))

    error = f"127.0.0.1:{port}: connection refused"
    assert (down.sent, down.alerts_marked, down.pending_left, down.errors) == (0, 0, 2, [error])
    assert alert_rows(archive) == [(1, "new", None, 1, error), (2, "new", None, 1, error)]

    srv = start_server(port)
    try:
        up = notify(archive, AlertSettings(), settings(port))
        again = notify(archive, AlertSettings(), settings(port))
    finally:
        srv.controller.stop()
    assert (up.sent, up.alerts_marked, up.pending_left, up.errors) == (1, 2, 0, [])
    assert again.sent == 0
    assert [m["Subject"] for m in srv.handler.messages()] == ["【barwatch】上海律协网站：2 篇新文章"]


def test_server_that_never_answers_times_out(archive):
    two_new(archive)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # accepts the TCP connection, never sends the greeting
        port = silent.getsockname()[1]
        result = notify(archive, AlertSettings(), settings(port, timeout=0.3))
    error = f"127.0.0.1:{port}: no answer within 0.3 s"
    assert result.errors == [error]
    assert alert_rows(archive) == [(1, "new", None, 1, error), (2, "new", None, 1, error)]


def test_delivery_stops_at_the_first_failure(archive, server):
    crawl(archive, [rec(1, "基线")])
    crawl(archive, [rec(2, "第二次抓取的新文章")])
    crawl(archive, [rec(3, "第三次抓取的新文章")])
    crawl(archive, [rec(4, "第四次抓取的新文章")])
    server.handler.replies = ["250 OK", "451 4.3.0 try again later"]

    result = notify(archive, AlertSettings(), settings(server.port))

    error = f"127.0.0.1:{server.port}: refused: SMTP 451 4.3.0 try again later"
    assert (result.sent, result.alerts_marked, result.pending_left, result.errors, result.composed) == (
        1,
        1,
        2,
        [error],
        3,
    )
    assert server.handler.data_calls == 2  # the third digest was not tried against a failing server
    assert alert_rows(archive) == [
        (1, "new", "2024-05-02T08:00:00Z", 1, None),
        (2, "new", None, 1, error),
        (3, "new", None, 1, error),
    ]

    later = notify(archive, AlertSettings(), settings(server.port))
    assert (later.sent, later.alerts_marked, later.errors) == (2, 2, [])
    assert [m["Subject"] for m in server.handler.messages()] == ["【barwatch】上海律协网站：1 篇新文章"] * 3
    assert ["第二次抓取的新文章" in text_of(m) for m in server.handler.messages()] == [True, False, False]
    assert ["第三次抓取的新文章" in text_of(m) for m in server.handler.messages()] == [False, True, False]
    assert ["第四次抓取的新文章" in text_of(m) for m in server.handler.messages()] == [False, False, True]


def test_crash_between_send_and_mark_resends_only_that_message(archive, server, monkeypatch):
    crawl(archive, [rec(1, "基线")])
    crawl(archive, [rec(2, "甲文章")])
    crawl(archive, [rec(3, "乙文章")])

    def crash(*args, **kwargs):
        raise RuntimeError("killed after the server accepted the mail")

    with monkeypatch.context() as m:
        m.setattr(outbox, "mark_sent", crash)
        with pytest.raises(RuntimeError):
            notify(archive, AlertSettings(), settings(server.port))
    assert len(server.handler.envelopes) == 1
    assert alert_rows(archive) == [(1, "new", None, 0, None), (2, "new", None, 0, None)]

    result = notify(archive, AlertSettings(), settings(server.port))

    assert (result.sent, result.alerts_marked, result.errors) == (2, 2, [])
    first, resent, other = server.handler.messages()
    assert "甲文章" in text_of(first) and "甲文章" in text_of(resent) and "乙文章" in text_of(other)
    assert first["Message-ID"] == resent["Message-ID"]  # the duplicate can be folded by the client
    assert other["Message-ID"] != first["Message-ID"]


def test_recipient_refused_by_server_is_reported_but_message_counts_as_sent(archive, server):
    two_new(archive)
    server.handler.reject_rcpt = {"gone@example.org"}
    cfg = AlertSettings(recipients=("ops@example.org", "gone@example.org"))

    result = notify(archive, cfg, settings(server.port, mail_to=()))

    assert (result.sent, result.alerts_marked) == (1, 2)
    assert result.errors == [
        f"127.0.0.1:{server.port}: 【barwatch】上海律协网站：2 篇新文章: some recipients refused: gone@example.org (550)"
    ]
    assert server.handler.envelopes[0].rcpt_tos == ["ops@example.org"]
    assert server.handler.messages()[0]["To"] == "ops@example.org, gone@example.org"


def test_nothing_pending_opens_no_connection(archive):
    crawl(archive, [rec(1, "基线")])
    port = free_port()  # nothing listens: any connection attempt would be an error
    result = notify(archive, AlertSettings(), settings(port))
    assert (result.sent, result.alerts_marked, result.pending_left, result.errors, result.composed) == (0, 0, 0, [], 0)


# ----------------------------------------------------------------------------- content
def test_scraped_html_is_escaped_in_html_part_and_verbatim_in_text(archive, server):
    crawl(archive, [rec(1, "基线")])
    crawl(archive, [rec(2, "<script>alert(1)</script>", "A & B <b>粗体</b>\n第二段", author='"引号"')])

    notify(archive, AlertSettings(), settings(server.port))

    [msg] = server.handler.messages()
    html, text = html_of(msg), text_of(msg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A &amp; B &lt;b&gt;粗体&lt;/b&gt;" in html
    assert "作者：&quot;引号&quot;" in html
    assert "<script>" not in html and "<b>粗体" not in html
    assert "1. <script>alert(1)</script>\n" in text
    assert "   A & B <b>粗体</b>\n" in text
    assert '作者："引号"' in text


def test_changed_alert_shows_the_edited_sentence(archive, server):
    body_v1 = "各位会员：\n本会将于5月10日召开会员大会。\n特此通知。"
    body_v2 = "各位会员：\n本会将于5月12日召开会员大会。\n特此通知。"
    crawl(archive, [rec(1, "会员大会通知", body_v1)])
    crawl(archive, [rec(1, "会员大会通知", body_v2)])

    notify(archive, AlertSettings(), settings(server.port))

    [msg] = server.handler.messages()
    assert msg["Subject"] == "【barwatch】上海律协网站：1 篇修改"
    assert "   版本 1 → 2：\n   第2段：\n     本会将于5月1[-0-]{+2+}日召开会员大会。\n" in text_of(msg)
    assert (
        '<p class="barwatch-change"><b>第2段</b><br>本会将于5月1<del>0</del><ins>2</ins>日召开会员大会。</p>'
        in html_of(msg)
    )
    assert "各位会员" not in text_of(msg)  # unchanged paragraphs are not repeated


def test_changed_alert_compares_with_the_version_before_the_alerts(archive, server):
    crawl(archive, [rec(1, "通知", "费用为100元。")])
    crawl(archive, [rec(1, "通知", "费用为200元。")])
    crawl(archive, [rec(1, "通知", "费用为300元。")])

    notify(archive, AlertSettings(mode="per_article"), settings(server.port))

    texts = [text_of(m) for m in server.handler.messages()]
    assert len(texts) == 2
    assert "   版本 1 → 2：\n   第1段：\n     费用为[-1-]{+2+}00元。\n" in texts[0]
    assert "   版本 2 → 3：\n   第1段：\n     费用为[-2-]{+3+}00元。\n" in texts[1]


def test_suspect_runs_changed_alerts_are_held_until_released(archive, server):
    crawl(archive, [rec(n, f"文章{n}", f"原文第{n}篇。") for n in (1, 2, 3, 4)])
    # 3 of 4 revisited articles change: more than half, so the run is suspect.
    run = crawl(
        archive,
        [rec(n, f"文章{n}", f"改版后第{n}篇。") for n in (1, 2, 3)]
        + [rec(4, "文章4", "原文第4篇。"), rec(5, "新文章")],
    )
    assert (archive.run(run)["status"], archive.run(run)["held"]) == ("ok", "suspect")

    first = notify(archive, AlertSettings(), settings(server.port))

    # The new article goes out, with the notice that the run's changes are held.
    assert (first.sent, first.alerts_marked, first.pending_left) == (1, 2, 0)
    assert [m["Subject"] for m in server.handler.messages()] == ["【barwatch】上海律协网站：1 条运行通知，1 篇新文章"]
    assert outbox.outbox_counts(archive) == {"pending": 0, "held": 3, "waiting": 0, "sent": 2}
    assert [(r[1], r[2] is None, r[3]) for r in alert_rows(archive)] == [
        ("changed", True, 0),
        ("changed", True, 0),
        ("changed", True, 0),
        ("new", False, 1),
        ("operations", False, 1),
    ]
    assert notify(archive, AlertSettings(), settings(server.port)).sent == 0

    archive.release(run)
    released = notify(archive, AlertSettings(), settings(server.port))

    assert (released.sent, released.alerts_marked, released.pending_left) == (1, 3, 0)
    assert server.handler.messages()[1]["Subject"] == "【barwatch】上海律协网站：3 篇修改"
    assert outbox.outbox_counts(archive) == {"pending": 0, "held": 0, "waiting": 0, "sent": 5}


def test_alerts_of_a_run_still_running_wait(archive, server):
    crawl(archive, [rec(1, "基线")])
    run = crawl(archive, [rec(2, "抓取中发现的文章")], finish=False)

    assert notify(archive, AlertSettings(), settings(server.port)).sent == 0
    assert outbox.outbox_counts(archive) == {"pending": 0, "held": 0, "waiting": 1, "sent": 0}
    assert alert_rows(archive) == [(1, "new", None, 0, None)]

    archive.finish_run(run, requests=1)
    assert notify(archive, AlertSettings(), settings(server.port)).sent == 1
    assert [m["Subject"] for m in server.handler.messages()] == ["【barwatch】上海律协网站：1 篇新文章"]


def test_kinds_not_mailed_stay_queued_and_do_not_block(archive, server):
    crawl(archive, [rec(1, "旧文章", "旧内容。")])
    crawl(archive, [rec(1, "旧文章", "新内容。"), rec(2, "新文章")])

    only_new = notify(archive, AlertSettings(kinds=("new",)), settings(server.port))

    assert (only_new.sent, only_new.alerts_marked, only_new.pending_left) == (1, 1, 0)
    assert server.handler.messages()[0]["Subject"] == "【barwatch】上海律协网站：1 篇新文章"
    assert alert_rows(archive) == [(1, "changed", None, 0, None), (2, "new", "2024-05-02T08:00:00Z", 1, None)]
    assert outbox.outbox_counts(archive) == {"pending": 1, "held": 0, "waiting": 0, "sent": 1}

    everything = notify(archive, AlertSettings(), settings(server.port))
    assert (everything.sent, everything.alerts_marked) == (1, 1)
    assert server.handler.messages()[1]["Subject"] == "【barwatch】上海律协网站：1 篇修改"


def test_per_article_mode_sends_one_mail_per_alert(archive, server):
    crawl(archive, [rec(1, "基线"), rec(9, "要删除的文章")])
    crawl(archive, [rec(1, "基线"), rec(2, "甲"), rec(3, "乙")], gone=[9])

    result = notify(archive, AlertSettings(mode="per_article"), settings(server.port))

    assert (result.sent, result.alerts_marked, result.pending_left, result.composed) == (3, 3, 0, 3)
    assert [m["Subject"] for m in server.handler.messages()] == [
        "【barwatch】上海律协网站新文章：甲",
        "【barwatch】上海律协网站新文章：乙",
        "【barwatch】上海律协网站文章删除：要删除的文章",
    ]
    assert len({m["Message-ID"] for m in server.handler.messages()}) == 3


def test_subject_prefix_and_long_title_are_one_line(archive, server):
    crawl(archive, [rec(1, "基线")])
    crawl(archive, [rec(2, "标题\n第二行" + "长" * 100)])

    notify(archive, AlertSettings(mode="per_article", subject_prefix="[bw] "), settings(server.port))

    [msg] = server.handler.messages()
    assert msg["Subject"] == "[bw] 上海律协网站新文章：标题 第二行" + "长" * 73 + "…"


def test_dry_run_prints_and_marks_nothing(archive):
    two_new(archive)
    out = io.StringIO()

    result = notify(archive, AlertSettings(recipients=("ops@example.org",)), None, dry_run=True, out=out)

    assert (result.sent, result.alerts_marked, result.pending_left, result.errors, result.composed) == (0, 0, 2, [], 1)
    printed = out.getvalue()
    lines = printed.split("\n")
    assert lines[:3] == [
        "To: ops@example.org",
        "Subject: 【barwatch】上海律协网站：2 篇新文章",
        "Date: Thu, 02 May 2024 08:00:00 +0000",
    ]
    assert lines[3].startswith("Message-ID: <barwatch.2.") and lines[3].endswith("@barwatch.invalid>")
    assert f"1. 关于召开会员大会的通知\n   日期：2024-05-01｜栏目：协会动态｜作者：张三\n   链接：{url(2)}\n" in printed
    assert "2. 律师执业培训安排\n" in printed
    assert printed.endswith("(dry run: 1 message(s) composed; nothing sent, nothing marked)\n")
    assert alert_rows(archive) == [(1, "new", None, 0, None), (2, "new", None, 0, None)]


def test_build_messages_is_pure(archive):
    two_new(archive)
    before = alert_rows(archive)
    [m] = build_messages(archive, AlertSettings(), T0)
    assert m.run_id == 2 and m.alert_ids == (1, 2)
    assert m.subject == "【barwatch】上海律协网站：2 篇新文章"
    assert alert_rows(archive) == before


# ----------------------------------------------------------------------------- TLS and login
def make_cert(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "barwatch test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return str(cert_file), context


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"bw" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # handled=False: the server sends the 535 itself


def test_starttls_and_login(archive, tmp_path):
    cafile, context = make_cert(tmp_path)
    two_new(archive)
    srv = start_server(
        free_port(), tls_context=context, require_starttls=True, authenticator=authenticator, auth_required=True
    )
    try:
        good = notify(
            archive, AlertSettings(), settings(srv.port, tls="starttls", cafile=cafile, user="bw", password="s3cret")
        )
    finally:
        srv.controller.stop()
    assert (good.sent, good.errors) == (1, [])
    assert srv.handler.messages()[0]["Subject"] == "【barwatch】上海律协网站：2 篇新文章"


def test_wrong_password_is_a_readable_error(archive, tmp_path):
    cafile, context = make_cert(tmp_path)
    two_new(archive)
    srv = start_server(
        free_port(), tls_context=context, require_starttls=True, authenticator=authenticator, auth_required=True
    )
    try:
        bad = notify(
            archive, AlertSettings(), settings(srv.port, tls="starttls", cafile=cafile, user="bw", password="wrong")
        )
    finally:
        srv.controller.stop()
    error = f"127.0.0.1:{srv.port}: login refused: SMTP 535 5.7.8 Authentication credentials invalid"
    assert bad.errors == [error]
    assert "wrong" not in error
    assert alert_rows(archive) == [(1, "new", None, 1, error), (2, "new", None, 1, error)]


def test_untrusted_certificate_is_refused(archive, tmp_path):
    _, context = make_cert(tmp_path)
    two_new(archive)
    srv = start_server(free_port(), tls_context=context)
    try:
        result = notify(archive, AlertSettings(), settings(srv.port, tls="starttls"))  # system CAs only
    finally:
        srv.controller.stop()
    assert result.errors == [f"127.0.0.1:{srv.port}: TLS failed: self-signed certificate"]
    assert srv.handler.envelopes == []


def test_implicit_tls(archive, tmp_path):
    cafile, context = make_cert(tmp_path)
    two_new(archive)
    srv = start_server(free_port(), ssl_context=context)
    try:
        result = notify(archive, AlertSettings(), settings(srv.port, tls="ssl", cafile=cafile))
    finally:
        srv.controller.stop()
    assert (result.sent, result.errors) == (1, [])
    assert len(srv.handler.envelopes) == 1


# ----------------------------------------------------------------------------- configuration
ENV = {"BARWATCH_SMTP_HOST": "smtp.example.org", "BARWATCH_MAIL_FROM": "barwatch@example.org"}


def test_settings_from_env_defaults_and_values():
    s = SmtpSettings.from_env(ENV)
    assert (s.host, s.port, s.tls, s.user, s.password, s.mail_from, s.mail_to, s.timeout, s.cafile) == (
        "smtp.example.org",
        587,
        "starttls",
        None,
        None,
        "barwatch@example.org",
        (),
        30.0,
        None,
    )
    assert SmtpSettings.from_env({**ENV, "BARWATCH_SMTP_TLS": "none"}).port == 25
    assert SmtpSettings.from_env({**ENV, "BARWATCH_SMTP_TLS": "SSL"}).port == 465
    full = SmtpSettings.from_env(
        {
            **ENV,
            "BARWATCH_SMTP_PORT": "2525",
            "BARWATCH_SMTP_TLS": "ssl",
            "BARWATCH_SMTP_USER": "bw",
            "BARWATCH_SMTP_PASSWORD": "s3cret",
            "BARWATCH_SMTP_TIMEOUT": "7.5",
            "BARWATCH_MAIL_TO": " a@example.org, 值班律师 <b@example.org> ,",
        }
    )
    assert (full.port, full.tls, full.user, full.password, full.timeout) == (2525, "ssl", "bw", "s3cret", 7.5)
    assert full.mail_to == ("a@example.org", "值班律师 <b@example.org>")
    assert "s3cret" not in repr(full)


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"BARWATCH_MAIL_FROM": "barwatch@example.org"}, "BARWATCH_SMTP_HOST"),
        ({**ENV, "BARWATCH_SMTP_HOST": "  "}, "BARWATCH_SMTP_HOST"),
        ({"BARWATCH_SMTP_HOST": "smtp.example.org"}, "BARWATCH_MAIL_FROM"),
        ({**ENV, "BARWATCH_MAIL_FROM": "not an address"}, "BARWATCH_MAIL_FROM"),
        ({**ENV, "BARWATCH_SMTP_TLS": "tls"}, "BARWATCH_SMTP_TLS"),
        ({**ENV, "BARWATCH_SMTP_PORT": "smtp"}, "BARWATCH_SMTP_PORT"),
        ({**ENV, "BARWATCH_SMTP_PORT": "70000"}, "BARWATCH_SMTP_PORT"),
        ({**ENV, "BARWATCH_SMTP_USER": "bw"}, "BARWATCH_SMTP_PASSWORD"),
        ({**ENV, "BARWATCH_SMTP_PASSWORD": "s3cret"}, "BARWATCH_SMTP_USER"),
        ({**ENV, "BARWATCH_MAIL_TO": "ops@example.org, nobody"}, "BARWATCH_MAIL_TO"),
        ({**ENV, "BARWATCH_SMTP_TIMEOUT": "0"}, "BARWATCH_SMTP_TIMEOUT"),
        ({**ENV, "BARWATCH_SMTP_CAFILE": "/nonexistent/ca.pem"}, "BARWATCH_SMTP_CAFILE"),
    ],
)
def test_settings_from_env_errors_name_the_variable(env, variable):
    with pytest.raises(ValueError) as err:
        SmtpSettings.from_env(env)
    assert str(err.value).startswith(variable + " ")
    assert "s3cret" not in str(err.value)


def test_settings_from_env_reads_os_environ(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("BARWATCH_MAIL_TO", "ops@example.org")
    assert SmtpSettings.from_env().mail_to == ("ops@example.org",)


def test_config_and_missing_settings_errors(archive):
    with pytest.raises(ValueError, match="alert kinds must be among new, changed, removed, restored"):
        AlertSettings(kinds=("new", "edited"))
    with pytest.raises(ValueError, match="Input should be 'digest' or 'per_article'"):
        AlertSettings(mode="weekly")
    with pytest.raises(ValueError, match="body_lines"):
        AlertSettings(body_lines=-1)
    with pytest.raises(ValueError, match="SMTP settings are needed"):
        notify(archive, AlertSettings(), None)
    with pytest.raises(ValueError, match="no recipients"):
        notify(archive, AlertSettings(), settings(25, mail_to=()))


# ----------------------------------------------------------------------------- outbox
def test_outbox_marks_only_unsent_alerts(archive, clock):
    two_new(archive)
    assert outbox.register_channels(archive, [outbox.Channel(outbox.EMAIL, "email", "mail")]) == [outbox.EMAIL]
    assert outbox.mark_sent(archive, [1]) == 1
    clock.advance(hours=1)
    assert outbox.mark_sent(archive, [1]) == 0  # already sent: neither re-dated nor re-counted
    assert outbox.mark_failed(archive, [1, 2], "x" * 400) == []  # counted, not given up
    assert alert_rows(archive) == [(1, "new", "2024-05-02T08:00:00Z", 1, None), (2, "new", None, 1, "x" * 299 + "…")]
    assert outbox.mark_sent(archive, []) == 0
    assert outbox.outbox_counts(archive) == {"pending": 1, "held": 0, "waiting": 0, "sent": 1}
    assert [a.id for a in outbox.pending_alerts(archive, ("new",))] == [2]
    assert outbox.pending_alerts(archive, ("removed",)) == []
    assert outbox.pending_alerts(archive, ()) == []


# ----------------------------------------------------------------------------- operations notices
def _pending(n: int, kind: str = "new", **kw) -> outbox.PendingAlert:
    values = dict(
        id=n,
        article_id=aid(n),
        kind=kind,
        run_id=5,
        version=1,
        created_at="2024-05-02T08:00:00Z",
        attempts=0,
        last_error=None,
        run_status="ok",
        run_started_at="2024-05-02T07:00:00Z",
        url=url(n),
        section="协会动态",
        article_status="live",
        content={
            "title": f"文章{n}",
            "published": "2024-05-01",
            "author": "张三",
            "source": None,
            "body": "第一段。\n第二段。",
        },
        previous=None,
    )
    values.update(kw)
    return outbox.PendingAlert(**values)


def _operations(n: int, notice: str, incident: str = "crawl-failed") -> outbox.PendingAlert:
    return _pending(
        n,
        "operations",
        article_id=None,
        version=None,
        url=None,
        section=None,
        article_status=None,
        content={f: None for f in outbox.CONTENT},
        notice=notice,
        incident=incident,
    )


OPS_NOTICE = "抓取失败：第 5 次抓取没有取得任何页面。\n  最后的错误：connection refused  \n\n请检查网络。"


def test_digest_puts_operations_notices_first_in_a_block_of_their_own():
    from scheduler.notify import compose

    alerts = [_pending(1), _operations(2, OPS_NOTICE), _operations(3, "部分失败：3 个页面连续 3 次失败。", "partial:x")]
    m = compose(alerts, AlertSettings(body_lines=1), T0)

    assert m.subject == "【barwatch】上海律协网站：2 条运行通知，1 篇新文章"
    assert m.alert_ids == (1, 2, 3)
    assert m.text() == (
        "上海律协网站（www.lawyers.org.cn）第 5 次抓取（2024-05-02 15:00 开始）发现：2 条运行通知，1 篇新文章\n"
        "\n"
        "【运行通知】\n"
        "1. 抓取失败：第 5 次抓取没有取得任何页面。\n"
        "   最后的错误：connection refused\n"
        "   请检查网络。\n"
        "\n"
        "2. 部分失败：3 个页面连续 3 次失败。\n"
        "\n"
        "【新文章】\n"
        "1. 文章1\n"
        "   日期：2024-05-01｜栏目：协会动态｜作者：张三\n"
        f"   链接：{url(1)}\n"
        "   第一段。\n"
        "   ……\n"
        "\n"
        "-- \n"
        "barwatch 自动发送，请勿回复。时间为 Asia/Shanghai 时间。\n"
    )
    html = m.html()
    assert (
        "<h3>运行通知</h3><ol>\n"
        "<li>抓取失败：第 5 次抓取没有取得任何页面。<br>最后的错误：connection refused<br>请检查网络。</li>\n"
        "<li>部分失败：3 个页面连续 3 次失败。</li>\n"
        "</ol>\n"
        "<h3>新文章</h3><ol>"
    ) in html
    assert html.index("运行通知</h3>") < html.index("新文章</h3>")


def test_per_article_mode_sends_each_operations_notice_as_its_own_mail():
    from scheduler.notify import compose

    config = AlertSettings(mode="per_article")
    alerts = [_operations(2, OPS_NOTICE), _pending(1)]
    messages = [compose([a], config, T0) for a in alerts]

    assert [m.subject for m in messages] == [
        "【barwatch】运行通知：抓取失败：第 5 次抓取没有取得任何页面。",
        "【barwatch】上海律协网站新文章：文章1",
    ]
    assert messages[0].text() == (
        "上海律协网站（www.lawyers.org.cn）第 5 次抓取（2024-05-02 15:00 开始）发现：1 条运行通知\n"
        "\n"
        "【运行通知】\n"
        "1. 抓取失败：第 5 次抓取没有取得任何页面。\n"
        "   最后的错误：connection refused\n"
        "   请检查网络。\n"
        "\n"
        "-- \n"
        "barwatch 自动发送，请勿回复。时间为 Asia/Shanghai 时间。\n"
    )
    assert "<a " not in messages[0].html()  # no article links in a notice
    assert len({m.email["Message-ID"] for m in messages}) == 2


def test_operations_notice_subject_is_one_line_and_short():
    from scheduler.notify import compose

    m = compose([_operations(2, "  \n" + "长" * 100 + "\x1b]0;x\x07\n第二行")], AlertSettings(mode="per_article"), T0)
    assert m.subject == "【barwatch】运行通知：" + "长" * 79 + "…"
    m = compose([_operations(2, "")], AlertSettings(mode="per_article"), T0)
    assert m.subject == "【barwatch】运行通知：crawl-failed"


def test_an_article_back_after_removal_is_its_own_alert(archive, server):
    crawl(archive, [rec(1, "基线"), rec(2, "删了又回来的文章")])
    crawl(archive, [rec(1, "基线")], gone=[2])
    notify(archive, AlertSettings(), settings(server.port))
    crawl(archive, [rec(1, "基线"), rec(2, "删了又回来的文章")])

    result = notify(archive, AlertSettings(), settings(server.port))

    assert (result.sent, result.alerts_marked, result.pending_left) == (1, 1, 0)
    msg = server.handler.messages()[-1]
    assert msg["Subject"] == "【barwatch】上海律协网站：1 篇恢复"
    text = text_of(msg)
    assert text.split("\n")[2:7] == [
        "【恢复】",
        "1. 删了又回来的文章",
        "   日期：2024-05-01｜栏目：协会动态｜作者：张三",
        f"   链接：{url(2)}",
        "   该文章曾从网站删除，现已恢复（2024-05-02 16:00 发现）。",
    ]
    assert "该文章曾从网站删除，现已恢复（2024-05-02 16:00 发现）。" in html_of(msg)


def test_times_in_mail_are_in_the_configured_zone(archive, server):
    crawl(archive, [rec(1, "基线")])
    crawl(archive, [rec(1, "基线"), rec(2, "新的")])
    notify(archive, AlertSettings(), settings(server.port), zone="UTC")
    text = text_of(server.handler.messages()[-1])
    assert "第 2 次抓取（2024-05-02 08:00 开始）发现" in text
    assert text.endswith("barwatch 自动发送，请勿回复。时间为 UTC 时间。\n")


# ----------------------------------------------------------------------------- schema 4: one outbox for every channel
def test_schema_3_mail_state_moves_to_deliveries(tmp_path, clock):
    path = tmp_path / "old.db"
    with Archive(path, clock=clock) as archive:
        two_new(archive)
        with archive.write() as conn:  # what schema 3 kept: the mail's state in alerts itself
            conn.execute("DROP TABLE deliveries")
            conn.execute("DROP TABLE notify_channels")
            conn.execute("ALTER TABLE alerts ADD COLUMN sent_at TEXT")
            conn.execute("ALTER TABLE alerts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
            conn.execute("ALTER TABLE alerts ADD COLUMN last_error TEXT")
            conn.execute("CREATE INDEX idx_alerts_sent_at_kind ON alerts (sent_at, kind)")
            conn.execute(
                "UPDATE alerts SET sent_at = '2024-05-02T09:00:00Z', attempts = 2, last_error = 'busy' WHERE id = 1"
            )
            conn.execute("UPDATE alerts SET attempts = 1, last_error = 'down' WHERE id = 2")
            conn.execute("PRAGMA user_version = 3")
    with Archive(path, clock=clock) as archive:
        assert archive.conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert "sent_at" not in {r[1] for r in archive.conn.execute("PRAGMA table_info(alerts)")}
        assert alert_rows(archive) == [(1, "new", "2024-05-02T09:00:00Z", 2, "busy"), (2, "new", None, 1, "down")]
        assert [(c["fingerprint"], c["start_after"]) for c in outbox.channel_status(archive)] == [("email", 0)]
        # The mail keeps its place: alert 2 is still pending on it, alert 1 is not resent.
        assert [a.id for a in outbox.pending_alerts(archive)] == [2]


def test_a_removed_articles_text_is_announced_in_both_parts_even_with_no_body_lines(archive, server):
    crawl(archive, [rec(1, "将删除的文章")])
    crawl(archive, gone=[1])

    notify(archive, AlertSettings(body_lines=0), settings(server.port))

    [msg] = server.handler.messages()
    assert "   该文章已从网站删除（2024-05-02 16:00 发现）。\n   存档内容：\n   ……\n" in text_of(msg)
    assert "<p>存档内容：</p><blockquote>……</blockquote>" in html_of(msg)
