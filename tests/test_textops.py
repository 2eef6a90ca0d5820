"""Normalisation, hashing and diffing: pure functions, checked from tables of cases."""
import pytest

from storage.textops import (
    Segment,
    char_segments,
    content_hash,
    local_time,
    normalize_text,
    paragraph_changes,
    render_changes_html,
    render_changes_text,
    summarize_changes,
    unified_diff,
)

NORMALIZE_CASES = [
    ("", ""),
    (None, ""),
    ("日期：2026-01-23", "日期:2026-01-23"),  # full-width colon
    ("（一）会议", "(一)会议"),  # full-width brackets
    ("ＡＢＣ１２３", "ABC123"),  # full-width Latin and digits
    ("a\u00a0\u3000 b", "a b"),  # nbsp and ideographic space fold to one blank
    ("  第一段  \n\n\n  第二段 ", "第一段\n第二段"),  # blank lines and edges go
    ("“四大工程”", '"四大工程"'),  # curly quotes
    ("「四大工程」", '"四大工程"'),
    ("会议结束。", "会议结束."),  # ideographic full stop
    ("甲、乙", "甲,乙"),
    ("2012—2024", "2012-2024"),
    ("line\r\nnext\rthird", "line\nnext\nthird"),
]


@pytest.mark.parametrize("raw,expected", NORMALIZE_CASES)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


BASE = {"title": "标题", "published": "2026-01-23", "author": "办公室", "source": None, "body": "第一段。\n第二段。"}

HASH_CASES = [
    # (change, same hash?)
    ({}, True),
    ({"views": 999}, True),  # the counter is not content
    ({"section": "其他"}, True),  # nor is the breadcrumb
    ({"body": "第一段.\n第二段."}, True),  # punctuation width only
    ({"body": " 第一段。\n\n第二段。 "}, True),  # whitespace only
    ({"title": "标题："}, False),
    ({"published": "2026-01-24"}, False),
    ({"author": "宣传部"}, False),
    ({"source": "新民晚报"}, False),
    ({"body": "第一段。\n第二段改。"}, False),
    ({"body": "第一段。第二段。"}, False),  # paragraphs merged is an edit
]


@pytest.mark.parametrize("change,same", HASH_CASES)
def test_content_hash(change, same):
    assert (content_hash({**BASE, **change}) == content_hash(BASE)) is same


def test_content_hash_is_stable():
    assert content_hash(BASE) == content_hash(dict(BASE))
    assert len(content_hash(BASE)) == 64


CHAR_CASES = [
    ("abc", "abc", (Segment("=", "abc"),)),
    ("会议于周一召开", "会议于周二召开", (Segment("=", "会议于周"), Segment("-", "一"), Segment("+", "二"), Segment("=", "召开"))),
    ("甲乙", "甲乙丙", (Segment("=", "甲乙"), Segment("+", "丙"))),
    ("甲乙丙", "甲丙", (Segment("=", "甲"), Segment("-", "乙"), Segment("=", "丙"))),
    ("", "新", (Segment("+", "新"),)),
]


@pytest.mark.parametrize("old,new,expected", CHAR_CASES)
def test_char_segments(old, new, expected):
    assert char_segments(old, new) == expected


def test_paragraph_changes_pairs_edited_paragraph():
    old = dict(BASE, body="第一段。\n律师协会于周一召开会议，研究部署工作。\n第三段。")
    new = dict(BASE, body="第一段。\n律师协会于周二召开会议，研究部署工作。\n第三段。")
    changes = paragraph_changes(old, new)
    assert [c.label for c in changes] == ["paragraph 2"]
    assert render_changes_text(changes) == "paragraph 2:\n  律师协会于周[-一-]{+二+}召开会议，研究部署工作。"
    assert summarize_changes(changes) == "paragraph 2: +「二」"


def test_paragraph_changes_fields_and_added_paragraph():
    new = dict(BASE, title="新标题", body="第一段。\n第二段。\n第三段。")
    changes = paragraph_changes(BASE, new)
    assert [(c.label, c.old, c.new) for c in changes] == [("title", "标题", "新标题"), ("paragraph 3", None, "第三段。")]
    assert summarize_changes([]) == "no content change"


def test_render_changes_html_escapes():
    changes = paragraph_changes(dict(BASE, body="<b>x</b>"), dict(BASE, body="<b>y</b>"))
    assert render_changes_html(changes) == "<p><b>paragraph 1</b><br>&lt;b&gt;<del>x</del><ins>y</ins>&lt;/b&gt;</p>"


def test_unified_diff_shows_edited_paragraph():
    diff = unified_diff(BASE, dict(BASE, body="第一段。\n第二段改。"), "version 1", "version 2")
    assert diff.splitlines() == [
        "--- version 1",
        "+++ version 2",
        "@@ -4,4 +4,4 @@",
        " source: ",
        " ",
        " 第一段。",
        "-第二段。",
        "+第二段改。",
    ]


@pytest.mark.parametrize(
    "stamp,zone,shown",
    [
        ("2026-11-29T19:14:11Z", "Asia/Shanghai", "2026-11-30 03:14"),  # the next day in Shanghai
        ("2026-11-29T19:14:11Z", "UTC", "2026-11-29 19:14"),
        ("2026-07-01T12:00:00Z", "Europe/London", "2026-07-01 13:00"),  # summer time
        ("2026-11-29T19:14:11", "Asia/Shanghai", "2026-11-30 03:14"),  # no zone: stored values are UTC
        ("not a time", "Asia/Shanghai", "not a time"),
        (None, "Asia/Shanghai", ""),
    ],
)
def test_local_time(stamp, zone, shown):
    assert local_time(stamp, zone) == shown
