"""Control characters never reach a reader: not from the parser, not from rows stored by an
older barwatch, not in mails, the terminal or the Atom feed."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

import pytest

from crawler.config import AlertSettings
from crawler.parsing import parse_article, parse_list
from scheduler.notify import compose
from storage import serve
from storage.archive import Archive
from storage.diffs import paragraph_changes, render_changes, summarize_changes
from storage.outbox import PendingAlert
from storage.search import format_results, highlight
from storage.textops import clean_text, one_line

ESC, BEL, NEL, RLO = "\x1b", "\x07", "\x85", "\u202e"
EVIL = (ESC, BEL, NEL, RLO)
# Every character clean_text removes (tab and CR are turned into space and newline).
CONTROLS = (
    [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + [
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
    ]
)
URL = "https://www.lawyers.org.cn/info/" + "cd" * 16
T0 = dt.datetime(2024, 5, 2, 8, 0, tzinfo=dt.UTC)


def has_control(text: str) -> bool:
    return any(c in text for c in CONTROLS)


# --------------------------------------------------------------------------- the functions
CLEAN_CASES = [
    (None, None),
    ("", ""),
    ("正文", "正文"),
    ("a\tb", "a b"),
    ("一\r\n二\r三\n四", "一\n二\n三\n四"),
    ("\x1b]0;evil\x07标题", "]0;evil标题"),
    ("\x1b[31m红\x1b[0m", "[31m红[0m"),
    ("行\x85尾\u2028", "行尾\u2028"),  # NEL is a C1 control; U+2028 is not a control
    ("abc\u202eexe.txt", "abcexe.txt"),
    ("\u2066x\u2069\u200e\u200f\u061c", "x"),
    ("nul\x00del\x7fcsi\x9b", "nuldelcsi"),
    ("\u00a0\u3000全角", "\u00a0\u3000全角"),  # spaces are text, not controls
    ("©é€", "©é€"),
]


@pytest.mark.parametrize("raw,expected", CLEAN_CASES)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_removes_every_control():
    assert clean_text("".join(CONTROLS) + "文") == "文"
    assert clean_text("\t\r\r\n") == " \n\n"


ONE_LINE_CASES = [
    (None, ""),
    ("", ""),
    ("  标题 \n 第二行\t\x1b ", "标题 第二行"),
    ("a\r\nb", "a b"),
    ("x\u3000\u00a0y", "x y"),
    ("\x07", ""),
]


@pytest.mark.parametrize("raw,expected", ONE_LINE_CASES)
def test_one_line(raw, expected):
    assert one_line(raw) == expected


# --------------------------------------------------------------------------- parser
def test_parser_cleans_every_field_after_entity_decoding():
    evil = "&#27;]0;evil&#7;&#x85;&#x202e;&#0;"
    html = (
        f"<html><head><title>协会通知{evil}标题 - 东方律师网</title></head><body>"
        f"<div class='crumb'>首页 &gt; 行业资讯 &gt; 律协动态{evil}</div>"
        f"<h1>协会通知{evil}标题</h1>"
        f"<div>日期:2026-01-23 作者:办公室{evil} 来源:律协{evil}</div>"
        f"<p>第一段{evil}正文。</p><p>{evil}</p><p>第二段\t正文\x1b[2J。</p>"
        f"<p><a href='https://byfiles.storage.lawyers.org.cn/file/?action=download&amp;id=1{evil}'>附件</a></p>"
        "</body></html>"
    )
    rec = parse_article(html, URL)
    for key, value in rec.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                assert not has_control(item), (key, item)
    assert rec["title"] == "协会通知]0;evil…标题"
    assert rec["author"] == "办公室]0;evil…"
    assert rec["body"].split("\n")[:3] == ["第一段]0;evil…正文。", "]0;evil…", "第二段 正文[2J。"]
    assert rec["attachments"] == ["https://byfiles.storage.lawyers.org.cn/file/?action=download&id=1]0;evil…"]


def test_parser_literal_controls_and_nul():
    html = "<html><body><h1>标\x00题\x1b</h1><div>日期:2026-01-23</div><p>正\x07文\x85。</p></body></html>"
    rec = parse_article(html.encode("utf-8"), URL)
    assert (rec["title"], rec["body"]) == ("标题", "正文。")


def test_list_rows_are_cleaned_too():
    html = (
        "<html><body><ul><li><a href='/info/" + "ab" * 16 + "'>列表&#27;]0;x&#7;标题&#x202e;</a>"
        "<span>2024-05-01</span></li></ul></body></html>"
    )
    [row] = parse_list(html, "https://www.lawyers.org.cn/studies/businessguide")
    assert row["title"] == "列表]0;x标题" and row["date"] == "2024-05-01"


# --------------------------------------------------------------------------- diffs and search
OLD = {"title": "标题", "body": "第一段。\n第二段。"}
NEW = {"title": "标\x1b]0;x\x07题", "body": "第一段。\n第二段\u202e改\x85了\x9b。"}


def test_change_renderers_clean_the_text():
    changes = paragraph_changes(OLD, NEW)
    text = render_changes(changes)
    assert text == "标题：\n  标{+]0;x+}题\n第2段：\n  第二段{+改了+}。"
    html = render_changes(changes, "html")
    assert not has_control(html) and "<ins>改了</ins>" in html
    ansi = render_changes(changes, "ansi")
    # Only the renderer's own SGR sequences: ESC followed by "[<digits;>m".
    assert ansi.replace("\x1b[31;9m", "").replace("\x1b[32;4m", "").replace("\x1b[0m", "").replace("\x1b[1m", "") == (
        "标题：\n  标]0;x题\n第2段：\n  第二段改了。"
    )
    line = summarize_changes(changes)
    assert not has_control(line) and line == "标题、第2段：+「]0;x」"


def test_a_change_of_only_controls_shows_nothing_inserted():
    changes = paragraph_changes({"body": "正文"}, {"body": "正\x1b文"})
    assert render_changes(changes) == "第1段：\n  正文"


def test_format_results_and_highlight_clean_for_the_terminal():
    out = format_results(
        [
            {
                "id": "cd" * 16,
                "url": URL + "\x1b[2J",
                "title": "标题\x1b]0;pwned\x07\u202e",
                "published": "2024-06-24\r\n",
                "section": "栏目\x85",
                "snippet": highlight("正文\x1b[31m律师\x07协会\n第二段", "律师"),
                "score": 1.0,
            }
        ]
    )
    assert not has_control(out)
    assert out.split("\n") == [
        " 1. 标题]0;pwned",
        "    2024-06-24  栏目",
        "    正文[31m【律师】协会 第二段",
        f"    {URL}[2J  [cdcdcdcd]",
    ]


# --------------------------------------------------------------------------- rows of an older barwatch
# (also the feed's test data: tests/test_feed.py)
def _store_evil_rows(path) -> None:
    Archive(path).close()
    title = f"标题{ESC}]0;pwned{BEL}{NEL}{RLO}尾"
    body = f"第一段{ESC}[2J正文{BEL}。\n第二段{NEL}{RLO}。"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO articles (id, url, section, title, published, author, source, body, attachments,"
            " content_hash, first_seen, last_seen, last_changed, status, version)"
            " VALUES (?, ?, ?, ?, '2024-05-01', ?, ?, ?, '[]', 'x', '2024-05-02T08:00:00Z',"
            " '2024-05-02T08:00:00Z', '2024-05-02T08:00:00Z', 'live', 2)",
            ["cd" * 16, URL + ESC, f"栏目{BEL}", title, f"作者{RLO}", f"来源{NEL}", body],
        )
        for version, diff in ((1, None), (2, f"--- previous\n+++ current\n-旧{ESC}\n+新{BEL}{RLO}")):
            conn.execute(
                "INSERT INTO versions (article_id, version, fetched_at, title, published, author, source,"
                " body, content_hash, diff, run_id) VALUES (?, ?, ?, ?, '2024-05-01', ?, ?, ?, 'x', ?, NULL)",
                ["cd" * 16, version, f"2024-05-0{version}T08:00:00Z", title, "作者", "来源", body, diff],
            )


def test_sql_functions_are_registered_for_ad_hoc_queries(tmp_path):
    path = tmp_path / "evil.db"
    _store_evil_rows(path)
    ds = serve.build_datasette(path)

    async def fetch():
        return await ds.client.get(
            "/evil.json?sql=select+barwatch_clean(title)+as+t,+barwatch_one_line(body)+as+b,"
            "+barwatch_clean(null)+as+n,+barwatch_clean(3)+as+i+from+articles&_shape=array"
        )

    response = asyncio.run(fetch())
    assert response.status_code == 200
    assert response.json() == [{"t": "标题]0;pwned尾", "b": "第一段[2J正文。 第二段。", "n": None, "i": 3}]


# --------------------------------------------------------------------------- mails
def pending(n: int, kind: str = "new", **kw) -> PendingAlert:
    values = dict(
        id=n,
        article_id=f"{n:032x}",
        kind=kind,
        run_id=7,
        version=1,
        created_at="2024-05-02T08:00:00Z",
        attempts=0,
        last_error=None,
        run_status="ok",
        run_started_at="2024-05-02T07:00:00Z",
        url=f"https://www.lawyers.org.cn/info/{n:032x}",
        section="协会动态",
        article_status="live",
        content={
            "title": f"文章{n}",
            "published": "2024-05-01",
            "author": "办公室",
            "source": None,
            "body": "第一段。\n第二段。",
        },
        previous=None,
    )
    values.update(kw)
    return PendingAlert(**values)


def evil_alerts() -> list[PendingAlert]:
    content = {
        "title": f"标题{ESC}]0;pwned{BEL}\n第二行{NEL}{RLO}",
        "published": f"2024-05-01{ESC}",
        "author": f"作者{RLO}",
        "source": f"来源{NEL}",
        "body": f"第一段{ESC}[2J正文{BEL}。\n第二段{NEL}{RLO}。",
    }
    previous = dict(content, body="第一段正文。\n第二段。", title="旧标题")
    return [
        pending(1, content=content, section=f"栏目{BEL}", url=f"https://www.lawyers.org.cn/info/{1:032x}{ESC}"),
        pending(2, "changed", content=content, previous=previous, previous_version=1, version=2),
        pending(3, "removed", content=content, created_at=f"2024-05-02T08:00:00Z{BEL}"),
        pending(
            4,
            "operations",
            article_id=None,
            version=None,
            url=None,
            section=None,
            article_status=None,
            content={f: None for f in ("title", "published", "author", "source", "body")},
            notice=f"抓取失败{ESC}[2J：{RLO}没有取得任何页面{BEL}\n第二行{NEL}",
            incident="crawl-failed",
        ),
    ]


@pytest.mark.parametrize("mode", ["digest", "per_article"])
def test_mail_subject_text_and_html_hold_no_control_characters(mode):
    config = AlertSettings(mode=mode, subject_prefix=f"【bw{ESC}】\n")
    alerts = evil_alerts()
    groups = [alerts] if mode == "digest" else [[a] for a in alerts]
    for group in groups:
        m = compose(group, config, T0, "barwatch@example.org", ["ops@example.org"])
        raw = m.email.as_string()
        assert not has_control(m.subject), m.subject
        assert not has_control(m.text()), m.text()
        assert not has_control(m.html()), m.html()
        for name, value in m.email.items():
            assert not has_control(str(value)) and "\n" not in str(value), name
        assert ESC not in raw and BEL not in raw
    if mode == "digest":
        assert m.subject == "【bw】 上海律协网站：1 条运行通知，1 篇新文章，1 篇修改，1 篇删除"
        assert "1. 标题]0;pwned 第二行\n" in m.text()
        assert "   第一段[2J正文。\n" in m.text()
