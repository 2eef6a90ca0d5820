"""storage.chinese: the one traditional-to-simplified table and pinyin-note pattern, the
parser's key and the search index's folded form, checked from tables of exact cases; and
no second table or pattern anywhere else in barwatch's code."""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

import pytest

from storage import chinese, search
from storage.chinese import TRAD_TO_SIMP, Keyed, fold, fold_text, key_of, pinyin_spans

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "fixtures" / "pages"
MIRROR = "2f1b2bc85299f52b4ef92839ed3772ff"  # base/info: the traditional mirror copy, with pinyin notes

# ---------------------------------------------------------------------------- the search index's form
FOLD_CASES = [
    ("寶山區律師協會", "宝山区律师协会"),
    ("寶山區(qū)律師行業(yè)黨委", "宝山区律师行业党委"),  # notes dropped
    ("會（huì）議（yì）", "会议"),  # full-width parentheses
    ("為(wèi)會(huì)", "为会"),
    ("嗯(ń)", "嗯"),  # a syllabic nasal
    ("呂(LǙ)", "吕(lǚ)"),  # Ǚ (capital) is not a pinyin letter: kept, lower-cased
    ("頂部瀏覽", "顶部浏览"),  # the pairs the crawler's table brought to the union
    ("滬ＩＣＰ備17030485號", "沪icp备17030485号"),  # NFKC and lower case
    ("著作權", "著作权"),  # 著 is also a simplified character: left alone
    ("第(一)條", "第(一)条"),  # not pinyin
    ("時間(9:00-11:30)", "时间(9:00-11:30)"),
    ("會(huìhuìhuì)", "会(huìhuìhuì)"),  # nine letters: no note
    ("ICP(huì)", "icp(huì)"),  # a note follows a CJK character
    ("㈠會(huì)議", "(一)会议"),  # NFKC expands ㈠
    ("", ""),
    (None, ""),
]


@pytest.mark.parametrize("text,folded", FOLD_CASES)
def test_fold_text(text, folded):
    assert fold_text(text) == folded
    assert fold(text)[0] == folded


FOLD_MAP_CASES = [
    # (text, folded, the original character each folded character comes from)
    ("寶山區(qū)ＩＣＰ備", "宝山区icp备", "寶山區ＩＣＰ備"),
    ("會（huì）議(yì)。", "会议。", "會議。"),
    ("律師", "律师", "律師"),
    ("㈠會(huì)", "(一)会", "㈠㈠㈠會"),
]


@pytest.mark.parametrize("text,folded,sources", FOLD_MAP_CASES)
def test_fold_maps_back_to_the_original(text, folded, sources):
    out, index_map = fold(text)
    assert out == folded
    assert "".join(text[i] for i in index_map) == sources


@pytest.mark.parametrize(
    "text,spans",
    [
        ("區(qū)律師協（xié）會", [(1, 5), (8, 13)]),
        ("(qū)區", []),  # nothing before the note
        ("律師", []),
        ("區(qū", []),
    ],
)
def test_pinyin_spans(text, spans):
    assert pinyin_spans(text) == spans


# ---------------------------------------------------------------------------- the parser's key
KEY_CASES = [
    ("日期:2020-04-30", "日期:2020-04-30"),
    ("閱讀(yuè)：1,286次", "阅读：1,286次"),  # only notes and script change: no NFKC
    ("ＩＣＰ備(bèi)", "ＩＣＰ备"),  # nor case or width
    ("當(dāng)前位置: 行業(yè)資訊", "当前位置: 行业资讯"),
    ("點（diǎn）擊", "点击"),
]


@pytest.mark.parametrize("text,key", KEY_CASES)
def test_key(text, key):
    assert key_of(text) == key
    assert Keyed(text).key == key


@pytest.mark.parametrize(
    "text,pattern,value",
    [
        # The note after the span's last character stays with it.
        ("作者：寶山區(qū)律師工作委員會(huì)", r"作者：(.+)", "寶山區(qū)律師工作委員會(huì)"),
        ("會(huì)議紀要", r"议", "議"),  # the note of a character before the span does not
        ("來源：新民晚報", r"来源：(.+)", "新民晚報"),
        ("律師", r"律师", "律師"),
    ],
)
def test_keyed_cuts_values_out_of_the_original(text, pattern, value):
    k = Keyed(text)
    m = re.search(pattern, k.key)
    assert m is not None
    assert k.group(m, m.re.groups) == value


def _mirror_meta_line() -> str:
    page = (PAGES / "base" / "info" / f"{MIRROR}.html").read_text("utf-8")  # <meta charset="utf-8">
    (line,) = re.findall(r'<div class="i-mt">([^<]*)</div>', page)
    return html.unescape(line)


def test_a_mirror_page_line_keyed_as_the_parser_needs():
    line = _mirror_meta_line()
    assert line == "日期:2020-04-30  作者:寶山區(qū)律師工作委員會(huì)  閱讀:1,286次"
    k = Keyed(line)
    assert k.key == key_of(line) == "日期:2020-04-30  作者:宝山区律师工作委员会  阅读:1,286次"
    m = re.search(r"作者:(\S+)\s+阅读:([\d,]+)次", k.key)
    assert m is not None
    expected = json.loads((PAGES / "base" / "info" / f"{MIRROR}.expected.json").read_text("utf-8"))
    assert k.group(m, 1) == expected["author"] == "寶山區(qū)律師工作委員會(huì)"
    assert k.group(m, 2) == "1,286"


def _fixture_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(PAGES.glob("*/info/*.expected.json")):
        record = json.loads(path.read_text("utf-8"))
        for field in ("title", "section", "author", "source", "body"):
            lines += (record.get(field) or "").split("\n")
    return lines


def test_the_fast_paths_agree_with_the_slow_ones():
    lines = _fixture_lines()
    assert sum(bool(pinyin_spans(x)) for x in lines) > 10  # mirror copies among them
    for x in lines:
        k = Keyed(x)
        assert k.key == key_of(x) == re.sub(chinese.PINYIN_NOTE_RE, "", x).translate(TRAD_TO_SIMP)
        assert k.original(0, len(k.key)) == x
        folded, index_map = fold(x)
        assert folded == fold_text(x) and len(index_map) == len(folded)


# ---------------------------------------------------------------------------- the table
@pytest.mark.parametrize(
    "pairs,message",
    [
        ("會会 會会", "會会"),  # twice
        ("会会", "会会"),  # to itself
        ("會", "會"),  # no simplified form
        ("會会 会x", "both"),  # 会 is a target and a source
    ],
)
def test_a_bad_table_is_refused(pairs, message):
    with pytest.raises(ValueError, match=message):
        chinese._table(pairs)


def test_the_table_is_the_pairs_string():
    assert {chr(t): s for t, s in TRAD_TO_SIMP.items()} == {p[0]: p[1] for p in chinese.TRAD_SIMP_PAIRS.split()}
    assert len(TRAD_TO_SIMP) >= 1142


def test_a_change_of_folding_rebuilds_the_search_index(monkeypatch):
    before = search.segmenter_version()
    monkeypatch.setattr(chinese, "SIGNATURE", "something else")
    assert search.segmenter_version() != before


# ---------------------------------------------------------------------------- one definition
_TONE_LETTERS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


def _strings(node: ast.AST) -> list[str]:
    """Every string constant in ``node``, with \\uXXXX escapes of raw strings decoded."""
    return [
        _ESCAPE_RE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), n.value)
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _folding_definitions(source: str) -> list[str]:
    """Where ``source`` looks like it defines a traditional-to-simplified table (five or
    more traditional characters in one string, dict, call or collection) or a pinyin
    pattern (tone letters side by side, as in a character class ``[āáǎà]``: real pinyin
    has one tone letter a syllable; or many distinct tone letters in one string)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant | ast.Dict | ast.Call | ast.List | ast.Tuple | ast.Set | ast.JoinedStr):
            text = "".join(_strings(node))
            if len({c for c in text if ord(c) in TRAD_TO_SIMP}) >= 5:
                found.append(f"line {node.lineno}: traditional characters {text[:40]!r}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            (text,) = _strings(node)
            tones = set(text) & set(_TONE_LETTERS)
            if re.search(f"[{_TONE_LETTERS}]{{2}}", text) or len(tones) >= 6:
                found.append(f"line {node.lineno}: pinyin tone letters {text[:40]!r}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        '_TRAD = "當頁時間發閱讀瀏覽點擊來權聲"',
        '_TRAD_SIMP_PAIRS = """\n愛爱 罷罢 備备 貝贝 筆笔\n"""',
        'TABLE = str.maketrans({"會": "会", "區": "区", "師": "师", "協": "协", "東": "东"})',
        'TABLE = {ord(t): s for t, s in zip("會區師協東", "会区师协东")}',
        'T = {ord("會"): "会", ord("區"): "区", ord("師"): "师", ord("協"): "协", ord("東"): "东"}',
        '_PINYIN_CHARS = "a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüê"',
        'P = re.compile(r"(?<=[\\u4e00-\\u9fff])\\([a-z\\u0101\\u00e1\\u01ce\\u00e0]{1,7}\\)")',
        'P = re.compile(rf"(?<=[{CJK}])\\((?:[a-z]|ā|á|ǎ|à|ē|é|ě|è|ī|í)+\\)")',
    ],
)
def test_the_scan_finds_a_table_or_pattern(source):
    assert _folding_definitions(source)


@pytest.mark.parametrize(
    "source",
    [
        '"""Mirrors add pinyin notes: ``會(huì)``, ``區(qū)``, ``為(wèi)``."""',
        'assert key_of("寶山區(qū)律師") == "宝山区律师"',
        'LABELS = ("发布时间", "作者", "来源", "阅读", "浏览次数", "上海市律师协会")',
    ],
)
def test_the_scan_lets_examples_pass(source):
    assert _folding_definitions(source) == []


def test_nothing_else_defines_a_table_or_a_pinyin_pattern():
    sources = sorted(p for d in ("crawler", "storage", "scheduler") for p in (ROOT / d).rglob("*.py"))
    assert len(sources) > 20
    assert _folding_definitions((ROOT / "storage" / "chinese.py").read_text("utf-8"))  # the scan sees the real one
    found = {
        str(p.relative_to(ROOT)): hits
        for p in sources
        if p != ROOT / "storage" / "chinese.py" and (hits := _folding_definitions(p.read_text("utf-8")))
    }
    assert found == {}, "storage.chinese holds the one table and pinyin pattern: use them"
