"""One crawl per archive at a time, across processes.

An advisory ``flock`` on a file next to the database: the kernel drops it when the holder
exits, however it dies, so a killed crawl never leaves the archive locked. The file's text
says who holds it, for the message the second process prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCKED_EXIT_CODE = 75  # EX_TEMPFAIL: cron and systemd read it as "try again later"


class ArchiveLocked(Exception):
    def __init__(self, path: Path, holder: dict):
        self.path, self.holder = path, holder
        who = ", ".join(f"{k} {v}" for k, v in holder.items()) or "unknown holder"
        super().__init__(f"{path} is locked by another barwatch process ({who})")


class CrawlLock:
    """``CrawlLock(db)`` guards crawls (``db.lock``); ``CrawlLock(db, "notify")`` the sender."""

    def __init__(self, db_path: str | Path, purpose: str = "crawl"):
        self.path = Path(f"{db_path}.lock" if purpose == "crawl" else f"{db_path}.{purpose}.lock")
        self.fd: int | None = None

    def acquire(self, what: str = "crawl") -> CrawlLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ArchiveLocked(self.path, holder) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": what,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> CrawlLock:
        if self.fd is not None:  # `with CrawlLock(db).acquire("why"):`
            return self
        return self.acquire(" ".join(os.path.basename(a) for a in sys.argv[:2]) or "crawl")

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        data = os.pread(fd, 4096, 0)
        return json.loads(data) if data else {}
    except (OSError, ValueError):
        return {}
