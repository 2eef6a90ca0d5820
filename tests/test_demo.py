"""``barwatch demo`` end to end, in this process: a baseline crawl of the fixture site, the
site switched to state v2 and crawled again, and everything the demo prints about it.

One demo run (two crawls of the local fixture site, a few seconds) backs all the checks:
capsys is per test, and a second run would only repeat the first."""

from __future__ import annotations

import os

from fixtures import spec
from scheduler import demo
from storage.archive import Archive
from storage.textops import clean_text, display_width

# What a discovering crawl from 业务指引 alone reaches in the base state (robots.txt forbids one).
REACHABLE = sorted(set(spec.discovered_ids("base")) - {spec.DISALLOWED_ID})


def inserted_text(old: str, new: str) -> str:
    """What the edit inserts: ``new`` without the common prefix and suffix."""
    head = len(os.path.commonprefix([old, new]))
    tail = len(os.path.commonprefix([old[head:][::-1], new[head:][::-1]]))
    assert old[head : len(old) - tail] == "", "the fixture's edit is expected to be a pure insertion"
    return new[head : len(new) - tail]


def block(lines: list[str], header_start: str) -> list[str]:
    """The lines after the one starting with ``header_start``, up to the next blank line."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start + 1 : end]


def test_the_demo_shows_the_baseline_the_changes_and_the_digest(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "CRAWL_TIMEOUT", 120.0)  # a hung crawl fails the test instead of stalling it
    assert demo.run_demo(tmp_path) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    db = tmp_path / "barwatch.db"

    # Nothing from the site reaches the terminal with a control character in it.
    assert clean_text(out) == out

    # The baseline archives the whole reachable site and announces nothing.
    assert f"archived {len(REACHABLE)} articles into {db}" in lines
    assert any(line.startswith("tables: ") and ", alerts 0," in line for line in lines)

    # v2 adds one article, edits one and takes one down; the rest are re-verified unchanged.
    unchanged = len(REACHABLE) - 2  # all but the edited and the removed one
    assert f"the second crawl found: 1 new, 1 changed, 1 removed ({unchanged} unchanged, 0 failed)" in lines

    with Archive(db, mode="ro") as archive:
        rows = list(archive.iter_articles())
        alerts = archive.alerts()
    assert sorted((a["article_id"], a["kind"], a["run_id"], a["sent_at"]) for a in alerts) == sorted(
        [
            (spec.ADDED_ID, "new", 2, None),
            (spec.EDITED_ID, "changed", 2, None),  # a dry run marks nothing sent
            (spec.REMOVED_ID, "removed", 2, None),
        ]
    )
    assert len(rows) == len(REACHABLE) + 1  # the removed article stays in the archive

    # The listing: one line per archived article, in the archive's order, the second
    # crawl's events marked, and the title at the same terminal column on every line
    # however many two-column characters come before it.
    listing = block(lines, f"archived {len(rows)} articles (")
    assert len(listing) == len(rows)
    title_columns, cut = set(), False
    for line, row in zip(listing, rows, strict=True):
        mark = {spec.ADDED_ID: "+", spec.EDITED_ID: "~", spec.REMOVED_ID: "-"}.get(row["id"], " ")
        assert line.startswith(f"  {mark} {row['published']}"), line
        title_at = line.index(row["title"][:6], len("  + ") + 10)
        title_columns.add(display_width(line[:title_at]))
        section = row["section"].rpartition(" > ")[2]
        between = line[len("  + ") + 10 : title_at].strip()
        assert between == section or (between.endswith("…") and section.startswith(between[:-1])), line
        cut = cut or line.endswith("…")
    assert title_columns == {demo.title_column()}
    assert cut  # some titles are longer than their column: cut, and still aligned

    # The change: the edited article's title, then its paragraph with the inserted text marked.
    inserted = inserted_text(spec.EDIT_OLD_SENTENCE, spec.EDIT_NEW_SENTENCE)
    changes = block(lines, "changes (")
    edited = next(r for r in rows if r["id"] == spec.EDITED_ID)
    assert changes[0].startswith(f"  {edited['title']}  (version 1 -> 2, id {spec.EDITED_ID})")
    assert changes[1].strip().startswith("第") and changes[1].strip().endswith("段：")
    assert f"{{+{inserted}+}}" in changes[2]
    assert spec.EDIT_NEW_SENTENCE.replace(inserted, f"{{+{inserted}+}}") in changes[2]

    # The removed article.
    removed = next(r for r in rows if r["id"] == spec.REMOVED_ID)
    assert block(lines, "removed from the site") == [
        f"  {removed['published']}  {removed['title']}  (id {spec.REMOVED_ID})"
    ]

    # The digest notify would mail, with its subject.
    digest = block(lines, "the alert digest `barwatch notify` would mail")
    assert "  | Subject: 【barwatch】上海律协网站：1 篇新文章，1 篇修改，1 篇删除" in digest
    assert "  | (dry run: 1 message(s) composed; nothing sent, nothing marked)" in lines

    # Where to go next, with this archive's path and the edited article's id.
    next_steps = lines[lines.index("next:") + 1 :]
    assert f"  barwatch search 律师 --db {db}" in next_steps
    assert f"  barwatch diff {spec.EDITED_ID} --db {db}" in next_steps
    assert any(
        f"barwatch serve --db {db}" in line and "http://127.0.0.1:8001/" in line and "/barwatch/feed.atom" in line
        for line in next_steps
    )
