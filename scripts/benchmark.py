"""Measure barwatch on this machine and print the figures (no asserts: a benchmark, not a test).

    .venv/bin/python scripts/benchmark.py [--articles 2000]

1. parser: pages per second over every saved fixture page, and how many bodies each
   extraction path gets exactly right (structural, trafilatura alone, trafilatura filtered);
2. crawl: a full crawl of the fixture site at no delay, in a child process as in production:
   wall time, requests, and the child's peak memory;
3. search: an archive of N synthetic articles built from the fixture records: indexing
   time, database size, and query latency;
4. re-verification: an archive of 10,000 articles (rows inserted with plain SQL) and a week
   of hourly runs on a simulated clock: the requests each run spends on re-verification,
   and whether every article was re-checked within the cycle.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler import parsing  # noqa: E402
from fixtures.server import FixtureSite  # noqa: E402
from storage.archive import Archive  # noqa: E402
from storage.search import search  # noqa: E402

PAGES = ROOT / "fixtures" / "pages"


def bench_parser() -> None:
    pages = sorted(PAGES.rglob("*.html"))
    blobs = [(p, p.read_bytes(), json.loads(p.with_suffix("").with_suffix(".expected.json").read_text("utf-8"))) for p in pages]
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        for p, data, _expected in blobs:
            parsing.parse_article(data, f"https://www.lawyers.org.cn/info/{p.stem}")
    took = time.perf_counter() - start
    n = rounds * len(blobs)
    print(f"parser: {n} pages in {took:.2f} s = {n / took:.0f} pages/s ({1000 * took / n:.1f} ms a page)")

    exact = {"structural (shipped)": 0, "trafilatura alone": 0, "trafilatura + filters": 0}
    for p, data, expected in blobs:
        record = parsing.parse_article(data, f"https://www.lawyers.org.cn/info/{p.stem}")
        exact["structural (shipped)"] += record["body"] == expected["body"]
        root = parsing._parse_tree(parsing._to_text(data))
        raw = parsing._trafilatura_body(root, parsing.DEFAULT_RULES)
        exact["trafilatura alone"] += "\n".join(raw) == expected["body"]
        filtered = parsing._filter_trafilatura(raw, parsing.DEFAULT_RULES, expected["title"], (expected["section"] or "").split(" > "))
        exact["trafilatura + filters"] += "\n".join(filtered) == expected["body"]
    print("body exactly as expected, of " + f"{len(blobs)} fixture pages: " + ", ".join(f"{k} {v}" for k, v in exact.items()))


def bench_crawl() -> None:
    with FixtureSite() as site, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "b.db"
        cmd = [sys.executable, "-m", "scheduler.cli", "crawl", "--db", str(db), "--config", str(ROOT / "fixtures" / "site.toml"),
               "--base-url", site.base_url, "--full", "--log-level", "WARNING"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"crawl (fixture site, no delay, one request at a time): {took:.2f} s wall incl. process start; "
              f"{len(site.requests)} requests; peak RSS of the crawl process {peak_kib / 1024:.0f} MiB")
        print(f"  {proc.stdout.strip()}")
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        print(f"  a second full crawl of the unchanged site: {time.perf_counter() - start:.2f} s")


def bench_search(n: int) -> None:
    records = [json.loads(p.read_text("utf-8")) for p in sorted((PAGES / "base" / "info").glob("*.expected.json"))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.db"
        with Archive(path) as archive:
            run = archive.start_run("full")
            start = time.perf_counter()
            for i in range(n):
                r = dict(records[i % len(records)])
                r["id"] = f"{i:032x}"
                archive.record_article(run, r)
            took = time.perf_counter() - start
            archive.finish_run(run, 0)
            print(f"archive+index: {n} articles stored and indexed in {took:.1f} s ({n / took:.0f} articles/s); "
                  f"file {path.stat().st_size / 2**20:.1f} MiB")
            queries = ["律", "律师", "律工委", "浦东新区", "律师 疫情", "数据出境合规", "PDF", "上海市律师协会"]
            for q in queries:
                search(archive.db, q)  # warm
            timings = []
            for q in queries:
                t = time.perf_counter()
                for _ in range(5):
                    hits = search(archive.db, q, limit=20)
                timings.append((time.perf_counter() - t) / 5)
                print(f"  search {q!r}: {len(hits)} hits shown, {1000 * timings[-1]:.1f} ms")
            print(f"  median query {1000 * statistics.median(timings):.1f} ms over {len(queries)} queries")


def bench_reverify(n: int = 10_000, days: int = 7) -> None:
    from datetime import datetime, timedelta, timezone

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clock = {"now": start}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.db"
        with Archive(path, clock=lambda: clock["now"]) as archive:
            stamp = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            with archive.write() as conn:
                conn.executemany(
                    "INSERT INTO articles(id, url, title, published, first_seen, last_checked, last_changed, status, "
                    "version, content_hash) VALUES (?, ?, ?, '2020-01-01', ?, ?, ?, 'live', 1, 'x')",
                    [(f"{i:032x}", f"https://www.lawyers.org.cn/info/{i:032x}", f"t{i}", stamp, stamp, stamp) for i in range(n)],
                )
            per_run = []
            for hour in range(1, days * 24 + 1):
                clock["now"] = start + timedelta(hours=hour)
                run = archive.start_run("incremental")
                plan = archive.revisit_plan(30, days)
                per_run.append(len(plan))
                with archive.write() as conn:  # what 304 answers do, in one go
                    conn.executemany("UPDATE articles SET last_checked = ? WHERE id = ?",
                                     [(archive.now(), e["id"]) for e in plan])
                archive.finish_run(run, len(plan))
            checked, total = archive.reverify_progress(days)
    print(f"re-verification: {n} articles, {days}-day cycle, hourly runs: {statistics.median(per_run):.0f} re-checks a run "
          f"(min {min(per_run)}, max {max(per_run)}); after one cycle {checked} of {total} re-checked within it "
          f"({'all' if checked == total else 'NOT all'}); at 1 request/s that is {max(per_run)} s of a run")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=2000, help="synthetic archive size for the search figures")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]} on {sys.platform}")
    bench_parser()
    bench_crawl()
    bench_search(args.articles)
    bench_reverify()


if __name__ == "__main__":
    main()
