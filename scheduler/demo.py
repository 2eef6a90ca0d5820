"""``barwatch demo``: the whole flow offline, against the bundled fixture site.

Starts the fixture site on 127.0.0.1, crawls it into a fresh archive in a child process
(the same ``barwatch crawl`` an operator runs, with the packaged config: only 业务指引 is
configured, discovery finds the rest), and prints what was archived.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "crawler" / "default_config.toml"


def demo_config(directory: Path) -> Path:
    """The packaged config without the politeness delay: the fixture site is local."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = text.replace("download_delay = 1.0", "download_delay = 0.0").replace("autothrottle = true", "autothrottle = false")
    path = directory / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_demo(directory: Path, keep_serving: bool = False) -> int:
    from fixtures.server import FixtureSite
    from storage.archive import Archive
    from storage.textops import fit

    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "barwatch.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with FixtureSite() as site:
        print(f"fixture site serving on {site.base_url}")
        cmd = [sys.executable, "-m", "scheduler.cli", "crawl", "--db", str(db), "--config", str(demo_config(directory)),
               "--base-url", site.base_url, "--log-level", "WARNING"]
        code = subprocess.call(cmd)
        if code != 0:
            print(f"demo crawl failed with exit code {code}", file=sys.stderr)
            return code
    with Archive(db, mode="ro") as archive:
        rows = list(archive.iter_articles())
        print(f"\narchived {len(rows)} articles into {db}:")
        for r in rows:
            # Padded by display width (a Chinese character takes two columns), cut with …
            print(f"  {fit(r['published'] or '-', 10)}  {fit(r['section'] or '', 30)}  {fit(r['title'] or '', 50)}")
        counts = archive.table_counts()
    print("\ntables: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"\nnext: barwatch search 律师 --db {db}\n      barwatch serve --db {db}   # Datasette on http://127.0.0.1:8001/")
    if keep_serving:
        from storage.serve import serve

        serve(str(db))
    return 0
