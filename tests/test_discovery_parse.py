"""crawler.discovery on handcrafted pages (texts as SITE.md gives them), and the
magazine subtitle / issue keys of crawler.parsing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from crawler.discovery import (
    DEFAULT_DISCOVERY_RULES,
    Candidate,
    Crumb,
    DiscoveryRules,
    Page,
    Pager,
    article_links,
    breadcrumb_links,
    candidate_links,
    classify,
    issue_month,
    learn_pager,
)
from crawler.parsing import DEFAULT_RULES, RECORD_KEYS, parse_article

W = "https://www.lawyers.org.cn"
CAT = f"{W}/catalog/33480a0b2461fffb4698df664908a605"
ID1, ID2, ID3, ID4 = ("1" * 32, "2" * 32, "3" * 32, "4" * 32)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pages" / "base" / "info"


def page(body: str, title: str = "律协动态 - 行业资讯 - 东方律师网") -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>{body}</body></html>'


def rows(*ids: str, dated: bool = True) -> str:
    items = "".join(
        f'<li>{f"<span>2026-01-2{n}</span> " if dated else ""}<a href="/info/{i}">第{n}篇文章的标题</a></li>'
        for n, i in enumerate(ids, 1)
    )
    return f'<ul class="list">{items}</ul>'


# --------------------------------------------------------------------------- breadcrumb


def test_breadcrumb_with_links_ascii_colon():
    html = page(
        '<div>当前位置: <a href="/">首页</a> &gt;&gt; <a href="/catalog/aaa">行业资讯</a> '
        '&gt;&gt; <a href="/catalog/bbb#top">律协动态</a></div><h2>律协动态</h2>'
    )
    assert breadcrumb_links(html, CAT) == [Crumb("行业资讯", f"{W}/catalog/aaa"), Crumb("律协动态", f"{W}/catalog/bbb")]


def test_breadcrumb_full_width_colon_and_crumb_without_link():
    html = page(
        '<p>当前位置：<a href="/">首页</a> › <a href="https://www.lawyers.org.cn/catalog/ccc">业务研究大厅</a>'
        " › 业务指引</p>"
    )
    assert breadcrumb_links(html, f"{W}/studies/businessguide") == [
        Crumb("业务研究大厅", f"{W}/catalog/ccc"),
        Crumb("业务指引", None),
    ]


def test_breadcrumb_without_any_link_and_slash_separator():
    html = page("<div>当前位置: 首页 / 律师文化 / 上海律师</div>")
    assert breadcrumb_links(html, CAT) == [Crumb("律师文化", None), Crumb("上海律师", None)]


def test_breadcrumb_links_that_are_no_candidates_have_no_url():
    html = page(
        '<div>当前位置：<a href="/">首页</a> &gt; <a href="javascript:void(0)">行业资讯</a> &gt; '
        '<a href="https://credit.lawyers.org.cn/x">诚信</a> &gt; <a href="/info/' + ID1 + '">一篇</a></div>'
    )
    assert breadcrumb_links(html, CAT) == [Crumb("行业资讯", None), Crumb("诚信", None), Crumb("一篇", None)]


def test_breadcrumb_traditional_mirror_with_pinyin():
    html = page(
        '<div class="p-loc">當(dāng)前位置: <a href="/">首頁</a> &gt;&gt; '
        '<a href="/catalog/0f8a3196e7d74291b0b895a07f5e28d7">行業(yè)資訊</a> &gt;&gt; '
        '<a href="/catalog/cdad1865c80e8387833682826ffe8152">律協(xié)動(dòng)態(tài)</a></div>'
    )
    assert breadcrumb_links(html, f"{W}/info/{ID1}") == [
        Crumb("行業(yè)資訊", f"{W}/catalog/0f8a3196e7d74291b0b895a07f5e28d7"),
        Crumb("律協(xié)動(dòng)態(tài)", f"{W}/catalog/cdad1865c80e8387833682826ffe8152"),
    ]


def test_breadcrumb_of_a_magazine_article_and_no_breadcrumb():
    html = (FIXTURES / "35573c07b8e528ef3c144bddb3e82231.html").read_text(encoding="utf-8")
    assert breadcrumb_links(html, f"{W}/info/35573c07b8e528ef3c144bddb3e82231") == [
        Crumb("律师文化", f"{W}/catalog/28023aa92fdddd4c4f860a6229ca3515"),
        Crumb("上海律师", f"{W}/catalog/28023aa92fdddd4c4f860a6229ca3515"),
        Crumb("2022", "http://wx.lawyers.org.cn/catalog/a149ee1b01b6e34c4c2af5d291479184"),
        Crumb("2022年第05期", "http://info.lawyers.org.cn/catalog/230a2dd6398cbdfc2636b99673d198df"),
    ]
    assert breadcrumb_links(page("<p>没有面包屑</p>"), CAT) == []
    assert breadcrumb_links("", CAT) == []


# --------------------------------------------------------------------------- candidates

NAV = (
    '<ul class="nav"><li><a href="/">首页</a></li><li><a href="/catalog/n1">协会介绍</a></li>'
    '<li><a href="/catalog/n2">行业党建</a></li><li><a href="/catalog/n3">行业资讯</a></li>'
    '<li><a href="/catalog/n4">业务研究</a></li><li><a href="/catalog/n5">律师文化</a></li></ul>'
    '<div class="sub"><a href="/catalog/s1">律协动态</a><a href="/catalog/s2">通知公告</a>'
    '<a href="/catalog/s3">业内动态</a></div>'
)
TOPBAR = (
    '<div><a href="/apply/internship">申请实习证</a> | <a href="/contribute">网上投稿</a> | '
    '<a href="/catalog/mag">《上海律师》</a> | <a href="/en/">ENGLISH</a> | <a href="/?layout=new">切换新版</a></div>'
)
TABS = (
    '<div class="tabs"><a href="/catalog/t1">研究动态</a><a href="/catalog/t2">专业委通知</a>'
    '<a href="/catalog/t3">案例评析</a><a href="/catalog/t4">法讯</a><a href="/catalog/t5">律师文库</a></div>'
)
SIDE = (
    '<div class="box"><div class="hd">通知公告<a href="/catalog/more1">[更多]</a></div><ul><li>公告一</li></ul></div>'
    '<div class="box"><div class="hd">研究成果<a href="/catalog/more2">更多&gt;&gt;</a></div></div>'
    '<p><a href="/catalog/more3">查看更多</a> <a href="/catalog/more4">More »</a></p>'
    '<div class="tools"><div>常用工具</div><ul><li><a href="/tools/1">城市地图查询</a></li>'
    '<li><a href="/tools/2">诉讼费计算器</a></li><li><a href="/tools/3">律师费计算器</a></li></ul></div>'
    '<div class="fb"><a href="/feedback">[请点击此处反馈]</a></div>'
)
FOREIGN = (
    '<div class="links"><a href="https://credit.lawyers.org.cn/lawyer/search">律师诚信信息公示平台</a>'
    '<a href="https://oa.lawyers.org.cn/">协会办公平台</a><a href="https://recruitment.lawyers.org.cn/">律师人才招聘</a>'
    '<a href="https://passport3.lawyers.org.cn/login">登录入口</a><a href="http://www.zjbar.com/catalog/x">浙江律协</a>'
    '<a href="/service/rest/tk.File/c4a034721703e7142ebac587e057ed9a/view">会员手册</a>'
    '<a href="https://byfiles.storage.lawyers.org.cn/file/?action=download&amp;fileId=ab12">下载附件</a>'
    '<a href="/static/doc/a.pdf">汇编文件</a><a href="javascript:;">个人会员</a>'
    '<a href="mailto:a@b.cn">联系我们</a><a href="#top">返回顶部</a></div>'
)


def test_candidates_nav_tabs_more_breadcrumb_pager_in_page_order():
    html = page(
        TOPBAR
        + NAV
        + '<div>当前位置：<a href="/">首页</a> &gt;&gt; <a href="/catalog/r1">业务研究大厅</a> &gt;&gt; 专业论文</div>'
        + TABS
        + rows(ID1, ID2, ID3)
        + '<div class="pg">共9条 第1/3页 <a href="?pageNumber=2">下一页</a> <a href="?pageNumber=3">尾页</a></div>'
        + SIDE
        + FOREIGN
    )
    got = candidate_links(html, CAT)
    assert got == [
        Candidate(f"{W}/catalog/mag", "《上海律师》", "nav"),
        Candidate(f"{W}/catalog/n1", "协会介绍", "nav"),
        Candidate(f"{W}/catalog/n2", "行业党建", "nav"),
        Candidate(f"{W}/catalog/n3", "行业资讯", "nav"),
        Candidate(f"{W}/catalog/n4", "业务研究", "nav"),
        Candidate(f"{W}/catalog/n5", "律师文化", "nav"),
        Candidate(f"{W}/catalog/s1", "律协动态", "nav"),
        Candidate(f"{W}/catalog/s2", "通知公告", "nav"),
        Candidate(f"{W}/catalog/s3", "业内动态", "nav"),
        Candidate(f"{W}/catalog/r1", "业务研究大厅", "breadcrumb"),
        Candidate(f"{W}/catalog/t1", "研究动态", "tab"),
        Candidate(f"{W}/catalog/t2", "专业委通知", "tab"),
        Candidate(f"{W}/catalog/t3", "案例评析", "tab"),
        Candidate(f"{W}/catalog/t4", "法讯", "tab"),
        Candidate(f"{W}/catalog/t5", "律师文库", "tab"),
        Candidate(f"{CAT}?pageNumber=2", "下一页", "pager"),
        Candidate(f"{CAT}?pageNumber=3", "尾页", "pager"),
        Candidate(f"{W}/catalog/more1", "[更多]", "more"),
        Candidate(f"{W}/catalog/more2", "更多>>", "more"),
        Candidate(f"{W}/catalog/more3", "查看更多", "more"),
        Candidate(f"{W}/catalog/more4", "More »", "more"),
    ]


def test_candidates_never_foreign_hosts_articles_attachments_scripts():
    html = page(FOREIGN + rows(ID1, ID2) + f'<p><a href="http://wx.lawyers.org.cn/info/{ID3}">wx</a></p>')
    assert candidate_links(html, CAT) == []


def test_candidates_are_deduplicated_and_without_fragment():
    html = page(
        '<div><a href="/catalog/a#x">律协动态</a><a href="/catalog/b">通知公告</a>'
        '<a href="/catalog/c">业内动态</a></div><p><a href="/catalog/a">[更多]</a></p>'
    )
    assert [(c.url, c.how) for c in candidate_links(html, CAT)] == [
        (f"{W}/catalog/a", "nav"),
        (f"{W}/catalog/b", "nav"),
        (f"{W}/catalog/c", "nav"),
    ]


def test_site_hosts_other_than_www_are_candidates():
    html = page(
        '<div><a href="http://wx.lawyers.org.cn/catalog/a">律协动态</a>'
        '<a href="https://info.lawyers.org.cn/catalog/b">通知公告</a>'
        '<a href="http://lawyers.org.cn/catalog/c">业内动态</a></div>'
    )
    assert [c.url for c in candidate_links(html, CAT)] == [
        "http://wx.lawyers.org.cn/catalog/a",
        "https://info.lawyers.org.cn/catalog/b",
        "http://lawyers.org.cn/catalog/c",
    ]


def test_extra_hosts_honoured():
    local = "http://127.0.0.1:8000/catalog/abc"
    html = page(
        '<div><a href="/catalog/a">律协动态</a><a href="http://127.0.0.1:8000/catalog/b">通知公告</a>'
        '<a href="http://127.0.0.1:9999/catalog/c">业内动态</a><a href="https://www.lawyers.org.cn/catalog/d">区律工委</a>'
        "</div>"
    )
    assert [c.url for c in candidate_links(html, local, extra_hosts=frozenset({"127.0.0.1:8000"}))] == [
        "http://127.0.0.1:8000/catalog/a",
        "http://127.0.0.1:8000/catalog/b",
        f"{W}/catalog/d",
    ]
    # without it the fixture host is a foreign host
    assert [c.url for c in candidate_links(html, local)] == [f"{W}/catalog/d"]


def test_a_block_of_long_links_is_no_navigation():
    html = page(
        '<div><a href="/catalog/a">关于开展2026年度律师事务所和律师执业年度考核工作的通知</a>'
        '<a href="/catalog/b">上海市律师协会召开2026年度全市律师行业工作会议</a>'
        '<a href="/catalog/c">松江区律工委举办2025年青年律师执业能力提升培训班</a></div>'
        '<p>正文里有一个链接 <a href="/catalog/d">律协动态</a>，不是导航。</p>'
    )
    assert candidate_links(html, CAT) == []


def test_nav_needs_three_short_links_and_mostly_link_text():
    two = page('<div><a href="/catalog/a">律协动态</a><a href="/catalog/b">通知公告</a></div>')
    prose = page(
        '<p>请见<a href="/catalog/a">律协动态</a>、<a href="/catalog/b">通知公告</a>和'
        '<a href="/catalog/c">业内动态</a>三个栏目，本会每月更新这些栏目的内容，欢迎会员律师随时查阅。</p>'
    )
    assert candidate_links(two, CAT) == []
    assert candidate_links(prose, CAT) == []
    looser = DiscoveryRules(nav_min_links=2)
    assert [c.how for c in candidate_links(two, CAT, rules=looser)] == ["nav", "nav"]


# --------------------------------------------------------------------------- article links


def test_article_links_anywhere_deduplicated_in_page_order():
    html = page(
        f'<div class="hl"><a href="http://wx.lawyers.org.cn/info/{ID2}">头条</a></div>'
        + rows(ID1, ID2, ID3)
        + f'<aside><a href="https://info.lawyers.org.cn/info/{ID4}/">相关</a>'
        f'<a href="http://www.zjbar.com/info/{"5" * 32}">浙江</a><a href="/info/{ID1}#c">再次</a>'
        f'<a href="/info/notanid">坏</a></aside>'
    )
    assert article_links(html, CAT) == [ID2, ID1, ID3, ID4]
    local = "http://127.0.0.1:8000/catalog/x"
    html2 = page(f'<a href="/info/{ID1}">一</a><a href="http://127.0.0.1:9/info/{ID2}">二</a>')
    assert article_links(html2, local, frozenset({"127.0.0.1:8000"})) == [ID1]
    assert article_links(html2, local) == []


# --------------------------------------------------------------------------- classify


def test_classify_dated_list():
    html = page(rows(ID1, ID2, ID3))
    got = classify(html, CAT)
    assert got.kind == "list"
    assert [(r["id"], r["date"]) for r in got.rows] == [(ID1, "2026-01-21"), (ID2, "2026-01-22"), (ID3, "2026-01-23")]
    assert (got.pager, got.js_pager, got.sublists) == (None, False, [])


def test_classify_issue_table_of_contents_without_dates_is_a_list():
    html = page(
        '<div>当前位置：首页 &gt;&gt; 律师文化 &gt;&gt; 上海律师 &gt;&gt; <a href="/catalog/y2022">2022</a>'
        " &gt;&gt; 2022年第06期</div>" + rows(ID1, ID2, ID3, dated=False)
    )
    got = classify(html, f"{W}/catalog/issue0606")
    assert got.kind == "list"
    assert [r["date"] for r in got.rows] == [None, None, None]
    assert got.sublists == [Candidate(f"{W}/catalog/y2022", "2022", "hub")]


def test_classify_magazine_year_page_is_a_hub():
    issues = "".join(
        f'<li><a href="/catalog/issue{n:02d}"><img src="/c{n}.jpg">2022年第{n:02d}期</a></li>' for n in (6, 5, 4)
    )
    html = page(
        '<div>当前位置：首页 &gt;&gt; 律师文化 &gt;&gt; <a href="/catalog/mag">上海律师</a> &gt;&gt; 2022</div>'
        f"<ul>{issues}</ul>"
    )
    got = classify(html, f"{W}/catalog/y2022")
    assert got == Page(
        "hub",
        [],
        None,
        False,
        [
            Candidate(f"{W}/catalog/issue06", "2022年第06期", "hub"),
            Candidate(f"{W}/catalog/issue05", "2022年第05期", "hub"),
            Candidate(f"{W}/catalog/issue04", "2022年第04期", "hub"),
        ],
    )


def test_classify_year_index_is_a_hub_and_its_years_are_no_pager():
    html = page(
        '<div class="years"><a href="/catalog/y2022">2022</a> <a href="/catalog/y2021">2021</a> '
        '<a href="/catalog/y2020">2020年</a></div>' + rows(ID1)
    )
    got = classify(html, f"{W}/catalog/mag")
    assert (got.kind, got.pager, got.js_pager) == ("hub", None, False)
    assert [(c.url, c.text) for c in got.sublists] == [
        (f"{W}/catalog/y2022", "2022"),
        (f"{W}/catalog/y2021", "2021"),
        (f"{W}/catalog/y2020", "2020年"),
    ]
    assert [r["id"] for r in got.rows] == [ID1]


def test_classify_javascript_app_and_login_page_are_other():
    app = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>东方律师网</title></head><body>'
        "<noscript><strong>请开启浏览器的JavaScript功能后访问东方律师网。</strong></noscript>"
        '<div id="app"></div><script src="/static/js/app.4be07a93.js"></script></body></html>'
    )
    login = page(
        '<form action="https://passport3.lawyers.org.cn/login" method="post">执业证号/统一社会信用代码'
        '<input name="account"> 密码<input type="password" name="pwd"><button>登录</button>'
        '<a href="https://passport3.lawyers.org.cn/forget">忘记密码</a>'
        '<a href="/service/rest/tk.File/c4a034721703e7142ebac587e057ed9a/view">会员须知</a></form>',
        title="会员登录 - 东方律师网",
    )
    assert classify(app, f"{W}/") == Page("other", [], None, False, [])
    assert classify(login, f"{W}/login") == Page("other", [], None, False, [])
    assert classify("", f"{W}/x") == Page("other", [], None, False, [])


def test_classify_article_page_is_other_whatever_it_links():
    html = page(rows(ID2, ID3, ID4))
    assert classify(html, f"{W}/info/{ID1}").kind == "other"


def test_classify_short_last_page_with_pager_is_a_list_and_empty_page_is_not():
    pager = '<div class="pg"><a href="?pageNumber=1">首页</a> <a href="?pageNumber=2">上一页</a></div>'
    last = classify(page(rows(ID1) + pager), f"{CAT}?pageNumber=3")
    assert (last.kind, last.pager) == ("list", Pager(f"{CAT}?pageNumber={{page}}", 1, 3))
    empty = classify(page(pager), f"{CAT}?pageNumber=4")
    assert (empty.kind, len(empty.rows)) == ("other", 0)
    # min_rows is a rule
    assert classify(page(rows(ID1, ID2)), CAT).kind == "other"
    assert classify(page(rows(ID1, ID2)), CAT, rules=DiscoveryRules(min_rows=2)).kind == "list"


# --------------------------------------------------------------------------- pager


def _pager(links: str, url: str, extra=frozenset()):
    got = classify(page(rows(ID1, ID2, ID3) + f'<div class="pg">{links}</div>'), url, extra)
    assert got.kind == "list"
    return got.pager, got.js_pager


def test_pager_page_number_from_first_page_without_parameter():
    assert _pager('<a href="?pageNumber=2">下一页</a>', CAT) == (Pager(f"{CAT}?pageNumber={{page}}", 1, 1), False)


def test_pager_current_page_no_zero_based_next():
    url = f"{W}/studies/businessguide"
    assert _pager('<a href="?currentPageNo=1">下一页</a>', url) == (Pager(f"{url}?currentPageNo={{page}}", 0, 0), False)


def test_pager_current_page_no_page_one_to_two():
    url = f"{W}/studies/businessguide"
    assert _pager('<a href="?currentPageNo=2">下一页</a>', f"{url}?currentPageNo=1") == (
        Pager(f"{url}?currentPageNo={{page}}", 1, 1),
        False,
    )


def test_pager_current_page_no_zero_is_page_one():
    url = f"{W}/studies/businessguide"
    assert _pager(
        '<a href="?currentPageNo=2">下一页</a> <a href="?currentPageNo=9">尾页</a>', f"{url}?currentPageNo=0"
    ) == (Pager(f"{url}?currentPageNo={{page}}", 1, 1), False)
    # numbered links that show page 1 as 1 say the same
    assert _pager('<a href="?currentPageNo=1">1</a> <a href="?currentPageNo=2">2</a>', f"{url}?currentPageNo=0") == (
        Pager(f"{url}?currentPageNo={{page}}", 1, 1),
        False,
    )


def test_pager_next_link_on_page_two():
    links = (
        '<a href="?pageNumber=1">首页</a> <a href="?pageNumber=1">上一页</a> '
        '<a href="?pageNumber=3">下一页</a> <a href="?pageNumber=7">尾页</a>'
    )
    assert _pager(links, f"{CAT}?pageNumber=2") == (Pager(f"{CAT}?pageNumber={{page}}", 1, 2), False)


def test_pager_other_parameters_kept_and_braces_escaped():
    url = f"{W}/list?catalogId=abc&f={{x}}"
    pager, _ = _pager('<a href="/list?catalogId=abc&amp;f={x}&amp;pageNumber=2">下一页 &gt;</a>', url)
    assert pager == Pager(f"{W}/list?catalogId=abc&f={{{{x}}}}&pageNumber={{page}}", 1, 1)
    assert pager.template.format(page=2) == f"{W}/list?catalogId=abc&f={{x}}&pageNumber=2"


def test_pager_path_segment_list_n_html():
    url = f"{W}/news/list-1.html"
    pager, _ = _pager('<a href="list-2.html">下一页</a> <a href="list-5.html">尾页</a>', url)
    assert pager == Pager(f"{W}/news/list-{{page}}.html", 1, 1)
    assert pager.template.format(page=2) == f"{W}/news/list-2.html"


def test_pager_index_html_then_index_2_html():
    url = f"{W}/news/index.html"
    pager, _ = _pager(
        '<a href="index_2.html">下一页</a> <a href="index_2.html">2</a> <a href="index_3.html">3</a>', url
    )
    assert pager == Pager(f"{W}/news/index_{{page}}.html", 2, 1, first_url=url)


def test_pager_index_n_html_with_first_page_link():
    links = '<a href="index.html">首页</a> <a href="index_2.html">上一页</a> <a href="index_4.html">下一页</a>'
    assert _pager(links, f"{W}/news/index_3.html") == (
        Pager(f"{W}/news/index_{{page}}.html", 2, 3, first_url=f"{W}/news/index.html"),
        False,
    )


def test_pager_numbered_links_only():
    links = '<span>1</span> <a href="?pageNumber=2">2</a> <a href="?pageNumber=3">3</a> <a href="?pageNumber=4">4</a>'
    assert _pager(links, CAT) == (Pager(f"{CAT}?pageNumber={{page}}", 1, 1), False)
    # zero-based: the link shown as 2 goes to page=1
    zero = '<span>1</span> <a href="?page=1">2</a> <a href="?page=2">3</a>'
    assert _pager(zero, CAT) == (Pager(f"{CAT}?page={{page}}", 0, 0), False)
    # on page 3 of the zero-based list
    assert _pager(
        '<a href="?page=0">1</a> <a href="?page=1">2</a> <span>3</span> <a href="?page=3">4</a>', f"{CAT}?page=2"
    ) == (Pager(f"{CAT}?page={{page}}", 0, 2), False)


def test_pager_trailing_page_segment_and_extra_host():
    url = "http://127.0.0.1:8000/catalog/abc"
    # like index.html: the bare URL is page 1, the template is only known from page 2 on
    assert _pager('<a href="/catalog/abc/2">下一页</a>', url, frozenset({"127.0.0.1:8000"})) == (
        Pager("http://127.0.0.1:8000/catalog/abc/{page}", 2, 1, first_url=url),
        False,
    )


def test_pager_javascript_onclick_only():
    links = (
        '<a href="javascript:void(0)" onclick="goPage(1)">首页</a> '
        '<a href="#" onclick="goPage(2)">下一页</a> <a href="#" onclick="goPage(3)">3</a>'
        '<a onclick="goPage(9)">尾页</a>'
    )
    assert _pager(links, CAT) == (None, True)


def test_no_pager_links_at_all():
    assert _pager("共3条", CAT) == (None, False)
    assert learn_pager(page("<p>x</p>"), CAT) == (None, False)


def test_pager_ignores_links_that_are_no_page_of_this_list():
    links = (
        '<a href="/catalog/other?pageNumber=2">下一页</a> <a href="/catalog/a1">2</a> '
        '<a href="http://www.zjbar.com/catalog/x?pageNumber=2">3</a>'
    )
    assert _pager(links, CAT) == (None, False)


def test_pager_hex_catalog_ids_are_no_page_numbers():
    links = '<a href="/catalog/33480a0b2461fffb4698df664908a606">2</a>'
    assert _pager(links, CAT) == (None, False)


# --------------------------------------------------------------------------- issue_month


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2022年第06期", "2022-06"),
        ("2022年第6期", "2022-06"),
        ("２０２２年第０６期", "2022-06"),
        ("2022 年 第 12 期", "2022-12"),
        ("《上海律师》2021年第1期  作者:文│某某", "2021-01"),
        ("2022年第13期", None),
        ("2022年第00期", None),
        ("第6期", None),
        ("律协动态", None),
        ("", None),
    ],
)
def test_issue_month(text, expected):
    assert issue_month(text) == expected


# --------------------------------------------------------------------------- subtitle / issue

MAG = "953351abb65b68e8d1b8b796c2ee628d"  # 2022年第06期, metadata on one line
MAG_LINES = "bbef17f65d20a345f1950a9d3788c34d"  # 2022年第06期, metadata one field per line
STD = "6ec2d53345a6900be3354d6f5c65c5bc"  # 律协动态, 日期:… 作者:… 阅读:…次
SUB = "上海市第十一届律师代表大会第四次会议顺利召开"


def _fixture(article_id: str) -> tuple[str, dict]:
    html = (FIXTURES / f"{article_id}.html").read_text(encoding="utf-8")
    expected = json.loads((FIXTURES / f"{article_id}.expected.json").read_text(encoding="utf-8"))
    return html, expected


def _after_title(html: str, insert: str) -> str:
    assert html.count("</h1>") == 1
    return html.replace("</h1>", "</h1>\n" + insert, 1)


def _same_apart_from(record: dict, expected: dict, **changed) -> None:
    want = {k: expected.get(k) for k in RECORD_KEYS}
    want.update(changed)
    assert record == want


@pytest.mark.parametrize("article_id", [MAG, MAG_LINES])
def test_magazine_subtitle_between_title_and_metadata(article_id):
    html, expected = _fixture(article_id)
    rec = parse_article(_after_title(html, f'<h2 class="k-st">{SUB}</h2>'), f"{W}/info/{article_id}")
    _same_apart_from(rec, expected, subtitle=SUB, issue="2022-06")


def test_magazine_subtitle_of_two_lines_is_joined_and_three_is_none():
    html, expected = _fixture(MAG)
    two = _after_title(html, f"<p>{SUB}</p><p>——记一次代表大会</p>")
    rec = parse_article(two, f"{W}/info/{MAG}")
    _same_apart_from(rec, expected, subtitle=f"{SUB} ——记一次代表大会", issue="2022-06")
    three = _after_title(html, f"<p>{SUB}</p><p>第二行</p><p>第三行</p>")
    assert parse_article(three, f"{W}/info/{MAG}")["subtitle"] is None


def test_magazine_chrome_between_title_and_metadata_is_no_subtitle():
    html, expected = _fixture(MAG)
    chrome = _after_title(
        html,
        '<div class="p-ch"><h2>2022年第06期</h2></div>'
        '<div><a href="/share/wx">微信</a> <a href="/share/wb">微博</a></div>'
        "<p>【打印】 【关闭】</p>",
    )
    rec = parse_article(chrome, f"{W}/info/{MAG}")
    _same_apart_from(rec, expected, subtitle=None, issue="2022-06")


def test_magazine_kicker_above_the_title():
    html, expected = _fixture(MAG)
    kicker = html.replace('<h1 class="k-t">', f'<p class="kicker">{SUB}</p>\n<h1 class="k-t">', 1)
    rec = parse_article(kicker, f"{W}/info/{MAG}")
    _same_apart_from(rec, expected, subtitle=SUB, issue="2022-06")


def test_magazine_title_from_title_chain_decides_which_line_is_the_subtitle():
    html, expected = _fixture(MAG)
    main = "发挥法治保障作用 建设高素质律师队伍"
    html = html.replace(f"<title>{expected['title']} -", f"<title>{main} -", 1)
    html = html.replace(f'<h1 class="k-t">{expected["title"]}</h1>', f'<h1 class="k-t">{main}</h1>\n<h2>{SUB}</h2>', 1)
    rec = parse_article(html, f"{W}/info/{MAG}")
    assert (rec["title"], rec["subtitle"], rec["body"]) == (main, SUB, expected["body"])
    # the reverse: <title> names the second line, the first is the kicker
    rev = html.replace(f"<title>{main} -", f"<title>{SUB} -", 1)
    rec = parse_article(rev, f"{W}/info/{MAG}")
    assert (rec["title"], rec["subtitle"], rec["body"]) == (SUB, main, expected["body"])


def test_fixture_magazine_page_has_issue_and_no_subtitle():
    html, expected = _fixture(MAG)
    rec = parse_article(html, f"{W}/info/{MAG}")
    _same_apart_from(rec, expected, subtitle=None, issue="2022-06")
    assert list(rec)[3:7] == ["title", "subtitle", "published", "issue"]


def test_non_magazine_page_gets_no_subtitle_and_no_issue():
    html, expected = _fixture(STD)
    rec = parse_article(html, f"{W}/info/{STD}")
    _same_apart_from(rec, expected, subtitle=None, issue=None)
    with_line = _after_title(html, f"<h2>{SUB}</h2>")
    rec = parse_article(with_line, f"{W}/info/{STD}")
    _same_apart_from(rec, expected, subtitle=None, issue=None)
    # a rule opens it to every page
    rules = dataclasses.replace(DEFAULT_RULES, subtitle_magazine_only=False)
    rec = parse_article(with_line, f"{W}/info/{STD}", rules)
    _same_apart_from(rec, expected, subtitle=SUB, issue=None)


def test_subtitle_rules_from_config_mapping():
    from crawler.parsing import ParseRules

    rules = ParseRules.from_mapping({"subtitle_max_lines": 1, "subtitle_magazine_only": False})
    assert (rules.subtitle_max_lines, rules.subtitle_max_chars, rules.subtitle_magazine_only) == (1, 80, False)
    with pytest.raises(ValueError, match="subtitle_max_lines"):
        ParseRules.from_mapping({"subtitle_max_lines": -1})


def test_discovery_rules_are_validated():
    assert DEFAULT_DISCOVERY_RULES.min_rows == 3
    with pytest.raises(ValueError, match="more_patterns"):
        DiscoveryRules(more_patterns=("更多(",))
    with pytest.raises(ValueError, match="min_rows"):
        DiscoveryRules(min_rows=-1)


def test_breadcrumb_home_is_never_a_candidate():
    html = page(
        '<div>当前位置：<a href="/index.html">首页</a> &gt;&gt; <a href="/catalog/a">行业资讯</a> &gt;&gt; '
        '<a href="/catalog/b">律协动态</a></div>'
    )
    assert candidate_links(html, f"{W}/info/{ID1}") == [
        Candidate(f"{W}/catalog/a", "行业资讯", "breadcrumb"),
        Candidate(f"{W}/catalog/b", "律协动态", "breadcrumb"),
    ]
    assert breadcrumb_links(html, f"{W}/info/{ID1}") == [
        Crumb("行业资讯", f"{W}/catalog/a"),
        Crumb("律协动态", f"{W}/catalog/b"),
    ]


def test_js_pager_only_when_no_pager_was_learnt():
    links = '<a href="?pageNumber=2">下一页</a> <a href="javascript:goPage(3)">3</a>'
    assert _pager(links, CAT) == (Pager(f"{CAT}?pageNumber={{page}}", 1, 1), False)
    assert learn_pager(page(f"<div>{links}</div>"), CAT) == (Pager(f"{CAT}?pageNumber={{page}}", 1, 1), False)
    assert learn_pager(page('<a href="javascript:goPage(2)">下一页</a>'), CAT) == (None, True)
