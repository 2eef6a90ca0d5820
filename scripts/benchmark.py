"""barwatch's benchmark (issue 10, "Fast at 100,000 articles"): every figure beside an anchor.

    .venv/bin/python scripts/benchmark.py [--only crawl,search] [--rounds 3]
        [--crawl-articles 2000,10000] [--search-articles 100000] [--cache DIR]

An anchor is the same job done the plainest way on the same data, so that a ratio says
how much barwatch's own work costs. Figures are medians over --rounds interleaved runs
(barwatch, anchor, barwatch, anchor, ...). No asserts: a benchmark, not a test.

* parser: pages per second over the saved fixture pages, and how many bodies each
  extraction path gets exactly right (no anchor).
* crawl: the synthetic fixture site (fixtures.synthetic) at each size, crawled by
  `barwatch crawl --full` and by scripts/bare_spider.py (a bare Scrapy spider, same
  settings): wall time, CPU time and peak RSS of the child, requests; then barwatch's
  incremental crawl of the unchanged site, and the archive's size against its text.
* search: an archive of N synthetic articles (rows inserted with plain SQL, then
  `barwatch reindex`), cached under --cache. Queries in process against a plain FTS5
  phrase query on the same index; `barwatch search` as a process against a plain sqlite3
  script; Datasette's canned search over HTTP against Datasette running the plain query.
  The synthetic texts recombine about 120 real sentences, so words of middling frequency
  (仲裁, 培训) match more articles than they would on the real site: their latencies are
  on the pessimistic side. The commonest (律师, 上海, 法律) are about as common as there.
* reverify: 10,000 articles and a week of hourly runs on a simulated clock: the requests
  each run spends on re-verification, and whether every article was re-checked in time.

The summary at the end is a markdown table for the README.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures import synthetic  # noqa: E402
from fixtures.server import FixtureSite  # noqa: E402

# storage and crawler are imported inside the sections that use them, so that
# `--only crawl` still runs while storage is half-way through a change (and vice versa).

SECTIONS = ("parser", "crawl", "search", "reverify")
PAGES = ROOT / "fixtures" / "pages"
SITE_CONFIG = ROOT / "fixtures" / "site.toml"
CLI = [sys.executable, "-m", "scheduler.cli"]
BARE_SPIDER = [sys.executable, str(ROOT / "scripts" / "bare_spider.py")]
# site.toml keeps barwatch's default cap of 50 list pages, which at 37 rows a page would
# end a full crawl of a big site early; both spiders get the same raised cap.
BENCH_MAX_PAGES = 10_000
ANCHOR_SQL = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rank LIMIT 20"
# The plain query as its own process: nothing but sqlite3, the MATCH string given.
ANCHOR_SCRIPT = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)\n"
    f"print(len(conn.execute({ANCHOR_SQL!r}, [sys.argv[2]]).fetchall()))\n"
)
QUERIES = (
    # one character: the commonest, everyday ones, and ones that never occur
    "律",
    "法",
    "会",
    "区",
    "的",
    "诉",
    "税",
    "鑫",
    "囧",
    # two characters
    "律师",
    "法律",
    "上海",
    "协会",
    "合同",
    "仲裁",
    "调解",
    "数据",
    "合规",
    "培训",
    "疫情",
    "公益",
    "股东",
    "徐汇",
    # three and four characters
    "律工委",
    "长三角",
    "司法局",
    "仲裁庭",
    "青年律师",
    "知识产权",
    "浦东新区",
    "人工智能",
    "尽职调查",
    "劳动争议",
    "区块链",
    # longer words and names
    "上海市律师协会",
    "数据出境合规",
    "民事业务研究委员会",
    "松江区律师工作委员会",
    "量子计算机",
    # several words, all required
    "律师 疫情",
    "律师 培训",
    "数据 出境 合规",
    "上海 律师 协会",
    "合同 违约金",
    "青年律师 培训 松江",
    "仲裁 执行 法院",
    "知识产权 尽职调查",
    # Latin
    "ESG",
    "PDF",
    "Compliance",
    "Personal Information",
    "2025",
)


# ---------------------------------------------------------------------------- measuring
# Runs a command and writes its exit code, wall and CPU seconds and peak RSS (KiB). Why a
# launcher: Linux counts in a child's ru_maxrss the high-water mark of the process image
# that exec replaced, and with vfork (which subprocess uses) that image is the parent's,
# so wait4 on a direct child reports at least this benchmark's own peak. Spawned from this
# small interpreter (about 8 MiB), a child reports its own peak: every child measured here
# is a Python process of 10 MiB or more.
LAUNCHER = (
    "import os, sys, time\n"
    "start = time.perf_counter()\n"
    "pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "wall = time.perf_counter() - start\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write(f'{os.waitstatus_to_exitcode(status)} {wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}')\n"
)


@dataclass
class Child:
    wall: float  # seconds, from spawn to reaped
    cpu: float  # user + system seconds of the child (and its own children)
    rss_mib: float  # the child's peak resident set
    code: int
    out: str
    err: str


def run_child(cmd: list[str], timeout: float) -> Child:
    """Run cmd through LAUNCHER and return what it measured of that child alone."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as report,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, report.name, *cmd],
            cwd=ROOT,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
        finally:
            # Its own session lets one signal reach launcher and child; it also keeps a
            # Ctrl-C from reaching them, so a timeout or an interrupt ends them here.
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        code, wall, cpu, rss_kib = report.read().split()
        out.seek(0), err.seek(0)
        return Child(
            float(wall),
            float(cpu),
            int(rss_kib) / 1024,
            int(code),
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


def checked(child: Child, what: str) -> Child:
    if child.code != 0:
        raise RuntimeError(f"{what} exited {child.code}:\n{child.out[-2000:]}\n{child.err[-2000:]}")
    return child


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: a value that was measured, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms" if seconds >= 0.001 else f"{1000 * seconds:.3f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


@dataclass
class Summary:
    rows: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)

    def add(
        self, what: str, ours: str, anchor: str = "—", rate: str = "—", goal: str = "—", met: bool | None = None
    ) -> None:
        self.rows.append((what, ours, anchor, rate, goal, "—" if met is None else ("yes" if met else "**no**")))

    def print(self) -> None:
        print(
            f"\n### Measured {date.today().isoformat()}: Python {platform.python_version()}, {cpu_model()}, "
            f"{os.cpu_count()} cores\n"
        )
        print("| what | barwatch | anchor | ratio | goal | met? |")
        print("|---|---|---|---|---|---|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# ---------------------------------------------------------------------------- parser
def bench_parser(summary: Summary) -> None:
    from crawler import parsing
    from crawler.parsing.document import parse_tree, to_text
    from crawler.parsing.fallback import filter_trafilatura, trafilatura_body

    pages = sorted(PAGES.rglob("*.html"))
    blobs = [
        (p, p.read_bytes(), json.loads(p.with_suffix("").with_suffix(".expected.json").read_text("utf-8")))
        for p in pages
    ]
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        for p, data, _expected in blobs:
            parsing.parse_article(data, f"https://www.lawyers.org.cn/info/{p.stem}")
    took = time.perf_counter() - start
    n = rounds * len(blobs)
    print(f"parser: {n} pages in {took:.2f} s = {n / took:.0f} pages/s ({1000 * took / n:.1f} ms a page)")
    summary.add("parser, saved fixture pages", f"{n / took:.0f} pages/s")

    exact = {"structural (shipped)": 0, "trafilatura alone": 0, "trafilatura + filters": 0}
    for p, data, expected in blobs:
        record = parsing.parse_article(data, f"https://www.lawyers.org.cn/info/{p.stem}")
        exact["structural (shipped)"] += record["body"] == expected["body"]
        root = parse_tree(to_text(data))
        raw = trafilatura_body(root, parsing.DEFAULT_RULES)
        exact["trafilatura alone"] += "\n".join(raw) == expected["body"]
        filtered = filter_trafilatura(
            raw, parsing.DEFAULT_RULES, expected["title"], (expected["section"] or "").split(" > ")
        )
        exact["trafilatura + filters"] += "\n".join(filtered) == expected["body"]
    print(
        "body exactly as expected, of "
        + f"{len(blobs)} fixture pages: "
        + ", ".join(f"{k} {v}" for k, v in exact.items())
    )


# ---------------------------------------------------------------------------- crawl
def bench_config(directory: Path) -> Path:
    """fixtures/site.toml with the raised page cap, for both spiders."""
    text = SITE_CONFIG.read_text("utf-8").replace(
        "\n[crawl]\n", f"\n[crawl]\nmax_pages = {BENCH_MAX_PAGES}  # benchmark: walk every list page\n", 1
    )
    if tomllib.loads(text).get("crawl", {}).get("max_pages") != BENCH_MAX_PAGES:
        raise RuntimeError(f"{SITE_CONFIG}: could not raise [crawl] max_pages for the benchmark")
    path = directory / "site.toml"
    path.write_text(text, "utf-8")
    return path


def crawl_once(site: FixtureSite, cmd: list[str], timeout: float, what: str) -> tuple[Child, int]:
    site.reset_requests()
    child = checked(run_child(cmd, timeout), what)
    return child, len(site.requests)


def stored_exactly(db: Path, n: int) -> int:
    """Articles whose stored title and body are exactly what the generator wrote."""
    want = {}
    for i in range(n):
        r = synthetic.record(i, n)
        want[r["id"]] = (r["title"], r["body"])
    conn = sqlite3.connect(db)
    try:
        return sum(
            want.get(aid) == (title, body) for aid, title, body in conn.execute("SELECT id, title, body FROM articles")
        )
    finally:
        conn.close()


def archive_bytes(db: Path) -> tuple[int, int]:
    """(bytes on disk, db and WAL; UTF-8 bytes of every stored title and body)."""
    size = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        text = conn.execute(
            "SELECT COALESCE(SUM(COALESCE(length(CAST(title AS BLOB)), 0) + "
            "COALESCE(length(CAST(body AS BLOB)), 0)), 0) FROM articles"
        ).fetchone()[0]
    finally:
        conn.close()
    return size, text


def bench_crawl(n: int, rounds: int, summary: Summary) -> None:
    print(f"\ncrawl: synthetic site of {n} articles, {rounds} round(s); barwatch --full vs the bare spider")
    runs: dict[str, list[tuple[Child, int]]] = {"barwatch": [], "bare": [], "incremental": []}
    with FixtureSite(synthetic=n) as site, tempfile.TemporaryDirectory(prefix="barwatch-bench-") as tmp:
        config = bench_config(Path(tmp))
        for r in range(rounds):
            db, bare_db = Path(tmp) / f"barwatch-{r}.db", Path(tmp) / f"bare-{r}.db"
            for side, result in crawl_round(site, config, db, bare_db, n).items():
                runs[side].append(result)
            if r == 0:
                size, text = archive_bytes(db)
            print(
                f"  round {r + 1}: barwatch {runs['barwatch'][-1][0].wall:.1f} s, bare {runs['bare'][-1][0].wall:.1f} s, "
                f"incremental {runs['incremental'][-1][0].wall:.1f} s",
                flush=True,
            )
        print(f"  barwatch: {runs['barwatch'][0][0].out.strip().splitlines()[0]}")
        print(
            f"  stored exactly as generated: barwatch {stored_exactly(db, n)}/{n}, bare spider {stored_exactly(bare_db, n)}/{n}"
        )
    report_crawl(n, runs, size, text, summary)


def crawl_round(site: FixtureSite, config: Path, db: Path, bare_db: Path, n: int) -> dict[str, tuple[Child, int]]:
    """barwatch's full crawl into db, the bare spider into bare_db, then barwatch's incremental crawl."""
    timeout = 300 + 0.2 * n
    # barwatch's clock stands on the day after the newest article, and the incremental
    # crawl comes an hour after the full one, as from an hourly cron: the channels are
    # due, the last 30 days' articles are revisited, and the week's cycle takes its share.
    day_after = synthetic.NEWEST + timedelta(days=1)
    common = ["--config", str(config), "--base-url", site.base_url]
    crawl = [*CLI, "crawl", "--db", str(db), *common, "--log-level", "WARNING"]
    return {
        "barwatch": crawl_once(
            site, [*crawl, "--full", "--now", f"{day_after}T00:00:00Z"], timeout, "barwatch crawl --full"
        ),
        "bare": crawl_once(site, [*BARE_SPIDER, *common, "--db", str(bare_db)], timeout, "bare spider"),
        "incremental": crawl_once(site, [*crawl, "--now", f"{day_after}T01:00:00Z"], timeout, "barwatch crawl"),
    }


def report_crawl(n: int, runs: dict, size: int, text: int, summary: Summary) -> None:
    def med(side: str, key) -> float:
        return statistics.median(key(child, requests) for child, requests in runs[side])

    # (label, unit, figure, format, goal as a ratio to the bare spider: issue 10)
    rows = (
        ("wall time", "s", lambda c, q: c.wall, "{:.2f}", 1.3),
        ("CPU time (user+sys)", "s", lambda c, q: c.cpu, "{:.2f}", None),
        ("peak RSS", "MiB", lambda c, q: c.rss_mib, "{:.0f}", 1.5),
        ("requests", "", lambda c, q: q, "{:.0f}", None),
    )
    print(f"  {'':<22}{'barwatch':>12}{'bare spider':>14}{'ratio':>9}")
    for label, unit, key, fmt, goal in rows:
        ours, anchor = med("barwatch", key), med("bare", key)
        print(
            f"  {label:<22}{fmt.format(ours) + ' ' + unit:>12}{fmt.format(anchor) + ' ' + unit:>14}{ratio(ours, anchor):>9}"
            + (f"  (goal ≤ {goal}×)" if goal else "")
        )
        summary.add(
            f"full crawl of {n:,} articles: {label}",
            f"{fmt.format(ours)} {unit}".strip(),
            f"{fmt.format(anchor)} {unit}".strip(),
            ratio(ours, anchor),
            f"≤ {goal}×" if goal else "—",
            ours <= goal * anchor if goal else None,
        )
    inc_wall, inc_req = med("incremental", lambda c, q: c.wall), med("incremental", lambda c, q: q)
    full_wall, full_req = med("barwatch", lambda c, q: c.wall), med("barwatch", lambda c, q: q)
    print(
        f"  incremental crawl of the unchanged site: {inc_req:.0f} requests ({ratio(inc_req, full_req)} the full crawl's), "
        f"{inc_wall:.2f} s ({ratio(inc_wall, full_wall)})"
    )
    summary.add(
        f"incremental crawl, {n:,} unchanged: time",
        f"{inc_wall:.2f} s",
        f"{full_wall:.2f} s (full)",
        ratio(inc_wall, full_wall),
    )
    summary.add(
        f"incremental crawl, {n:,} unchanged: requests",
        f"{inc_req:.0f}",
        f"{full_req:.0f} (full)",
        ratio(inc_req, full_req),
    )
    print(
        f"  archive after round 1's crawls: {size / 2**20:.1f} MiB (db + WAL) for {text / 2**20:.1f} MiB of titles and bodies "
        f"(UTF-8): {ratio(size, text)} (goal ≤ 1.6)"
    )
    summary.add(
        f"archive size after crawling {n:,}",
        f"{size / 2**20:.1f} MiB",
        f"{text / 2**20:.1f} MiB text",
        ratio(size, text),
        "≤ 1.6×",
        size / text <= 1.6,
    )


# ---------------------------------------------------------------------------- search
def storage_fingerprint() -> str:
    """The cached archive is rebuilt when the code that lays it out or fills it changes."""
    h = hashlib.sha256()
    for name in ("storage/schema.py", "storage/search.py", "fixtures/synthetic.py"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:10]


def has_command(name: str) -> bool:
    return run_child([*CLI, name, "--help"], 60).code == 0


def search_archive(n: int, cache: Path) -> tuple[Path, dict]:
    """The archive of n synthetic articles under cache (built once) and how it was built."""
    directory = cache / f"search-{n}-{storage_fingerprint()}"
    # Datasette names the database after the file: /barwatch/search.json.
    path, info_file = directory / "barwatch.db", directory / "build.json"
    if info_file.exists():
        return path, {**json.loads(info_file.read_text()), "cached": True}
    for stale in cache.glob(f"search-{n}-*"):  # built by other code: a GB at 100,000
        shutil.rmtree(stale)
    directory.mkdir(parents=True)
    print(f"  building the {n}-article archive in {directory} (cached for the next run)", flush=True)
    info = build_with_reindex(path, n) if has_command("reindex") else build_with_record_article(path, n)
    info_file.write_text(json.dumps(info))
    return path, {**info, "cached": False}


def build_with_reindex(path: Path, n: int) -> dict:
    checked(run_child([*CLI, "migrate", "--db", str(path)], 120), "barwatch migrate")
    start = time.perf_counter()
    insert_rows(path, n)
    inserted = time.perf_counter() - start
    child = checked(run_child([*CLI, "reindex", "--db", str(path)], 600 + 0.05 * n), "barwatch reindex")
    return {
        "how": "reindex",
        "insert_s": inserted,
        "reindex_s": child.wall,
        "reindex_cpu_s": child.cpu,
        "reindex_rss_mib": child.rss_mib,
        "built": date.today().isoformat(),
    }


def build_with_record_article(path: Path, n: int) -> dict:
    """For a barwatch from before `reindex` (to compare with an older release): every
    article through the archive API, one transaction each, as a crawl stores them."""
    from storage.archive import Archive

    start = time.perf_counter()
    with Archive(path, mode="rwc") as archive:
        run = archive.start_run("full")
        for i in range(n):
            archive.record_article(run, synthetic.record(i, n), list_date=synthetic.published(i, n).isoformat())
        archive.finish_run(run, n)
    return {"how": "record_article", "build_s": time.perf_counter() - start, "built": date.today().isoformat()}


def insert_rows(path: Path, n: int) -> None:
    """The articles as a crawl would store them, with plain SQL in one transaction."""
    from storage.textops import content_hash

    stamp = f"{synthetic.NEWEST + timedelta(days=1)}T00:00:00Z"

    def row(i: int) -> tuple:
        r = synthetic.record(i, n)
        published, source = (
            (r["published"], "page") if r["published"] else (synthetic.published(i, n).isoformat(), "list")
        )
        return (
            r["id"],
            r["url"],
            r["section"],
            r["title"],
            r["subtitle"],
            published,
            source,
            r["author"],
            r["source"],
            r["views"],
            r["body"],
            json.dumps(r["attachments"]),
            content_hash(r),
            stamp,
            stamp,
            stamp,
            stamp,
        )

    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO articles(id, url, section, title, subtitle, published, published_from, author, source, views, "
            "body, attachments, content_hash, first_seen, last_seen, last_checked, last_changed, status, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'live', 1)",
            (row(i) for i in range(n)),
        )
    conn.close()


def anchor_match(query: str) -> str:
    """The plain FTS5 query: all words, each a phrase of the index's own character tokens."""
    from storage.search import char_tokens

    return " AND ".join('"' + " ".join(char_tokens(word)) + '"' for word in query.split())


def per_query(samples: dict[str, list[float]]) -> dict[str, float]:
    return {q: statistics.median(v) for q, v in samples.items()}


def latency_line(label: str, values: list[float]) -> str:
    p50, p95, p99 = (1000 * percentile(values, p) for p in (50, 95, 99))
    return f"{label:<28} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms  max {1000 * max(values):7.1f} ms"


def bench_search_in_process(path: Path, rounds: int, summary: Summary, n: int) -> None:
    from storage.archive import Archive
    from storage.search import search

    reps = 5
    ours: dict[str, list[float]] = {q: [] for q in QUERIES}
    plain: dict[str, list[float]] = {q: [] for q in QUERIES}
    matches = {q: anchor_match(q) for q in QUERIES}
    with Archive(path, mode="ro") as archive:
        anchor = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        for q in QUERIES:  # warm both page caches
            search(archive.db, q, limit=20)
            anchor.execute(ANCHOR_SQL, [matches[q]]).fetchall()
        for _ in range(rounds):
            for q in QUERIES:
                ours[q] += timed(lambda q=q: search(archive.db, q, limit=20), reps)
                plain[q] += timed(lambda q=q: anchor.execute(ANCHOR_SQL, [matches[q]]).fetchall(), reps)
        hits = {
            q: anchor.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", [matches[q]]).fetchone()[
                0
            ]
            for q in QUERIES
        }
        anchor.close()
    report_in_process(per_query(ours), per_query(plain), hits, summary, n)


def report_in_process(a: dict[str, float], b: dict[str, float], hits: dict[str, int], summary: Summary, n: int) -> None:
    worst = max(QUERIES, key=lambda q: a[q] / b[q])
    # A query without matches takes the anchor microseconds: its ratio is all fixed cost.
    worst_real = max([q for q in QUERIES if b[q] >= 0.001] or QUERIES, key=lambda q: a[q] / b[q])
    print("  in process (median of each query's runs, then over the queries):")
    print("    " + latency_line("barwatch search()", list(a.values())))
    print("    " + latency_line("plain FTS5 phrase query", list(b.values())))
    print(
        f"    p95 ratio {ratio(percentile(list(a.values()), 95), percentile(list(b.values()), 95))}; worst query ratio "
        + "; ".join(
            f"{label} {q!r} ({hits[q]} matches): {ms(a[q])} vs {ms(b[q])} = {ratio(a[q], b[q])}"
            for label, q in (("of all", worst), ("of those ≥ 1 ms in the anchor", worst_real))
        )
    )
    print(
        "    slowest: "
        + ", ".join(f"{q!r} {ms(a[q])} ({hits[q]} matches)" for q in sorted(QUERIES, key=a.get, reverse=True)[:5])
    )
    for p in (50, 95, 99):
        x, y = percentile(list(a.values()), p), percentile(list(b.values()), p)
        goal, met = ("≤ 100 ms, ≤ 1.2×", x <= 0.1 and x / y <= 1.2) if p == 95 else ("—", None)
        summary.add(f"search in process, {n:,} articles: p{p}", ms(x), ms(y), ratio(x, y), goal, met)
    summary.add(
        f"search in process, {n:,}: worst query ratio ({worst})", ms(a[worst]), ms(b[worst]), ratio(a[worst], b[worst])
    )
    summary.add(
        f"search in process, {n:,}: worst ratio, anchor ≥ 1 ms ({worst_real})",
        ms(a[worst_real]),
        ms(b[worst_real]),
        ratio(a[worst_real], b[worst_real]),
    )


def timed(call, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def bench_search_process(path: Path, rounds: int, summary: Summary, n: int) -> None:
    ours: dict[str, list[Child]] = {q: [] for q in QUERIES}
    plain: dict[str, list[Child]] = {q: [] for q in QUERIES}
    for _ in range(rounds):
        for q in QUERIES:
            ours[q].append(
                checked(run_child([*CLI, "search", *q.split(), "--db", str(path)], 120), f"barwatch search {q}")
            )
            plain[q].append(
                checked(run_child([sys.executable, "-c", ANCHOR_SCRIPT, str(path), anchor_match(q)], 120), "anchor")
            )
    wall_a = [statistics.median(c.wall for c in ours[q]) for q in QUERIES]
    wall_b = [statistics.median(c.wall for c in plain[q]) for q in QUERIES]
    rss_a = [statistics.median(c.rss_mib for c in ours[q]) for q in QUERIES]
    rss_b = [statistics.median(c.rss_mib for c in plain[q]) for q in QUERIES]
    print("  whole process, one query each (start-up included):")
    print(
        "    "
        + latency_line("barwatch search", wall_a)
        + f"  peak RSS p50 {percentile(rss_a, 50):.0f} MiB, max {max(rss_a):.0f} MiB"
    )
    print(
        "    "
        + latency_line("python3 + sqlite3 script", wall_b)
        + f"  peak RSS p50 {percentile(rss_b, 50):.0f} MiB, max {max(rss_b):.0f} MiB"
    )
    for p in (50, 95):
        x, y = percentile(wall_a, p), percentile(wall_b, p)
        goal, met = ("≤ 0.4 s", x <= 0.4) if p == 95 else ("—", None)
        summary.add(f"`barwatch search` process, {n:,}: p{p}", f"{x:.2f} s", f"{y:.2f} s", ratio(x, y), goal, met)
    summary.add(
        f"`barwatch search` process, {n:,}: peak RSS (max)",
        f"{max(rss_a):.0f} MiB",
        f"{max(rss_b):.0f} MiB",
        ratio(max(rss_a), max(rss_b)),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 30) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
    return time.perf_counter() - start


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"barwatch serve exited {proc.returncode} before answering")
        try:
            get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"barwatch serve did not answer {url} within {timeout:.0f} s")


@contextmanager
def serving(path: Path, port: int):
    """`barwatch serve` on port for the length of the block, stopped whatever happens."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [*CLI, "serve", "--db", str(path), "--port", str(port)], cwd=ROOT, stdout=log, stderr=log
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/-/versions.json", proc, 300)
            yield
        except Exception:
            log.seek(0)
            print(log.read().decode("utf-8", "replace")[-3000:], file=sys.stderr)
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def bench_datasette(path: Path, rounds: int, summary: Summary, n: int) -> None:
    from storage.serve import SETTINGS

    limit = SETTINGS["sql_time_limit_ms"] / 1000
    port = free_port()
    with serving(path, port):
        ours, plain = datasette_timings(f"http://127.0.0.1:{port}/{path.stem}", rounds)
    a, b = list(per_query(ours).values()), list(per_query(plain).values())
    print(f"  Datasette over HTTP (sql_time_limit_ms {SETTINGS['sql_time_limit_ms']}):")
    print("    " + latency_line("canned query search.json", a))
    print("    " + latency_line("plain query via ?sql=", b))
    slowest = max(max(v) for v in ours.values())
    for p in (50, 95):
        x, y = percentile(a, p), percentile(b, p)
        goal, met = ("≤ 150 ms", x <= 0.15) if p == 95 else ("—", None)
        summary.add(f"Datasette search.json, {n:,}: p{p}", ms(x), ms(y), ratio(x, y), goal, met)
    summary.add(
        f"Datasette search.json, {n:,}: slowest single request",
        ms(slowest),
        "—",
        "—",
        f"≤ {1000 * limit / 3:.0f} ms (⅓ of the time limit)",
        slowest <= limit / 3,
    )


def datasette_timings(base: str, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    def canned(q: str) -> str:
        return f"{base}/search.json?" + urllib.parse.urlencode({"q": q, "_shape": "array"})

    def plain_sql(q: str) -> str:
        return f"{base}.json?" + urllib.parse.urlencode(
            {"sql": ANCHOR_SQL.replace("?", ":m"), "m": anchor_match(q), "_shape": "array"}
        )

    for q in QUERIES:  # warm: first requests pay for connections and the page cache
        get(canned(q))
        get(plain_sql(q))
    ours: dict[str, list[float]] = {q: [] for q in QUERIES}
    plain: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(rounds):
        for q in QUERIES:
            ours[q].append(get(canned(q)))
            plain[q].append(get(plain_sql(q)))
    return ours, plain


def bench_search(n: int, rounds: int, cache: Path, summary: Summary) -> None:
    print(f"\nsearch: {n} synthetic articles, {len(QUERIES)} queries, {rounds} round(s)")
    path, info = search_archive(n, cache)
    cached = " (cached build)" if info["cached"] else ""
    if info["how"] == "reindex":
        print(
            f"  rows inserted with plain SQL in {info['insert_s']:.1f} s; `barwatch reindex`: {info['reindex_s']:.1f} s, "
            f"CPU {info['reindex_cpu_s']:.1f} s, peak RSS {info['reindex_rss_mib']:.0f} MiB{cached}"
        )
        summary.add(f"`barwatch reindex`, {n:,} articles", f"{info['reindex_s']:.1f} s{cached}")
    else:
        print(
            f"  no `barwatch reindex` in this barwatch: archive built with Archive.record_article in {info['build_s']:.1f} s{cached}"
        )
        summary.add(f"store + index {n:,} via record_article (no reindex)", f"{info['build_s']:.1f} s{cached}")
    size, text = archive_bytes(path)
    print(
        f"  archive: {size / 2**20:.1f} MiB, {size / n / 1024:.1f} KiB an article, {ratio(size, text)} the UTF-8 text of titles "
        "and bodies (articles and search index; no versions rows when built by reindex)"
    )
    summary.add(
        f"archive of {n:,} (articles + index): bytes an article",
        f"{size / n / 1024:.1f} KiB",
        f"{text / n / 1024:.1f} KiB text",
        ratio(size, text),
        "≤ 1.6×",
        size / text <= 1.6,
    )
    bench_search_in_process(path, rounds, summary, n)
    bench_search_process(path, rounds, summary, n)
    bench_datasette(path, rounds, summary, n)


# ---------------------------------------------------------------------------- reverify
def bench_reverify(summary: Summary, n: int = 10_000, days: int = 7) -> None:
    from datetime import datetime

    from storage.archive import Archive

    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = {"now": start}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.db"
        with Archive(path, clock=lambda: clock["now"]) as archive:
            stamp = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            with archive.write() as conn:
                conn.executemany(
                    "INSERT INTO articles(id, url, title, published, first_seen, last_checked, last_changed, status, "
                    "version, content_hash) VALUES (?, ?, ?, '2020-01-01', ?, ?, ?, 'live', 1, 'x')",
                    [
                        (f"{i:032x}", f"https://www.lawyers.org.cn/info/{i:032x}", f"t{i}", stamp, stamp, stamp)
                        for i in range(n)
                    ],
                )
            per_run = []
            for hour in range(1, days * 24 + 1):
                clock["now"] = start + timedelta(hours=hour)
                run = archive.start_run("incremental")
                plan = archive.revisit_plan(30, days)
                per_run.append(len(plan))
                with archive.write() as conn:  # what 304 answers do, in one go
                    conn.executemany(
                        "UPDATE articles SET last_checked = ? WHERE id = ?", [(archive.now(), e["id"]) for e in plan]
                    )
                archive.finish_run(run, len(plan))
            checked_, total = archive.reverify_progress(days)
    print(
        f"\nre-verification: {n} articles, {days}-day cycle, hourly runs: {statistics.median(per_run):.0f} re-checks a run "
        f"(min {min(per_run)}, max {max(per_run)}); after one cycle {checked_} of {total} re-checked within it "
        f"({'all' if checked_ == total else 'NOT all'}); at 1 request/s that is {max(per_run)} s of a run"
    )
    summary.add(
        f"re-verification, {n:,} articles, hourly runs: re-checks a run",
        f"{statistics.median(per_run):.0f}",
        goal=f"all re-checked within {days} days",
        met=checked_ == total,
    )


# ---------------------------------------------------------------------------- main
def sizes(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of sizes: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be at least 1: {text!r}")
    return values


def sections(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = set(names) - set(SECTIONS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"sections are {', '.join(SECTIONS)}; not {text!r}")
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", type=sections, default=list(SECTIONS), help=f"comma-separated: {','.join(SECTIONS)}")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved runs of each side; medians are reported")
    ap.add_argument(
        "--crawl-articles", type=sizes, default=[2000, 10000], help="synthetic site sizes (default 2000,10000)"
    )
    ap.add_argument("--search-articles", type=int, default=100_000, help="search archive size (default 100000)")
    ap.add_argument("--cache", type=Path, help="where built search archives are kept (default: a temporary directory)")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]} on {sys.platform}, {cpu_model()}, {os.cpu_count()} cores", flush=True)
    summary = Summary()
    rounds = max(1, args.rounds)
    if "parser" in args.only:
        bench_parser(summary)
    if "crawl" in args.only:
        for n in args.crawl_articles:
            bench_crawl(n, rounds, summary)
    if "search" in args.only:
        with tempfile.TemporaryDirectory(prefix="barwatch-bench-") as tmp:
            bench_search(args.search_articles, rounds, args.cache or Path(tmp), summary)
    if "reverify" in args.only:
        bench_reverify(summary)
    summary.print()


if __name__ == "__main__":
    main()
