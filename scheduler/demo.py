"""``barwatch demo``: the whole flow offline, against the bundled fixture site.

Starts the fixture site on 127.0.0.1 and crawls it twice into a fresh archive, each time in
a child process (the same ``barwatch crawl`` an operator runs, with the packaged config:
only 业务指引 is configured, discovery finds the rest):

1. the site as it was (fixture state ``base``): the baseline, which announces nothing;
2. the site a while later (state ``v2``: one article edited, one added, one taken down),
   as a ``--full`` crawl, because only a full crawl re-fetches the old edited article and
   asks for every stored one, so the removal is seen.

Then it shows what the second crawl found, the archive, each change as a character diff,
the removed article and the digest ``barwatch notify`` would mail.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from storage.textops import clean_text, fit, one_line

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "crawler" / "default_config.toml"

# Listing columns, in terminal columns. The section shows its last breadcrumb part: the
# whole path (业务研究大厅 > 专业委员会 > …) would crowd out the titles.
DATE_WIDTH = 10
SECTION_WIDTH = 14
TITLE_WIDTH = 60
# The second crawl's events, marked in the listing's first column.
MARKS = {"new": "+", "changed": "~", "removed": "-", "restored": "^"}
# A crawl of the local fixture site takes seconds; one that hangs must not leave the demo,
# or a test, waiting forever.
CRAWL_TIMEOUT = 300.0


def demo_config(directory: Path) -> Path:
    """The packaged config without the politeness delay: the fixture site is local."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    # By key rather than by exact text, so a changed default value cannot silently bring
    # the delay back.
    text, delays = re.subn(r"(?m)^download_delay\s*=.*$", "download_delay = 0.0", text)
    text, throttles = re.subn(r"(?m)^autothrottle\s*=.*$", "autothrottle = false", text)
    if (delays, throttles) != (1, 1):
        raise RuntimeError(f"{DEFAULT_CONFIG}: expected one download_delay and one autothrottle line")
    path = directory / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _crawl(db: Path, config: Path, base_url: str, *extra: str) -> int:
    """One ``barwatch crawl`` child (a Twisted reactor cannot restart in this process).

    Its output is collected and printed from here, so that whoever calls ``run_demo`` (a
    test's capsys included) sees it on ``sys.stdout``/``sys.stderr``."""
    from scheduler.daemon import crawl_command

    cmd = crawl_command(db, config, base_url, False, "--log-level", "WARNING", *extra)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=CRAWL_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"demo crawl did not finish within {CRAWL_TIMEOUT:g} s", file=sys.stderr)
        return 1
    for line in (clean_text(proc.stdout) or "").splitlines():
        print(f"  {line}")
    if proc.stderr:
        print(clean_text(proc.stderr), end="", file=sys.stderr)
    if proc.returncode != 0:
        print(f"demo crawl failed with exit code {proc.returncode}", file=sys.stderr)
    return proc.returncode


def _last_part(section: str | None) -> str:
    return one_line(section).rpartition(" > ")[2]


def listing_line(mark: str, published: str | None, section: str | None, title: str | None) -> str:
    """One row of the article listing: every column padded or cut to its display width,
    so that Chinese (two columns a character) lines up."""
    columns = (
        fit(published or "-", DATE_WIDTH),
        fit(_last_part(section), SECTION_WIDTH),
        fit(title or "", TITLE_WIDTH),
    )
    return f"  {mark} " + "  ".join(columns).rstrip()


def title_column() -> int:
    """The display column at which ``listing_line`` puts the title."""
    return len("  + ") + DATE_WIDTH + 2 + SECTION_WIDTH + 2


def run_demo(directory: Path, keep_serving: bool = False) -> int:
    from crawler.config import load_config
    from scheduler.notify import run_notify
    from storage.archive import Archive

    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "barwatch.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    config_path = demo_config(directory)
    code = _crawl_twice(db, config_path)
    if code != 0:
        return code

    config = load_config(config_path)
    with Archive(db, mode="ro") as archive:
        run = archive.runs(1)[0]
        alerts = [a for a in archive.alerts() if a["run_id"] == run["id"]]
        kinds = {a["article_id"]: a["kind"] for a in alerts}
        rows = list(archive.iter_articles())
        _print_run(run)
        _print_listing(rows, kinds)
        changed = [a for a in alerts if a["kind"] == "changed"]
        _print_changes(archive, changed)
        _print_removed([r for r in rows if kinds.get(r["id"]) == "removed"])

        print("\nthe alert digest `barwatch notify` would mail (--dry-run: nothing sent, nothing marked):")
        digest = io.StringIO()
        code = run_notify(archive, config.alerts, dry_run=True, out=digest, zone=config.timezone, web=config.web)
        # The composer cleans what it takes from the site; cleaned again here because this
        # goes straight to a terminal.
        for line in (clean_text(digest.getvalue()) or "").splitlines():
            print(f"  | {line}".rstrip())
        if code != 0:
            return code
        example = changed[0]["article_id"] if changed else "ID"

    print(
        "\nnext:\n"
        f"  barwatch search 律师 --db {db}\n"
        f"  barwatch diff {example} --db {db}\n"
        f"  barwatch serve --db {db}   # then open http://127.0.0.1:8001/ ;"
        f" the feed: http://127.0.0.1:8001/{db.stem}/feed.atom"
    )
    if keep_serving:
        from storage.serve import serve

        serve(str(db), zone=config.timezone)
    return 0


def _crawl_twice(db: Path, config_path: Path) -> int:
    """The baseline crawl of the fixture site, then a full crawl of it changed: the exit
    code of the first crawl that failed, else 0."""
    from fixtures.server import FixtureSite
    from storage.archive import Archive

    with FixtureSite() as site:
        print(f"fixture site serving on {site.base_url}")
        print("\n1. first crawl, the site as it was (the baseline: archived, announced to nobody)")
        code = _crawl(db, config_path, site.base_url)
        if code != 0:
            return code
        with Archive(db, mode="ro") as archive:
            counts = archive.table_counts()
        print(f"archived {counts['articles']} articles into {db}")
        print("tables: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

        site.set_state("v2")
        print("\n2. the site changes (one article edited, one added, one taken down); a full crawl")
        return _crawl(db, config_path, site.base_url, "--full")


def _print_run(run: dict) -> None:
    held = (
        f" (held: {one_line(run['held'])}; its alerts wait for `barwatch release {run['id']}`)" if run["held"] else ""
    )
    print(
        f"\nthe second crawl found: {run['new']} new, {run['changed']} changed, {run['removed']} removed"
        f" ({run['unchanged']} unchanged, {run['failed']} failed){held}"
    )


def _print_listing(rows: list[dict], kinds: dict[str, str]) -> None:
    legend = ", ".join(f"{m} {k}" for k, m in MARKS.items() if k in kinds.values())
    print(f"\narchived {len(rows)} articles ({legend}):")
    for r in rows:
        print(listing_line(MARKS.get(kinds.get(r["id"], ""), " "), r["published"], r["section"], r["title"]))


def _print_changes(archive, changed: list[dict]) -> None:
    from storage.diffs import paragraph_changes, render_changes

    if changed:
        print("\nchanges ([-deleted-] {+inserted+}):")
    for a in changed:
        versions = archive.versions(a["article_id"])
        old, new = versions[-2], versions[-1]
        print(f"  {one_line(new['title'])}  (version {old['version']} -> {new['version']}, id {a['article_id']})")
        for line in render_changes(paragraph_changes(old, new), "text").splitlines():
            print(f"    {line}")


def _print_removed(removed: list[dict]) -> None:
    if removed:
        print("\nremoved from the site (the archive keeps the text):")
    for r in removed:
        print(f"  {one_line(r['published']) or '-'}  {one_line(r['title'])}  (id {r['id']})")
