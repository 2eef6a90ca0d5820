"""Decoding pages (crawler.parsing.decode_html) and telling a wrongly decoded text
(storage.textops.encoding_problem): a correct page must never become mojibake, and
mojibake must never pass as clean text."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from crawler.parsing import decode_html, parse_article
from storage.textops import encoding_problem

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "fixtures" / "pages"
EXPECTED = sorted(PAGES.glob("**/*.json"))
SEEDS = sorted((ROOT / "fixtures" / "seed").glob("*"))
HTML_PAGES = sorted(PAGES.glob("*/info/*.html"))
URL = "https://www.lawyers.org.cn/info/" + "ab" * 16

NAME = "上海市律师协会"
TEXT = "上海市律师协会关于开展2024年度律师执业年度考核工作的通知"


def page(meta: str = "", text: str = TEXT) -> str:
    return (
        f"<html><head>{meta}<title>{text} - 东方律师网</title></head><body>"
        f"<h1>{text}</h1><div>日期:2026-01-23 作者:办公室</div><p>正文：{text}。</p></body></html>"
    )


# --------------------------------------------------------------------------- decode_html
def test_the_trap_gb18030_reads_utf8_without_any_replacement_character():
    # Why labels cannot be trusted: this is what a UTF-8 page labelled gb2312 used to become.
    wrong = NAME.encode("utf-8").decode("gb18030", "replace")
    assert wrong.startswith("涓婃捣甯傚緥甯堝崗浼")
    assert decode_html(NAME.encode("utf-8"), "text/html; charset=gb2312") == NAME


@pytest.mark.parametrize("label", ["gb2312", "GBK", "x-gbk", "gb_2312-80", "gb18030", "latin-1", "big5", "shift_jis"])
@pytest.mark.parametrize("where", ["header", "meta", "http-equiv", "both"])
def test_valid_utf8_is_utf8_whatever_the_label(label, where):
    meta = {
        "meta": f'<meta charset="{label}">',
        "http-equiv": f'<meta http-equiv="Content-Type" content="text/html; charset={label}">',
        "both": f'<meta charset="{label}">',
    }.get(where, "")
    header = f"text/html; charset={label}" if where in ("header", "both") else None
    data = page(meta).encode("utf-8")
    assert decode_html(data, header) == page(meta)
    rec = parse_article(data if header is None else decode_html(data, header), URL)
    assert rec["title"] == TEXT and encoding_problem(rec["title"]) is None


def test_utf8_bom_is_dropped():
    assert decode_html(codecs.BOM_UTF8 + page().encode("utf-8"), "text/html; charset=gbk") == page()


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(enc):
    bom = codecs.BOM_UTF16_LE if enc.endswith("le") else codecs.BOM_UTF16_BE
    assert decode_html(bom + page().encode(enc), "text/html; charset=gb2312") == page()


@pytest.mark.parametrize("label", ["gb2312", "gbk", "x-gbk", "gb_2312-80", "GB2312", "csGB2312", "cp936"])
def test_gb_family_labels_decode_as_gb18030(label):
    # 𠀀 and © need GB18030's four-byte sequences: GBK proper would lose them.
    text = page(f'<meta charset="{label}">', TEXT + "𠀀©")
    data = text.encode("gb18030")
    assert decode_html(data, None) == text
    assert decode_html(data, f"text/html; charset={label}") == text
    assert decode_html(data, f'text/html; charset="{label}"') == text


def test_header_beats_meta_and_meta_beats_the_default():
    big5 = '<html><head><meta charset="big5"></head><body><h1>上海律師協會通知</h1></body></html>'
    data = big5.encode("big5")
    assert decode_html(data, None) == big5  # meta
    assert decode_html(data, "text/html; charset=big5") == big5
    gb = page('<meta charset="big5">').encode("gb18030")
    assert decode_html(gb, "text/html; charset=gbk") == page('<meta charset="big5">')  # header over meta


@pytest.mark.parametrize(
    "label", ["no-such-charset", "utf-7", "base64", "rot13", "unicode_escape", "x-user-defined-nonsense", ""]
)
def test_unknown_or_unsafe_labels_fall_through(label):
    text = page(f'<meta charset="{label}">')
    data = text.encode("gb18030")
    assert decode_html(data, f"text/html; charset={label}") == text  # -> meta (ignored) -> GB18030
    gbk_meta = page(f'<meta charset="{label}"><meta charset="gbk">')
    assert decode_html(gbk_meta.encode("gb18030"), f"text/html; charset={label}") == gbk_meta


def test_no_label_at_all_is_gb18030():
    assert decode_html(page().encode("gb18030"), None) == page()
    assert decode_html(page().encode("gb18030"), "text/html") == page()


def test_meta_in_a_comment_or_after_body_is_not_a_declaration():
    text = page('<!-- <meta charset="big5"> -->')
    assert decode_html(text.encode("gb18030"), None) == text
    late = "<html><head></head><body><meta charset='big5'>" + "上海律师" * 10 + "</body></html>"
    assert decode_html(late.encode("gb18030"), None) == late


def test_bytes_that_do_not_decode_become_replacement_characters_and_are_reported():
    broken = page('<meta charset="utf-8">').encode("utf-8")
    broken = broken.replace(TEXT.encode("utf-8")[:6], TEXT.encode("utf-8")[:5] + b"\xff", 1)
    text = decode_html(broken, "text/html; charset=utf-8")
    assert "\ufffd" in text
    assert "U+FFFD" in encoding_problem(text)
    # Without a label the same bytes are not valid UTF-8 and not GB18030 either.
    assert encoding_problem(decode_html(b"\xff\xfe\xfd" + b"abc" + "协会".encode()[:-1], None)) is not None


def test_str_passes_through():
    assert decode_html(page(), "text/html; charset=gbk") == page()


def test_pure_ascii():
    assert decode_html(b"<html><body><p>plain</p></body></html>", "text/html; charset=gbk") == (
        "<html><body><p>plain</p></body></html>"
    )


@pytest.mark.parametrize("path", HTML_PAGES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_fixture_page_decodes_cleanly_and_its_utf8_survives_a_gb_label(path):
    data = path.read_bytes()
    text = decode_html(data, None)
    assert "\ufffd" not in text
    utf8 = text.encode("utf-8")
    assert decode_html(utf8, "text/html; charset=gb2312") == text


# --------------------------------------------------------------------------- encoding_problem
def _texts_of_expected_records():
    for path in EXPECTED:
        rec = json.loads(path.read_text(encoding="utf-8"))
        for key in ("title", "body", "section", "author", "source"):
            value = rec.get(key)
            if isinstance(value, str) and value:
                yield pytest.param(value, id=f"{path.parent.parent.name}/{path.stem[:8]}/{key}")
                if key == "body":
                    for i, line in enumerate(value.split("\n")):
                        yield pytest.param(line, id=f"{path.parent.parent.name}/{path.stem[:8]}/body{i}")


CLEAN = list(_texts_of_expected_records())


def test_there_are_fixture_texts():
    assert len(CLEAN) > 100 and SEEDS


@pytest.mark.parametrize("text", CLEAN)
def test_fixture_text_is_clean(text):
    assert encoding_problem(text) is None


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_article_is_clean(path):
    text = path.read_text(encoding="utf-8")
    assert encoding_problem(text) is None
    for line in text.split("\n"):
        assert encoding_problem(line) is None, line


@pytest.mark.parametrize("path", HTML_PAGES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_parsed_fixture_titles_and_bodies_are_clean(path):
    try:
        rec = parse_article(path.read_bytes(), f"https://www.lawyers.org.cn/info/{path.stem}")
    except Exception:  # noqa: BLE001 - error pages are test_fixture_records' business
        return
    assert encoding_problem(rec["title"]) is None
    assert encoding_problem(rec["body"]) is None


SHORT_CLEAN = [
    "通知",
    "律师",
    "甬江",
    "黏附",
    "娼妓",
    "婵娟",
    "涓滴归公",
    "皓矾",
    "律工委",
    "上海",
    "会",
    "2024年第3期《上海律师》",
    "PDF下载",
    "关于举办AI与法律研讨会的通知",
    "Q&A：律师执业常见问题",
    "第12届上海律师论坛（2024）",
    "沪ICP备17030485号",
    "咨询电话：021-12345678",
    "·",
    "©2017-2024",
    "寶山區律師行業黨委",
    "會(huì)議",
    "café",
    "naïve résumé",
    "Zürich",
    "£100",
    "50°C",
    "™",
    "—",
    "“引号”",
    "A",
    "",
    None,
    "plain ascii text",
]


@pytest.mark.parametrize("text", SHORT_CLEAN)
def test_ordinary_short_text_is_clean(text):
    assert encoding_problem(text) is None


MOJIBAKE_SOURCES = [NAME, TEXT, "律师", "上海律协", "关于召开会员大会的通知", "寶山區律師行業黨委", "2024年度考核"]


@pytest.mark.parametrize("text", MOJIBAKE_SOURCES)
def test_utf8_read_as_gb18030_is_reported(text):
    wrong = text.encode("utf-8").decode("gb18030", "replace")
    reason = encoding_problem(wrong)
    assert reason is not None
    assert ("GB18030" in reason) or ("U+FFFD" in reason)


def test_the_example_of_the_issue_is_reported():
    assert "GB18030" in encoding_problem("涓婃捣甯傚緥甯堝崗浼")
    whole = "律师协会通知".encode().decode("gb18030")  # strict: decodes without an error
    assert whole == "寰嬪笀鍗忎細閫氱煡"
    assert encoding_problem(whole) == "mojibake: UTF-8 read as GB18030/GBK (reads '律师协会通知' as UTF-8)"


@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
@pytest.mark.parametrize("text", MOJIBAKE_SOURCES + ["café"])
def test_utf8_read_as_latin1_or_cp1252_is_reported(codec, text):
    wrong = text.encode("utf-8").decode(codec, "replace")
    reason = encoding_problem(wrong)
    assert reason is not None
    assert ("latin-1" in reason) or ("U+FFFD" in reason)


def test_mojibake_of_every_fixture_title_and_body_is_reported():
    missed = []
    for path in EXPECTED:
        rec = json.loads(path.read_text(encoding="utf-8"))
        for key in ("title", "body"):
            value = rec.get(key)
            if not value:
                continue
            for codec in ("gb18030", "cp1252"):
                if encoding_problem(value.encode("utf-8").decode(codec, "replace")) is None:
                    missed.append((path.stem, key, codec))
    assert missed == []


def test_replacement_character():
    assert encoding_problem("正文\ufffd第二段") == "1 U+FFFD replacement character: bytes that did not decode"
    assert encoding_problem("\ufffd\ufffd") == "2 U+FFFD replacement characters: bytes that did not decode"
