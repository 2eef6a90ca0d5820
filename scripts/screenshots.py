"""The README's screenshots, taken from the demo archive in Debian's chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--keep DIR] [--verbose]

1. builds the demo archive (``scheduler.demo.run_demo``: the bundled fixture site crawled
   twice, so the archive holds a new, a changed and a removed article) in a temporary
   directory, or in --keep DIR, which is left in place afterwards;
2. serves it with ``storage.serve.serve`` in a child process on a free 127.0.0.1 port;
3. drives /usr/bin/chromium with Playwright (never ``playwright install``; nothing but
   127.0.0.1 is fetched) at 1280x900, locale zh-CN, and writes:

   * landing.png  the front page ``/`` (search box, 最新动态, 栏目状态), full height;
   * search.png   the front page with a search typed, ``/?q=律师``, full height;
   * article.png  the changed article's page, top of it (最近修改, the diff highlighted);
   * digest.png   the HTML part of the digest ``barwatch notify`` would mail, composed
                  without SMTP at a fixed time, cut to the mail's height.

The crawl times the pages and the mail show are the demo's own (the machine's clock), so
the pictures change from one day to the next; everything else is fixed by the fixtures.

Full-height shots taller than MAX_FULL_HEIGHT are cut to CLIP_HEIGHT. Needs a CJK font
(fonts-noto-cjk): without one Chinese renders as boxes, so the script refuses to run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = Path("/usr/bin/chromium")
DB_NAME = "barwatch"  # run_demo writes <directory>/barwatch.db; Datasette names it by the stem
WIDTH, HEIGHT = 1280, 900
MAX_FULL_HEIGHT = 3000
CLIP_HEIGHT = 2000
# The digest's Date header and any "now"-relative text: fixed so the picture is stable.
DIGEST_NOW = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)
SEARCH_QUERY = "律师"
SERVE_TIMEOUT = 60.0
PAGE_TIMEOUT_MS = 15_000
NAV_TIMEOUT_MS = 30_000
LAUNCH_TIMEOUT_MS = 60_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
]


class Failure(Exception):
    """Something the user can fix; its message is printed and the script exits 1."""


def check_cjk_font() -> None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        raise Failure(
            "fc-list not found (fontconfig); cannot check for a CJK font: apt-get install fontconfig fonts-noto-cjk"
        )
    try:
        out = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        raise Failure("fc-list :lang=zh did not answer within 30 s") from None
    if not out.strip():
        raise Failure("no Chinese font installed, the pages would show boxes: apt-get install fonts-noto-cjk")


def check_chromium() -> None:
    if not CHROMIUM.exists():
        raise Failure(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise Failure(
            "Playwright is not installed in this Python: .venv/bin/pip install playwright"
            " (the browser is Debian's chromium, no `playwright install`)"
        ) from None


def build_demo(directory: Path, verbose: bool) -> Path:
    from scheduler.demo import run_demo

    out, err = io.StringIO(), io.StringIO()
    if verbose:
        code = run_demo(directory)
    else:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_demo(directory)
    if code != 0:
        raise Failure(f"the demo failed with exit code {code}:\n{out.getvalue()}{err.getvalue()}".rstrip())
    db = directory / f"{DB_NAME}.db"
    if not db.exists():
        raise Failure(f"the demo wrote no archive at {db}")
    return db


def changed_article_id(db: Path) -> str:
    from storage.archive import Archive

    with Archive(db, mode="ro") as archive:
        row = archive.conn.execute("select id from articles where version > 1 order by id limit 1").fetchone()
    if row is None:
        raise Failure(f"{db}: no article with a second version; the demo should have changed one")
    return row[0]


def digest_html(db: Path) -> str:
    from crawler.config import load_config
    from scheduler.notify import build_messages
    from storage.archive import Archive

    config = load_config(None)
    with Archive(db, mode="ro") as archive:
        messages = build_messages(archive, config.alerts, DIGEST_NOW, zone=config.timezone, web=config.web)
    if not messages:
        raise Failure(f"{db}: no pending alerts, so no digest to show")
    return messages[0].html()


@contextlib.contextmanager
def serving(db: Path, log: Path):
    from crawler.config import load_config
    from fixtures.datasette import serving as serve_in_child

    try:
        with serve_in_child(db, log, zone=load_config(None).timezone, timeout=SERVE_TIMEOUT) as base:
            yield base
    except RuntimeError as exc:
        raise Failure(str(exc)) from None


def png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise Failure(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def shoot(page, path: Path, full: bool, fit: bool = False) -> None:
    """Full height when asked (cut to CLIP_HEIGHT if taller than MAX_FULL_HEIGHT), else the
    viewport, i.e. the top of the page. ``fit``: just the content's height, for a page
    shorter than the viewport (the mail), so no blank band is left below it."""
    if fit:
        height = page.evaluate(
            "() => Math.ceil(document.body.getBoundingClientRect().bottom"
            " + parseFloat(getComputedStyle(document.body).marginBottom || '0'))"
        )
        height = max(1, min(int(height), CLIP_HEIGHT))
        page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
    elif full:
        height = page.evaluate("() => Math.ceil(document.documentElement.scrollHeight)")
        if height > MAX_FULL_HEIGHT:
            page.screenshot(
                path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": CLIP_HEIGHT}
            )
        else:
            page.screenshot(path=str(path), full_page=True)
    else:
        page.screenshot(path=str(path))
    w, h = png_size(path)
    try:
        shown = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    print(f"{shown}  {w}x{h}", flush=True)


def take_screenshots(base: str, article_id: str, html: str, out: Path) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    allowed = ("http://127.0.0.1:", "about:", "data:")

    def only_local(route):
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            route.abort()

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS
            )
            try:
                context = browser.new_context(
                    viewport={"width": WIDTH, "height": HEIGHT}, locale="zh-CN", timezone_id="Asia/Shanghai"
                )
                context.route("**/*", only_local)
                page = context.new_page()
                page.set_default_timeout(PAGE_TIMEOUT_MS)
                page.set_default_navigation_timeout(NAV_TIMEOUT_MS)

                def visit(url: str) -> None:
                    response = page.goto(url, wait_until="networkidle")
                    if response is None or response.status != 200:
                        raise Failure(f"{url} answered {response.status if response else 'nothing'}")
                    page.evaluate("() => document.fonts.ready")

                visit(f"{base}/")
                shoot(page, out / "landing.png", full=True)

                visit(f"{base}/?q={urllib.parse.quote(SEARCH_QUERY)}")
                shoot(page, out / "search.png", full=True)

                visit(f"{base}/{DB_NAME}/-/article/{article_id}")
                shoot(page, out / "article.png", full=False)

                page.set_content(html, wait_until="load")
                page.evaluate("() => document.fonts.ready")
                shoot(page, out / "digest.png", full=True, fit=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise Failure(f"the browser failed: {exc}") from None


def run(out: Path, keep: Path | None, verbose: bool) -> None:
    check_cjk_font()
    check_chromium()
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if keep is not None:
            directory = keep.resolve()
        else:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="barwatch-shots-")))
        print(f"building the demo archive in {directory}", flush=True)
        db = build_demo(directory, verbose)
        article_id = changed_article_id(db)
        html = digest_html(db)
        with serving(db, directory / "serve.log") as base:
            take_screenshots(base, article_id, html, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/screenshots.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "screenshots",
        help="folder for the PNGs (default: docs/screenshots)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="build the demo archive in DIR and leave it there (default: a temporary folder)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the demo's output")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        run(args.out.resolve(), args.keep, args.verbose)
    except Failure as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("screenshots: interrupted", file=sys.stderr)
        return 130
    print(f"done in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
