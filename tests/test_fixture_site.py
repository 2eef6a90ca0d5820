"""Tests of the fixture site itself: the generated pages, their expected records and the
server's behaviour. Crawler and parser tests rely on every fact checked here."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import lxml.html
import pytest

from fixtures import build, spec
from fixtures.server import FixtureSite

PAGES = build.PAGES_DIR
# A copy of shared/seed (the one real scraped article), kept in the repository so CI has it.
SEED_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "seed" / "000_1156116108ea25d0.txt"
NEWS = spec.CHANNELS["news"].path
MEDIA = spec.CHANNELS["media"].path
MAGAZINE = spec.CHANNELS["magazine"].path
GUIDE = "/studies/businessguide"


@pytest.fixture
def site():
    with FixtureSite() as s:
        yield s


def fetch(site: FixtureSite, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(site.base_url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def text(site, path, **kw) -> str:
    status, _, body = fetch(site, path, **kw)
    assert status == 200, (path, status)
    return body.decode("utf-8")


def article_links(html: str) -> list[str]:
    """Every href on a page whose path looks like an article, any host."""
    return re.findall(r'href="([^"]*/info/[0-9a-f]{32})"', html)


def linked_ids(html: str) -> list[str]:
    return [h[-32:] for h in article_links(html)]


def row_ids(html: str) -> list[str]:
    """Ids of the list rows proper (not the headline box or the side boxes)."""
    body = re.search(r'<(?:ul class="gl"|table class="nl")>(.*?)</(?:ul|table)>', html, re.S).group(1)
    return linked_ids(body)


def norm(s: str) -> str:
    return " ".join(s.split())


# ------------------------------------------------------------------------- the build
def test_build_reproduces_committed_files(tmp_path):
    build.write(tmp_path)
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(PAGES).as_posix(): p.read_bytes() for p in PAGES.rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(committed)
    stale = [rel for rel in fresh if fresh[rel] != committed[rel]]
    assert stale == [], "run `python -m fixtures.build` and commit fixtures/pages"
    assert len(fresh) == 270


def test_saved_page_layout():
    counts = {d.name: len(list((d / "info").glob("*.html"))) for d in PAGES.iterdir()}
    # base/ is exactly the classic site (the four channels of site.toml); the channels only
    # discovery reaches have their own directories.
    assert counts == {
        "base": 25,
        "chrome": 25,
        "edited": 1,
        "added": 1,
        "v2": 2,
        "channels": 40,
        "channels-chrome": 40,
        "discovered": 1,
    }
    assert sorted(p.stem for p in (PAGES / "base" / "info").glob("*.html")) == spec.served_ids("base")
    assert sorted(p.stem for p in (PAGES / "channels" / "info").glob("*.html")) == sorted(
        set(spec.all_served_ids("base")) - set(spec.served_ids("base"))
    )
    for html in PAGES.rglob("*.html"):
        assert html.with_name(html.name.replace(".html", ".expected.json")).exists()


def test_ids_are_pinned():
    # Committed file names and other engineers' tests use these: they must never drift.
    assert spec.EDITED_ID == "d0239e3ef6a31f91855ff4659b235d23"
    assert spec.ADDED_ID == "1a149ada6ed3f1c6337d78a382204fdf"
    assert spec.REMOVED_ID == "e6e3676bbf5b1cf8aa4810bfdda29ca2"
    assert spec.DISALLOWED_ID == "7a065150ad9d18091b07b2b340893c4d"
    assert spec.SEED_ID == "2f1b2bc85299f52b4ef92839ed3772ff"
    assert spec.GB18030_ID == "5b8031ea0c4fc83ace4417cd8a4729e0"
    assert spec.COMMA_ROLLOVER_ID == "6532607192ecafa37c319c59d49c138a"
    assert spec.FOREIGN_ID == "f31137ac8cd2e2ca5d66b839ffb81a8e"
    assert spec.FOREIGN_URL == "http://www.zjbar.com/info/f31137ac8cd2e2ca5d66b839ffb81a8e"
    assert spec.DISCOVERED_ID == "102946a231477fdad70e9028d3a49812"
    assert spec.INLINE_FOOTER_IDS == ("2f1b2bc85299f52b4ef92839ed3772ff", "b93f5bfd1ea5b64b0ed1a388ba80f1b6")
    assert NEWS == "/catalog/5dec1124bdded1c563cde8109b32d988"
    assert MEDIA == "/catalog/366176cd8ea1a94573c9687d8ac0d81c"
    assert MAGAZINE == "/catalog/0377490d29ee742dc585905078b276a8"


def test_spec_covers_every_site_md_variant():
    base = spec.ARTICLES
    assert len(base) == 25
    assert all(re.fullmatch(r"[0-9a-f]{32}", a.id) for a in spec.ALL_ARTICLES)
    assert {a.meta for a in base} == {"std", "old", "press", "magazine"}
    assert {a.design for a in base} == {"table", "div", "new", "mirror"}
    assert {a.topbar for a in base} == {"english", "jieye", "switch", "new", "new_alt"}
    assert {a.footer for a in base} == {"tag", "div", "br", "inline"}
    assert {a.years for a in base} == {"2017-2024", "2017-2025", "2017-2026"}
    assert {a.colon for a in base} == {":", "："}
    assert {a.meta_lines for a in base} == {True, False}
    assert {a.section for a in base} == {
        "业务研究大厅 > 业务指引",
        "业务研究大厅 > 专业委员会 > 专业论文",
        "业务研究 > 研究成果",
        "业务研究 > 案例评析",
        "行业资讯 > 律协动态",
        "行业资讯 > 业内动态 > 媒体报道",
        "律师文化 > 上海律师 > 2022 > 2022年第06期",
        "律师文化 > 上海律师 > 2022 > 2022年第05期",
        "行業(yè)資訊 > 律協(xié)動(dòng)態(tài)",
    }
    assert sorted(a.author for a in base if a.author and "律师工作委员会" in a.author) == [
        "普陀区律师工作委员会",
        "松江区律师工作委员会",
    ]
    assert [(a.encoding, a.header_charset) for a in base if a.encoding != "utf-8"] == [("gb18030", False)]
    assert sum(not a.header_charset for a in base) == 4
    # No author, no counter, a counter over 999, a press page without author.
    assert any(a.meta == "std" and a.author is None for a in base)
    assert any(a.meta == "std" and a.views is None for a in base)
    assert any(a.meta == "press" and a.author is None for a in base)
    assert [a.list_date for a in base if a.published and a.list_date != a.published] == ["2012-09-26"]
    assert spec.LIST_DATES[spec.EDITED_ID] == "2022-08-05"


def test_seed_paragraphs_are_the_seed_file():
    lines = SEED_FILE.read_text(encoding="utf-8").split("\n")
    assert list(spec.SEED_PARAGRAPHS) == lines[:5]
    page = (PAGES / "base" / "info" / f"{spec.SEED_ID}.html").read_text(encoding="utf-8")
    # The served mirror copy carries the seed's footer verbatim, as bare paragraphs.
    assert "".join(f"<p>{x}</p>\n" for x in lines[5:]) in page
    assert spec.BY_ID[spec.SEED_ID].years == "2017-2024"


# ------------------------------------------------------------------------- records
def test_expected_json_is_exact_text():
    path = PAGES / "base" / "info" / "6ec2d53345a6900be3354d6f5c65c5bc.expected.json"
    assert (
        path.read_text(encoding="utf-8")
        == """{
  "id": "6ec2d53345a6900be3354d6f5c65c5bc",
  "url": "https://www.lawyers.org.cn/info/6ec2d53345a6900be3354d6f5c65c5bc",
  "section": "行业资讯 > 律协动态",
  "title": "上海市律师协会召开2026年度全市律师行业工作会议",
  "subtitle": null,
  "published": "2026-01-23",
  "issue": null,
  "author": "办公室",
  "source": null,
  "views": 131,
  "body": "1月22日下午，上海市律师协会在上海国际会议中心召开2026年度全市律师行业工作会议。市司法局、市律师行业党委有关负责同志，市律协会长、副会长、监事长，各区律工委主任以及律师事务所主任代表共300余人参加会议。\\n图为会议现场\\n会议回顾了2025年全市律师行业在服务保障经济社会高质量发展、推进涉外法治人才培养、加强行业党建和队伍建设等方面取得的成效。截至2025年底，本市共有律师事务所2,000余家，执业律师4万余名。\\n会议对2026年行业重点工作作出部署：一是持续深化律师行业党建工作；二是聚焦国家战略和城市发展需求，拓展律师服务领域；三是完善执业权利保障和执业监督管理机制；四是加强青年律师培养，夯实行业发展基础。\\n会上，部分律师事务所代表作交流发言，分享了在公共法律服务、涉外法律服务和数字化转型方面的经验做法。",
  "attachments": []
}
"""
    )
    for p in PAGES.rglob("*.expected.json"):
        assert list(json.loads(p.read_text(encoding="utf-8"))) == [
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
        ]


def record(article_id: str, page_dir: str = "base") -> dict:
    return json.loads((PAGES / page_dir / "info" / f"{article_id}.expected.json").read_text(encoding="utf-8"))


def test_expected_record_magazine():
    r = record("bbef17f65d20a345f1950a9d3788c34d")
    assert {
        k: r[k]
        for k in ("section", "title", "subtitle", "published", "issue", "author", "source", "views", "attachments")
    } == {
        "section": "律师文化 > 上海律师 > 2022 > 2022年第06期",
        "title": "在法律援助中读懂律师的社会责任",
        "subtitle": None,  # the classic magazine pieces have none; the issue-only ones do
        "published": None,
        "issue": "2022-06",
        "author": "林晓",
        "source": "《上海律师》2022年第06期",
        "views": 1534,
        "attachments": [],
    }


def test_expected_record_press_reprint():
    r = record("2d4b7e8484e038b87cae304a27d27a9d")
    assert (r["section"], r["published"], r["author"], r["source"], r["views"]) == (
        "行业资讯 > 业内动态 > 媒体报道",
        "2012-09-25",
        "沈晓燕",
        "新民晚报",
        5539,
    )
    assert r["body"].split("\n")[-1] == "原文链接:http://xmwb.xinmin.cn/html/2012-09/25/content_12_3.htm"
    assert spec.LIST_DATES[r["id"]] == "2012-09-26"
    assert record("d6378a5eb40779917bedb3fb347c079e")["author"] is None


def test_expected_record_old_form_and_gb18030():
    r = record(spec.GB18030_ID)
    assert (r["title"], r["published"], r["author"], r["source"], r["views"]) == (
        "律师办理知识产权尽职调查业务操作指引",
        "2013-04-08",
        "知识产权业务研究委员会",
        "上海市律师协会",
        None,
    )
    assert r["body"].startswith("知识产权尽职调查是企业并购")
    assert "王堃、李喆" in r["body"]
    forum = record("4224636d55c7a7b852544f282892ae76")
    assert (forum["source"], forum["published"], forum["author"]) == ("上海市律师协会", "2012-05-17", "宣传部")


def test_expected_record_attachments_and_no_author():
    assert record("d79b107587527f3052174498a026170e")["attachments"] == [
        "https://www.lawyers.org.cn/service/rest/tk.File/3a339cba5077fda3592ae323e9da637b/view",
        "https://byfiles.storage.lawyers.org.cn/file/?action=download&fileId=c3557ace5519fa98be0d4a94ba922d5a",
    ]
    paper = record("6331c7bb2c8d5e80d451f82e2f88ce96")
    assert (paper["author"], paper["views"], paper["published"]) == (None, 653, "2024-06-24")
    case = record("515ad22279abf6e6b031c216a03444ce")
    assert (case["author"], case["views"]) == ("民事业务研究委员会", None)
    assert case["body"].split("\n")[0].startswith("【案情简介】2019年3月")


def test_expected_record_seed():
    r = record(spec.SEED_ID)
    assert r["body"] == "\n".join(spec.SEED_PARAGRAPHS)
    assert (r["section"], r["author"], r["views"]) == (
        "行業(yè)資訊 > 律協(xié)動(dòng)態(tài)",
        "寶山區(qū)律師工作委員會(huì)",
        1286,
    )


def test_edited_record_differs_by_one_sentence():
    before, after = record(spec.EDITED_ID, "base"), record(spec.EDITED_ID, "edited")
    assert after == {**before, "body": before["body"].replace(spec.EDIT_OLD_SENTENCE, spec.EDIT_NEW_SENTENCE)}
    assert before["body"].count(spec.EDIT_OLD_SENTENCE) == 1
    line = before["body"].split("\n")[2]
    assert line.index(spec.EDIT_OLD_SENTENCE) > 100 and line.endswith("包括同地段同类房屋的租金标准等。")
    assert record(spec.EDITED_ID, "v2") == after


def test_chrome_records_equal_base_records():
    for chrome, base in (("chrome", "base"), ("channels-chrome", "channels")):
        files = sorted((PAGES / chrome / "info").glob("*.expected.json"))
        assert [p.name for p in files] == sorted(p.name for p in (PAGES / base / "info").glob("*.expected.json"))
        for p in files:
            assert p.read_bytes() == (PAGES / base / "info" / p.name).read_bytes()


@pytest.mark.parametrize("page", sorted(PAGES.rglob("*.html")), ids=lambda p: f"{p.parent.parent.name}/{p.stem[:8]}")
def test_record_values_are_visible_on_page(page):
    """Generator self-check (not a parser): each expected value occurs in the page text."""
    rec = json.loads(page.with_name(page.stem + ".expected.json").read_text(encoding="utf-8"))
    a = spec.BY_ID[rec["id"]]
    doc = lxml.html.document_fromstring(page.read_bytes().decode(a.encoding))
    flat = norm(doc.body.text_content())
    for line in rec["body"].split("\n") + [
        rec["title"],
        rec["subtitle"] or "",
        rec["published"] or "",
        rec["author"] or "",
    ]:
        assert norm(line) in flat
    if rec["subtitle"]:  # its own line, between the title and the metadata
        assert flat.index(norm(rec["title"])) < flat.index(norm(rec["subtitle"])) < flat.index("作者")
    assert (f"{rec['views']:,}" in flat) if rec["views"] is not None else ("阅读" not in flat and "閱讀" not in flat)
    hrefs = [urllib.parse.urljoin(rec["url"], h) for h in doc.xpath("//a/@href")]
    assert [h for h in hrefs if h in rec["attachments"]] == rec["attachments"]
    assert doc.findtext(".//title") == " - ".join(
        [
            rec["title"],
            *reversed(rec["section"].split(" > ")),
            "東方律師網(wǎng)" if rec["id"] == spec.SEED_ID else "东方律师网",
        ]
    )
    # Articles link articles only in the div design's side box of another channel's newest items.
    box = [spec.list_href(x) for x in spec.list_rows(spec.SIDE_BOX_CHANNEL, "base")[:3]]
    assert [h for h in doc.xpath("//a/@href") if "/info/" in h] == (box if a.design == "div" else [])
    assert a.design != "div" or a.channel != spec.SIDE_BOX_CHANNEL
    # Each crumb links its list or hub (or is plain text), in the order of the crumbs.
    crumbs = doc.xpath('//div[@class="p-loc"]')[0]
    assert crumbs.xpath("./a/@href") == ["/"] + [h for h in spec.crumb_hrefs(a) if h is not None]


# ------------------------------------------------------------------------- server basics
def test_starts_fast_and_stops_cleanly():
    t0 = time.monotonic()
    with FixtureSite() as s:
        assert time.monotonic() - t0 < 1.0
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", s.base_url)
        port = s.port
        assert fetch(s, "/robots.txt")[0] == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_robots_and_home(site):
    status, headers, body = fetch(site, "/robots.txt")
    assert (status, headers["Content-Type"]) == (200, "text/plain")
    assert body == b"User-agent: *\nDisallow: /info/7a065150ad9d18091b07b2b340893c4d\n"
    home = text(site, "/")
    assert '<div id="app"></div>' in home and "/info/" not in home
    # The disallowed article is listed and served, only robots.txt keeps a crawler away.
    assert spec.DISALLOWED_ID in row_ids(text(site, NEWS + "?pageNumber=2"))
    assert fetch(site, f"/info/{spec.DISALLOWED_ID}")[0] == 200


def test_unknown_paths_404(site):
    assert fetch(site, f"/info/{spec.FOREIGN_ID}")[0] == 404
    assert fetch(site, "/info/" + "0" * 32)[0] == 404
    assert fetch(site, spec.MORE_PATH)[0] == 404
    assert fetch(site, f"/info/{spec.SEED_ID}/x")[0] == 404
    assert fetch(site, f"/info/{spec.SEED_ID}//")[0] == 404


def test_guide_list_pages(site):
    p1 = text(site, GUIDE + "?currentPageNo=1")
    assert row_ids(p1) == [
        "d79b107587527f3052174498a026170e",
        "ec8bc83555479a532d0d7cabed4feff3",
        "6331c7bb2c8d5e80d451f82e2f88ce96",
        "1c77eea30b66febd2a9d2f7c21a3115e",
    ]
    # All four link forms the crawler must canonicalise.
    assert article_links(p1) == [
        "/info/d79b107587527f3052174498a026170e",
        "https://www.lawyers.org.cn/info/ec8bc83555479a532d0d7cabed4feff3",
        "http://wx.lawyers.org.cn/info/6331c7bb2c8d5e80d451f82e2f88ce96",
        "http://info.lawyers.org.cn/info/1c77eea30b66febd2a9d2f7c21a3115e",
        "http://www.zjbar.com/info/f31137ac8cd2e2ca5d66b839ffb81a8e",  # look-alike, side box
    ]
    assert '<li><span class="d">2025-11-18</span> <span class="c">[业务指引]</span> <a href=' in p1
    assert '当前位置: <a href="/">首页</a> &gt;&gt;' in p1
    assert [len(row_ids(text(site, f"{GUIDE}?currentPageNo={n}"))) for n in (1, 2, 3, 4, 50)] == [4, 4, 1, 0, 0]
    assert fetch(site, GUIDE + "?currentPageNo=0")[2].decode() == p1
    assert fetch(site, GUIDE)[2].decode() == p1
    assert row_ids(text(site, GUIDE + "?currentPageNo=3")) == [spec.GB18030_ID]


def test_catalog_list_pages(site):
    pages = {
        path: [row_ids(text(site, f"{path}?pageNumber={n}")) for n in range(1, 5)] for path in (NEWS, MEDIA, MAGAZINE)
    }
    assert [[len(rows) for rows in v] for v in pages.values()] == [[3, 3, 2, 0], [3, 2, 0, 0], [2, 1, 0, 0]]
    assert pages[NEWS][0] == [
        "6ec2d53345a6900be3354d6f5c65c5bc",
        "1362fedf6fbb63681419b0ebcf4219d9",
        "e6e3676bbf5b1cf8aa4810bfdda29ca2",
    ]
    listed = sorted(i for v in pages.values() for rows in v for i in rows)
    listed += (
        row_ids(text(site, GUIDE + "?currentPageNo=1"))
        + row_ids(text(site, GUIDE + "?currentPageNo=2"))
        + row_ids(text(site, GUIDE + "?currentPageNo=3"))
    )
    assert sorted(listed) == site.article_ids() and len(listed) == 25
    news1 = text(site, NEWS + "?pageNumber=1")
    assert text(site, NEWS + "?pageNumber=0") == news1
    dates = re.findall(r'<td class="t-d">([0-9-]{10})</td>', text(site, NEWS + "?pageNumber=2"))
    assert dates == ["2025-03-05", "2024-07-01", "2020-04-30"]
    # The headline box links the newest item a second time, through wx.
    assert linked_ids(news1).count("6ec2d53345a6900be3354d6f5c65c5bc") == 2
    # Links that are not this site's articles.
    assert f'href="{spec.FOREIGN_URL}"' in news1
    assert f'href="{spec.MORE_PATH}">[更多]</a>' in news1
    assert 'href="/service/rest/tk.File/015cd4cd952ef815a6df8974d01ece47/view"' in news1
    assert 'href="https://credit.lawyers.org.cn/lawyer/search"' in news1
    past = text(site, NEWS + "?pageNumber=4")
    assert row_ids(past) == [] and "当前位置：" in past and "沪ICP备17030485号-1" in past


# ------------------------------------------------------------------------- articles
def test_view_counter_increments_per_fetch(site):
    counts = [
        re.search(r"阅读:([\d,]+)次", text(site, "/info/6ec2d53345a6900be3354d6f5c65c5bc")).group(1) for _ in range(3)
    ]
    assert counts == ["131", "132", "133"]
    rollover = [re.search(r"阅读:([\d,]+)次", text(site, f"/info/{spec.COMMA_ROLLOVER_ID}")).group(1) for _ in range(2)]
    assert rollover == ["999", "1,000"]
    fetch(site, "/info/bbef17f65d20a345f1950a9d3788c34d")
    assert "<li>阅读 1,535 次</li>" in text(site, "/info/bbef17f65d20a345f1950a9d3788c34d")
    fetch(site, "/info/1c77eea30b66febd2a9d2f7c21a3115e")
    assert '阅读：<span class="hits">1,457</span>次' in text(site, "/info/1c77eea30b66febd2a9d2f7c21a3115e")
    fetch(site, f"/info/{spec.SEED_ID}")
    assert "閱讀:1,287次" in text(site, f"/info/{spec.SEED_ID}")
    # The counter is per article and survives state changes.
    site.set_state("chrome")
    assert "阅读:134次" in text(site, "/info/6ec2d53345a6900be3354d6f5c65c5bc")


def test_first_fetch_is_the_saved_page(site):
    for article_id in site.article_ids():
        assert fetch(site, f"/info/{article_id}")[2] == (PAGES / "base" / "info" / f"{article_id}.html").read_bytes()
        assert site.expected_record(article_id) == record(article_id)


def test_encodings_and_charset_headers(site):
    status, headers, body = fetch(site, f"/info/{spec.GB18030_ID}")
    assert headers["Content-Type"] == "text/html"
    assert b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">' in body
    assert b"charset=utf-8" not in body.lower()
    assert "王堃、李喆" in body.decode("gb18030")
    assert "©2017-2024" in body.decode("gb18030")  # a four-byte GB18030 sequence
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")  # 堃 and 喆 are outside GB2312: decode as GB18030
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert fetch(site, "/info/6ec2d53345a6900be3354d6f5c65c5bc")[1]["Content-Type"] == "text/html; charset=utf-8"
    _, headers, body = fetch(site, "/info/35573c07b8e528ef3c144bddb3e82231")
    assert headers["Content-Type"] == "text/html" and b'<meta charset="utf-8">' in body
    _, headers, body = fetch(site, "/info/ec8bc83555479a532d0d7cabed4feff3")
    assert headers["Content-Type"] == "text/html"
    assert b'<meta http-equiv="Content-Type" content="text/html; charset=utf-8">' in body


def test_article_page_furniture(site):
    new = text(site, "/info/6ec2d53345a6900be3354d6f5c65c5bc")
    assert "<title>上海市律师协会召开2026年度全市律师行业工作会议 - 律协动态 - 行业资讯 - 东方律师网</title>" in new
    assert '当前位置：<a href="/">首页</a> &gt;&gt;' in new
    assert "<h2>律协动态</h2>" in new
    assert '<div class="i-mt">日期:2026-01-23  作者:办公室  阅读:131次</div>' in new
    assert '<img src="/upload/ec4d33cf-5b2a-4f7e-8c61-0d9a3e7b2f48.jpg" alt="">' in new
    for s in (
        "[更多]",
        "常用工具",
        "城市地图查询",
        "诉讼费计算器",
        "[请点击此处反馈]",
        "协会介绍",
        "行业党建",
        "律师文化",
        "会员服务",
        "执业证号/统一社会信用代码",
        "会员须知",
        "专业委员会",
        "<p>技术支持邮箱 :12345@homolo.com</p>",
        "<p>上海市律师协会版权所有 ©2017-2026</p>",
    ):
        assert s in new
    old = text(site, "/info/4224636d55c7a7b852544f282892ae76")
    assert '当前位置: <a href="/">首页</a> &gt;&gt;' in old
    assert "信息来源:上海市律师协会&nbsp;&nbsp;时间:2012-05-17&nbsp;&nbsp;作者:宣传部" in old
    assert old.index("主办单位：") < old.index("<b>第二届长三角律师业发展论坛在沪举行</b>")
    assert "技术支持邮箱 :12345@homolo.com<br>\n上海市律师协会版权所有 ©2017-2024\n</td>" in old
    mag = text(site, "/info/953351abb65b68e8d1b8b796c2ee628d")
    assert mag.index("《上海律师》编委会") < mag.index('<h1 class="k-t">')
    assert '<div class="i-mt">2022年第06期  作者:文│陈思远  阅读 876 次</div>' in mag
    press = text(site, "/info/2d4b7e8484e038b87cae304a27d27a9d")
    assert "来源:新民晚报&nbsp;&nbsp;日期:2012-09-25&nbsp;&nbsp;作者:沈晓燕&nbsp;&nbsp;阅读:5,539次" in press
    # Inline footer: the footer paragraphs share the body's wrapper.
    inline = text(site, "/info/b93f5bfd1ea5b64b0ed1a388ba80f1b6")
    wrapper = re.search(r'<div class="tx2">\n(.*?)</div>', inline, re.S).group(1)
    assert wrapper.endswith(
        "<p>[版权声明] 沪ICP备17030485号-1</p>\n<p>沪公网安备 31010402007129号</p>\n"
        "<p>技术服务:上海同道信息技术有限公司</p>\n<p>技术电话:400-052-9602(9:00-11:30,13:30-17:30)</p>\n"
        "<p>技术支持邮箱 :12345@homolo.com</p>\n<p>上海市律师协会版权所有 ©2017-2024</p>\n"
    )


def test_conditional_requests(site):
    path = "/info/6ec2d53345a6900be3354d6f5c65c5bc"
    assert "ETag" not in fetch(site, path)[1]
    site.conditional = True
    status, headers, _ = fetch(site, path)
    assert status == 200 and headers["Last-Modified"] == "Fri, 23 Jan 2026 02:00:00 GMT"
    etag = headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{16}"', etag)
    assert fetch(site, path, {"If-None-Match": etag})[0] == 304
    assert fetch(site, path, {"If-None-Match": '"0000000000000000"'})[0] == 200
    assert fetch(site, path, {"If-Modified-Since": "Fri, 23 Jan 2026 02:00:00 GMT"})[0] == 304
    assert fetch(site, path, {"If-Modified-Since": "Thu, 22 Jan 2026 00:00:00 GMT"})[0] == 200
    # If-None-Match decides when both are sent.
    assert fetch(site, path, {"If-None-Match": '"x"', "If-Modified-Since": "Fri, 23 Jan 2026 02:00:00 GMT"})[0] == 200
    # 304s are not views: five 200s so far, so the sixth shows 131 + 5.
    assert "阅读:136次" in text(site, path)
    # The chrome state is a new page: new validators, served in full.
    site.set_state("chrome")
    status, headers, _ = fetch(site, path, {"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    assert headers["Last-Modified"] == "Mon, 02 Mar 2026 01:00:00 GMT"
    assert fetch(site, GUIDE, {"If-None-Match": etag})[1].get("ETag") is None  # lists: no validators


def test_fail_next_and_request_log(site):
    site.fail_next(2, status=503)
    assert [fetch(site, p)[0] for p in ("/robots.txt", "/", "/robots.txt")] == [503, 503, 200]
    assert fetch(site, "/__fixture__/state")[0] == 200  # controls are never failed nor logged
    site.fail_next(None)
    assert [fetch(site, GUIDE)[0] for _ in range(3)] == [500, 500, 500]
    assert fetch(site, "/__fixture__/fail?n=1&status=502")[0] == 200
    assert fetch(site, "/")[0] == 502
    assert fetch(site, "/")[0] == 200
    site.fail_next(None)
    site.clear_failures()
    assert fetch(site, f"/info/{spec.SEED_ID}?from=list")[0] == 200
    assert site.requests == [
        "/robots.txt",
        "/",
        "/robots.txt",
        GUIDE,
        GUIDE,
        GUIDE,
        "/",
        "/",
        f"/info/{spec.SEED_ID}?from=list",
    ]
    site.reset_requests()
    assert site.requests == []
    # A failed fetch is not a view.
    site.fail_next(1)
    fetch(site, "/info/6ec2d53345a6900be3354d6f5c65c5bc")
    assert "阅读:131次" in text(site, "/info/6ec2d53345a6900be3354d6f5c65c5bc")


# ------------------------------------------------------------------------- states
def test_state_switching(site):
    assert site.state == "base"
    assert fetch(site, "/__fixture__/state?name=edited")[2] == b"edited\n"
    assert site.state == "edited"
    assert fetch(site, "/__fixture__/state?name=nonsense")[0] == 400
    with pytest.raises(ValueError):
        site.set_state("nonsense")
    assert site.state == "edited"


def test_chrome_state_changes_only_chrome(site):
    site.set_state("chrome")
    assert site.article_ids() == spec.served_ids("base")
    for i in site.article_ids():
        a = spec.BY_ID[i]
        raw = fetch(site, f"/info/{i}")[2]
        assert raw != (PAGES / "base" / "info" / f"{i}.html").read_bytes()
        page = raw.decode(a.encoding)
        assert ("©" if a.design != "mirror" else "?") + spec.bump_years(a.years) in page
        assert site.expected_record(i, "chrome") == site.expected_record(i)
    english = text(site, "/info/a7eb77026df62b38502ca4fd05471e49")  # ENGLISH -> 切换新版
    assert "切换新版" in english and "ENGLISH" not in english
    jieye = text(site, "/info/515ad22279abf6e6b031c216a03444ce")  # 结业… ENGLISH -> ENGLISH only
    assert "ENGLISH" in jieye and "结业人员实习鉴定表申请入口" not in jieye
    new = text(site, "/info/6ec2d53345a6900be3354d6f5c65c5bc")
    assert "个人会员" in new and "©2017-2027" in new
    assert "©2017-2026" in text(site, GUIDE)


def test_edited_state(site):
    site.set_state("edited")
    assert site.article_ids() == spec.served_ids("base")
    changed = [
        i
        for i in site.article_ids()
        if fetch(site, f"/info/{i}")[2] != (PAGES / "base" / "info" / f"{i}.html").read_bytes()
    ]
    assert changed == [spec.EDITED_ID]
    page = text(site, f"/info/{spec.EDITED_ID}")
    assert spec.EDIT_NEW_SENTENCE in page and spec.EDIT_OLD_SENTENCE not in page
    assert site.expected_record(spec.EDITED_ID, "edited")["body"].count(spec.EDIT_NEW_SENTENCE) == 1
    assert spec.EDIT_OLD_SENTENCE == "违约金的计算一般自合同约定的交付期限届满之次日起算至实际交付之日止。"
    assert (
        spec.EDIT_NEW_SENTENCE
        == "违约金的计算一般自合同约定的交付期限届满之次日起算至实际交付之日或者购房人书面通知解除合同之日止。"
    )


def test_added_state(site):
    assert fetch(site, f"/info/{spec.ADDED_ID}")[0] == 404
    site.set_state("added")
    assert site.article_ids() == sorted(spec.served_ids("base") + [spec.ADDED_ID])
    news1 = text(site, NEWS + "?pageNumber=1")
    assert row_ids(news1) == [spec.ADDED_ID, "6ec2d53345a6900be3354d6f5c65c5bc", "1362fedf6fbb63681419b0ebcf4219d9"]
    assert f'href="https://www.lawyers.org.cn/info/{spec.ADDED_ID}"' in news1
    assert [len(row_ids(text(site, f"{NEWS}?pageNumber={n}"))) for n in (1, 2, 3, 4)] == [3, 3, 3, 0]
    assert fetch(site, f"/info/{spec.ADDED_ID}")[0] == 200
    rec = site.expected_record(spec.ADDED_ID)
    assert (rec["title"], rec["published"], rec["views"]) == (
        "上海市律师协会第十二届理事会第五次会议召开",
        "2026-02-26",
        12,
    )


def test_removed_state(site):
    site.set_state("removed")
    assert fetch(site, f"/info/{spec.REMOVED_ID}")[0] == 404
    assert spec.REMOVED_ID not in site.article_ids() and len(site.article_ids()) == 24
    rows = [row_ids(text(site, f"{NEWS}?pageNumber={n}")) for n in (1, 2, 3)]
    assert rows == [
        ["6ec2d53345a6900be3354d6f5c65c5bc", "1362fedf6fbb63681419b0ebcf4219d9", spec.DISALLOWED_ID],
        ["6532607192ecafa37c319c59d49c138a", spec.SEED_ID, "72869daae47e32ebc2c9ff453defdcb5"],
        ["4224636d55c7a7b852544f282892ae76"],
    ]
    with pytest.raises(KeyError):
        site.expected_record(spec.REMOVED_ID, "removed")


def test_v2_state_combines_all_changes(site):
    site.set_state("v2")
    assert site.article_ids() == sorted(set(spec.served_ids("base")) - {spec.REMOVED_ID} | {spec.ADDED_ID})
    assert fetch(site, f"/info/{spec.REMOVED_ID}")[0] == 404
    assert row_ids(text(site, NEWS + "?pageNumber=1"))[0] == spec.ADDED_ID
    edited = text(site, f"/info/{spec.EDITED_ID}")
    assert spec.EDIT_NEW_SENTENCE in edited and "©2017-2026" in edited and "个人会员" in edited
    added = text(site, f"/info/{spec.ADDED_ID}")
    assert "©2017-2027" in added and "个人会员" in added
    assert site.expected_record(spec.EDITED_ID, "v2") == site.expected_record(spec.EDITED_ID, "edited")


def test_site_toml_lists_the_classic_channels():
    import tomllib

    conf = tomllib.loads((Path(build.__file__).with_name("site.toml")).read_text(encoding="utf-8"))
    assert [(s["name"], s["list_url"], s["first_page"]) for s in conf["sections"]] == [
        ("业务指引", "/studies/businessguide?currentPageNo={page}", 1),
        ("律协动态", "/catalog/5dec1124bdded1c563cde8109b32d988?pageNumber={page}", 1),
        ("媒体报道", "/catalog/366176cd8ea1a94573c9687d8ac0d81c?pageNumber={page}", 1),
        ("上海律师", "/catalog/0377490d29ee742dc585905078b276a8?pageNumber={page}", 1),
    ]
    assert [s["list_url"].format(page=1) for s in conf["sections"]] == [c.url(1) for c in spec.CLASSIC_CHANNELS]
    assert [c.key for c in spec.CHANNELS.values() if c.classic] == ["guide", "news", "media", "magazine"]


# ------------------------------------------------------------------------- fault switches
# Raw HTTP: urllib would follow redirects and hide the answer under test.
NEWEST = "6ec2d53345a6900be3354d6f5c65c5bc"  # UTF-8, charset in header and <meta charset>
OTHER = "1362fedf6fbb63681419b0ebcf4219d9"


def raw(site: FixtureSite, target: str, method: str = "GET") -> tuple[int, dict, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    try:
        conn.request(method, target)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def views(page: str) -> int:
    return int(spec.COUNTER_RE.search(page).group(2).replace(",", ""))


def test_article_answers_with_trailing_slash_and_query(site):
    saved = (PAGES / "base" / "info" / f"{NEWEST}.html").read_bytes()
    assert raw(site, f"/info/{NEWEST}")[2] == saved
    for target in (f"/info/{NEWEST}/", f"/info/{NEWEST}?from=wx", f"/info/{NEWEST}/?from=wx"):
        status, _, body = raw(site, target)
        assert status == 200 and b'<h1 class="k-t">' in body, target
    assert views(text(site, f"/info/{NEWEST}")) == 131 + 4  # every form is a view of the one article


def test_redirect_switch(site):
    with FixtureSite() as other:
        site.redirect(NEWEST, f"{other.base_url}/info/{NEWEST}")
        site.redirect(OTHER, f"{site.base_url}/info/{OTHER}/", status=301)
        status, headers, _ = raw(site, f"/info/{NEWEST}")
        assert (status, headers["Location"]) == (302, f"{other.base_url}/info/{NEWEST}")
        status, headers, _ = raw(site, f"/info/{OTHER}")
        assert (status, headers["Location"]) == (301, f"{site.base_url}/info/{OTHER}/")
        # Only the exact path redirects: the targets on this site are the article itself.
        assert raw(site, f"/info/{OTHER}/")[0] == 200
        assert raw(site, f"/info/{NEWEST}?from=wx")[0] == 200
        # The other site serves its own copy, so a crawler that followed would get a page.
        assert raw(other, f"/info/{NEWEST}")[0] == 200
        # A loop: the article redirects to itself.
        site.redirect(NEWEST, f"{site.base_url}/info/{NEWEST}")
        assert raw(site, f"/info/{NEWEST}")[1]["Location"] == f"{site.base_url}/info/{NEWEST}"
        # Redirects are not views.
        site.clear_failures()
        assert views(text(site, f"/info/{NEWEST}")) == 131 + 1  # the ?from=wx copy was one
        assert raw(site, f"/info/{OTHER}")[0] == 200
    with pytest.raises(ValueError):
        site.redirect(NEWEST, "/info/relative")
    with pytest.raises(ValueError):
        site.redirect(NEWEST, site.base_url, status=200)
    with pytest.raises(ValueError):
        site.redirect("not-an-id", site.base_url)


def test_redirect_chain_switch(site):
    site.redirect_chain(NEWEST, 3)
    hops, target = [], f"/info/{NEWEST}"
    while True:
        status, headers, _ = raw(site, target)
        if status != 302:
            break
        hops.append(headers["Location"])
        target = urllib.parse.urlsplit(headers["Location"])._replace(scheme="", netloc="").geturl()
    assert status == 200
    assert hops == [f"{site.base_url}/info/{NEWEST}?hop={n}" for n in (1, 2, 3)]


MISLABELS = {
    # mode: (bytes' encoding, Content-Type header, charset declared in the <meta>)
    "gb18030-labelled-utf8": ("gb18030", "text/html; charset=utf-8", "utf-8"),
    "utf8-labelled-gb18030": ("utf-8", "text/html; charset=gb18030", "gb18030"),
    "gb18030-unlabelled": ("gb18030", "text/html", None),
}


def meta_charsets(body: bytes) -> list[str]:
    return [m.decode().lower() for m in re.findall(rb"<meta\b[^>]*charset=[\"']?([\w-]+)", body, re.I)]


@pytest.mark.parametrize("mode", sorted(MISLABELS))
@pytest.mark.parametrize("article_id", [NEWEST, spec.GB18030_ID, spec.SEED_ID])
def test_charset_fault_mislabels(site, mode, article_id):
    encoding, content_type, meta = MISLABELS[mode]
    a = spec.BY_ID[article_id]
    saved = (PAGES / "base" / "info" / f"{article_id}.html").read_bytes().decode(a.encoding)
    site.charset_fault(article_id, mode)
    first, second = (raw(site, f"/info/{article_id}") for _ in range(2))
    for status, headers, body in (first, second):
        assert status == 200 and headers["Content-Type"] == content_type
        assert meta_charsets(body) == ([meta] if meta else [])
        assert "charset" not in body.decode(encoding).lower() or meta
        page = body.decode(encoding)  # strict: every byte is of the claimed-wrong encoding
        for s in (a.title, site.expected_record(article_id)["body"].split("\n")[0][:20]):
            assert s in page
    if mode != "utf8-labelled-gb18030":
        with pytest.raises(UnicodeDecodeError):
            first[2].decode("utf-8")
    else:
        with pytest.raises(UnicodeDecodeError):
            first[2].decode("gb18030")

    # Nothing but the label, the bytes and the counter differ from the saved page.
    def unlabelled(page: str) -> str:
        return _strip_counter(re.sub(r"<meta\b[^>]*charset[^>]*>", "", page, flags=re.I))

    assert unlabelled(first[2].decode(encoding)) == unlabelled(saved)
    if a.views is not None:  # the counter keeps counting
        assert views(second[2].decode(encoding)) == views(first[2].decode(encoding)) + 1 == a.views + 1
    site.charset_fault(article_id, None)
    status, headers, body = raw(site, f"/info/{article_id}")
    assert _strip_counter(body.decode(a.encoding)) == _strip_counter(saved)
    assert headers["Content-Type"] == ("text/html; charset=utf-8" if a.header_charset else "text/html")


@pytest.mark.parametrize("article_id", [NEWEST, spec.GB18030_ID, spec.SEED_ID, spec.EDITED_ID])
def test_charset_fault_broken_gives_replacement_characters_whatever_the_decoding(site, article_id):
    from w3lib.encoding import html_to_unicode

    from crawler.parsing import parse_article

    site.charset_fault(article_id, "broken")
    status, headers, body = raw(site, f"/info/{article_id}")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert meta_charsets(body) == ["utf-8"]
    assert body.count(b"\x80\xff") == 3  # <title>, heading, first body line
    readings = {
        "utf-8": body.decode("utf-8", "replace"),
        "gb18030": body.decode("gb18030", "replace"),
        "w3lib gb18030 (WHATWG: 0x80 is the euro sign)": html_to_unicode("text/html; charset=gb18030", body)[1],
        "w3lib as labelled": html_to_unicode(headers["Content-Type"], body)[1],
    }
    for name, page in readings.items():
        record = parse_article(page, f"https://www.lawyers.org.cn/info/{article_id}")
        assert "\ufffd" in (record["title"] or ""), name
        assert "\ufffd" in record["body"], name
    # Read as GB18030 it is the article, bar the damage.
    record = parse_article(readings["gb18030"], f"https://www.lawyers.org.cn/info/{article_id}")
    expected = site.expected_record(article_id)
    assert record["title"].replace("\ufffd", "") == expected["title"]
    assert record["body"].replace("\ufffd", "") == expected["body"]


def test_inject_title(site):
    from crawler.parsing import parse_article

    raw_html = "&#27;]0;pwned&#7;\x1b\u202e"
    for article_id in site.article_ids():
        a = spec.BY_ID[article_id]
        site.inject_title(article_id, raw_html)
        page = raw(site, f"/info/{article_id}")[2].decode(a.encoding)
        assert page.count(a.title.replace("&", "&amp;") + raw_html) == 2, article_id  # <title> and heading
        doc = lxml.html.document_fromstring(page)
        assert doc.findtext(".//title").startswith(a.title + "\x1b]0;pwned\x07\x1b\u202e")
        # Where the parser takes its title from, the injection is there too.
        title = parse_article(page, a.url)["title"]
        assert "]0;pwned" in title and title.startswith(a.title[:10]), article_id
    site.charset_fault(NEWEST, "gb18030-unlabelled")  # the switches combine
    assert "]0;pwned" in raw(site, f"/info/{NEWEST}")[2].decode("gb18030")


def test_huge_streams_exactly_the_size_asked(site):
    size = 3 * 1024 * 1024 + 7
    site.huge(NEWEST, size)
    status, headers, body = raw(site, f"/info/{NEWEST}")
    assert (status, int(headers["Content-Length"]), len(body)) == (200, size, size)
    page = body.decode("utf-8")
    assert page.rstrip().endswith("</html>") and "上海市律师协会召开2026年度全市律师行业工作会议" in page
    assert lxml.html.document_fromstring(body).findtext(".//title").startswith("上海市律师协会召开")
    assert raw(site, f"/info/{NEWEST}", method="HEAD")[1]["Content-Length"] == str(size)
    # A client that gives up half-way (a download size limit) leaves the server serving.
    site.huge(NEWEST, 50 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", site.port), timeout=5) as s:
        s.sendall(f"GET /info/{NEWEST} HTTP/1.0\r\n\r\n".encode())
        got = s.recv(65536)
        assert b"Content-Length: 52428800" in got
    site.huge(NEWEST, 10)  # smaller than the page: cut short, still exact
    assert len(raw(site, f"/info/{NEWEST}")[2]) == 10
    site.clear_failures()
    assert views(text(site, f"/info/{NEWEST}")) == 131  # huge answers are not views


def test_soft_404(site):
    site.soft_404(NEWEST)
    status, _, body = raw(site, f"/info/{NEWEST}")
    from fixtures import render

    assert status == 200 and body.decode("utf-8") == render.not_found_page()
    assert raw(site, f"/info/{OTHER}")[0] == 200 and b"404" not in raw(site, f"/info/{OTHER}")[2][:200]


def test_robots_modes(site):
    normal = raw(site, "/robots.txt")
    site.robots("5xx")
    assert raw(site, "/robots.txt")[0] == 503
    site.robots("404")
    assert raw(site, "/robots.txt")[0] == 404
    site.robots("disallow-all")
    assert raw(site, "/robots.txt")[::2] == (200, b"User-agent: *\nDisallow: /\n")
    site.robots("hang")
    site.hang_seconds = 0.5
    t0 = time.monotonic()
    assert raw(site, "/robots.txt")[::2] == normal[::2]
    assert time.monotonic() - t0 >= 0.5
    assert raw(site, "/")[0] == 200  # only robots.txt hangs
    site.robots(None)
    assert raw(site, "/robots.txt")[::2] == normal[::2]
    with pytest.raises(ValueError):
        site.robots("sometimes")


def test_stop_does_not_wait_for_a_hanging_robots_txt():
    import threading

    s = FixtureSite().start()
    s.robots("hang")  # hang_seconds: 30
    answered = []
    t = threading.Thread(target=lambda: answered.append(raw(s, "/robots.txt")[0]), daemon=True)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 2.0
    t.join(timeout=5)
    assert answered == [503]


def test_reset_faults_clears_every_switch(site):
    with FixtureSite() as other:
        site.redirect(NEWEST, other.base_url + "/")
        site.redirect_chain(OTHER, 2)
        site.charset_fault(spec.SEED_ID, "broken")
        site.inject_title(spec.EDITED_ID, "<b>x</b>")
        site.huge(spec.GB18030_ID, 1 << 20)
        site.soft_404(spec.COMMA_ROLLOVER_ID)
        site.robots("5xx")
        site.fail_next(None)
        site.truncate_next(None)
        site.hang_seconds = 1
        site.reset_faults()
    assert site.hang_seconds == 30
    assert raw(site, "/robots.txt")[0] == 200
    for article_id in site.article_ids():
        a = spec.BY_ID[article_id]
        status, headers, body = raw(site, f"/info/{article_id}")
        assert status == 200, article_id
        saved = (PAGES / "base" / "info" / f"{article_id}.html").read_bytes()
        assert _strip_counter(body.decode(a.encoding)) == _strip_counter(saved.decode(a.encoding)), article_id


def _strip_counter(page: str) -> str:
    return spec.COUNTER_RE.sub(lambda m: m.group(1) + "N", page)


# ------------------------------------------------------------------------- channels to discover
# Beyond the four channels of site.toml the site has the channels a crawl must find by
# itself from 业务指引: spec.discoverable_channels() says what each looks like and how it is
# reached; these tests hold the served site to it.
SITE = "https://www.lawyers.org.cn"


def served_path(href: str, page_url: str) -> str | None:
    """The path+query on the fixture site of a same-site link (any of the site's hosts),
    or None for another host, a script link or an in-page anchor."""
    from crawler.urls import SITE_HOSTS

    absolute = urllib.parse.urljoin(page_url, href.strip())
    parts = urllib.parse.urlsplit(absolute)
    if parts.scheme not in ("http", "https") or parts.hostname not in SITE_HOSTS:
        return None
    return parts.path + ("?" + parts.query if parts.query else "")


def anchors(html: str, page_path: str) -> list[tuple[str, str, bool]]:
    """(target path, link text, inside the breadcrumb) of every same-site link of a page."""
    doc = lxml.html.document_fromstring(html)
    out = []
    for a in doc.iter("a"):
        target = served_path(a.get("href") or "", SITE + page_path)
        if target is not None:
            in_crumbs = any(e.get("class") == "p-loc" for e in a.iterancestors())
            out.append((target, norm(a.text_content()), in_crumbs))
    return out


def list_rows_of(html: str, page_path: str) -> list[dict]:
    from crawler.parsing import parse_list

    return parse_list(html.encode("utf-8"), SITE + page_path)


def walk(site: FixtureSite) -> dict:
    """Follow every same-site link from 业务指引 page 1 (not the ones only a script knows),
    as a discovering crawl could. Returns what it saw: pages by status, links by target."""
    from crawler.urls import article_id_from_path

    start = spec.CHANNELS["guide"].url(1)
    queue, seen, status, linked = [start], {start}, {}, {}
    while queue:
        path = queue.pop(0)
        code, _, body = fetch(site, path)
        status[path] = code
        if code != 200:
            continue
        aid = article_id_from_path(SITE + path)
        html = body.decode(spec.BY_ID[aid].encoding if aid else "utf-8")
        for target, text_, in_crumbs in anchors(html, path):
            linked.setdefault(target, []).append((path, text_, in_crumbs))
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return {"status": status, "linked": linked}


@pytest.fixture(scope="module")
def walked():
    with FixtureSite() as s:
        yield walk(s), s.requests


def test_discoverable_channels_describe_the_served_site(site):
    channels = spec.discoverable_channels()
    assert [c["key"] for c in channels if c["classic"]] == ["guide", "news", "media", "magazine"]
    assert {c["kind"] for c in channels} == {"list", "tab", "issue"}
    for c in channels:
        size = len(c["ids"]) if c["kind"] == "issue" else spec.CHANNELS[c["key"]].page_size
        for n, url in enumerate(c["page_urls"], 1):
            html = text(site, url)
            rows = [r["id"] for r in list_rows_of(html, url)]
            assert rows == c["ids"][(n - 1) * size : n * size], (c["key"], n)
        if c["ids"] and not c["classic"]:
            assert len(c["ids"][:size]) >= 3, c["key"]  # page 1 is recognisably a list
            assert c["pages"] >= 2 or c["kind"] == "issue", c["key"]
        assert text(site, c["first_url"]) == text(site, c["page_urls"][0] if c["page_urls"] else c["first_url"])
    # Everything served is listed somewhere; only the script pager's pages stay out of reach.
    listed = {i for c in channels for i in c["ids"]}
    assert sorted(listed) == spec.all_served_ids("base") == site.all_article_ids()
    assert spec.discovered_ids() == sorted(listed - set(spec.script_only_ids()))
    assert len(spec.script_only_ids()) == 2 and len(spec.all_served_ids("base")) == 65
    # The classic four: served_ids keeps meaning what site.toml's crawl reaches.
    assert spec.served_ids("base") == sorted(i for c in channels if c["classic"] for i in c["ids"])


def test_url_shapes_of_the_new_channels(site):
    study, case, party = (spec.CHANNELS[k] for k in ("study", "case", "party"))
    assert [study.url(n) for n in (1, 2, 3)] == [f"/studies/achievements/list-{n}.html" for n in (1, 2, 3)]
    assert [case.url(n) for n in (1, 2)] == ["/studies/cases/index.html", "/studies/cases/index_2.html"]
    # Path-style pages exist as files: anything else is a 404, never an empty list.
    for path in (
        "/studies/achievements/list-0.html",
        "/studies/achievements/list-4.html",
        "/studies/cases/index_1.html",
        "/studies/cases/index_3.html",
        "/studies/cases/index_x.html",
    ):
        assert fetch(site, path)[0] == 404, path
    # Tabs: each its own URL; the bare list path is the first tab; an unknown tab is a 404.
    assert (
        text(site, spec.PAPERS_PATH)
        == text(site, "/studies/papers?tab=1&pageNumber=1")
        == text(site, "/studies/papers?pageNumber=0&tab=1")
    )
    assert [r["id"] for r in list_rows_of(text(site, "/studies/papers?tab=5"), "/studies/papers?tab=5")] == [
        a.id for a in spec.list_page("paper-library", "base", 1)
    ]
    assert list_rows_of(text(site, "/studies/papers?tab=2"), "/studies/papers?tab=2") == []
    assert "暂无数据" in text(site, "/studies/papers?tab=2")
    assert fetch(site, "/studies/papers?tab=9")[0] == 404
    assert [c.tab for c in spec.CHANNELS.values() if c.tab] == [1, 2, 3, 4, 5]
    assert [c.name for c in spec.CHANNELS.values() if c.tab] == list(spec.PAPER_TABS)
    assert sum(bool(spec.list_rows(c.key, "base")) for c in spec.CHANNELS.values() if c.tab) == 2
    # The script-paged list serves its later pages by URL; nothing on the page links them.
    p1 = text(site, party.entry_url)
    assert fetch(site, "/party/list?pn=2")[0] == 200
    page2 = [r["id"] for r in list_rows_of(text(site, "/party/list?pn=2"), "/party/list?pn=2")]
    assert page2 == [a.id for a in spec.list_page("party", "base", 2)] and sorted(page2) == spec.script_only_ids()
    assert '<a href="javascript:void(0)" onclick="goPage(2)">下一页</a>' in p1
    assert [t for t, _, _ in anchors(p1, party.entry_url) if t.startswith("/party/list?")] == []
    assert all(r["category"] is None for r in list_rows_of(p1, party.entry_url))


def test_every_list_page_has_its_own_pager(site):
    for ch in spec.CHANNELS.values():
        pages = spec.page_count(ch.key, "base")
        for n in range(1, pages + 1):
            url = ch.url(n)
            html = text(site, url)
            links = anchors(html, url)
            nexts = [t for t, label, _ in links if "下一页" in label]
            numbers = {label: t for t, label, _ in links if label.isdigit()}
            if ch.pager == "js":
                assert nexts == [] and numbers == {} and html.count("goPage(") >= pages, ch.key
                continue
            assert nexts == ([ch.url(n + 1)] if n < pages else []), (ch.key, n, nexts)
            assert numbers == {str(m): ch.url(m) for m in range(1, pages + 1) if m != n}, (ch.key, n, numbers)
    # The last page still shows the word, as text: only a link is a way on.
    last = text(site, spec.CHANNELS["study"].url(3))
    assert "<span>下一页</span>" in last
    # The forms differ: query-only, absolute path, file name, www. host.
    assert 'href="?currentPageNo=2">下一页</a>' in text(site, spec.CHANNELS["guide"].url(1))
    assert f'href="{spec.CHANNELS["news"].path}?pageNumber=2">下一页</a>' in text(site, spec.CHANNELS["news"].url(1))
    assert '<a href="list-2.html">下一页</a>' in text(site, spec.CHANNELS["study"].url(1))
    assert '<a href="index_2.html">下一页&gt;&gt;</a>' in text(site, spec.CHANNELS["case"].url(1))
    assert '<a class="next" href="/studies/papers?tab=1&amp;pageNumber=2"><span>下一页</span></a>' in text(
        site, spec.PAPERS_PATH
    )
    district = spec.CHANNELS["district"]
    assert f'<a href="https://www.lawyers.org.cn{district.path}?pageNo=2">下一页</a>' in text(site, district.url(1))


def test_a_list_whose_second_page_is_laid_out_differently(site):
    district = spec.CHANNELS["district"]
    p1, p2 = text(site, district.url(1)), text(site, district.url(2))
    assert '<ul class="dl1">' in p1 and "<table" not in p1.split("<aside")[0]
    assert '<table class="dl2">' in p2 and '<ul class="dl1">' not in p2
    assert [r["date"] for r in list_rows_of(p2, district.url(2))] == [
        a.list_date for a in spec.list_page("district", "base", 2)
    ]
    assert "2024年11月07日" in p2 and "2025/11/20" in p1


def test_breadcrumbs_link_the_lists(site):
    forms = set()
    for article_id in spec.all_served_ids("base"):
        a = spec.BY_ID[article_id]
        hrefs = spec.crumb_hrefs(a)
        for h in hrefs:
            if h is not None:
                forms.add(urllib.parse.urlsplit(h).netloc)
                assert fetch(site, served_path(h, a.url))[0] == 200, (a.key, h)
        if a.crumbs[-2:] == ("业内动态", "媒体报道"):
            assert hrefs[-2] is None and hrefs[-1] is not None
    assert forms == {"", "www.lawyers.org.cn", "wx.lawyers.org.cn", "info.lawyers.org.cn"}
    # One whole article ends its breadcrumb in plain text.
    plain = [a.key for a in spec.ALL_ARTICLES if spec.crumb_hrefs(a)[-1] is None]
    assert plain == ["study-bankruptcy-2024"]
    page = text(site, "/info/4a9fe85b9e1553390294719d82a1b238")
    assert "&gt;&gt; 研究成果</div>" in page
    # Both colon forms, as before.
    assert '当前位置: <a href="/">首页</a> &gt;&gt; <a href="' in page
    assert '当前位置：<a href="/">首页</a> &gt;&gt; <a href="' in text(site, f"/info/{NEWEST}")


def test_a_walk_from_the_business_guide_finds_every_channel(walked):
    seen, requests = walked
    status, linked = seen["status"], seen["linked"]
    for c in spec.discoverable_channels():
        assert status.get(c["first_url"]) == 200, c["key"]
        for url in c["page_urls"][1 : c["walkable_pages"]]:  # page 1 may be reached as first_url
            assert status.get(url) == 200, (c["key"], url)
    # Every article a discovery should archive is linked, the script pager's are not.
    article_paths = {t for t in linked if t.startswith("/info/")}
    assert {t[6:] for t in article_paths} == set(spec.discovered_ids())
    assert not any(i in t for t in linked for i in spec.script_only_ids())
    assert "/party/list?pn=2" not in status
    # 研究成果 is linked by breadcrumbs only (and by its own pager).
    study = spec.CHANNELS["study"]
    study_urls = {study.url(n) for n in (1, 2, 3)}
    outside = [
        (src, t) for t in study_urls for src, _, crumbs in linked.get(t, []) if not crumbs and src not in study_urls
    ]
    assert outside == [] and any(crumbs for _, _, crumbs in linked[study.entry_url])
    # The login host and the other services are never requested.
    assert not any("passport3" in r or "credit." in r for r in requests)


def test_pages_that_are_not_lists(site):
    home = text(site, "/")
    assert "<script" in home and list_rows_of(home, "/") == []
    about = text(site, spec.ABOUT_PATH)
    assert "协会简介" in about and list_rows_of(about, spec.ABOUT_PATH) == []
    for hub in spec.HUBS.values():
        html = text(site, hub.path)
        assert list_rows_of(html, hub.path) == [] and "/info/" not in html.split("<aside")[0], hub.key
        targets = [t for t, _, _ in anchors(html, hub.path)]
        assert all(href in targets for _, href in hub.links), hub.key
    # The magazine: hub -> years -> issues -> a table of contents without dates.
    mag_hub = text(site, spec.MAG_HUB)
    assert [
        t for t, _, _ in anchors(mag_hub, spec.MAG_HUB) if t in (spec.year_path("2022"), spec.year_path("2021"))
    ] == [spec.year_path("2022"), spec.year_path("2021")]
    for name, issue in spec.ISSUES.items():
        assert issue.path in [
            t for t, _, _ in anchors(text(site, spec.year_path(issue.year)), spec.year_path(issue.year))
        ]
        rows = list_rows_of(text(site, issue.path), issue.path)
        assert [r["id"] for r in rows] == [a.id for _, a in spec.issue_rows(name, "base")] and len(rows) >= 3
        assert all(r["date"] is None for r in rows)
    # The navigation: 协会介绍 (text), 会员服务 and the login on the passport3 host.
    new = text(site, f"/info/{NEWEST}")
    assert f'<li><a href="{spec.ABOUT_PATH}">协会介绍</a></li>' in new
    assert f'<li><a href="{html_attr(spec.LOGIN_URL)}">会员服务</a></li>' in new
    assert f'<li><a href="{spec.MAG_HUB}">律师文化</a></li>' in new


def html_attr(s: str) -> str:
    import html

    return html.escape(s, quote=True)


def test_magazine_articles_print_a_subtitle_and_no_date(site):
    congress = text(site, "/info/5fe48f7254c72f51c0b106cf3b73f678")
    assert (
        '<h1 class="k-t">发挥法治保障作用 建设高素质律师队伍</h1>\n<p class="k-st">上海市第十一届律师代表大会第四次会议顺利召开</p>\n'
        '<div class="i-mt">2022年第06期  作者:文│本刊记者  阅读 2,468 次</div>'
    ) in congress
    rec = site.expected_record("5fe48f7254c72f51c0b106cf3b73f678")
    assert (rec["title"], rec["subtitle"], rec["published"], rec["issue"], rec["source"]) == (
        "发挥法治保障作用 建设高素质律师队伍",
        "上海市第十一届律师代表大会第四次会议顺利召开",
        None,
        "2022-06",
        "《上海律师》2022年第06期",
    )
    mags = [a for a in spec.ALL_ARTICLES if a.meta == "magazine"]
    assert len(mags) == 10 and sum(a.subtitle is not None for a in mags) == 6
    assert {a.design for a in mags} == {"new", "div"}
    assert {spec.BY_ID[i].issue_month for i in spec.MAGAZINE_IDS} == {"2022-06", "2022-05"}
    # The classic magazine list keeps serving what site.toml's tests expect.
    assert [r["id"] for r in list_rows_of(text(site, MAGAZINE + "?pageNumber=1"), MAGAZINE)] == [
        a.id for a in spec.list_page("magazine", "base", 1)
    ]


def test_div_design_side_box_links_newest_items_and_more(site):
    page = text(site, "/info/515ad22279abf6e6b031c216a03444ce")  # a div-design 案例评析 row of 业务指引
    district = spec.CHANNELS["district"]
    assert f'<a class="mr" href="{district.entry_url}">[更多]</a>' in page
    box = [t[6:] for t, _, _ in anchors(page, "/info/x") if t.startswith("/info/")]
    assert box == [a.id for a in spec.list_page("district", "base", 1)]


def test_discovered_new_state(site):
    case = spec.CHANNELS["case"]
    before = {ch.key: text(site, ch.url(1)) for ch in spec.CLASSIC_CHANNELS}
    assert fetch(site, f"/info/{spec.DISCOVERED_ID}")[0] == 404
    site.set_state("discovered-new")
    assert site.article_ids() == spec.served_ids("base")  # the classic site is unchanged
    assert site.all_article_ids() == sorted(spec.all_served_ids("base") + [spec.DISCOVERED_ID])
    assert {ch.key: text(site, ch.url(1)) for ch in spec.CLASSIC_CHANNELS} == before
    rows = [r["id"] for r in list_rows_of(text(site, case.url(1)), case.url(1))]
    assert rows == [spec.DISCOVERED_ID] + [a.id for a in spec.list_page("case", "base", 1)][:2]
    assert fetch(site, "/studies/cases/index_3.html")[0] == 200  # one more row, one more page
    assert fetch(site, f"/info/{spec.DISCOVERED_ID}")[0] == 200
    rec = site.expected_record(spec.DISCOVERED_ID)
    assert (rec["section"], rec["published"], rec["views"]) == ("业务研究 > 案例评析", "2026-02-20", 9)
    assert spec.DISCOVERED_ID in spec.discovered_ids("discovered-new")
