"""Chinese full-text search: the query table over the fixture site, the query language,
snippets, and the index staying in step with the archive."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from storage import search
from storage.archive import Archive
from storage.schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "fixtures" / "pages"
QUERIES = tomllib.loads((Path(__file__).with_name("search_queries.toml")).read_text(encoding="utf-8"))["query"]

GUIDE = "d0239e3ef6a31f91855ff4659b235d23"  # 律师办理商品房预售合同纠纷案件业务指引; has an edited version
MIRROR = "2f1b2bc85299f52b4ef92839ed3772ff"  # the traditional mirror copy


# ---------------------------------------------------------------------------- helpers
def fixture_records(state: str = "base") -> list[dict]:
    """The expected records of the fixture site's article pages (pages that must fail to
    parse are left out: they have no record)."""
    folder = PAGES / state / "info"
    records = []
    for path in sorted(folder.glob("*.expected.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("parse_error") or record.get("error") or not record.get("title"):
            continue
        records.append(record)
    assert records, f"no fixture records in {folder}: the query table needs them"
    return records


def fixture_record(article_id: str, state: str = "base") -> dict:
    path = PAGES / state / "info" / f"{article_id}.expected.json"
    return json.loads(path.read_text(encoding="utf-8"))


def stepping_clock(start: datetime = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)):
    """A clock one second further on each call, so ordering by time is deterministic."""
    counter = itertools.count()
    return lambda: start + timedelta(seconds=next(counter))


def build_fixture_archive(path: Path) -> Archive:
    """An archive holding every fixture record, as one baseline full run."""
    archive = Archive(path, clock=stepping_clock())
    run = archive.start_run("full")
    for record in fixture_records():
        assert archive.record_article(run, record) == "new"
    archive.finish_run(run, requests=len(fixture_records()))
    return archive


@pytest.fixture(scope="module")
def fixture_archive(tmp_path_factory):
    archive = build_fixture_archive(tmp_path_factory.mktemp("search") / "fixture.db")
    yield archive
    archive.close()


def ids(results: list[dict]) -> list[str]:
    return [r["id"] for r in results]


# ---------------------------------------------------------------------------- the query table
def test_query_table_is_big_enough_and_names_real_articles():
    known = {r["id"] for r in fixture_records()}
    assert len(QUERIES) >= 30
    for case in QUERIES:
        named = set(case.get("expect", [])) | set(case.get("top", [])) | set(case.get("exclude", []))
        assert named <= known, f"{case['q']!r} names ids that are not fixture articles: {named - known}"
        assert case.get("expect") or case.get("empty"), f"{case['q']!r} expects nothing"
    kinds = {len(c["q"]) for c in QUERIES}
    assert 1 in kinds and 2 in kinds  # one- and two-character queries are in the table


@pytest.mark.parametrize(
    "case", QUERIES, ids=[f"{c['q']}|{c.get('section', '')}|{c.get('since', '')}" for c in QUERIES]
)
def test_query_table(fixture_archive, case):
    results = search.search(
        fixture_archive.db, case["q"], section=case.get("section"), since=case.get("since"), limit=50
    )
    got = ids(results)
    if case.get("empty"):
        assert got == []
        return
    top10 = got[:10]
    missing = [i for i in case["expect"] if i not in top10]
    assert not missing, (
        f"{case['q']!r}: {missing} not in the top 10 {[(r['id'][:8], r['title']) for r in results[:10]]}"
    )
    top = case.get("top", [])
    assert set(got[: len(top)]) == set(top), f"{case['q']!r}: first places {got[: len(top)]}"
    wrong = [i for i in case.get("exclude", []) if i in got]
    assert not wrong, f"{case['q']!r} returned {wrong}, which must not match"


def test_title_hits_rank_first(fixture_archive):
    results = search.search(fixture_archive.db, "仲裁")
    assert results[0]["id"] == "a7eb77026df62b38502ca4fd05471e49"
    assert results[0]["title_hit"] is True
    assert [r["title_hit"] for r in results] == [True, False, False, False, False]
    scores = [r["score"] for r in results[1:]]
    assert scores == sorted(scores, reverse=True)


def test_result_fields_and_snippet_are_real_text(fixture_archive):
    [hit] = search.search(fixture_archive.db, "宝山区 疫情")
    assert hit["id"] == MIRROR
    assert hit["url"] == f"https://www.lawyers.org.cn/info/{MIRROR}"
    assert hit["published"] == "2020-04-30"
    assert hit["section"] == "行業(yè)資訊 > 律協(xié)動(dòng)態(tài)"
    assert hit["title"].startswith("寶山區(qū)律師")
    # The snippet quotes the article as stored (traditional, with its pinyin), hits marked.
    assert "【疫情】" in hit["snippet"]
    assert "律所【疫情】防控" in hit["snippet"]
    assert hit["score"] > 0


def test_snippet_markers_can_be_chosen(fixture_archive):
    [hit] = search.search(fixture_archive.db, "失权", markers=("<mark>", "</mark>"))
    assert "<mark>失权</mark>" in hit["snippet"]
    assert "【" not in hit["snippet"]


def test_removed_articles_are_not_searchable(tmp_path):
    with build_fixture_archive(tmp_path / "a.db") as archive:
        assert ids(search.search(archive.db, "失权")) == ["6331c7bb2c8d5e80d451f82e2f88ce96"]
        run = archive.start_run("incremental")
        archive.record_gone(
            run,
            "6331c7bb2c8d5e80d451f82e2f88ce96",
            "https://www.lawyers.org.cn/info/6331c7bb2c8d5e80d451f82e2f88ce96",
            404,
        )
        assert search.search(archive.db, "失权") == []
        assert archive.get_article("6331c7bb2c8d5e80d451f82e2f88ce96")["search_key"] is None


def index_dump(conn) -> list[tuple]:
    """Every token instance the index holds, as (term, rowid, column, offset)."""
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, {search.FTS_TABLE}, 'instance')")
    return conn.execute("SELECT term, doc, col, offset FROM temp.vocab ORDER BY 1, 2, 3, 4").fetchall()


def test_an_edit_is_searchable_at_once_and_the_old_text_is_gone(tmp_path):
    added = "或者购房人书面通知解除合同之日"
    split = "交付之日止。当事人"  # inserted into, after "交付之日止。"
    with build_fixture_archive(tmp_path / "a.db") as archive:
        assert ids(search.search(archive.db, split)) == [GUIDE]
        assert search.search(archive.db, added) == []
        run = archive.start_run("incremental")
        assert archive.record_article(run, fixture_record(GUIDE, "edited")) == "changed"
        assert ids(search.search(archive.db, added)) == [GUIDE]
        assert search.search(archive.db, split) == []
        assert archive.db.execute("SELECT count(search_key) FROM articles").fetchone()[0] == len(fixture_records())


def test_the_index_after_edits_removals_and_returns_is_the_index_rebuilt_from_scratch(tmp_path):
    # A contentless index forgets a row only when told exactly the text it indexed: a
    # wrong delete leaves stale tokens behind that no query shows at once. So the whole
    # index (every token instance) is compared with one rebuilt from the articles.
    removed = "6331c7bb2c8d5e80d451f82e2f88ce96"
    with build_fixture_archive(tmp_path / "a.db") as archive:
        run = archive.start_run("incremental")
        assert archive.record_article(run, fixture_record(GUIDE, "edited")) == "changed"
        assert archive.record_gone(run, removed, f"https://www.lawyers.org.cn/info/{removed}", 404) == "removed"
        assert archive.record_article(run, fixture_record(GUIDE)) == "changed"  # edited back
        assert archive.record_article(run, fixture_record(MIRROR)) == "unchanged"
        assert archive.record_article(run, fixture_record(removed)) == "unchanged"  # back from removal
        archive.finish_run(run, requests=5)
        live = index_dump(archive.conn)
        assert len(live) > 7_000
        with archive.write() as conn:
            assert search.rebuild(conn) == len(fixture_records())
        assert index_dump(archive.conn) == live


def test_index_entry_runs_inside_the_callers_transaction(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        conn = archive.db.conn
        conn.execute("BEGIN")
        article = {"id": "x1", "title": "临时标题", "body": "临时正文", "status": "live", "published": "2026-01-02"}
        key, checksum = search.index_entry(archive.db, None, article)
        assert key == date(2026, 1, 2).toordinal() * search.SLOTS_PER_DAY
        conn.execute(
            "INSERT INTO articles (id, url, title, body, status, version, published, search_key, search_checksum) "
            "VALUES ('x1', 'u', '临时标题', '临时正文', 'live', 1, '2026-01-02', ?, ?)",
            [key, checksum],
        )
        assert ids(search.search(archive.db, "临时")) == ["x1"]
        conn.rollback()
        # Had index_entry committed, the rollback would leave a row behind.
        assert index_dump(conn) == []


def test_a_crawl_open_rebuilds_a_missing_index_and_adds_rows_inserted_with_plain_sql(tmp_path):
    path = tmp_path / "a.db"
    build_fixture_archive(path).close()
    with Archive(path) as archive, archive.write() as conn:
        # An archive without the index.
        conn.execute(f"DROP TABLE {search.FTS_TABLE}")
        # A row written by another tool.
        conn.execute(
            "INSERT INTO articles (id, url, title, body, status, version) "
            "VALUES ('x1', 'u', '外部写入', '别的工具写的正文', 'live', 1)"
        )
    with Archive(path) as archive:  # a crawl's open (rwc) brings the index in step
        assert ids(search.search(archive.db, "堃")) == ["5b8031ea0c4fc83ace4417cd8a4729e0"]
        with archive.write() as conn:
            conn.execute(
                "INSERT INTO articles (id, url, title, body, status, version) "
                "VALUES ('x2', 'u2', '又一篇', '另一个工具写的正文', 'live', 1)"
            )
    with Archive(path) as archive:
        assert sorted(ids(search.search(archive.db, "工具写的"))) == ["x1", "x2"]
        dump = index_dump(archive.conn)
        with archive.write() as conn:
            search.ensure_schema(conn)
            search.ensure_schema(conn)
        assert index_dump(archive.conn) == dump
        assert archive.db.execute("SELECT count(search_key) FROM articles").fetchone()[0] == 27


def test_the_index_is_rebuilt_when_it_cannot_be_kept_up_row_by_row(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    build_fixture_archive(path).close()
    with Archive(path) as archive:
        clean_by_id = {
            (t, archive.conn.execute("SELECT id FROM articles WHERE search_key = ?", [k]).fetchone()[0], c, o)
            for t, k, c, o in index_dump(archive.conn)
        }
        with archive.write() as conn:
            # A rowid renumbered, as VACUUM may do: the index does not depend on rowids.
            conn.execute("UPDATE articles SET rowid = 1000 WHERE id = ?", [MIRROR])
            search.ensure_schema(conn)
        assert ids(search.search(archive.db, "支部书记工作会议"))[0] == MIRROR
        by_id = {
            (t, archive.conn.execute("SELECT id FROM articles WHERE search_key = ?", [k]).fetchone()[0], c, o)
            for t, k, c, o in index_dump(archive.conn)
        }
        assert by_id == clean_by_id
        # A row edited with plain SQL: barwatch's next update of it cannot tell the index
        # what it held, so it marks the index for a rebuild rather than corrupting it.
        with archive.write() as conn:
            conn.execute("UPDATE articles SET body = '外部改写的正文' WHERE id = ?", [GUIDE])
        run = archive.start_run("incremental")
        assert archive.record_article(run, fixture_record(GUIDE, "edited")) == "changed"
        assert archive.conn.execute("SELECT value FROM meta WHERE key = 'search_dirty'").fetchone() == (
            f"article {GUIDE} was changed outside barwatch",
        )
        archive.finish_run(run, requests=1)
    with Archive(path) as archive:  # the next crawl's open rebuilds
        assert archive.conn.execute("SELECT value FROM meta WHERE key = 'search_dirty'").fetchone() is None
        assert search.search(archive.db, "外部改写") == []
        assert ids(search.search(archive.db, "或者购房人书面通知解除合同之日")) == [GUIDE]
        rebuilt = index_dump(archive.conn)
        # A new folding version rebuilds too.
        monkeypatch.setattr(search, "_CODE_VERSION", "test-bump")
        with archive.write() as conn:
            search.ensure_schema(conn)
        assert archive.conn.execute("SELECT value FROM meta WHERE key = 'search_segmenter'").fetchone() == (
            search.segmenter_version(),
        )
        assert index_dump(archive.conn) == rebuilt


def test_opening_an_archive_to_read_never_touches_the_index(tmp_path):
    path = tmp_path / "a.db"
    build_fixture_archive(path).close()
    with Archive(path) as archive, archive.write() as conn:
        # Drift that a crawl's open would repair: an article missing from the index.
        conn.execute("UPDATE articles SET search_key = NULL, search_checksum = NULL WHERE id = ?", [GUIDE])
    with Archive(path, mode="ro") as archive:
        statements = []
        archive.conn.set_trace_callback(statements.append)
        assert GUIDE not in ids(search.search(archive.db, "律师"))
        assert archive.get_article(GUIDE)["search_key"] is None
    assert [s for s in statements if s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP")] == []


def test_search_arguments_are_checked(fixture_archive):
    with pytest.raises(ValueError, match="since must look like"):
        search.search(fixture_archive.db, "律师", since="last week")
    with pytest.raises(ValueError, match="limit"):
        search.search(fixture_archive.db, "律师", limit=0)
    assert len(search.search(fixture_archive.db, "律师", limit=3)) == 3


# ---------------------------------------------------------------------------- fts_query (pure)
FTS_QUERY_TABLE = [
    ("律", '"律"'),
    ("ICP", '"icp"'),
    ("律师 疫情", '"律 师" AND "疫 情"'),
    ("宝山区 -ESG", '("宝 山 区") NOT ("esg")'),
    ("调解 OR 仲裁 律师", '("调 解" OR "仲 裁") AND "律 师"'),
    ("寶山區", '"宝 山 区"'),
    ('"律师 协会"', '"律 师 协 会"'),
    ("“律师进校园”", '"律 师 进 校 园"'),
    ("COVID-19 疫情", '"covid 19" AND "疫 情"'),
    ("ＰＤＦ", '"pdf"'),
    ("沪ICP备", '"沪 icp 备"'),
    ("数据，出境", '"数 据" AND "出 境"'),
    ("律师　协会", '"律 师" AND "协 会"'),
    ('律师 -"c d" -e', '("律 师") NOT ("c d" OR "e")'),
]


@pytest.mark.parametrize("query,expected", FTS_QUERY_TABLE, ids=[q for q, _ in FTS_QUERY_TABLE])
def test_fts_query_table(query, expected):
    assert search.fts_query(query) == expected


def test_fts_query_title_only():
    assert search.fts_query("律师 疫情", title_only=True) == 'title : ("律 师" AND "疫 情")'
    # An excluded word is excluded from the body too.
    assert search.fts_query("宝山区 -ESG", title_only=True) == '(title : ("宝 山 区")) NOT ("esg")'


@pytest.mark.parametrize(
    "query,message",
    [
        ("", "empty search query"),
        ("   \u3000", "empty search query"),
        ("，。！？", "no letters, digits or Chinese characters"),
        ('""', "no letters, digits or Chinese characters"),
        ("-律师", "only excludes"),
    ],
)
def test_fts_query_rejects_queries_with_nothing_to_search(query, message):
    with pytest.raises(ValueError, match=message):
        search.fts_query(query)


def test_fts_query_is_valid_fts5_for_awkward_input(tmp_path):
    # Quotes, brackets, FTS5 operators and column syntax in user input must never reach
    # FTS5 as syntax: each such query runs without error.
    with Archive(tmp_path / "a.db") as archive:
        for q in ['a"b', "律师(", "NEAR(律师 协会)", "title_chars:律师", "律师*", "{body}: x", "AND", "^律"]:
            archive.db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", [search.fts_query(q)])


# ---------------------------------------------------------------------------- folding and snippets
def test_fold_maps_back_to_the_original():
    text = "寶山區(qū)ＩＣＰ備"
    folded, index_map = search.fold(text)
    assert folded == "宝山区icp备"
    assert [text[i] for i in index_map] == ["寶", "山", "區", "Ｉ", "Ｃ", "Ｐ", "備"]


def test_highlight_marks_original_text():
    assert search.highlight("寶山區(qū)律師行業(yè)黨委", "宝山区") == "【寶山區(qū)】律師行業(yè)黨委"
    assert search.highlight("沪ICP备17030485号与ICPX", "icp") == "沪【ICP】备17030485号与ICPX"
    assert search.highlight("没有命中的一段文字", "律师") == "没有命中的一段文字"
    long = "甲" * 200 + "律师协会" + "乙" * 200
    snippet = search.highlight(long, "律师", width=40)
    assert snippet == "…" + "甲" * 10 + "【律师】协会" + "乙" * 26 + "…"


def test_format_results():
    out = search.format_results(
        [
            {
                "id": "6331c7bb2c8d5e80d451f82e2f88ce96",
                "url": "https://www.lawyers.org.cn/info/6331c7bb2c8d5e80d451f82e2f88ce96",
                "title": "论股东失权制度",
                "published": "2024-06-24",
                "section": "业务研究大厅 > 专业委员会 > 专业论文",
                "snippet": "股东【失权】制度",
                "score": 1.5,
            }
        ]
    )
    assert out == (
        " 1. 论股东失权制度\n"
        "    2024-06-24  业务研究大厅 > 专业委员会 > 专业论文\n"
        "    股东【失权】制度\n"
        "    https://www.lawyers.org.cn/info/6331c7bb2c8d5e80d451f82e2f88ce96  [6331c7bb]"
    )
    assert search.format_results([]) == "no matching articles"


# ---------------------------------------------------------------------------- a light query path
def test_storing_and_searching_load_no_segmenter_nor_crawler(tmp_path):
    path = tmp_path / "a.db"
    script = f"""
import sys
from storage.archive import Archive
from storage import search
with Archive({str(path)!r}) as a:
    run = a.start_run("full")
    a.record_article(run, {{"id": "a" * 32, "url": "https://www.lawyers.org.cn/info/" + "a" * 32,
                           "title": "宝山区律工委", "body": "律师"}})
with Archive({str(path)!r}, mode="ro") as a:
    print(len(search.search(a.db, "律工委")))
print(sorted(m for m in ("jieba", "scrapy", "trafilatura", "pydantic", "datasette") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1", "[]"]
    assert done.stderr == ""


# ---------------------------------------------------------------------------- reindex and the schema 2 upgrade
def test_reindex_indexes_rows_inserted_with_plain_sql(tmp_path, capsys):
    import sqlite3

    from scheduler.cli import main

    path = tmp_path / "a.db"
    build_fixture_archive(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO articles (id, url, title, body, status, version) VALUES (?, ?, ?, ?, ?, 1)",
            [("x1", "u1", "外部写入", "别的工具写的正文", "live"), ("x2", "u2", "已删", "别的工具写的旧文", "removed")],
        )
        conn.execute("UPDATE articles SET title = '改过的标题' WHERE id = ?", [MIRROR])  # behind barwatch's back
    conn.close()
    assert main(["reindex", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: search index rebuilt from 26 articles in ") and out.endswith(" s\n")
    with Archive(path, mode="ro") as archive:
        assert ids(search.search(archive.db, "工具写的")) == ["x1"]
        assert ids(search.search(archive.db, "改过的标题")) == [MIRROR]
    assert main(["reindex", "--db", str(tmp_path / "missing.db")]) == 2


def test_a_schema_2_archive_is_upgraded_bodies_once_and_a_new_index(tmp_path):
    path = tmp_path / "a.db"
    with build_fixture_archive(path) as archive:
        run = archive.start_run("incremental")
        assert archive.record_article(run, fixture_record(GUIDE, "edited")) == "changed"
        archive.finish_run(run, requests=1)
        versions_before = {v["version"]: v["body"] for v in archive.versions(GUIDE)}
        assert versions_before == {1: fixture_record(GUIDE)["body"], 2: fixture_record(GUIDE, "edited")["body"]}
        with archive.write() as conn:
            # What schema 2 looked like: every version's body stored, a four-column index
            # with jieba word columns and a map with a segmenter column.
            conn.execute(
                "UPDATE versions SET body = (SELECT body FROM articles a WHERE a.id = versions.article_id) "
                "WHERE body IS NULL"
            )
            conn.execute(f"DROP TABLE {search.FTS_TABLE}")
            conn.execute("DROP INDEX idx_articles_search_key")
            conn.execute("DROP INDEX idx_articles_section_search_key")
            conn.execute("ALTER TABLE articles DROP COLUMN search_key")
            conn.execute("ALTER TABLE articles DROP COLUMN search_checksum")
            conn.execute(
                "CREATE VIRTUAL TABLE articles_fts USING fts5(title_chars, body_chars, title_words, body_words)"
            )
            conn.execute(
                "CREATE TABLE articles_fts_map (rowid INTEGER PRIMARY KEY, article_id TEXT NOT NULL UNIQUE, "
                "segmenter TEXT NOT NULL)"
            )
            conn.execute("DELETE FROM meta WHERE key LIKE 'search_%'")
            conn.execute("PRAGMA user_version = 2")
        assert archive.conn.execute("SELECT count(*) FROM versions WHERE body IS NULL").fetchone()[0] == 0
    with Archive(path) as archive:
        assert archive.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        # One body per article is no longer in versions: the current version's.
        assert archive.conn.execute("SELECT count(*) FROM versions WHERE body IS NULL").fetchone()[0] == 25
        assert {v["version"]: v["body"] for v in archive.versions(GUIDE)} == versions_before
        assert ids(search.search(archive.db, "或者购房人书面通知解除合同之日")) == [GUIDE]
        columns = [r[1] for r in archive.conn.execute("PRAGMA table_info(articles_fts)")]
        assert columns == ["body", "title"]


# ---------------------------------------------------------------------------- the rank window and dates
def dated_archive(path: Path) -> Archive:
    """Six articles with 仲裁 (the oldest with it in its title), dated a year apart, and
    one undated; stored oldest last, so rowid order is not date order."""
    archive = Archive(path, clock=stepping_clock())
    run = archive.start_run("full")
    for year in range(2025, 2019, -1):
        title = "仲裁规则" if year == 2020 else f"{year}年工作会议"
        archive.record_article(
            run,
            {
                "id": f"{year:032x}",
                "url": f"https://www.lawyers.org.cn/info/{year:032x}",
                "title": title,
                "published": f"{year}-03-01",
                "body": f"会上谈到仲裁。{year}",
            },
        )
    archive.record_article(
        run, {"id": "e" * 32, "url": "https://www.lawyers.org.cn/info/" + "e" * 32, "title": "无日期", "body": "仲裁"}
    )
    archive.finish_run(run, requests=7)
    return archive


def test_index_order_is_date_order(tmp_path):
    with dated_archive(tmp_path / "a.db") as archive:
        keys = archive.conn.execute("SELECT id, search_key FROM articles ORDER BY search_key").fetchall()
        assert [k[0] for k in keys] == [f"{y:032x}" for y in range(2020, 2026)] + ["e" * 32]
        assert keys[0][1] == date(2020, 3, 1).toordinal() * 256
        assert keys[-1][1] == date(2026, 2, 1).toordinal() * 256  # undated: first archived


def test_articles_of_one_day_take_its_slots_in_turn(tmp_path, monkeypatch):
    monkeypatch.setattr(search, "SLOTS_PER_DAY", 3)
    with dated_archive(tmp_path / "a.db") as archive:
        run = archive.start_run("incremental")
        for i in range(3):  # with the 2024 article already there, the third runs into the next day's slots
            archive.record_article(
                run,
                {
                    "id": f"{i:032x}",
                    "url": f"https://www.lawyers.org.cn/info/{i:032x}",
                    "title": f"同日{i}",
                    "published": "2024-03-01",
                    "body": "同一天的仲裁",
                },
            )
        keys = [
            r[0]
            for r in archive.conn.execute(
                "SELECT search_key FROM articles WHERE published = '2024-03-01' ORDER BY search_key"
            )
        ]
        base = date(2024, 3, 1).toordinal() * 3
        assert keys == [base, base + 1, base + 2, base + 3]
        assert sorted(ids(search.search(archive.db, "同一天的仲裁"))) == [f"{i:032x}" for i in range(3)]


def test_a_query_with_more_matches_than_the_window_is_ranked_among_the_newest(tmp_path, monkeypatch):
    with dated_archive(tmp_path / "a.db") as archive:
        assert ids(search.search(archive.db, "仲裁"))[0] == f"{2020:032x}"  # the title hit first
        monkeypatch.setattr(search, "RANK_WINDOW", 3)
        # More matches than the window: the newest three (the undated one counts from its
        # first archiving), those with the term in the title first, then newest first.
        assert ids(search.search(archive.db, "仲裁")) == ["e" * 32, f"{2025:032x}", f"{2024:032x}"]
        assert ids(search.search(archive.db, "会议")) == [f"{y:032x}" for y in (2025, 2024, 2023)]
        assert ids(search.search(archive.db, "会议 OR 无日期")) == ["e" * 32] + [f"{y:032x}" for y in (2025, 2024)]
        # Fewer matches than the window: all of them, ranked.
        assert ids(search.search(archive.db, "仲裁规则")) == [f"{2020:032x}"]


def test_since_is_a_range_of_the_index(tmp_path):
    with dated_archive(tmp_path / "a.db") as archive:
        assert sorted(ids(search.search(archive.db, "仲裁", since="2023-03-01"))) == sorted(
            ["e" * 32, f"{2025:032x}", f"{2024:032x}", f"{2023:032x}"]
        )
        assert sorted(ids(search.search(archive.db, "仲裁", since="2023-03-02"))) == sorted(
            ["e" * 32, f"{2025:032x}", f"{2024:032x}"]
        )
        assert ids(search.search(archive.db, "仲裁", since="2027")) == []


@pytest.mark.parametrize("case", [c for c in QUERIES if not c.get("empty")], ids=lambda c: c["q"])
def test_count_is_what_an_unlimited_search_finds(fixture_archive, case):
    kwargs = {"section": case.get("section"), "since": case.get("since")}
    found = search.search(fixture_archive.db, case["q"], limit=1000, **kwargs)
    assert search.count(fixture_archive.db, case["q"], **kwargs) == len(found) > 0
