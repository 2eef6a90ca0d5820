"""The ``barwatch`` command: a thin layer over the Python API.

Exit codes: 0 done; 1 the work failed (site down, SMTP down, a bad page given to inspect);
2 bad usage (any bad argument: a message, never a traceback) or a broken config; 75 another
crawl holds the archive's lock; 130 interrupted (Ctrl-C); 141 stdout was closed early
(``barwatch inspect URL | head``): the rest of the output is dropped quietly, and 141 is
what a shell reports for a command ended by SIGPIPE.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from storage.lock import LOCKED_EXIT_CODE, ArchiveLocked, CrawlLock

EXIT_FAILED, EXIT_USAGE = 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def _frozen_clock(value: str | None):
    if not value:
        return None
    try:
        fixed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--now: not an ISO-8601 time: {value!r}", EXIT_USAGE) from None
    if fixed.tzinfo is None:
        fixed = fixed.replace(tzinfo=UTC)
    return lambda: fixed


# ---------------------------------------------------------------------- argument types
# Each raises argparse.ArgumentTypeError: argparse prints usage and the message, exit 2.
def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOG_LEVELS)} (any case), not {value!r}")
    return level


def _int_in(low: int, high: int | None = None, what: str = "a whole number"):
    def parse(value: str) -> int:
        try:
            number = int(value, 10)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"must be {what} {bounds}, not {value!r}")
        return number

    parse.__name__ = what  # argparse names the type in some messages
    return parse


_positive_int = _int_in(1)
_port = _int_in(1, 65535, "a port number")


def _iso_date(value: str) -> str:
    import re
    from datetime import date

    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date as YYYY-MM-DD, e.g. 2024-01-31, not {value!r}") from None


def _version() -> str:
    """The installed distribution's version, else the one in the source tree's pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("barwatch")
    except PackageNotFoundError:
        pass
    import tomllib

    try:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
            return tomllib.load(f)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _load_config(args):
    from crawler.config import ConfigError, load_config

    try:
        return load_config(getattr(args, "config", None)).with_base_url(getattr(args, "base_url", None))
    except ConfigError as exc:
        raise CliError(f"config error: {exc}", EXIT_USAGE) from None


def _open_archive(args, clock=None, mode: str = "ro"):
    """Read-only unless the command writes rows (``rw``); only crawl and migrate create (``rwc``)."""
    from storage.archive import Archive, ArchiveError, NoArchive, utcnow

    try:
        return Archive(args.db, clock=clock or utcnow, mode=mode)
    except NoArchive as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except ArchiveError as exc:
        raise CliError(str(exc)) from None


def _summary(run: dict) -> str:
    held = f", held: {run['held']}" if run.get("held") else ""
    return (
        f"run {run['id']} ({run['mode']}, {run['status']}{held}): new {run['new']}, updated {run['changed']}, "
        f"unchanged {run['unchanged']}, removed {run['removed']}, failed {run['failed']}, requests {run['requests']}"
    )


# ---------------------------------------------------------------------- commands
def cmd_crawl(args) -> int:
    r"""Crawl the site into the archive (incremental unless --full).

    Example:
        barwatch crawl --db barwatch.db
        barwatch crawl --full --base-url http://127.0.0.1:8000
    """
    from crawler.runner import run_crawl

    config = _load_config(args)
    clock = _frozen_clock(args.now)
    try:
        with CrawlLock(args.db):
            # Created or migrated here, under the lock, before any request: a database
            # that cannot be opened fails now.
            _open_archive(args, mode="rwc").close()
            run = run_crawl(
                config,
                args.db,
                "full" if args.full else "incremental",
                clock=clock,
                log_level=args.log_level,
                max_db_pages=args.max_db_pages,
            )
    except ArchiveLocked as exc:
        print(f"barwatch: {exc}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    print(_summary(run))
    cycle = _cycle(args, config.crawl.reverify_days, clock)
    if cycle:
        print(cycle)
    if run["status"] == "failed":
        print(f"run {run['id']} failed: {_terminal(run['note'])}", file=sys.stderr)
    elif run["note"]:
        print(f"  note: {_terminal(run['note'])}")
    if run.get("held") == "suspect":
        print(f"run {run['id']} is held: its change alerts wait; check, then `barwatch release {run['id']}`")
    return EXIT_FAILED if run["status"] == "failed" else 0


def _cycle(args, days: int, clock=None) -> str | None:
    """How far the re-verification cycle has come, for the crawl summary."""
    from storage.archive import ArchiveError

    try:
        with _open_archive(args, clock=clock) as archive:
            checked, total = archive.reverify_progress(days)
    except (CliError, ArchiveError):
        return None
    if not total:
        return None
    return f"cycle: {checked} of {total} articles re-verified within {days} days ({checked * 100 // total}%)"


def _terminal(text) -> str:
    from storage.textops import one_line

    return one_line(str(text)) if text is not None else ""


def cmd_migrate(args) -> int:
    r"""Create or upgrade the archive's schema (crawl does it too), nothing else.

    Example:
        barwatch migrate --db barwatch.db
    """
    try:
        with CrawlLock(args.db).acquire("migrate"):
            _open_archive(args, mode="rwc").close()
    except ArchiveLocked as exc:
        print(f"barwatch: {exc}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    print(f"{args.db}: schema is current")
    return 0


def cmd_reindex(args) -> int:
    r"""Rebuild the search index from the articles table (after an upgrade of the folding, or
    rows written by other tools).

    Example:
        barwatch reindex --db barwatch.db
    """
    import time

    started = time.monotonic()
    try:
        with CrawlLock(args.db).acquire("reindex"), _open_archive(args, mode="rw") as archive:
            count = archive.reindex(progress=_progress_bar(sys.stderr, "indexing"))
    except ArchiveLocked as exc:
        print(f"barwatch: {exc}", file=sys.stderr)
        return LOCKED_EXIT_CODE
    print(f"{args.db}: search index rebuilt from {count} articles in {time.monotonic() - started:.1f} s")
    return 0


def _progress_bar(stream, label: str, width: int = 30):
    """A progress callback(done, total): a bar redrawn in place on a terminal, nothing
    otherwise (cron mail gets the one summary line)."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        filled = width * done // total if total else width
        stream.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def cmd_inspect(args) -> int:
    r"""Show what the parser makes of one page (a URL or a saved file).

    Example:
        barwatch inspect https://www.lawyers.org.cn/info/0123456789abcdef0123456789abcdef
        barwatch inspect saved-list.html --list
    """
    import re
    from urllib.parse import urlsplit

    from crawler.parsing import ParseError, decode_html, parse_article, parse_list
    from crawler.urls import CANONICAL_BASE, article_id_from_path, canonical_article_url

    config = _load_config(args)
    path = Path(args.target)
    if path.exists():
        data, content_type = path.read_bytes(), None
        # A saved page is known by its URL (--url) or by an article id in its file name.
        named = re.search(r"[0-9a-f]{32}", path.name)
        url = args.url or (canonical_article_url(named.group(0)) if named else CANONICAL_BASE + "/")
    else:
        data, content_type, fetched = _fetch(args.target, config.crawl.user_agent, config.crawl.timeout)
        url = args.url or fetched
    html = decode_html(data, content_type)
    if article_id_from_path(url) and not args.list:
        try:
            record = parse_article(html, url, config.rules)
        except ParseError as exc:
            raise CliError(f"not parsable as an article: {exc}") from None
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    rows = parse_list(html, url, extra_hosts=frozenset({urlsplit(config.base_url).netloc}))
    print(json.dumps(rows, ensure_ascii=False, indent=2))
    print(f"{len(rows)} article links", file=sys.stderr)
    return 0


def _fetch(url: str, user_agent: str, timeout: float):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(), response.headers.get("Content-Type"), response.geturl()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CliError(f"cannot fetch {url}: {exc}") from None


def cmd_runs(args) -> int:
    r"""List recent crawl runs with their counts and status.

    Example:
        barwatch runs --limit 5
    """
    archive = _open_archive(args)
    for run in reversed(archive.runs(args.limit)):
        status = run["status"] + (f"+{run['held']}" if run["held"] else "")
        line = f"{run['id']:>4}  {run['started_at']}  {status:<19} {run['mode']:<11} " + _summary(run).split(": ", 1)[1]
        print(line + (f"  [{_terminal(run['note'])}]" if run["note"] else ""))
    for incident in archive.open_incidents():
        print(f"open incident since run {incident['opened_run']}: {_terminal(incident['detail'])}")
    return 0


def cmd_channels(args) -> int:
    r"""List the channels walked, configured and discovered, with their health.

    Example:
        barwatch channels --db barwatch.db
    """
    from storage.textops import fit

    config = _load_config(args)
    archive = _open_archive(args)
    silenced = {s.list_url for s in config.sections if not s.enabled}
    configured = {s.list_url for s in config.sections if s.enabled}
    rows = archive.channels()
    if not rows:
        print("no channel walked yet (run `barwatch crawl` first)")
        return 0
    print(
        f"{fit('channel', 16)}  {fit('found by', 10)}  {fit('state', 12)}  {fit('newest', 10)}  "
        f"{'articles':>8}  {fit('last walked', 20)}  list URL"
    )
    for row in rows:
        template = row["url_template"]
        if template in silenced:
            state = "silenced"
        elif row["how_found"] == "config" and template not in configured:
            state = "unconfigured"
        elif row["baseline_done_at"] is None:
            state = "baseline"
        elif row["last_error"]:
            state = "failing"
        else:
            state = "ok"
        print(
            f"{fit(row['name'] or '', 16)}  {fit(row['how_found'] or '', 10)}  {fit(state, 12)}  "
            f"{fit(row['newest_item'] or '-', 10)}  {row['articles_found']:>8}  {fit(row['last_walked'] or '-', 20)}  "
            f"{_terminal(template)}"
        )
        if row["last_error"]:
            print(f"{'':>18}last error: {_terminal(row['last_error'])}")
    return 0


def cmd_release(args) -> int:
    r"""Confirm a suspect run so that its held change alerts are sent.

    Example:
        barwatch release 12
    """
    archive = _open_archive(args, mode="rw")
    try:
        run = archive.release(args.run_id)
    except (KeyError, ValueError) as exc:
        raise CliError(f"cannot release run {args.run_id}: {exc.args[0]}") from None
    print(f"run {run['id']} released: its held change alerts will go out with the next notify")
    return 0


def cmd_history(args) -> int:
    r"""List an article's versions with a one-line summary each.

    Example:
        barwatch history 0123456789abcdef0123456789abcdef
        barwatch history 01234567   # a unique prefix will do
    """
    from storage.diffs import paragraph_changes, summarize_changes

    archive = _open_archive(args)
    article_id = _article_id(archive, args.article)
    article = archive.get_article(article_id)
    print(
        f"{_terminal(article['title'])}\n{_terminal(article['url'])}  [{article['status']}]  first seen {article['first_seen']}"
    )
    lines = []
    previous = None
    for v in archive.versions(article_id):
        summary = "first version" if previous is None else summarize_changes(paragraph_changes(previous, v))
        note = f"  ({_terminal(v['note'])})" if v.get("note") else ""
        lines.append((v["fetched_at"], f"  v{v['version']}  {v['fetched_at']}  {_terminal(summary)}{note}"))
        previous = v
    for event in archive.events(article_id):
        what = "removed from the site (HTTP 404/410)" if event["kind"] == "removed" else "back on the site"
        lines.append((event["at"], f"  --  {event['at']}  {what}"))
    for _, line in sorted(lines, key=lambda item: item[0]):
        print(line)
    return 0


def cmd_diff(args) -> int:
    r"""Show what changed in an article, characters highlighted inside paragraphs.

    Example:
        barwatch diff 0123456789abcdef0123456789abcdef --version 2
    """
    from storage.diffs import paragraph_changes, render_changes

    archive = _open_archive(args)
    article_id = _article_id(archive, args.article)
    versions = archive.versions(article_id)
    n = args.version or versions[-1]["version"]
    if n < 2 or n > len(versions):
        raise CliError(f"{article_id} has versions 1..{len(versions)}; a diff needs a version from 2 on", EXIT_USAGE)
    old, new = versions[n - 2], versions[n - 1]
    changes = paragraph_changes(old, new)
    colour = sys.stdout.isatty() and not args.plain and not os.environ.get("NO_COLOR")
    print(f"{_terminal(new['title'])}: version {n - 1} -> {n} ({new['fetched_at']})")
    print(render_changes(changes, "ansi" if colour else "text"))
    return 0


def _article_id(archive, key: str) -> str:
    from crawler.urls import article_id_from_path

    try:
        return archive.find_article_id(article_id_from_path(key) or key)
    except KeyError as exc:
        raise CliError(str(exc.args[0]), EXIT_USAGE) from None


def cmd_notify(args) -> int:
    r"""Send the pending alerts: by mail (BARWATCH_SMTP_*) and to chat (BARWATCH_NOTIFY_URLS),
    each once.

    Example:
        BARWATCH_NOTIFY_URLS='dingtalk://SECRET@TOKEN wecombot://KEY' barwatch notify
        BARWATCH_SMTP_HOST=mail.example.com BARWATCH_MAIL_FROM=bw@example.com \
          BARWATCH_MAIL_TO=team@example.com barwatch notify --dry-run
    """
    from scheduler.notify import run_notify, run_test

    config = _load_config(args)
    if args.test:
        return run_test(config.alerts)
    if args.status:
        return _notify_status(_open_archive(args))
    archive = _open_archive(args, mode="ro" if args.dry_run else "rw")
    return run_notify(archive, config.alerts, dry_run=args.dry_run, zone=config.timezone, web=config.web)


def _notify_status(archive) -> int:
    from storage import outbox

    rows = outbox.channel_status(archive)
    if not rows:
        print("no alert channel has been used yet")
        return 0
    print(f"{'channel':<44} {'sent':>6} {'pending':>8} {'gave up':>8}  last ok / last error")
    for r in rows:
        state = f"ok {r['last_ok']}" if r["last_ok"] else "never ok"
        if r["failing_since"]:
            state = f"failing since {r['failing_since']}: {r['last_error']}"
        print(
            f"{_terminal(r['label'])[:44]:<44} {r['sent']:>6} {r['pending']:>8} {r['given_up']:>8}  {_terminal(state)}"
        )
    for d in outbox.given_up(archive):
        print(
            f"  gave up alert {d['alert_id']} on {_terminal(d['channel'])} at {d['gave_up_at']}: {_terminal(d['last_error'])}"
        )
    return 0


def cmd_search(args) -> int:
    r"""Search the archive (Chinese words of any length, Latin tokens).

    Example:
        barwatch search 律师 疫情 --since 2024-01-01 --limit 5
    """
    from storage.search import count, format_results, search

    archive = _open_archive(args)
    try:
        results = search(archive.db, args.query, section=args.section, since=args.since, limit=args.limit)
    except ValueError as exc:
        raise CliError(f"search: {exc}", EXIT_USAGE) from None
    if not results:
        print("no match")
        return 0
    print(format_results(results))
    if len(results) == args.limit:
        total = count(archive.db, args.query, section=args.section, since=args.since)
        if total > len(results):
            print(f"\n{len(results)} of {total:,} matching articles shown (--limit N for more)")
    return 0


def cmd_serve(args) -> int:
    r"""Browse and search the archive in Datasette on 127.0.0.1.

    Example:
        barwatch serve --db barwatch.db --port 8001   # then open http://127.0.0.1:8001/
    """
    from storage.serve import serve

    config = _load_config(args)
    _open_archive(args).close()  # a missing or old archive is said here, not by Datasette
    serve(args.db, host=args.host, port=args.port, zone=config.timezone)
    return 0


def cmd_daemon(args) -> int:
    r"""Run scheduled crawls and notifications until stopped (SIGTERM/SIGINT).

    Example:
        barwatch daemon --db /var/lib/barwatch/barwatch.db --config /etc/barwatch.toml
    """
    from scheduler.daemon import run_daemon

    config = _load_config(args)
    return run_daemon(
        args.db, config, config_path=args.config, base_url=args.base_url, every_seconds=args.every_seconds
    )


def cmd_demo(args) -> int:
    r"""Serve the bundled fixture site on 127.0.0.1, crawl it, let it change (new, edited,
    removed), crawl again and show what changed.

    Example:
        barwatch demo --dir demo && barwatch search 律师 --db demo/barwatch.db
    """
    from scheduler.demo import run_demo

    return run_demo(Path(args.dir), keep_serving=args.serve)


# ---------------------------------------------------------------------- parser
def _command(sub, func):
    """The subcommand that runs ``func`` (``cmd_release`` is ``release``): its help is the
    docstring's first paragraph, its example the lines under ``Example:``."""
    text, _, example = (inspect.getdoc(func) or "").partition("\n\nExample:\n")
    help_text = " ".join(text.split())
    p = sub.add_parser(
        func.__name__.removeprefix("cmd_").replace("_", "-"),
        help=help_text,
        description=help_text,
        epilog="example:\n" + textwrap.indent(textwrap.dedent(example).strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    return p


def _db(p):
    p.add_argument(
        "--db",
        default=os.environ.get("BARWATCH_DB", "barwatch.db"),
        help="archive file (default: barwatch.db or $BARWATCH_DB)",
    )


def _config(p):
    p.add_argument("--config", help="TOML config file (default: the packaged one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="barwatch",
        description="Archive and change monitor for the Shanghai Bar Association's news site (www.lawyers.org.cn).",
        epilog="Run `barwatch COMMAND --help` for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"barwatch {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, cmd_crawl)
    _db(p), _config(p)
    p.add_argument("--base-url", help="replace scheme and host of every configured URL (e.g. a local copy)")
    p.add_argument("--full", action="store_true", help="walk every list page and re-fetch every known article")
    p.add_argument("--now", help=argparse.SUPPRESS)  # frozen clock for reproducible tests
    # A tiny page limit stands in for a full disk in tests.
    p.add_argument("--max-db-pages", type=_positive_int, help=argparse.SUPPRESS)
    p.add_argument(
        "--log-level",
        type=_log_level,
        default=os.environ.get("BARWATCH_LOG_LEVEL", "INFO"),
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (default: INFO or $BARWATCH_LOG_LEVEL)",
    )

    p = _command(sub, cmd_migrate)
    _db(p)

    p = _command(sub, cmd_reindex)
    _db(p)

    p = _command(sub, cmd_inspect)
    _config(p)
    p.add_argument("target", help="URL or file")
    p.add_argument("--url", help="the page's URL, when TARGET is a saved file")
    p.add_argument("--list", action="store_true", help="treat the page as a list page")
    p.add_argument("--base-url", help=argparse.SUPPRESS)

    p = _command(sub, cmd_runs)
    _db(p)
    p.add_argument("--limit", type=_positive_int, default=20)

    p = _command(sub, cmd_channels)
    _db(p), _config(p)

    p = _command(sub, cmd_release)
    _db(p)
    p.add_argument("run_id", type=_positive_int)

    p = _command(sub, cmd_history)
    _db(p)
    p.add_argument("article", help="article id, unique id prefix, or URL")

    p = _command(sub, cmd_diff)
    _db(p)
    p.add_argument("article", help="article id, unique id prefix, or URL")
    p.add_argument(
        "--version", type=_positive_int, help="compare this version with the one before (default: the latest)"
    )
    p.add_argument("--plain", action="store_true", help="plain text markers [-old-]{+new+} even on a terminal")

    p = _command(sub, cmd_notify)
    _db(p), _config(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--dry-run", action="store_true", help="print what each channel would receive; send and mark nothing"
    )
    what.add_argument(
        "--test", action="store_true", help="send one short test message to every channel and report each"
    )
    what.add_argument("--status", action="store_true", help="list the channels: sent, pending, given up, last error")

    p = _command(sub, cmd_search)
    _db(p)
    p.add_argument("query", nargs="+")
    p.add_argument("--section", help="only this section (substring of the breadcrumb path)")
    p.add_argument("--since", type=_iso_date, help="only articles published on or after this date (YYYY-MM-DD)")
    p.add_argument("--limit", type=_positive_int, default=20)

    p = _command(sub, cmd_serve)
    _db(p), _config(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8001)

    p = _command(sub, cmd_daemon)
    _db(p), _config(p)
    p.add_argument("--base-url", help="replace scheme and host of every configured URL")
    # Tests need crawls seconds apart; the config allows 1 minute at the least.
    p.add_argument("--every-seconds", type=_positive_int, help=argparse.SUPPRESS)

    p = _command(sub, cmd_demo)
    p.add_argument("--dir", default="demo", help="where the demo archive goes (default: ./demo)")
    p.add_argument("--serve", action="store_true", help="then keep serving the archive in Datasette")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "search":
        args.query = " ".join(args.query)
    if args.command != "crawl":  # Scrapy configures logging for a crawl from its settings
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
        )
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that went away shows up here, not at interpreter exit
        return code
    except CliError as exc:
        print(f"barwatch: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of stdout closed it (`barwatch inspect URL | head`). As the Python docs
        # advise (signal module, "Note on SIGPIPE"): point stdout at devnull so that the
        # final flush at exit cannot fail again, and leave quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
