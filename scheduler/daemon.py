"""``barwatch daemon``: scheduled crawls and notifications until stopped.

Each crawl runs in a child process (``barwatch crawl``): Scrapy's Twisted reactor cannot be
restarted in one process, and a crawl that crashes or leaks cannot take the daemon with
it. Jobs run on a single worker thread, so a crawl and a full re-verification never
overlap in this daemon; the archive's lock keeps out crawls started by cron or by hand.

SIGTERM/SIGINT: no new job starts; a running crawl is asked to stop (Scrapy's graceful
shutdown finishes in-flight pages and closes the run as ``interrupted``), then the daemon
exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import Config
from storage.lock import LOCKED_EXIT_CODE

logger = logging.getLogger("barwatch.daemon")

NOTIFY_BACKOFF_START = 300.0  # seconds after a failed send before the next try
NOTIFY_BACKOFF_MAX = 6 * 3600.0


@dataclass
class DaemonState:
    stopping: threading.Event = field(default_factory=threading.Event)
    child: subprocess.Popen | None = None
    crawls: int = 0
    notify_failures: int = 0
    notify_not_before: float = 0.0


def setup_logging() -> None:
    # journald stamps each line itself; cron mail and a terminal want the time in the line.
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if os.environ.get("JOURNAL_STREAM")
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=logging.INFO, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def crawl_command(db_path, config_path=None, base_url: str | None = None, full: bool = False, *extra: str) -> list[str]:
    """``barwatch crawl`` as a child process (a Twisted reactor cannot restart in a process
    that already ran one): the daemon's, the demo's."""
    cmd = [sys.executable, "-m", "scheduler.cli", "crawl", "--db", str(db_path)]
    if config_path:
        cmd += ["--config", str(config_path)]
    if base_url:
        cmd += ["--base-url", base_url]
    if full:
        cmd.append("--full")
    return cmd + list(extra)


def run_job(state: DaemonState, db_path: str, config: Config, config_path, base_url, full: bool) -> None:
    """One scheduled job: a crawl in a child process, then the notifier."""
    if state.stopping.is_set():
        return
    mode = "full" if full else "incremental"
    logger.info("starting %s crawl", mode)
    started = time.monotonic()
    try:
        state.child = subprocess.Popen(crawl_command(db_path, config_path, base_url, full), stdin=subprocess.DEVNULL)
        code = state.child.wait()
    except OSError as exc:
        logger.error("could not start the crawl: %s", exc)
        return
    finally:
        state.child = None
    state.crawls += 1
    took = time.monotonic() - started
    if code == LOCKED_EXIT_CODE:
        logger.warning("%s crawl skipped: another crawl holds the archive", mode)
    else:
        # The run row, not the exit code, says what happened (ok, partial, failed ...).
        run = latest_run(db_path)
        outcome = (
            "no run recorded"
            if run is None
            else (
                f"run {run['id']} {run['status']}{' (held)' if run['held'] == 'suspect' else ''}: new {run['new']}, "
                f"updated {run['changed']}, removed {run['removed']}, failed {run['failed']}"
            )
        )
        level = logging.INFO if code == 0 and run is not None and run["status"] == "ok" else logging.WARNING
        if code not in (0, 1):
            level = logging.ERROR  # a crash: logged, and the daemon carries on; the next run retries
        logger.log(level, "%s crawl exited %s after %.1f s; %s", mode, code, took, outcome)
    if config.schedule.notify and not state.stopping.is_set():
        notify_with_backoff(state, db_path, config)


def latest_run(db_path: str) -> dict | None:
    from storage.archive import Archive, ArchiveError

    try:
        with Archive(db_path, mode="ro") as archive:
            runs = archive.runs(1)
    except ArchiveError:
        return None
    return runs[0] if runs else None


def notify_with_backoff(state: DaemonState, db_path: str, config: Config) -> None:
    from scheduler.notify import run_notify
    from storage.archive import Archive, NoArchive

    now = time.monotonic()
    if now < state.notify_not_before:
        logger.info("notify: backing off for %.0f s more after delivery errors", state.notify_not_before - now)
        return
    try:
        with Archive(db_path, mode="rw") as archive:
            code = run_notify(archive, config.alerts, dry_run=False, zone=config.timezone, web=config.web)
    except NoArchive:
        logger.info("notify: no archive yet at %s", db_path)
        return
    except Exception:  # the daemon must outlive any one notifier failure
        logger.exception("notify failed")
        code = 1
    if code == 0:
        state.notify_failures, state.notify_not_before = 0, 0.0
    else:
        state.notify_failures += 1
        delay = min(NOTIFY_BACKOFF_START * 2 ** (state.notify_failures - 1), NOTIFY_BACKOFF_MAX)
        state.notify_not_before = time.monotonic() + delay
        logger.warning("notify: will try again in %.0f s (failure %d)", delay, state.notify_failures)


def build_scheduler(
    state: DaemonState, db_path: str, config: Config, config_path, base_url, every_seconds: int | None = None
) -> BlockingScheduler:
    # One worker: jobs queue behind each other instead of overlapping. coalesce folds a
    # backlog of missed runs (laptop asleep, long crawl) into one run, not a burst.
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone="UTC",
    )
    sched = config.schedule
    if every_seconds:
        trigger = IntervalTrigger(seconds=every_seconds, timezone="UTC")
    elif sched.cron:
        trigger = CronTrigger.from_crontab(sched.cron, timezone="UTC")
    else:
        trigger = IntervalTrigger(minutes=sched.interval_minutes or 60, timezone="UTC")
    scheduler.add_job(
        run_job,
        trigger,
        args=[state, db_path, config, config_path, base_url, False],
        id="crawl",
        name="incremental crawl",
        next_run_time=datetime.now(UTC),  # first crawl at start, not an interval later
    )
    if sched.full_cron:
        scheduler.add_job(
            run_job,
            CronTrigger.from_crontab(sched.full_cron, timezone="UTC"),
            args=[state, db_path, config, config_path, base_url, True],
            id="full",
            name="full re-verification",
        )
    return scheduler


def check_channels(db_path: str, config: Config, environ=None) -> str | None:
    """With notifications on, the channels must be there and right before the first crawl:
    a daemon that crawls and then only logs a back-off every few minutes helps nobody.
    Returns what is wrong, or None. Channels that are right are registered, so the alerts
    of the first crawl are theirs."""
    if not config.schedule.notify:
        return None
    from scheduler.notify import NO_CHANNEL, configured_channels, register
    from storage.archive import Archive, NoArchive

    try:
        channels = configured_channels(config.alerts, environ)
    except ValueError as exc:
        return str(exc)
    if channels.empty:
        return NO_CHANNEL + " (or set notify = false in [schedule])"
    try:
        with Archive(db_path, mode="rw") as archive:
            register(archive, channels)
    except NoArchive:
        pass  # the first crawl creates it; the channels are registered at the first notify
    return None


def run_daemon(
    db_path: str,
    config: Config,
    config_path: str | None = None,
    base_url: str | None = None,
    every_seconds: int | None = None,
) -> int:
    setup_logging()
    problem = check_channels(db_path, config)
    if problem is not None:
        logger.error("daemon not started: %s", problem)
        return 2
    state = DaemonState()
    scheduler = build_scheduler(state, db_path, config, config_path, base_url, every_seconds)

    def stop(signum, frame):
        if state.stopping.is_set():
            return
        logger.info("received %s: finishing the current job, then exiting", signal.Signals(signum).name)
        state.stopping.set()
        child = state.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it may have exited since poll()
                child.send_signal(signal.SIGTERM)
        # shutdown(wait=True) from inside a signal handler would block the main loop;
        # a thread waits for the running job and then stops the scheduler.
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sched = config.schedule
    every = f"cron '{sched.cron}'" if sched.cron else f"every {sched.interval_minutes} min"
    if every_seconds:
        every = f"every {every_seconds} s"
    logger.info(
        "daemon started: archive %s, incremental crawl %s%s",
        db_path,
        every,
        f", full crawl cron '{sched.full_cron}'" if sched.full_cron else "",
    )
    scheduler.start()
    logger.info("daemon stopped after %d crawls", state.crawls)
    return 0
