"""Unit tests of crawler.parsing on small inline pages (table-driven)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from crawler.parsing import (
    DEFAULT_RULES,
    RECORD_KEYS,
    ParseError,
    ParseRules,
    decode_html,
    parse_article,
    parse_list,
)

AID = "0123456789abcdef0123456789abcdef"
URL = f"https://www.lawyers.org.cn/info/{AID}"
CANON = URL
SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed" / "000_1156116108ea25d0.txt"

FOOTER_SIMP = [
    "[版权声明] 沪ICP备17030485号-1",
    "沪公网安备 31010402007129号",
    "技术服务:上海同道信息技术有限公司",
    "技术电话:400-052-9602(9:00-11:30,13:30-17:30)",
    "技术支持邮箱 :12345@homolo.com",
    "上海市律师协会版权所有 ©2017-2024",
]
FOOTER_TRAD = [
    "[版權(quán)聲明] 滬ICP備17030485號(hào)-1",
    "滬公網(wǎng)安備 31010402007129號(hào)",
    "技術(shù)服務(wù):上海同道信息技術(shù)有限公司",
    "技術(shù)電話:400-052-9602(9:00-11:30,13:30-17:30)",
    "技術(shù)支持郵箱 :12345@homolo.com",
    "上海市律師協(xié)會(huì)版權(quán)所有 ?2017-2024",
]
TOPBAR = (
    '<div><a href="#">申请实习证</a> <a href="#">两公律师考核申请</a> <a href="#">注销人员证明申请入口</a> '
    '<a href="#">网上投稿</a> <a href="#">《上海律师》</a> <a href="#">ENGLISH</a></div>'
)


def page(
    *,
    title_tag="关于开展2026年度律师业务培训的通知 - 律协动态 - 行业资讯 - 东方律师网",
    crumb="当前位置: <a>首页</a> &gt;&gt; <a>行业资讯</a> &gt;&gt; <a>律协动态</a>",
    channel="律协动态",
    heading="关于开展2026年度律师业务培训的通知",
    meta="<span>日期:2026-01-23</span>&nbsp;&nbsp;<span>作者:办公室</span>&nbsp;&nbsp;<span>阅读:131次</span>",
    body="<p>第一段正文内容。</p><p>第二段正文内容。</p>",
    footer=None,
    before_title="",
    after_body="",
) -> str:
    footer_lines = FOOTER_SIMP if footer is None else footer
    parts = ["<html><head><meta charset='utf-8'>"]
    if title_tag is not None:
        parts.append(f"<title>{title_tag}</title>")
    parts.append("</head><body>")
    parts.append(TOPBAR)
    if crumb is not None:
        parts.append(f"<div>{crumb}</div>")
    if channel is not None:
        parts.append(f"<h2>{channel}</h2>")
    parts.append('<div id="wrap">')
    parts.append(before_title)
    if heading is not None:
        parts.append(f"<h1>{heading}</h1>")
    if meta is not None:
        parts.append(f"<div>{meta}</div>")
    parts.append(f"<div>{body}</div>")
    parts.append(after_body)
    parts.append("</div>")
    parts.append("<div>" + "<br>".join(footer_lines) + "</div>")
    parts.append("</body></html>")
    return "".join(parts)


# --------------------------------------------------------------------------- metadata

META_CASES = [
    # (id, metadata html, published, author, source, views)
    (
        "date-author-views",
        "日期:2026-01-23&nbsp;&nbsp;作者:办公室&nbsp;&nbsp;阅读:131次",
        "2026-01-23",
        "办公室",
        None,
        131,
    ),
    ("fullwidth-colons", "日期：2026-01-23　作者：办公室　阅读：131次", "2026-01-23", "办公室", None, 131),
    ("no-author", "日期:2024-06-24  阅读:653次", "2024-06-24", None, None, 653),
    ("no-counter", "日期:2022-03-24  作者:民事业务研究委员会", "2022-03-24", "民事业务研究委员会", None, None),
    ("comma-count", "日期:2026-01-23  作者:办公室  阅读:2,032次", "2026-01-23", "办公室", None, 2032),
    ("two-commas", "日期:2026-01-23  阅读:1,234,567次", "2026-01-23", None, None, 1234567),
    (
        "older-form",
        "信息来源:上海市律师协会  时间:2012-05-17  作者:宣传部",
        "2012-05-17",
        "宣传部",
        "上海市律师协会",
        None,
    ),
    (
        "older-fullwidth",
        "信息来源：上海市律师协会　时间：2012-05-17　作者：宣传部",
        "2012-05-17",
        "宣传部",
        "上海市律师协会",
        None,
    ),
    (
        "press-reprint",
        "来源:新民晚报  日期:2012-09-25  作者:张三  阅读:5,539次",
        "2012-09-25",
        "张三",
        "新民晚报",
        5539,
    ),
    ("magazine", "2022年第06期  作者:文│某某  阅读 876 次", None, "某某", "《上海律师》2022年第06期", 876),
    (
        "magazine-fullwidth",
        "2022年第06期　作者：文│某某　阅读 2,876 次",
        None,
        "某某",
        "《上海律师》2022年第06期",
        2876,
    ),
    (
        "spans-no-spaces",
        "<span>日期:2026-01-23</span><span>作者:办公室</span><span>阅读:131次</span>",
        "2026-01-23",
        "办公室",
        None,
        131,
    ),
    ("one-per-element", "<p>日期:2026-01-23</p><p>作者:办公室</p><p>阅读:131次</p>", "2026-01-23", "办公室", None, 131),
    (
        "one-per-element-older",
        "<p>信息来源:上海市律师协会</p><p>时间:2012-05-17</p><p>作者:宣传部</p>",
        "2012-05-17",
        "宣传部",
        "上海市律师协会",
        None,
    ),
    (
        "label-value-spans",
        "<span>日期:</span><span>2026-01-23</span> <span>作者:</span><span>办公室</span>",
        "2026-01-23",
        "办公室",
        None,
        None,
    ),
    ("counter-filled-by-js", "日期:2026-01-23  作者:办公室  阅读:次", "2026-01-23", "办公室", None, None),
    (
        "traditional-pinyin",
        "日期:2020-05-06  作者:寶山區(qū)律師工作委員會(huì)  閱(yuè)讀:12次",
        "2020-05-06",
        "寶山區(qū)律師工作委員會(huì)",
        None,
        12,
    ),
    (
        "district-author",
        "日期:2025-11-03  作者:松江区律师工作委员会  阅读:88次",
        "2025-11-03",
        "松江区律师工作委员会",
        None,
        88,
    ),
    ("date-with-time", "发布时间:2026-01-23 10:30:00  作者:办公室", "2026-01-23", "办公室", None, None),
    ("chinese-date", "日期:2026年1月3日  作者:办公室", "2026-01-03", "办公室", None, None),
    (
        "trailing-print-buttons",
        "日期:2026-01-23  作者:办公室  阅读:131次 【打印】 【关闭】",
        "2026-01-23",
        "办公室",
        None,
        131,
    ),
    (
        "trailing-buttons-after-author",
        "日期:2026-01-23  作者:办公室 【打印】【关闭】",
        "2026-01-23",
        "办公室",
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    "meta,published,author,source,views", [c[1:] for c in META_CASES], ids=[c[0] for c in META_CASES]
)
def test_metadata_forms(meta, published, author, source, views):
    rec = parse_article(page(meta=meta), URL)
    assert (rec["published"], rec["author"], rec["source"], rec["views"]) == (published, author, source, views)
    assert rec["body"] == "第一段正文内容。\n第二段正文内容。"
    assert rec["title"] == "关于开展2026年度律师业务培训的通知"


def test_no_metadata_gives_nulls_and_never_footer_or_body_dates():
    html = page(meta=None, body="<p>会议定于2024年3月1日召开,日期:2024-03-01。</p><p>第二段。</p>")
    rec = parse_article(html, URL)
    assert (rec["published"], rec["author"], rec["source"], rec["views"]) == (None, None, None, None)
    assert rec["body"] == "会议定于2024年3月1日召开,日期:2024-03-01。\n第二段。"


@pytest.mark.parametrize(
    "line",
    [
        "日期:2026-01-23 本会召开了理事会会议并审议通过了多项重要决议和工作报告",
        "时间:2026-13-40 作者:办公室",
        "作者:办公室 作者:宣传部 日期:2026-01-23",
    ],
)
def test_lines_that_are_not_metadata(line):
    rec = parse_article(page(meta=None, body=f"<p>{line}</p><p>第二段。</p>"), URL)
    assert (rec["published"], rec["author"]) == (None, None)
    assert rec["body"] == f"{line}\n第二段。"


def test_byline_in_body_is_not_metadata():
    body = "<p>正文第一段。</p><p>作者:李四</p>"
    rec = parse_article(page(body=body), URL)
    assert rec["author"] == "办公室"
    assert rec["body"] == "正文第一段。\n作者:李四"


def test_record_keys_and_order():
    rec = parse_article(page(), URL)
    assert (
        tuple(rec)
        == RECORD_KEYS
        == (
            "id",
            "url",
            "section",
            "title",
            "subtitle",
            "published",
            "issue",
            "author",
            "source",
            "views",
            "body",
            "attachments",
        )
    )


# --------------------------------------------------------------------------- footer / furniture


def _br(lines):
    return "<div>" + "<br>".join(lines) + "</div>"


FOOTER_CASES = [
    ("simplified-br", _br(FOOTER_SIMP)),
    ("traditional-br", _br(FOOTER_TRAD)),
    ("simplified-p", "".join(f"<p>{x}</p>" for x in FOOTER_SIMP)),
    ("traditional-p", "".join(f"<p>{x}</p>" for x in FOOTER_TRAD)),
    ("fullwidth-colons", _br([x.replace(":", "：") for x in FOOTER_SIMP])),
    ("other-year", _br(FOOTER_SIMP[:-1] + ["上海市律师协会版权所有 ©2017-2026"])),
    ("question-mark-copyright", _br(FOOTER_SIMP[:-1] + ["上海市律师协会版权所有 ?2017-2025"])),
    (
        "fully-traditional-no-pinyin",
        _br(
            [
                "[版權聲明] 滬ICP備17030485號-1",
                "滬公網安備 31010402007129號",
                "技術服務:上海同道信息技術有限公司",
                "技術電話:400-052-9602(9:00-11:30,13:30-17:30)",
                "技術支持郵箱 :12345@homolo.com",
                "上海市律師協會版權所有 ?2017-2024",
            ]
        ),
    ),
    ("inline-spans-one-line", "<p>" + " ".join(f"<span>{x}</span>" for x in FOOTER_SIMP) + "</p>"),
]


@pytest.mark.parametrize("footer_html", [c[1] for c in FOOTER_CASES], ids=[c[0] for c in FOOTER_CASES])
def test_footer_inside_content_wrapper_is_dropped(footer_html):
    # The footer sits inside the same wrapper as the body: only text patterns can tell.
    html = page(body="<p>第一段正文内容。</p><p>第二段正文内容。</p>" + footer_html, footer=[])
    assert parse_article(html, URL)["body"] == "第一段正文内容。\n第二段正文内容。"


FURNITURE_CASES = [
    ("more-link", "<div>常用工具 <a href='#'>[更多]</a></div>"),
    (
        "tools-box",
        "<div><h3>常用工具</h3><ul><li><a href='#'>城市地图查询</a></li>"
        "<li><a href='#'>诉讼费计算器</a></li></ul></div>",
    ),
    ("feedback", "<p><a href='#'>[请点击此处反馈]</a></p>"),
    (
        "committee-links",
        "<table><tr><td><a href='/c/1'>民事业务研究委员会</a></td><td><a href='/c/2'>刑事业务研究委员会</a></td></tr>"
        "<tr><td><a href='/c/3'>公司与商事业务研究委员会</a></td><td><a href='/c/4'>知识产权业务研究委员会</a></td></tr></table>",
    ),
    ("share-bar", "<div>分享到:</div>"),
]


@pytest.mark.parametrize("furniture", [c[1] for c in FURNITURE_CASES], ids=[c[0] for c in FURNITURE_CASES])
def test_furniture_after_body_is_dropped(furniture):
    rec = parse_article(page(after_body=furniture), URL)
    assert rec["body"] == "第一段正文内容。\n第二段正文内容。"


def test_press_reprint_keeps_original_link_as_last_line():
    body = "<p>新民晚报讯 本市律师协会昨日召开会议。</p><p>原文链接:http://xmwb.xinmin.cn/html/2012-09/25/content_1.htm</p>"
    rec = parse_article(page(meta="来源:新民晚报  日期:2012-09-25  作者:张三  阅读:5,539次", body=body), URL)
    assert rec["body"].split("\n") == [
        "新民晚报讯 本市律师协会昨日召开会议。",
        "原文链接:http://xmwb.xinmin.cn/html/2012-09/25/content_1.htm",
    ]


def test_magazine_masthead_is_not_body():
    masthead = "<div><p>《上海律师》编委会</p><p>主任:张某</p><p>副主任:李某 王某</p><p>主编:赵某</p></div>"
    html = page(
        crumb="当前位置: 首页 &gt;&gt; 律师文化 &gt;&gt; 上海律师 &gt;&gt; 2022 &gt;&gt; 2022年第06期",
        channel="2022年第06期",
        title_tag="律师的诚信 - 2022年第06期 - 2022 - 上海律师 - 律师文化 - 东方律师网",
        heading="律师的诚信",
        before_title=masthead,
        meta="2022年第06期  作者:文│某某  阅读 876 次",
        body="<p>诚信是律师执业之本。</p>",
    )
    rec = parse_article(html, URL)
    assert rec["section"] == "律师文化 > 上海律师 > 2022 > 2022年第06期"
    assert rec["title"] == "律师的诚信"
    assert rec["body"] == "诚信是律师执业之本。"
    assert rec["source"] == "《上海律师》2022年第06期"


def test_masthead_after_metadata_is_dropped():
    masthead = "<p>《上海律师》编委会</p><p>主任:张某</p><p>主编:赵某</p>"
    html = page(meta="2022年第06期  作者:文│某某  阅读 876 次", body=masthead + "<p>诚信是律师执业之本。</p>")
    assert parse_article(html, URL)["body"] == "诚信是律师执业之本。"


def test_sponsor_box_before_title_is_not_body():
    box = "<div><p>主办单位:上海市律师协会</p><p>协办单位:某某律师事务所</p><p>支持单位:某某公司</p></div>"
    html = page(before_title=box, meta="信息来源:上海市律师协会  时间:2012-05-17  作者:宣传部")
    rec = parse_article(html, URL)
    assert rec["body"] == "第一段正文内容。\n第二段正文内容。"
    assert rec["title"] == "关于开展2026年度律师业务培训的通知"


def test_seed_article_is_exactly_its_five_paragraphs():
    lines = SEED.read_text(encoding="utf-8").splitlines()
    paras, footer = lines[:5], lines[5:]
    assert len(footer) == 6
    body = "".join(f"<p>\u3000\u3000{p}</p>" for p in paras)
    html = page(
        body=body,
        footer=footer,
        title_tag="寶山區律師行業黨委召開支部書記工作會議 - 律協動態 - 行業資訊 - 東方律師網",
        heading="寶山區律師行業黨委召開支部書記工作會議",
        crumb="當(dāng)前位置: 首頁 &gt;&gt; 行業(yè)資訊 &gt;&gt; 律協動態",
        channel="律協動態",
    )
    rec = parse_article(html, URL)
    assert rec["body"].split("\n") == paras
    assert rec["section"] == "行業(yè)資訊 > 律協動態"
    assert rec["title"] == "寶山區律師行業黨委召開支部書記工作會議"


def test_seed_footer_inside_body_wrapper_and_no_metadata():
    # trafilatura path: no metadata line, no heading, footer as <br> lines in the wrapper.
    lines = SEED.read_text(encoding="utf-8").splitlines()
    paras, footer = lines[:5], lines[5:]
    html = (
        "<html><head><title>寶山區律師行業黨委召開會議 - 東方律師網</title></head><body><div>"
        + "".join(f"<p>{p}</p>" for p in paras)
        + "<p>"
        + "<br>".join(footer)
        + "</p></div></body></html>"
    )
    rec = parse_article(html, URL)
    assert rec["body"].split("\n") == paras
    assert rec["title"] == "寶山區律師行業黨委召開會議"


def test_body_whitespace_collapsed_text_verbatim():
    body = "<p>\u3000\u3000第一段  有\n多余\t空白,ＡＢＣ全角保留。</p><p>第二<b>段</b><br>同段换行。</p>"
    rec = parse_article(page(body=body), URL)
    assert rec["body"] == "第一段 有 多余 空白,ＡＢＣ全角保留。\n第二段\n同段换行。"


def test_short_paragraphs_and_signature_are_kept():
    body = (
        "<p>各会员单位:</p><p>现将有关事项通知如下。</p><p>特此通知。</p>"
        "<p style='text-align:right'>上海市律师协会</p><p style='text-align:right'>2026年1月23日</p>"
    )
    rec = parse_article(page(body=body), URL)
    assert rec["body"].split("\n") == [
        "各会员单位:",
        "现将有关事项通知如下。",
        "特此通知。",
        "上海市律师协会",
        "2026年1月23日",
    ]
    assert rec["published"] == "2026-01-23"


# --------------------------------------------------------------------------- breadcrumb / section

CRUMB_CASES = [
    (
        "ascii-colon",
        "当前位置: <a>首页</a> &gt;&gt; <a>行业资讯</a> &gt;&gt; <a>律协动态</a>",
        "律协动态",
        "行业资讯 > 律协动态",
    ),
    (
        "fullwidth-colon",
        "当前位置：<a>首页</a> &gt;&gt; <a>行业资讯</a> &gt;&gt; <a>律协动态</a>",
        "律协动态",
        "行业资讯 > 律协动态",
    ),
    (
        "three-levels",
        "当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 业内动态 &gt;&gt; 媒体报道",
        "媒体报道",
        "行业资讯 > 业内动态 > 媒体报道",
    ),
    ("single-gt", "当前位置:首页 &gt; 业务研究大厅 &gt; 业务指引", "业务指引", "业务研究大厅 > 业务指引"),
    (
        "li-crumbs",
        "<ul><li>当前位置:</li><li><a>首页</a></li><li>&gt;&gt;</li><li><a>业务研究</a></li>"
        "<li>&gt;&gt;</li><li><a>案例评析</a></li></ul>",
        "案例评析",
        "业务研究 > 案例评析",
    ),
    (
        "heading-inline",
        "当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 律协动态 <span>律协动态</span>",
        None,
        "行业资讯 > 律协动态",
    ),
    ("only-home", "当前位置: 首页", None, None),
    ("none", None, None, None),
    (
        "traditional-pinyin",
        "當(dāng)前位置: 首頁 &gt;&gt; 行業(yè)資訊 &gt;&gt; 律協動態",
        "律協動態",
        "行業(yè)資訊 > 律協動態",
    ),
]


@pytest.mark.parametrize("crumb,channel,section", [c[1:] for c in CRUMB_CASES], ids=[c[0] for c in CRUMB_CASES])
def test_breadcrumb_section(crumb, channel, section):
    rec = parse_article(page(crumb=crumb, channel=channel), URL)
    assert rec["section"] == section
    assert rec["body"] == "第一段正文内容。\n第二段正文内容。"


# --------------------------------------------------------------------------- title

TITLE_CASES = [
    # (id, <title>, breadcrumb html, heading, expected title)
    (
        "chain-with-crumbs",
        "律师办理建设工程案件业务指引 - 业务指引 - 业务研究大厅 - 东方律师网",
        "当前位置: 首页 &gt;&gt; 业务研究大厅 &gt;&gt; 业务指引",
        "律师办理建设工程案件业务指引",
        "律师办理建设工程案件业务指引",
    ),
    (
        "chain-no-heading",
        "律师办理建设工程案件业务指引 - 业务指引 - 业务研究大厅 - 东方律师网",
        "当前位置: 首页 &gt;&gt; 业务研究大厅 &gt;&gt; 业务指引",
        None,
        "律师办理建设工程案件业务指引",
    ),
    (
        "chain-no-breadcrumb-no-heading",
        "律师办理建设工程案件业务指引 - 业务指引 - 业务研究大厅 - 东方律师网",
        None,
        None,
        "律师办理建设工程案件业务指引",
    ),
    (
        "title-contains-separator",
        "上海律协 - 长三角律师论坛在沪举行 - 律协动态 - 行业资讯 - 东方律师网",
        "当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 律协动态",
        None,
        "上海律协 - 长三角律师论坛在沪举行",
    ),
    (
        "title-contains-separator-heading-no-crumbs",
        "上海律协 - 长三角律师论坛在沪举行 - 律协动态 - 行业资讯 - 东方律师网",
        None,
        "上海律协 - 长三角律师论坛在沪举行",
        "上海律协 - 长三角律师论坛在沪举行",
    ),
    (
        "truncated-title-tag",
        "关于开展2026年度律师业务培训... - 律协动态 - 行业资讯 - 东方律师网",
        "当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 律协动态",
        "关于开展2026年度律师业务培训的通知",
        "关于开展2026年度律师业务培训的通知",
    ),
    (
        "no-title-tag",
        None,
        "当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 律协动态",
        "关于开展律师业务培训的通知",
        "关于开展律师业务培训的通知",
    ),
    (
        "site-name-only",
        "东方律师网",
        "当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 律协动态",
        "关于开展律师业务培训的通知",
        "关于开展律师业务培训的通知",
    ),
    (
        "traditional-site-name",
        "寶山區律工委召開會議 - 律協動態 - 行業資訊 - 東方律師網",
        "當前位置: 首頁 &gt;&gt; 行業資訊 &gt;&gt; 律協動態",
        None,
        "寶山區律工委召開會議",
    ),
    (
        "title-starts-like-channel",
        "律协动态:2025年度回顾 - 律协动态 - 行业资讯 - 东方律师网",
        "当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 律协动态",
        "律协动态:2025年度回顾",
        "律协动态:2025年度回顾",
    ),
]


@pytest.mark.parametrize(
    "title_tag,crumb,heading,expected", [c[1:] for c in TITLE_CASES], ids=[c[0] for c in TITLE_CASES]
)
def test_title(title_tag, crumb, heading, expected):
    rec = parse_article(page(title_tag=title_tag, crumb=crumb, heading=heading), URL)
    assert rec["title"] == expected
    assert rec["body"] == "第一段正文内容。\n第二段正文内容。"


# --------------------------------------------------------------------------- attachments / urls

ATTACH_CASES = [
    (
        "relative-view",
        URL,
        '<a href="/service/rest/tk.File/9f8e7d6c/view">附件1.docx</a>',
        ["https://www.lawyers.org.cn/service/rest/tk.File/9f8e7d6c/view"],
    ),
    (
        "fetched-from-wx-host",
        f"http://wx.lawyers.org.cn/info/{AID}",
        '<a href="/service/rest/tk.File/9f8e7d6c/view">附件</a>',
        ["https://www.lawyers.org.cn/service/rest/tk.File/9f8e7d6c/view"],
    ),
    (
        "fetched-from-fixture-host",
        f"http://127.0.0.1:8765/info/{AID}",
        '<a href="service/rest/tk.File/ab/view">附件</a>',
        [],
    ),  # relative to /info/ -> /info/service/... is not an attachment path
    (
        "byfiles",
        URL,
        '<a href="https://byfiles.storage.lawyers.org.cn/file/?action=download&amp;fileId=abc123">下载</a>',
        ["https://byfiles.storage.lawyers.org.cn/file/?action=download&fileId=abc123"],
    ),
    (
        "order-and-dedupe",
        URL,
        '<a href="/service/rest/tk.File/bb/view">二</a><a href="//byfiles.storage.lawyers.org.cn/file/?action=download&amp;fileId=cc">三</a>'
        '<a href="/service/rest/tk.File/bb/view">二again</a>',
        [
            "https://www.lawyers.org.cn/service/rest/tk.File/bb/view",
            "https://byfiles.storage.lawyers.org.cn/file/?action=download&fileId=cc",
        ],
    ),
    ("foreign-host", URL, '<a href="http://www.zjbar.com/service/rest/tk.File/aa/view">浙江</a>', []),
    ("none", URL, '<a href="/info/ffffffffffffffffffffffffffffffff">另一篇</a>', []),
]


@pytest.mark.parametrize("url,links,expected", [c[1:] for c in ATTACH_CASES], ids=[c[0] for c in ATTACH_CASES])
def test_attachments(url, links, expected):
    rec = parse_article(page(body=f"<p>第一段正文内容。</p><p>{links}</p>"), url)
    assert rec["attachments"] == expected
    assert rec["url"] == CANON and rec["id"] == AID


def test_attachment_list_is_not_taken_for_navigation():
    links = "".join(f'<p><a href="/service/rest/tk.File/a{i}/view">附件{i}.pdf</a></p>' for i in range(4))
    rec = parse_article(page(body="<p>详见附件。</p>" + links), URL)
    assert rec["body"].split("\n") == ["详见附件。", "附件0.pdf", "附件1.pdf", "附件2.pdf", "附件3.pdf"]
    assert len(rec["attachments"]) == 4


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.lawyers.org.cn/info/{AID}",
        f"http://www.lawyers.org.cn/info/{AID}",
        f"https://wx.lawyers.org.cn/info/{AID}",
        f"http://info.lawyers.org.cn/info/{AID}/",
        f"http://127.0.0.1:8000/info/{AID}",
    ],
)
def test_canonical_url_whatever_the_host(url):
    rec = parse_article(page(), url)
    assert (rec["id"], rec["url"]) == (AID, CANON)


# --------------------------------------------------------------------------- errors / robustness


@pytest.mark.parametrize(
    "html",
    [
        "",
        b"",
        "   \n ",
        "<html></html>",
        "<html><head></head><body></body></html>",
        "<html><body><script>var a=1;</script></body></html>",
        b"\x00\x01\x02",
    ],
)
def test_not_an_article_raises_parse_error(html):
    with pytest.raises(ParseError):
        parse_article(html, URL)


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>404 - 东方律师网</title></head><body><h1>404</h1><p>您访问的页面不存在或已被删除。</p></body></html>",
        "<html><head><title>东方律师网</title></head><body><p>对不起,找不到该页面</p></body></html>",
    ],
)
def test_soft_404_page_raises_parse_error(html):
    with pytest.raises(ParseError, match="error page"):
        parse_article(html, URL)


def test_parse_error_names_what_is_missing():
    with pytest.raises(ParseError, match="title"):
        parse_article("<html><body><div></div></body></html>", URL)


def test_non_article_url_raises():
    with pytest.raises(ParseError, match="/info/"):
        parse_article(page(), "https://www.lawyers.org.cn/studies/businessguide")


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><div><p>未闭合<div>第二<span>块</p></div>",
        "<p>孤立段落",
        "<?xml version='1.0' encoding='gbk'?><html><body><h1>标题</h1><p>正文。</p></body></html>",
        "<html><body>" + "<div>" * 3000 + "深层正文。" + "</div>" * 3000 + "</body></html>",
        "<html><head><title>仅有标题 - 东方律师网</title></head><body></body></html>",
        "<!DOCTYPE html><html><body><table><tr><td>日期:2026-13-45</td></tr></table><p>正文。</p></body></html>",
        bytes(range(256)) * 4,
    ],
)
def test_malformed_input_never_crashes(html):
    try:
        rec = parse_article(html, URL)
    except ParseError:
        return
    assert tuple(rec) == RECORD_KEYS
    assert isinstance(rec["body"], str)


def test_unclosed_tags_still_parse():
    html = "<html><head><title>未闭合标签 - 东方律师网</title><body><h1>未闭合标签<div>日期:2026-01-23 作者:办公室<p>第一段<p>第二段"
    rec = parse_article(html, URL)
    assert (rec["title"], rec["published"], rec["body"]) == ("未闭合标签", "2026-01-23", "第一段\n第二段")


def test_parser_logs_nothing(caplog):
    caplog.set_level(logging.DEBUG)
    html = "<html><head><title>只有导航 - 东方律师网</title></head><body><div><p>短。</p></div></body></html>"
    parse_article(html, URL)
    parse_article(page(meta=None, crumb=None, heading=None), URL)
    assert caplog.records == []


# --------------------------------------------------------------------------- decoding


def _gb_page(meta_tag: str, enc: str = "gb18030") -> bytes:
    html = (
        f"<html><head>{meta_tag}<title>律师业务培训通知 - 东方律师网</title></head><body>"
        "<h1>律师业务培训通知</h1><div>日期:2026-01-23 作者:办公室</div><p>正文第一段,含生僻字𠀀。</p></body></html>"
    )
    return html.encode(enc)


DECODE_CASES = [
    ("meta-charset-gb2312", _gb_page('<meta charset="gb2312">'), None),
    ("meta-charset-gbk", _gb_page('<meta charset="GBK">'), None),
    ("meta-http-equiv-gb2312", _gb_page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'), None),
    ("http-header-wins", _gb_page('<meta charset="utf-8">'), "text/html; charset=GBK"),
    ("utf8-default", _gb_page("", "utf-8"), None),
    ("utf8-header", _gb_page('<meta charset="gb2312">', "utf-8"), "text/html; charset=utf-8"),
]


@pytest.mark.parametrize("data,ctype", [c[1:] for c in DECODE_CASES], ids=[c[0] for c in DECODE_CASES])
def test_decode_html(data, ctype):
    text = decode_html(data, ctype)
    assert "正文第一段,含生僻字𠀀。" in text


def test_parse_article_bytes_gb18030_declared_in_meta_only():
    rec = parse_article(_gb_page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'), URL)
    assert (rec["title"], rec["published"], rec["body"]) == (
        "律师业务培训通知",
        "2026-01-23",
        "正文第一段,含生僻字𠀀。",
    )


# --------------------------------------------------------------------------- rules config


def test_rules_from_mapping_extra_drop_pattern():
    rules = ParseRules.from_mapping({"extra_drop_patterns": [r"^责任编辑[:：]"]})
    body = "<p>第一段正文内容。</p><p>责任编辑:某某</p>"
    assert parse_article(page(body=body), URL)["body"] == "第一段正文内容。\n责任编辑:某某"
    assert parse_article(page(body=body), URL, rules)["body"] == "第一段正文内容。"
    assert rules.footer_patterns == DEFAULT_RULES.footer_patterns


def test_rules_from_mapping_content_xpath():
    rules = ParseRules.from_mapping({"content_xpath": "//div[@id='article-body']"})
    html = page(
        meta=None,
        heading=None,
        title_tag="通知 - 东方律师网",
        body="<div id='article-body'><p>唯一正文。</p></div>",
        after_body="<p>正文外的文字。</p>",
    )
    assert parse_article(html, URL, rules)["body"] == "唯一正文。"


def test_rules_from_mapping_overrides_and_extends():
    rules = ParseRules.from_mapping(
        {"site_name": "东方律师", "extra_footer_patterns": ["^新页脚"], "min_body_chars": 3, "use_trafilatura": False}
    )
    assert rules.site_name == "东方律师"
    assert (
        rules.footer_patterns[-1] == "^新页脚" and len(rules.footer_patterns) == len(DEFAULT_RULES.footer_patterns) + 1
    )
    assert rules.min_body_chars == 3 and rules.use_trafilatura is False


@pytest.mark.parametrize(
    "mapping,bad",
    [
        ({"no_such_key": 1}, "no_such_key"),
        ({"extra_drop_patterns": ["("]}, "extra_drop_patterns"),
        ({"extra_drop_patterns": "^x"}, "extra_drop_patterns"),
        ({"extra_footer_patterns": ["[unclosed"]}, "extra_footer_patterns"),
        ({"footer_patterns": ["ok", "(?P<"]}, "footer_patterns"),
        ({"nav_tokens": "首页"}, "nav_tokens"),
        ({"issue_pattern": "第(期"}, "issue_pattern"),
        ({"content_xpath": "//div[@"}, "content_xpath"),
        ({"min_body_chars": "ten"}, "min_body_chars"),
        ({"use_trafilatura": "yes"}, "use_trafilatura"),
        ({"title_separator": 5}, "title_separator"),
        ({"date_labels": []}, "date_labels"),
    ],
)
def test_rules_from_mapping_rejects_bad_keys(mapping, bad):
    with pytest.raises(ValueError, match=bad):
        ParseRules.from_mapping(mapping)


# --------------------------------------------------------------------------- lists

ID1, ID2, ID3, ID4 = ("1" * 32, "2" * 32, "3" * 32, "4" * 32)


def test_parse_list_rows_dates_categories_hosts_and_dedup():
    html = f"""<html><body>
    <div class="nav"><a href="/">首页</a><a href="/studies/businessguide">业务指引</a>
      <a href="https://credit.lawyers.org.cn/info/{ID4}">信用</a></div>
    <ul>
      <li><span>2026-01-23</span> <span>[律协动态]</span> <a href="/info/{ID1}">关于开展律师培训的通知</a></li>
      <li><span>2025-12-01</span> [业务指引] <a href="https://wx.lawyers.org.cn/info/{ID2}">律师办理建设工程业务指引</a></li>
      <li>2025-11-30 [案例评析] <a href="http://info.lawyers.org.cn/info/{ID3}" title="一个很长很长的完整标题">一个很长很长...</a></li>
      <li>2025-11-29 [律协动态] <a href="http://www.zjbar.com/info/{ID4}">浙江律协的文章</a></li>
      <li>2025-11-28 <a href="/service/rest/tk.File/abc/view">附件</a></li>
      <li>2026-01-23 [律协动态] <a href="/info/{ID1}/">关于开展律师培训的通知(重复)</a></li>
    </ul>
    <div>上海市律师协会版权所有 ©2017-2024</div></body></html>"""
    rows = parse_list(html, "https://www.lawyers.org.cn/studies/businessguide?currentPageNo=1")
    assert rows == [
        {
            "id": ID1,
            "url": f"https://www.lawyers.org.cn/info/{ID1}",
            "title": "关于开展律师培训的通知",
            "date": "2026-01-23",
            "category": "律协动态",
        },
        {
            "id": ID2,
            "url": f"https://www.lawyers.org.cn/info/{ID2}",
            "title": "律师办理建设工程业务指引",
            "date": "2025-12-01",
            "category": "业务指引",
        },
        {
            "id": ID3,
            "url": f"https://www.lawyers.org.cn/info/{ID3}",
            "title": "一个很长很长的完整标题",
            "date": "2025-11-30",
            "category": "案例评析",
        },
    ]


def test_parse_list_table_rows_and_whole_row_links():
    html = f"""<table>
      <tr><td><a href="/info/{ID1}">标题一</a></td><td>[律协动态]</td><td>2026-01-02</td></tr>
      <tr><td colspan=3><a href="/info/{ID2}">2026-01-01 [业务指引] 标题二</a></td></tr>
      <tr><td><a href="/info/{ID3}">标题三</a></td></tr></table>"""
    rows = parse_list(html, "https://www.lawyers.org.cn/studies/businessguide")
    assert [(r["id"], r["title"], r["date"], r["category"]) for r in rows] == [
        (ID1, "标题一", "2026-01-02", "律协动态"),
        (ID2, "标题二", "2026-01-01", "业务指引"),
        (ID3, "标题三", None, None),
    ]


def test_parse_list_extra_hosts_and_relative_links_on_fixture_host():
    html = f"""<ul><li>2026-01-23 [律协动态] <a href="/info/{ID1}">一</a></li>
      <li>2026-01-22 [律协动态] <a href="http://127.0.0.1:8765/info/{ID2}">二</a></li>
      <li>2026-01-21 [律协动态] <a href="http://127.0.0.1:9999/info/{ID3}">三</a></li></ul>"""
    rows = parse_list(
        html, "http://127.0.0.1:8765/studies/businessguide?currentPageNo=2", extra_hosts=frozenset({"127.0.0.1:8765"})
    )
    assert [(r["id"], r["url"]) for r in rows] == [
        (ID1, f"https://www.lawyers.org.cn/info/{ID1}"),
        (ID2, f"https://www.lawyers.org.cn/info/{ID2}"),
    ]


def test_parse_list_image_link_then_text_link_merge():
    html = f"""<ul><li><a href="/info/{ID1}"><img src="x.jpg"></a> 2026-01-23 [律协动态] <a href="/info/{ID1}">标题</a></li></ul>"""
    rows = parse_list(html, "https://www.lawyers.org.cn/x")
    assert rows == [
        {
            "id": ID1,
            "url": f"https://www.lawyers.org.cn/info/{ID1}",
            "title": "标题",
            "date": "2026-01-23",
            "category": "律协动态",
        }
    ]


def test_parse_list_side_box_more_link_is_not_a_category():
    html = f"""<div><div>通知公告 <a href="/catalog/x">[更多]</a></div><ul><li><a href="/info/{ID1}">关于会费的公告</a></li></ul></div>"""
    assert parse_list(html, "https://www.lawyers.org.cn/x") == [
        {
            "id": ID1,
            "url": f"https://www.lawyers.org.cn/info/{ID1}",
            "title": "关于会费的公告",
            "date": None,
            "category": None,
        }
    ]


@pytest.mark.parametrize("html", ["", b"", "<html><body><ul></ul></body></html>", "<p>无链接</p>"])
def test_parse_list_empty(html):
    assert parse_list(html, "https://www.lawyers.org.cn/studies/businessguide?currentPageNo=99") == []


def test_parse_list_gb18030_bytes():
    html = f'<html><head><meta charset="gb2312"></head><body><li>2026-01-23 [律协动态] <a href="/info/{ID1}">中文标题</a></li></body></html>'
    rows = parse_list(html.encode("gb18030"), "https://www.lawyers.org.cn/x")
    assert rows[0]["title"] == "中文标题" and rows[0]["category"] == "律协动态"


# --------------------------------------------------------------------------- regions


def test_attachment_links_outside_the_article_are_ignored():
    # The new design's login strip links 会员须知 to a tk.File document.
    strip = (
        "<form><span>执业证号/统一社会信用代码</span><input><span>密码</span><button>登录</button>"
        '<a href="/service/rest/tk.File/00ff/view">会员须知</a></form>'
    )
    side = (
        '<div><div>下载专区</div><ul><li><a href="/service/rest/tk.File/11ee/view">业务指引汇编.pdf</a></li></ul></div>'
    )
    html = page(
        before_title=strip,
        after_body="<div><a href='/feedback'>[请点击此处反馈]</a></div>" + side,
        body='<p>第一段正文内容。</p><p>附件:<a href="/service/rest/tk.File/22dd/view">通知.docx</a></p>',
    )
    rec = parse_article(html, URL)
    assert rec["attachments"] == ["https://www.lawyers.org.cn/service/rest/tk.File/22dd/view"]
    assert rec["body"] == "第一段正文内容。\n附件:通知.docx"


def test_fallback_without_anchor_takes_attachments_outside_chrome():
    html = (
        "<html><head><title>一则通知 - 东方律师网</title></head><body>"
        "<header><a href='/service/rest/tk.File/00ff/view'>会员须知</a></header>"
        "<div><p>现将有关事项通知如下,请各律师事务所认真组织落实。</p>"
        "<p>附件:<a href='/service/rest/tk.File/22dd/view'>通知.docx</a></p></div>"
        "<footer><p>[版权声明] 沪ICP备17030485号-1</p><p>沪公网安备 31010402007129号</p></footer></body></html>"
    )
    rec = parse_article(html, URL)
    assert rec["title"] == "一则通知"
    assert rec["attachments"] == ["https://www.lawyers.org.cn/service/rest/tk.File/22dd/view"]
    assert rec["body"].startswith("现将有关事项通知如下")


def test_title_as_plain_block_without_metadata_anchors_the_body():
    html = (
        "<html><head><title>关于律师年度考核的通知 - 律协动态 - 行业资讯 - 东方律师网</title></head><body>"
        + TOPBAR
        + "<div>当前位置: 首页 &gt;&gt; 行业资讯 &gt;&gt; 律协动态</div>"
        "<div class='t'>关于律师年度考核的通知</div><div><p>各律师事务所:</p><p>考核工作安排如下。</p></div>"
        "<div>" + "<br>".join(FOOTER_SIMP) + "</div></body></html>"
    )
    rec = parse_article(html, URL)
    assert (rec["title"], rec["section"], rec["published"]) == ("关于律师年度考核的通知", "行业资讯 > 律协动态", None)
    assert rec["body"] == "各律师事务所:\n考核工作安排如下。"


def test_issue_in_metadata_list_after_channel_heading_with_same_text():
    html = page(
        crumb="当前位置：首页 &gt;&gt; 律师文化 &gt;&gt; 上海律师 &gt;&gt; 2022 &gt;&gt; 2022年第06期",
        channel="2022年第06期",
        title_tag="法援手记 - 2022年第06期 - 2022 - 上海律师 - 律师文化 - 东方律师网",
        heading="法援手记",
        meta="<ul><li>2022年第06期</li><li>作者：文│林晓</li><li>阅读 1,534 次</li></ul>",
    )
    rec = parse_article(html, URL)
    assert (rec["published"], rec["author"], rec["source"], rec["views"]) == (
        None,
        "林晓",
        "《上海律师》2022年第06期",
        1534,
    )
    assert rec["body"] == "第一段正文内容。\n第二段正文内容。"


def test_content_xpath_holding_header_and_body_skips_the_header():
    rules = ParseRules.from_mapping({"content_xpath": "//div[@id='wrap']"})
    rec = parse_article(page(), URL, rules)
    assert rec["body"] == "第一段正文内容。\n第二段正文内容。"
    assert rec["published"] == "2026-01-23"


def test_heading_with_pinyin_matches_plain_title_chain_with_separator_inside():
    html = page(
        title_tag="寶山區律工委 - 召開會議 - 律協動態 - 行業資訊 - 東方律師網",
        crumb=None,
        channel=None,
        heading="寶山區(qū)律工委 - 召開會(huì)議",
    )
    assert parse_article(html, URL)["title"] == "寶山區(qū)律工委 - 召開會(huì)議"
