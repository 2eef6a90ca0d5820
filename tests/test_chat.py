"""Chat digests: exact bodies in text and markdown, splitting to each service's limit, pacing."""

from __future__ import annotations

import re

import pytest

from crawler.config import WebSettings
from scheduler.chat import (
    DEFAULT_FORMAT,
    FORMATS,
    ChatFormat,
    ChatMessage,
    Pacer,
    chat_messages,
    format_for,
)
from storage.outbox import PendingAlert

ZONE = "Asia/Shanghai"
PUBLIC = WebSettings(public_url="https://barwatch.example.org/barwatch")
PRIVATE = WebSettings()
WECOM = FORMATS["wecombot"]
DINGTALK = FORMATS["dingtalk"]
# What storage.textops.clean_text removes: no chat message may carry any of it.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ufffe\uffff]")


def aid(n: int) -> str:
    return f"{n:032x}"


def content(title, body="第一段。", **kw) -> dict:
    record = {
        "title": title,
        "subtitle": None,
        "published": "2024-05-01",
        "author": "张三",
        "source": None,
        "body": body,
    }
    record.update(kw)
    return record


def alert(n: int, kind: str, title: str | None = None, *, run_id: int | None = 7, **kw) -> PendingAlert:
    fields = dict(
        id=n,
        article_id=aid(n),
        kind=kind,
        run_id=run_id,
        version=2 if kind == "changed" else 1,
        created_at="2024-05-02T08:05:00Z",
        attempts=0,
        last_error=None,
        run_status="finished",
        run_started_at="2024-05-02T08:00:00Z",
        url=f"https://www.lawyers.org.cn/info/{aid(n)}",
        section="协会动态",
        article_status="removed" if kind == "removed" else "live",
        content=content(title),
        previous=None,
    )
    fields.update(kw)
    return PendingAlert(**fields)


def ops(n: int, notice: str, **kw) -> PendingAlert:
    return alert(
        n,
        "operations",
        None,
        article_id=None,
        url=None,
        section=None,
        article_status=None,
        content=content(None, body=None),
        notice=notice,
        incident="run-failed",
        **kw,
    )


def changed(n: int, title: str, old_body: str, new_body: str, **kw) -> PendingAlert:
    return alert(
        n,
        "changed",
        title,
        content=content(title, new_body),
        previous=content(title, old_body),
        previous_version=1,
        **kw,
    )


def digest_alerts() -> list[PendingAlert]:
    # Deliberately out of display order: notices first, then new, changed, removed, restored.
    return [
        alert(1, "new", "关于2024年度律师执业考核的通知"),
        changed(
            2, "会员大会延期举行", "第一段。\n会议定于5月10日在协会举行。", "第一段。\n会议定于6月20日在协会举行。"
        ),
        alert(3, "removed", "已撤下的公告"),
        alert(4, "restored", "恢复的文章"),
        ops(5, "第 7 次抓取失败：连接超时\n已重试 3 次"),
    ]


def one(alerts, fmt, web=PUBLIC, **kw) -> ChatMessage:
    messages = chat_messages(alerts, fmt, zone=ZONE, web=web, **kw)
    assert len(messages) == 1
    return messages[0]


def body_size(m: ChatMessage, fmt: ChatFormat) -> int:
    return len(m.body.encode("utf-8")) if fmt.unit == "bytes" else len(m.body)


# --------------------------------------------------------------------------- formats
def test_format_table():
    assert format_for("wecombot") == ChatFormat("wecombot", False, 2048, "bytes", 20)
    assert format_for("dingtalk").markdown and format_for("dingtalk").per_minute == 20
    assert format_for("dingtalk").unit == "bytes"
    assert format_for("feishu").unit == format_for("lark").unit == "bytes"
    assert not format_for("feishu").markdown
    assert format_for("DingTalk://token/secret") is FORMATS["dingtalk"]
    for other in ("json", "form", "tgram", "matrix", "", "nonsense"):
        assert format_for(other) is DEFAULT_FORMAT
    assert ChatFormat("default", False, 4000, "chars", 20) == DEFAULT_FORMAT
    with pytest.raises(ValueError):
        ChatFormat("x", False, 100, "words", None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- exact bodies
TEXT_DIGEST = """\
【barwatch】上海律协网站：1 条运行通知，1 篇新文章，1 篇修改，1 篇删除，1 篇恢复
第 7 次抓取（2024-05-02 16:00 开始）发现：

【运行通知】
第 7 次抓取失败：连接超时
已重试 3 次

【新文章】
关于2024年度律师执业考核的通知
https://www.lawyers.org.cn/info/00000000000000000000000000000001

【修改】
会员大会延期举行
https://www.lawyers.org.cn/info/00000000000000000000000000000002
第2段：会议定于[-5-]{+6+}月[-1-]{+2+}0日在协会举行。

【删除】
已撤下的公告
https://www.lawyers.org.cn/info/00000000000000000000000000000003
存档：https://barwatch.example.org/barwatch/-/article/00000000000000000000000000000003

【恢复】
恢复的文章
https://www.lawyers.org.cn/info/00000000000000000000000000000004"""

# A Markdown hard line break: two spaces before the newline (spelt out: editors strip them).
BR = "  "
MARKDOWN_DIGEST = f"""\
#### 【barwatch】上海律协网站：1 条运行通知，1 篇新文章，1 篇修改，1 篇删除，1 篇恢复
第 7 次抓取（2024-05-02 16:00 开始）发现：

**运行通知**

第 7 次抓取失败：连接超时{BR}
已重试 3 次

**新文章**

[关于2024年度律师执业考核的通知](https://www.lawyers.org.cn/info/00000000000000000000000000000001)

**修改**

[会员大会延期举行](https://www.lawyers.org.cn/info/00000000000000000000000000000002){BR}
第2段：会议定于~~5~~**6**月~~1~~**2**0日在协会举行。

**删除**

[已撤下的公告](https://www.lawyers.org.cn/info/00000000000000000000000000000003){BR}
[存档页面](https://barwatch.example.org/barwatch/-/article/00000000000000000000000000000003)

**恢复**

[恢复的文章](https://www.lawyers.org.cn/info/00000000000000000000000000000004)"""


def test_text_digest():
    m = one(digest_alerts(), WECOM)
    assert m.title == "【barwatch】上海律协网站：1 条运行通知，1 篇新文章，1 篇修改，1 篇删除，1 篇恢复"
    assert m.body == TEXT_DIGEST
    assert m.alert_ids == (5, 1, 2, 3, 4)  # in the order shown


def test_markdown_digest():
    m = one(digest_alerts(), DINGTALK)
    assert m.title == "【barwatch】上海律协网站：1 条运行通知，1 篇新文章，1 篇修改，1 篇删除，1 篇恢复"
    assert m.body == MARKDOWN_DIGEST
    assert m.alert_ids == (5, 1, 2, 3, 4)


def test_removed_without_public_url_links_the_site_only():
    gone = [alert(3, "removed", "已撤下的公告")]
    assert one(gone, WECOM, web=PRIVATE).body == (
        "【barwatch】上海律协网站：1 篇删除\n"
        "第 7 次抓取（2024-05-02 16:00 开始）发现：\n"
        "\n"
        "【删除】\n"
        "已撤下的公告\n"
        "https://www.lawyers.org.cn/info/00000000000000000000000000000003"
    )
    assert one(gone, DINGTALK, web=PRIVATE).body == (
        "#### 【barwatch】上海律协网站：1 篇删除\n"
        "第 7 次抓取（2024-05-02 16:00 开始）发现：\n"
        "\n"
        "**删除**\n"
        "\n"
        "[已撤下的公告](https://www.lawyers.org.cn/info/00000000000000000000000000000003)"
    )


def test_edit_without_previous_version_or_visible_change():
    lost = alert(2, "changed", "无上一版本")
    # Versions whose content fields all read the same (an older barwatch hashed more).
    blank = changed(3, "只改空白", "第一段。\n第二段。", "第一段。\n第二段。")
    body = one([lost, blank], WECOM).body
    assert body.endswith(
        "【修改】\n"
        "无上一版本\n"
        "https://www.lawyers.org.cn/info/00000000000000000000000000000002\n"
        "（找不到上一版本，无法显示修改内容）\n"
        "\n"
        "只改空白\n"
        "https://www.lawyers.org.cn/info/00000000000000000000000000000003\n"
        "（修改仅涉及空白或标点写法）"
    )


def test_changes_beyond_max_changes_are_counted():
    old = "\n".join(f"第{i}段旧。" for i in range(1, 5))
    new = "\n".join(f"第{i}段新。" for i in range(1, 5))
    body = one([changed(2, "多处修改", old, new)], WECOM, max_changes=2).body
    assert body.endswith("第1段：第1段[-旧-]{+新+}。\n第2段：第2段[-旧-]{+新+}。\n（另有 2 处修改未列出）")


def test_one_digest_per_run_and_no_run_line_without_a_run():
    messages = chat_messages(
        [alert(1, "new", "甲", run_id=7), alert(2, "new", "乙", run_id=8), ops(3, "通知", run_id=None)],
        WECOM,
        zone=ZONE,
        web=PUBLIC,
    )
    assert [m.alert_ids for m in messages] == [(1,), (2,), (3,)]
    assert messages[1].body.split("\n")[1] == "第 8 次抓取（2024-05-02 16:00 开始）发现："
    assert messages[2].body == "【barwatch】上海律协网站：1 条运行通知\n\n【运行通知】\n通知"
    assert chat_messages([], WECOM, zone=ZONE, web=PUBLIC) == []


def test_every_message_carries_the_keyword_and_starts_with_its_title():
    for fmt in (WECOM, DINGTALK, FORMATS["feishu"], DEFAULT_FORMAT):
        for m in chat_messages(many_new(60) + digest_alerts(), fmt, zone=ZONE, web=PUBLIC):
            assert "barwatch" in m.title
            first = m.body.split("\n", 1)[0]
            assert first == (f"#### {m.title}" if fmt.markdown else m.title)


# --------------------------------------------------------------------------- escaping, cleaning
def test_markdown_escapes_site_text():
    title = r"关于*重点*_工作_[通知]`代码`~删~<b>|表|\反斜"
    m = one([alert(1, "new", title, url="https://www.lawyers.org.cn/info/a(1) b")], DINGTALK)
    assert m.body.endswith(
        r"[关于\*重点\*\_工作\_\[通知\]\`代码\`\~删\~\<b\>\|表\|\\反斜](https://www.lawyers.org.cn/info/a%281%29%20b)"
    )
    # Text formats send site text as it is.
    assert title in one([alert(1, "new", title)], WECOM).body


def test_markdown_escapes_line_starts_and_diff_text():
    notice = "# 不是标题\n- 不是列表\n1. 不是编号\n> 不是引用"
    m = one([ops(1, notice)], DINGTALK)
    assert m.body.endswith("\\# 不是标题  \n\\- 不是列表  \n1\\. 不是编号  \n\\> 不是引用")
    edit = changed(2, "标题", "价格*10*元。", "价格*20*元。")
    body = one([edit], DINGTALK).body
    assert body.endswith(r"第1段：价格\*~~1~~**2**0\*元。")


def test_markdown_title_without_a_web_link_is_plain_text():
    m = one([alert(1, "new", "# 标题", url="javascript:alert(1)")], DINGTALK)
    assert m.body.endswith("**新文章**\n\n\\# 标题")


def test_no_control_characters_survive():
    dirty = "标题\x1b[31m红\x1b[0m\u202e反\x07铃\r\n换行\t制表\x85"
    alerts = [
        alert(1, "new", dirty, url="https://www.lawyers.org.cn/info/1\r\nX-Injected: 1"),
        changed(2, dirty, "旧\x0b文\x1b。", "新\x0b文\u2066。"),
        alert(3, "removed", dirty),
        ops(4, "失败\x00\x1b[2J\n\u200f第二行\x7f"),
    ]
    for fmt in (WECOM, DINGTALK):
        for web in (PUBLIC, PRIVATE):
            for m in chat_messages(alerts, fmt, zone=ZONE, web=web):
                assert not CONTROL.search(m.body), repr(m.body)
                assert not CONTROL.search(m.title)
    body = one(alerts[:1], WECOM).body
    assert "标题[31m红[0m反铃 换行 制表" in body
    assert "https://www.lawyers.org.cn/info/1 X-Injected: 1" in body


# --------------------------------------------------------------------------- splitting
def many_new(n: int, start: int = 100) -> list[PendingAlert]:
    return [alert(start + i, "new", f"关于第{i}期律师执业培训课程安排的通知（含报名方式及注意事项）") for i in range(n)]


def test_a_long_digest_splits_for_wecom_between_whole_entries():
    alerts = many_new(40) + [changed(200, "会员大会延期举行", "会议定于5月10日举行。", "会议定于6月20日举行。")]
    messages = chat_messages(alerts, WECOM, zone=ZONE, web=PUBLIC)
    n = len(messages)
    assert n >= 3
    for m in messages:
        assert len(m.body.encode("utf-8")) <= 2048
    # Every alert exactly once, in order, and each message shows exactly its alerts.
    ids = [i for m in messages for i in m.alert_ids]
    assert ids == [a.id for a in alerts]
    for m in messages:
        shown = re.findall(r"info/([0-9a-f]{32})", m.body)
        assert tuple(int(x, 16) for x in shown) == m.alert_ids
    assert messages[0].title == f"【barwatch】上海律协网站：40 篇新文章，1 篇修改（1/{n}）"
    assert [m.title for m in messages[1:]] == [f"【barwatch】上海律协网站（续 {k}/{n}）" for k in range(2, n + 1)]
    for m in messages:
        lines = m.body.split("\n")
        assert lines[0] == m.title
        assert lines[1] == "第 7 次抓取（2024-05-02 16:00 开始）发现："
        assert lines[3] == "【新文章】"  # a continuation names its kind again
    assert "【修改】" in messages[-1].body
    # Split, not cut: no entry shortened, and a message is closed only when the next
    # entry (under 170 bytes with its blank line) would not fit.
    assert "…" not in "".join(m.body for m in messages)
    for m in messages[:-1]:
        assert len(m.body.encode("utf-8")) > 2048 - 170


def test_split_respects_every_format_and_limit():
    alerts = (
        [ops(1, "运行失败\n" + "细节" * 50)]
        + many_new(30)
        + [changed(300 + i, f"修改{i}", f"第{i}段旧文。" * 20, f"第{i}段新文。" * 20) for i in range(10)]
        + [alert(400 + i, "removed", f"删除{i}") for i in range(10)]
    )
    for markdown in (False, True):
        for unit in ("bytes", "chars"):
            for limit in (400, 517, 1000, 2048):
                fmt = ChatFormat("t", markdown, limit, unit, None)
                messages = chat_messages(alerts, fmt, zone=ZONE, web=PUBLIC, max_changes=30)
                assert all(body_size(m, fmt) <= limit for m in messages), (markdown, unit, limit)
                assert sorted(i for m in messages for i in m.alert_ids) == sorted(a.id for a in alerts)
                if markdown:
                    for m in messages:  # no marker pair broken by a cut
                        assert m.body.count("**") % 2 == 0 and m.body.count("~~") % 2 == 0


def test_an_oversized_entry_is_shortened_not_dropped():
    old = "\n".join(f"第{i}段：" + "旧的内容各不相同" * 20 + f"{i}" for i in range(20))
    new = "\n".join(f"第{i}段：" + "新写的文字全然不同" * 20 + f"{i}" for i in range(20))
    big = changed(9, "长文修改", old, new)
    for fmt in (WECOM, DINGTALK, ChatFormat("small", False, 500, "chars", None)):
        messages = chat_messages(
            [alert(8, "new", "前一篇"), big, alert(10, "new", "后一篇")], fmt, zone=ZONE, web=PUBLIC, max_changes=30
        )
        assert [i for m in messages for i in m.alert_ids] == [8, 10, 9]  # new first, then changed
        assert all(body_size(m, fmt) <= fmt.limit for m in messages)
        cut = next(m for m in messages if 9 in m.alert_ids)
        assert "长文修改" in cut.body and "info/00000000000000000000000000000009" in cut.body
        assert cut.body.endswith("…")
        assert "第1段：" in cut.body  # the first changes are kept, the later ones go
        assert "第20段：" not in cut.body


def test_an_oversized_title_keeps_its_link():
    huge = alert(10, "new", "超长标题" * 1000)
    m = one([huge], WECOM)
    assert len(m.body.encode("utf-8")) <= 2048
    assert m.body.endswith("标题…\nhttps://www.lawyers.org.cn/info/0000000000000000000000000000000a")
    assert m.body.count("超长标题") > 100
    m = one([huge], DINGTALK)
    assert len(m.body.encode("utf-8")) <= DINGTALK.limit
    assert m.body.endswith("…](https://www.lawyers.org.cn/info/0000000000000000000000000000000a)")


@pytest.mark.parametrize("limit", range(300, 330))
def test_byte_limits_never_split_a_character(limit):
    # Hanzi are 3 bytes, the middle dot 2, the emoji 4: every limit lands somewhere else.
    title = "律师·协会🏛" * 200
    fmt = ChatFormat("t", False, limit, "bytes", None)
    m = one([alert(1, "new", title, url="https://x.example/1")], fmt)
    raw = m.body.encode("utf-8")
    assert len(raw) <= limit
    assert raw.decode("utf-8") == m.body
    assert m.body.endswith("…\nhttps://x.example/1")


# --------------------------------------------------------------------------- pacing
class FakeTime:
    """A clock that moves only when slept on, or by ``send`` seconds per message."""

    def __init__(self, send: float = 0.0):
        self.now = 1000.0
        self.send = send
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pace(messages: int, per_minute: int | None, send: float = 0.0) -> tuple[list[float], list[float]]:
    t = FakeTime(send)
    pacer = Pacer(per_minute, clock=t.clock, sleep=t.sleep)
    times = []
    for _ in range(messages):
        pacer.wait()
        times.append(t.now)
        t.now += t.send
    return t.sleeps, times


def test_pacer_45_messages_at_20_a_minute():
    # The window is 61 s (a minute and a second for the network's jitter): 20 go at once,
    # the 21st when the 1st is 61 s old, the 41st when the 21st is.
    sleeps, times = pace(45, 20)
    assert sleeps == [61.0, 61.0]
    assert times == [1000.0] * 20 + [1061.0] * 20 + [1122.0] * 5


def test_pacer_counts_the_time_sending_takes():
    # 2 s a message: the 21st is ready at 40 s and waits 21 s; then each goes as the one
    # 20 before it turns 61 s old, which the 2 s of sending already waits for.
    sleeps, times = pace(45, 20, send=2.0)
    assert sleeps == [21.0, 21.0]
    assert times[19:22] == [1038.0, 1061.0, 1063.0]
    assert times[40] == 1122.0


def test_pacer_never_lets_more_than_per_minute_into_any_window():
    for send in (0.0, 0.7, 3.0, 7.5):
        _, times = pace(100, 20, send=send)
        for i in range(len(times) - 20):
            assert times[i + 20] - times[i] >= 61.0


def test_pacer_without_a_limit_never_waits():
    sleeps, _ = pace(500, None)
    assert sleeps == []
    with pytest.raises(ValueError):
        Pacer(0)
