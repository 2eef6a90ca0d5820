"""The crawl lock: exclusive across processes, released by the kernel when a holder dies."""

import json
import os
import signal
import subprocess
import sys

import pytest

from storage.lock import ArchiveLocked, CrawlLock

HOLD = """
import sys, time
from storage.lock import CrawlLock
lock = CrawlLock(sys.argv[1]).acquire("crawl (test holder)")
print("locked", flush=True)
time.sleep(60)
"""


def test_second_holder_is_refused_and_told_who(tmp_path):
    db = tmp_path / "a.db"
    with CrawlLock(db):
        with pytest.raises(ArchiveLocked) as info:
            CrawlLock(db).acquire()
        assert info.value.holder["pid"] == os.getpid()
        assert f"pid {os.getpid()}" in str(info.value)
    CrawlLock(db).acquire().release()  # free again once released


def test_killed_holder_leaves_no_stale_lock(tmp_path):
    db = tmp_path / "a.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ArchiveLocked) as info:
            CrawlLock(db).acquire()
        assert info.value.holder["command"] == "crawl (test holder)"
        assert json.loads((tmp_path / "a.db.lock").read_text())["pid"] == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    lock = CrawlLock(db).acquire()  # the kernel dropped the dead process's lock
    lock.release()
