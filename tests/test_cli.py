"""The barwatch command: each command against tmp_path archives and the fixture site."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from datetime import datetime

import pytest

from fixtures import spec
from scheduler.cli import build_parser, main
from storage.archive import Archive
from storage.schema import SCHEMA_VERSION
from tests.crawling import FIXTURE_CONFIG, NOW, ROOT, barwatch, copy_db, crawl, crawl_args
from tests.test_notify import free_port, start_server

PAGES = ROOT / "fixtures" / "pages" / "base" / "info"


@pytest.fixture(scope="module")
def edited_archive(site, tmp_path_factory):
    """Baseline of the base site, then an incremental crawl of the site with one edit."""
    db = tmp_path_factory.mktemp("cli") / "e.db"
    site.set_state("base")
    crawl(db, site, "--full")
    site.set_state("edited")
    crawl(db, site, "--full")
    site.set_state("base")
    return db


def test_every_command_has_help_with_an_example(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert sorted(commands) == sorted(
        [
            "crawl",
            "migrate",
            "reindex",
            "inspect",
            "runs",
            "channels",
            "release",
            "history",
            "diff",
            "notify",
            "search",
            "serve",
            "daemon",
            "demo",
        ]
    )
    for name, sub in commands.items():
        text = sub.format_help()
        assert "example:\n  barwatch " in text or "example:\n  BARWATCH_" in text, name


def test_broken_config_exits_2_naming_file_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[site]\nbase_url = "https://www.lawyers.org.cn"\n[[sections]]\nname = "x"\nlist_url = "/x"\n', encoding="utf-8"
    )
    assert main(["crawl", "--db", str(tmp_path / "a.db"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"barwatch: config error: {bad}: sections[0].list_url: must contain {{page}} where the page number goes\n"
    )
    assert not (tmp_path / "a.db").exists()  # nothing was started


def test_dead_server_counts_failures_and_loses_nothing(edited_archive, tmp_path):
    db = copy_db(edited_archive, tmp_path / "d.db")
    with Archive(db) as archive:
        before = list(archive.iter_articles())
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = tmp_path / "no-retry.toml"  # fixture config ends in [crawl]: the key lands there
    config.write_text(FIXTURE_CONFIG.read_text(encoding="utf-8") + "retry_times = 0\n", encoding="utf-8")
    proc = barwatch(*crawl_args(db, dead, config=config, log_level="ERROR"), check=False)
    assert proc.returncode == 1
    with Archive(db) as archive:
        run = archive.runs()[0]
        assert (run["new"], run["changed"], run["unchanged"], run["removed"]) == (0, 0, 0, 0)
        # robots.txt is unreachable, so (RFC 9309) nothing else is even tried: one
        # failure, recorded once, and a failed run
        assert (run["status"], run["failed"]) == ("failed", 1)
        [failure] = archive.failures(run["id"])
        assert (failure["kind"], failure["url"]) == ("robots", f"{dead}/robots.txt")
        assert failure["message"].startswith(f"{dead}/robots.txt unreachable (")
        assert list(archive.iter_articles()) == before
    assert proc.stdout.startswith(f"run {run['id']} (incremental, failed): new 0,")
    assert "Traceback" not in proc.stderr


def test_inspect_saved_article_prints_its_record(capsys):
    page = PAGES / f"{spec.SEED_ID}.html"
    assert main(["inspect", str(page)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == json.loads((PAGES / f"{spec.SEED_ID}.expected.json").read_text(encoding="utf-8"))


def test_inspect_list_url_prints_article_links(site, capsys):
    assert main(["inspect", f"{site.base_url}/studies/businessguide?currentPageNo=1", "--base-url", site.base_url]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [r.id for r in spec.list_page("guide", "base", 1)]
    assert all(r["url"].startswith("https://www.lawyers.org.cn/info/") for r in rows)


def test_inspect_unreachable_url_fails_clearly(capsys):
    assert main(["inspect", "http://127.0.0.1:9/info/" + "0" * 32]) == 1
    assert capsys.readouterr().err.startswith("barwatch: cannot fetch http://127.0.0.1:9/info/")


def test_history_and_diff_show_the_edit(edited_archive, capsys):
    prefix = spec.EDITED_ID[:8]
    assert main(["history", prefix, "--db", str(edited_archive)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "律师办理商品房预售合同纠纷案件业务指引"
    assert lines[2].startswith("  v1  ") and lines[2].endswith("first version")
    assert lines[3].startswith("  v2  ") and "+「或者购房人书面通知解除合同之日」" in lines[3]
    assert main(["diff", spec.EDITED_ID, "--db", str(edited_archive), "--plain"]) == 0
    out = capsys.readouterr().out
    assert "{+或者购房人书面通知解除合同之日+}" in out
    assert "交付期限届满之次日起算至实际交付之日{+或者购房人书面通知解除合同之日+}止。" in out
    assert (
        main(["diff", f"https://wx.lawyers.org.cn/info/{spec.EDITED_ID}", "--db", str(edited_archive), "--plain"]) == 0
    )
    assert capsys.readouterr().out == out  # a URL names the article as well as its id
    assert main(["diff", spec.EDITED_ID, "--db", str(edited_archive), "--version", "1"]) == 2
    assert main(["history", "ffff", "--db", str(edited_archive)]) == 2
    assert capsys.readouterr().err.endswith("barwatch: no article matches 'ffff'\n")


def test_history_shows_a_removal_and_a_return_among_the_versions(tmp_path, capsys):
    from datetime import timedelta

    db, aid = tmp_path / "h.db", "c" * 32
    ticks = iter(range(100))
    start = datetime.fromisoformat("2026-03-01T08:00:00+00:00")
    with Archive(db, clock=lambda: start + timedelta(hours=next(ticks))) as archive:
        record = {"id": aid, "url": f"https://www.lawyers.org.cn/info/{aid}", "title": "删了又回来", "body": "第一段。"}
        run = archive.start_run("full")
        archive.record_article(run, record)
        archive.finish_run(run, 1)
        run = archive.start_run("incremental")
        archive.record_gone(run, aid, record["url"], 404)
        archive.finish_run(run, 1)
        run = archive.start_run("incremental")
        archive.record_article(run, {**record, "body": "第一段，改过。"})
        archive.finish_run(run, 1)
    assert main(["history", aid[:8], "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == [
        "  v1  2026-03-01T09:00:00Z  first version",
        "  --  2026-03-01T12:00:00Z  removed from the site (HTTP 404/410)",
        "  v2  2026-03-01T15:00:00Z  第1段：+「，改过」",
        "  --  2026-03-01T15:00:00Z  back on the site",
    ]


def test_runs_and_release(tmp_path, capsys):
    db = tmp_path / "r.db"
    clock = lambda: datetime.fromisoformat(NOW)  # noqa: E731
    with Archive(db, clock=clock) as archive:
        ids = [c * 32 for c in "01234"]
        run1 = archive.start_run("full")
        for x in ids:
            archive.record_article(run1, {"id": x, "url": "u", "title": "t", "body": "正文" * 20})
        archive.finish_run(run1, 6)
        run2 = archive.start_run("incremental")
        for x in ids:
            archive.record_article(run2, {"id": x, "url": "u", "title": "t2", "body": "正文" * 20})
        assert archive.finish_run(run2, 6)["held"] == "suspect"
    assert main(["runs", "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("   2  2026-02-01T09:00:00Z  ok+suspect ")
    assert out[1].endswith("[5 of 5 revisited articles changed]")
    assert out[2].startswith("open incident since run 2: 待确认 run 2 is held: 5 of 5 revisited articles changed.")
    assert main(["release", "2", "--db", str(db)]) == 0
    assert main(["release", "2", "--db", str(db)]) == 1
    assert main(["release", "9", "--db", str(db)]) == 1
    assert capsys.readouterr().err == (
        "barwatch: cannot release run 2: run 2 is not held (already released)\n"
        "barwatch: cannot release run 9: no run 9\n"
    )


def test_crawl_then_notify_sends_one_digest_once(site, tmp_path):
    db = tmp_path / "n.db"
    site.set_state("base")
    crawl(db, site, "--full")
    site.set_state("added")
    crawl(db, site)
    site.set_state("base")
    port = free_port()
    server = start_server(port)
    env = {
        "BARWATCH_SMTP_HOST": "127.0.0.1",
        "BARWATCH_SMTP_PORT": str(port),
        "BARWATCH_SMTP_TLS": "none",
        "BARWATCH_MAIL_FROM": "barwatch@example.org",
        "BARWATCH_MAIL_TO": "team@example.org",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        dry = barwatch("notify", "--db", str(db), "--dry-run")
        assert "Subject: 【barwatch】上海律协网站：1 篇新文章" in dry.stdout
        assert server.handler.envelopes == []
        first = barwatch("notify", "--db", str(db))
        second = barwatch("notify", "--db", str(db))
    finally:
        server.controller.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    channels = f"notify: channels: e-mail via 127.0.0.1:{port} to 1 recipient(s)\n"
    assert first.stdout == channels + "notify: e-mail: 1 message(s) sent, 1 alert(s) marked, 0 pending\n"
    assert second.stdout == channels + "notify: e-mail: 0 message(s) sent, 0 alert(s) marked, 0 pending\n"
    [message] = server.handler.messages()
    assert message["Subject"] == "【barwatch】上海律协网站：1 篇新文章"
    added = site.expected_record(spec.ADDED_ID, "added")
    assert added["title"] in message.get_body(("plain",)).get_content()


def test_notify_without_smtp_environment_exits_2(tmp_path, capsys, monkeypatch):
    for key in [k for k in os.environ if k.startswith("BARWATCH_")]:
        monkeypatch.delenv(key)
    Archive(tmp_path / "x.db").close()
    assert main(["notify", "--db", str(tmp_path / "x.db")]) == 2
    assert "BARWATCH_SMTP_HOST" in capsys.readouterr().err


def test_second_notify_waits_its_turn(tmp_path, capsys):
    from storage.lock import CrawlLock

    db = tmp_path / "l.db"
    Archive(db).close()
    with CrawlLock(db, "notify").acquire("barwatch notify (the other one)"):
        assert main(["notify", "--db", str(db), "--dry-run"]) == 75
    assert "barwatch notify (the other one)" in capsys.readouterr().err
    assert main(["notify", "--db", str(db), "--dry-run"]) == 0


def test_search_command_prints_ranked_hits_with_marked_snippets(edited_archive, capsys):
    assert main(["search", "失权", "--db", str(edited_archive)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == " 1. 论股东失权制度在有限责任公司中的适用"
    assert out[1].startswith("    2024-06-24  业务研究大厅 > 专业委员会 > 专业论文")
    assert "【失权】" in out[2]
    assert main(["search", "失权", "--db", str(edited_archive), "--since", "2025-01-01"]) == 0
    assert capsys.readouterr().out == "no match\n"
    assert main(["search", "，。", "--db", str(edited_archive)]) == 2
    assert capsys.readouterr().err.startswith("barwatch: search: ")
    assert main(["search", "OR", "--db", str(edited_archive)]) == 2
    assert capsys.readouterr().err == (
        "barwatch: search: search query 'OR' is only the operator OR: put it between two words, e.g. 调解 OR 仲裁\n"
    )


def test_search_says_when_the_listing_is_cut(edited_archive, capsys):
    from storage.search import count

    with Archive(edited_archive, mode="ro") as archive:
        total = count(archive.db, "律师")
    assert total > 3
    assert main(["search", "律师", "--limit", "3", "--db", str(edited_archive)]) == 0
    assert capsys.readouterr().out.endswith(f"\n\n3 of {total} matching articles shown (--limit N for more)\n")
    assert main(["search", "律师", "--limit", str(total), "--db", str(edited_archive)]) == 0
    assert "matching articles shown" not in capsys.readouterr().out


def test_inspect_saved_list_page(site, tmp_path, capsys):
    import urllib.request

    with urllib.request.urlopen(f"{site.base_url}/studies/businessguide?currentPageNo=1", timeout=10) as response:
        (tmp_path / "list.html").write_bytes(response.read())
    assert main(["inspect", str(tmp_path / "list.html"), "--list"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [r.id for r in spec.list_page("guide", "base", 1)]


# --------------------------------------------------------------------------- argument checks
BAD_ARGS = [
    (
        ["crawl", "--log-level", "verbose"],
        "argument --log-level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), not 'verbose'",
    ),
    (["serve", "--port", "0"], "argument --port: must be a port number from 1 to 65535, not '0'"),
    (["serve", "--port", "65536"], "argument --port: must be a port number from 1 to 65535, not '65536'"),
    (["serve", "--port", "http"], "argument --port: must be a port number from 1 to 65535, not 'http'"),
    (["runs", "--limit", "0"], "argument --limit: must be a whole number of at least 1, not '0'"),
    (["runs", "--limit", "ten"], "argument --limit: must be a whole number of at least 1, not 'ten'"),
    (["search", "律师", "--limit", "-5"], "argument --limit: must be a whole number of at least 1, not '-5'"),
    (
        ["search", "律师", "--since", "2024-02-30"],
        "argument --since: must be a date as YYYY-MM-DD, e.g. 2024-01-31, not '2024-02-30'",
    ),
    (
        ["search", "律师", "--since", "20240101"],
        "argument --since: must be a date as YYYY-MM-DD, e.g. 2024-01-31, not '20240101'",
    ),
    (["release", "0"], "argument run_id: must be a whole number of at least 1, not '0'"),
    (["release", "x"], "argument run_id: must be a whole number of at least 1, not 'x'"),
    (["diff", spec.EDITED_ID, "--version", "0"], "argument --version: must be a whole number of at least 1, not '0'"),
]


@pytest.mark.parametrize("args,message", BAD_ARGS, ids=[" ".join(a) for a, _ in BAD_ARGS])
def test_bad_argument_exits_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: barwatch ")
    assert err.endswith(f": error: {message}\n")


def test_bad_arguments_from_the_shell_print_no_traceback(tmp_path, monkeypatch):
    db = str(tmp_path / "x.db")
    for args in (
        ["search", "律师", "--db", db, "--since", "2024-13-01"],
        ["serve", "--db", db, "--port", "99999"],
        ["release", "--db", db, "-1"],
    ):
        proc = barwatch(*args, check=False)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr and ": error: argument " in proc.stderr
    monkeypatch.setenv("BARWATCH_LOG_LEVEL", "loud")  # the default of --log-level is checked as well
    proc = barwatch("crawl", "--db", db, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.endswith(
        "argument --log-level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), not 'loud'\n"
    )
    assert not (tmp_path / "x.db").exists()


def test_good_arguments_are_normalised():
    parser = build_parser()
    assert parser.parse_args(["crawl", "--log-level", "debug"]).log_level == "DEBUG"
    assert parser.parse_args(["search", "x", "--since", "2024-02-29", "--limit", "1"]).since == "2024-02-29"
    assert parser.parse_args(["serve", "--port", "65535"]).port == 65535
    assert parser.parse_args(["release", "7"]).run_id == 7


def test_version(capsys):
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    with (ROOT / "pyproject.toml").open("rb") as f:
        expected = {tomllib.load(f)["project"]["version"]}
    with contextlib.suppress(PackageNotFoundError):
        expected.add(version("barwatch"))
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("barwatch ") and out[len("barwatch ") :].strip() in expected


def test_closed_stdout_exits_quietly():
    import subprocess
    import sys

    page = PAGES / f"{spec.SEED_ID}.html"
    # The reader is gone before barwatch writes a byte (as with `| head` on long output).
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "inspect", str(page)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert err == ""
    # Through a shell pipeline too: whichever side wins the race, never a traceback.
    shell = subprocess.run(
        f"'{sys.executable}' -m scheduler.cli inspect '{page}' | head -c 10",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.stdout == '{\n  "id": '[:10] and "Traceback" not in shell.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["search", "律师"],
        ["history", "abc"],
        ["diff", "abc"],
        ["runs"],
        ["serve"],
        ["release", "1"],
        ["notify", "--dry-run"],
    ],
)
def test_commands_on_a_mistyped_db_create_nothing_and_exit_2(command, tmp_path, capsys):
    db = tmp_path / "typo.db"
    assert main([*command, "--db", str(db)]) == 2
    assert capsys.readouterr().err == f"barwatch: no archive at {db} (run `barwatch crawl` first)\n"
    assert list(tmp_path.iterdir()) == []


def test_history_takes_hex_prefixes_only(edited_archive, capsys):
    # % and _ are LIKE wildcards: "e%" once matched whatever article came first.
    assert main(["history", "%", "--db", str(edited_archive)]) == 2
    assert main(["history", "e_", "--db", str(edited_archive)]) == 2
    err = capsys.readouterr().err
    assert "barwatch: no article matches '%' (an id is 32 hex digits; a unique prefix will do)" in err


def test_migrate_upgrades_an_old_archive_that_readers_refuse(edited_archive, tmp_path, capsys):
    import sqlite3

    db = copy_db(edited_archive, tmp_path / "old.db")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    conn.close()
    assert main(["runs", "--db", str(db)]) == 1
    assert (
        f"was made by an older barwatch (schema 1, now {SCHEMA_VERSION}): run `barwatch migrate"
        in capsys.readouterr().err
    )
    assert main(["migrate", "--db", str(db)]) == 0
    assert main(["runs", "--db", str(db)]) == 0
