"""The chart of articles per month by section (``/<db>/-/chart``): an SVG that scales to
its container, month labels that do not touch at any font tier, an HTML legend."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest

from storage import serve
from storage.datasette_plugin import chart
from tests.test_search import GUIDE, build_fixture_archive, fixture_record

SVG = "{http://www.w3.org/2000/svg}"


def months_between(first: str, last: str) -> list[str]:
    return chart._month_range(first, last)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(f".//{SVG}rect[@class='bar']")


def ticks(root: ET.Element, tier: int) -> list[tuple[float, str]]:
    """(x, text) of the month labels shown at a tier, left to right."""
    out = []
    for t in root.findall(f".//{SVG}g[@class='x']/{SVG}text"):
        if f"t{tier}" in t.get("class").split():
            out.append((float(t.get("x")), t.text))
    return sorted(out)


def one_a_month(first: str, last: str, sections: int = 1) -> list[tuple[str, str, int]]:
    months = months_between(first, last)
    return [(m, f"栏目{s}", 1 + (i + s) % 3) for i, m in enumerate(months) for s in range(sections)]


# ---------------------------------------------------------------------------- the SVG's size
@pytest.mark.parametrize(
    "first,last", [("2025-06", "2025-06"), ("2024-11", "2025-01"), ("2012-05", "2026-01"), ("1990-01", "2026-12")]
)
def test_svg_scales_to_its_container(first, last):
    svg = chart.chart_svg(one_a_month(first, last))
    root = parse(svg)
    # No size in pixels: the viewBox is fixed whatever the number of months, and the
    # browser scales it to the container's width (height follows the aspect ratio).
    assert root.get("viewBox") == "0 0 960 319" == f"0 0 {chart.VIEW_W} {chart.VIEW_H}"
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert root.get("preserveAspectRatio") == "xMidYMid meet"
    assert "width:100%" in root.get("style") and "height:auto" in root.get("style")
    assert root.get("class") == "barwatch-chart"
    assert not re.search(r'<svg[^>]*\s(width|height)="[\d.]+(px)?"', svg)
    # Every bar lies inside the viewBox, so inside the container.
    for bar in bars(root):
        x, w = float(bar.get("x")), float(bar.get("width"))
        assert x >= 0 and x + w <= chart.VIEW_W - chart.RIGHT + 0.01, bar.attrib


def test_bar_count_is_months_times_stacked_sections():
    rows = one_a_month("2023-01", "2024-12", sections=3)
    root = parse(chart.chart_svg(rows))
    assert len(bars(root)) == 24 * 3
    assert {b.get("data-month") for b in bars(root)} == set(months_between("2023-01", "2024-12"))
    # More sections than colours: the smallest share one 其他 segment per month.
    rows = one_a_month("2023-01", "2024-12", sections=12)
    root = parse(chart.chart_svg(rows))
    assert len(bars(root)) == 24 * len(chart.PALETTE)
    assert sum(b.get("data-section") == chart.OTHER for b in bars(root)) == 24


def test_bars_are_evenly_spaced_and_gaps_stay_empty():
    rows = [r for r in one_a_month("2020-01", "2021-12") if r[0] not in ("2020-06", "2020-07")]
    root = parse(chart.chart_svg(rows))
    xs = {b.get("data-month"): float(b.get("x")) for b in bars(root)}
    assert len(xs) == 22 and "2020-06" not in xs
    slot = (chart.VIEW_W - chart.RIGHT - 29) / 24  # left margin 29: room for "4" at the largest font
    assert xs["2020-02"] - xs["2020-01"] == pytest.approx(slot, abs=0.02)
    assert xs["2020-08"] - xs["2020-05"] == pytest.approx(3 * slot, abs=0.02)
    width = float(bars(root)[0].get("width"))
    assert width == pytest.approx(slot * 0.8, abs=0.01)  # a gap between neighbouring months


def test_few_months_get_narrow_bars():
    root = parse(chart.chart_svg([("2025-06", "甲", 3)]))
    [bar] = bars(root)
    assert bar.get("width") == "48"
    assert bar.find(f"{SVG}title").text == "2025-06 甲: 3"


def test_y_axis_has_round_numbers():
    root = parse(chart.chart_svg([("2025-01", "甲", 7), ("2025-02", "甲", 3)]))
    labels = [t.text for t in root.findall(f".//{SVG}g[@class='y']/{SVG}text")]
    assert labels == ["0", "2", "4", "6", "8"]
    [tall, short] = bars(root)
    assert float(tall.get("height")) == pytest.approx(chart.PLOT_H * 7 / 8, abs=0.01)
    root = parse(chart.chart_svg([("2025-01", "甲", 1234)]))
    assert [t.text for t in root.findall(f".//{SVG}g[@class='y']/{SVG}text")] == ["0", "500", "1000", "1500"]


# ---------------------------------------------------------------------------- month labels
def test_label_steps():
    plot_w = chart.VIEW_W - chart.RIGHT - 29
    # At the viewBox width (tier 2, 15 units) "2025-01" takes 5.04 em with its gap, 75.6
    # units, and "2025" 3.36 em, 50.4 units.
    assert chart.label_step(3, 15, plot_w) == 1
    assert chart.label_step(14, 15, plot_w) == 2  # 65.9 units a month
    assert chart.label_step(24, 15, plot_w) == 2  # 38.5 units a month, 76.9 > 75.6
    assert chart.label_step(165, 15, plot_w) == 12
    assert chart.label_step(444, 15, plot_w) == 60  # 24 months are 49.9 units < 50.4
    # On a phone (tier 0, 32 units) labels are sparser, on a wide screen (tier 4) denser.
    assert chart.label_step(14, 32, plot_w) == 3
    assert chart.label_step(165, 32, plot_w) == 24
    assert chart.label_step(444, 32, plot_w) == 60
    assert chart.label_step(14, 9, plot_w) == 1
    assert chart.label_step(444, 9, plot_w) == 24


def test_labels_for_a_long_range():
    root = parse(chart.chart_svg(one_a_month("2012-05", "2026-01")))
    # Yearly at the viewBox width; the newest year's label slides in from the edge
    # rather than be lost.
    labels = ticks(root, chart.DEFAULT_TIER)
    assert [t for _, t in labels] == [str(y) for y in range(2013, 2027)]
    assert labels[-1][0] == pytest.approx(chart.VIEW_W - 2.56 * 15 / 2)
    # Every other year on a phone.
    assert [t for _, t in ticks(root, 0)] == ["2014", "2016", "2018", "2020", "2022", "2024"]


def test_labels_for_a_short_range():
    root = parse(chart.chart_svg(one_a_month("2024-11", "2025-12")))
    assert [t for _, t in ticks(root, chart.DEFAULT_TIER)] == [
        "2024-11",
        "2025-01",
        "2025-03",
        "2025-05",
        "2025-07",
        "2025-09",
        "2025-11",
    ]
    assert [t for _, t in ticks(root, 0)] == ["2025-01", "2025-04", "2025-07", "2025-10"]
    assert [t for _, t in ticks(root, 4)] == months_between("2024-11", "2025-12")


@pytest.mark.parametrize(
    "first,last",
    [
        ("2025-06", "2025-06"),
        ("2024-11", "2025-01"),
        ("2024-11", "2025-12"),
        ("2022-03", "2025-08"),
        ("2012-05", "2026-01"),
        ("1990-01", "2026-12"),
    ],
)
def test_labels_never_touch_nor_leave_the_chart(first, last):
    root = parse(chart.chart_svg(one_a_month(first, last)))
    for tier, (_, font) in enumerate(chart.TIERS):
        labels = ticks(root, tier)
        assert labels, (tier, first, last)
        spans = [(x - chart._text_em(t) * font / 2, x + chart._text_em(t) * font / 2) for x, t in labels]
        assert spans[0][0] >= 0 and spans[-1][1] <= chart.VIEW_W
        for (_, right), (left, _) in pairwise(spans):
            assert left - right >= chart.LABEL_GAP_EM * font - 0.01, (tier, first, last)


def test_style_picks_font_size_by_container_width():
    svg = chart.chart_svg(one_a_month("2024-11", "2025-12"))
    style = parse(svg).find(f"{SVG}style").text
    assert "svg.barwatch-chart text{font-size:15px}" in style  # no container: the viewBox width
    assert "@container (max-width:479.98px){svg.barwatch-chart text{font-size:32px}" in style
    assert "@container (min-width:1050px) and (max-width:1439.98px){svg.barwatch-chart text{font-size:11.5px}" in style
    assert "@container (min-width:1440px){svg.barwatch-chart text{font-size:9px}" in style
    assert "<" not in style and "&" not in style  # parsed as markup inside inline SVG


# ---------------------------------------------------------------------------- moved from test_datasette
def test_chart_svg_fills_gaps_and_groups_small_sections():
    rows = [("2024-11", "甲", 2), ("2025-01", "乙", 1), ("2025-01", "丙", 1)]
    svg = chart.chart_svg(rows, max_sections=2)
    # With room for two colours, 甲 keeps its own and 乙 and 丙 share 其他 (one bar segment).
    assert svg.count('class="bar"') == 2
    assert 'data-month="2025-01" data-section="其他 (other)" data-count="2"' in svg
    assert ">2024-12</text>" in svg  # an empty month still gets its place on the axis
    assert chart.chart_svg([]).startswith("<p")


def test_legend_is_html():
    rows = [("2024-11", "行业资讯 > 律协动态", 2), ("2025-01", "乙", 1), ("2025-01", "丙", 1)]
    assert chart.chart_legend(rows, max_sections=2) == (
        '<ul class="barwatch-chart-legend">'
        '<li title="行业资讯 &gt; 律协动态"><span class="swatch" style="background:#4e79a7"></span>律协动态 (2)</li>'
        '<li title="其他 (other)"><span class="swatch" style="background:#bab0ac"></span>其他 (other) (2)</li>'
        "</ul>"
    )
    assert chart.chart_legend([]) == ""


# ---------------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    path = tmp_path_factory.mktemp("chart") / "fixture.db"
    with build_fixture_archive(path) as archive:
        run_id = archive.start_run("incremental")
        assert archive.record_article(run_id, fixture_record(GUIDE, "edited")) == "changed"
        archive.finish_run(run_id, requests=1)
    ds = serve.build_datasette(path)
    asyncio.run(ds.invoke_startup())
    return ds


def get(ds, path):
    async def fetch():
        return await ds.client.get(path)

    return asyncio.run(fetch())


def test_chart_page(ds):
    page = get(ds, "/fixture/-/chart")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script" not in page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'data-month="2025-06" data-section="业务研究大厅 &gt; 业务指引" data-count="1"' in page.text
    # 22 dated articles, no two in the same month, and the 3 magazine articles dated by the
    # issue they name (2022年第05期, two of 第06期: one bar a month and section).
    assert page.text.count('<rect class="bar"') == 24
    magazine = "律师文化 &gt; 上海律师 &gt; 2022 &gt; 2022年第06期"
    assert f'data-month="2022-06" data-section="{magazine}" data-count="2"' in page.text
    # The traditional mirror copy (律協(xié)動(dòng)態(tài)) is counted with its simplified channel.
    assert 'data-month="2020-04" data-section="行业资讯 &gt; 律协动态" data-count="1"' in page.text
    assert '<span class="swatch" style="background:#4e79a7"></span>律协动态 (8)</li>' in page.text
    # Nothing may need scrolling sideways: the chart's font tiers are queries on this wrapper.
    assert '<div class="barwatch-chart-wrap">' in page.text and "overflow-x" not in page.text
    assert ".barwatch-chart-wrap { container-type: inline-size;" in page.text
    assert '<table class="rows-and-columns barwatch-numbers">' in page.text
    assert get(ds, "/nosuchdb/-/chart").status_code == 404
