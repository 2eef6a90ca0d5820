"""Normalisation, hashing and diffing: pure functions, checked from tables of cases."""

import pytest

from storage.diffs import Segment, char_segments, paragraph_changes, render_changes, summarize_changes, trimmed
from storage.textops import content_hash, local_time, normalize_text, unified_diff

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
    (
        "会议于周一召开",
        "会议于周二召开",
        (Segment("=", "会议于周"), Segment("-", "一"), Segment("+", "二"), Segment("=", "召开")),
    ),
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
    assert [c.label for c in changes] == ["第2段"]
    assert render_changes(changes) == "第2段：\n  律师协会于周[-一-]{+二+}召开会议，研究部署工作。"
    assert summarize_changes(changes) == "第2段：+「二」"


def test_paragraph_changes_fields_and_added_paragraph():
    new = dict(BASE, title="新标题", body="第一段。\n第二段。\n第三段。")
    changes = paragraph_changes(BASE, new)
    assert [(c.label, c.old, c.new) for c in changes] == [("标题", "标题", "新标题"), ("第3段", None, "第三段。")]
    assert summarize_changes(changes) == "标题、第3段：+「新」"
    assert summarize_changes([]) == "无内容修改"


def test_render_changes_html_escapes():
    changes = paragraph_changes(dict(BASE, body="<b>x</b>"), dict(BASE, body="<b>y</b>"))
    assert render_changes(changes, "html") == (
        '<p class="barwatch-change"><b>第1段</b><br>&lt;b&gt;<del>x</del><ins>y</ins>&lt;/b&gt;</p>'
    )


# A long paragraph with one phrase changed: only its sentence is shown, the rest is "…".
LONG_OLD = (
    "上海市律师协会于2024年5月2日召开第十二届理事会第五次会议。会议由会长主持，全体理事出席。"
    "会议审议通过了关于加强青年律师培养的若干意见。会议还听取了各专门委员会的工作汇报，并对下半年工作作出部署。"
)
LONG_NEW = LONG_OLD.replace("若干意见", "若干意见（试行）")


def test_a_long_paragraph_is_trimmed_to_the_sentence_around_the_change():
    changes = paragraph_changes({"body": LONG_OLD}, {"body": LONG_NEW})
    assert render_changes(changes) == "第1段：\n  …会议审议通过了关于加强青年律师培养的若干意见{+（试行）+}。…"
    assert render_changes(changes, "html") == (
        '<p class="barwatch-change"><b>第1段</b><br>…会议审议通过了关于加强青年律师培养的若干意见'
        "<ins>（试行）</ins>。…</p>"
    )


@pytest.mark.parametrize(
    "old,new,shown",
    [
        # Context longer than CONTEXT characters on a side is cut to it.
        (
            "甲" * 50 + "乙" + "丙" * 50,
            "甲" * 50 + "丁" + "丙" * 50,
            "…" + "甲" * 40 + "[-乙-]{+丁+}" + "丙" * 40 + "…",
        ),
        # Two changes in one sentence keep the text between them.
        ("一二三四五六。", "一2三四五6。", "一[-二-]{+2+}三四五[-六-]{+6+}。"),
        # Two changes sentences apart: each keeps its sentence, the middle is "…".
        ("甲改。中间一句话。再一句。乙改。", "甲变。中间一句话。再一句。乙变。", "甲[-改-]{+变+}。…乙[-改-]{+变+}。"),
        # A change at the very start or end has no ellipsis on that side.
        ("开头。后面。", "新开头。后面。", "{+新+}开头。…"),
        ("前面。结尾", "前面。结尾了", "…结尾{+了+}"),
    ],
)
def test_trimming_cases(old, new, shown):
    (change,) = paragraph_changes({"body": old}, {"body": new})
    assert render_changes([change]).split("\n  ", 1)[1] == shown


def test_long_inserted_run_is_cut_but_the_page_form_is_whole():
    (change,) = paragraph_changes({"body": "甲。"}, {"body": "甲。" + "新" * 400})
    assert [s.text for s in trimmed(change)] == ["…", "新" * 299 + "…"]
    assert [s.text for s in trimmed(change, max_run=None)] == ["…", "新" * 400]


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
