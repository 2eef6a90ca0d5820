"""The archive's schema: created and migrated here, and only here, idempotently.

Table and column names are a public contract (operators query them in Datasette).
Migration is additive: a table that exists gets the columns it lacks; nothing is ever
dropped or renamed, so an older archive opens with a newer barwatch without losing a row.
The one exception is derived data: the search index (storage.search) is rebuilt from
``articles`` whenever its layout changes.

Only a writer that holds the crawl lock creates or migrates (``Archive(mode="rwc")``), in
one transaction; ``PRAGMA user_version`` records the schema version, so readers can tell
an archive that is current from one that needs ``barwatch migrate`` without writing.

``SCHEMA`` is the one description of the archive: each table's summary and each column's
type and meaning. ``ensure_schema`` creates from it, Datasette shows it (storage.serve),
and the README's table of tables is generated from it: ``python -m storage.schema
--write-readme README.md`` (tests/test_docs.py fails when the README is behind).
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import sqlite_utils

from storage.textops import CONTENT_FIELDS

# Version 1: the first release (user_version 0 on disk). Version 2: run statuses
# ok/partial/failed with a separate hold flag, channels with a baseline of their own, the
# backlog, operations notices, incidents, version notes. Version 3: the current version's
# body only in articles; a contentless search index without jieba word columns.
SCHEMA_VERSION = 4

# One defined set of run statuses; ``held`` is separate (a run can be partial and held).
RUN_STATUSES = ("running", "ok", "partial", "failed", "interrupted")
HOLD_FLAGS = ("suspect", "released")
# What the pages call them.
RUN_STATUS_LABELS = {"running": "进行中", "ok": "正常", "partial": "部分失败", "failed": "失败", "interrupted": "中断"}
HOLD_FLAG_LABELS = {"suspect": "可疑，提醒暂扣", "released": "已确认放行"}

# The alert kinds about articles (storage.outbox re-exports them; ``[alerts] kinds``
# chooses among them). restored: an article marked removed (the site answered 404/410) is
# there again.
KINDS = ("new", "changed", "removed", "restored")
# Operations notices (a run failed, the same failures keep coming, a run is held, a notify
# channel is down) go out whatever ``[alerts] kinds`` says: an operator must hear that the
# watch itself is broken.
OPERATIONS = "operations"
# A channel that refuses the same message this often while it accepts others will refuse
# it for ever (too long, a word its filter blocks): retrying would only repeat the error
# (deliveries.refused, deliveries.gave_up_at; storage.outbox).
MAX_REFUSALS = 3
# What a failures row can be about (crawler.spiders.lawyers, crawler.pipelines, Archive).
FAILURE_KINDS = ("fetch", "list", "http", "parse", "extraction", "encoding", "redirect", "robots", "storage")


class Column(NamedTuple):
    """A column: its name, SQLite type (a Python type, as sqlite-utils takes it), its
    description (Datasette shows it; a UTC timestamp says "(UTC)") and, when it holds one
    of a fixed set of values, that set (the README lists it)."""

    name: str
    type: type
    doc: str
    values: tuple[str, ...] = ()


class Table(NamedTuple):
    """A table: a one-line summary (the README's table of tables, Datasette's table
    description), its primary key and its columns in order."""

    summary: str
    pk: str | tuple[str, ...] | None
    columns: tuple[Column, ...]


def _choices(values: Sequence[str], notes: Mapping[str, str] | None = None) -> str:
    """``values`` for a description, each with its note: "a (why); b; or c (why)"."""
    notes = notes or {}
    unknown = set(notes) - set(values)
    if unknown:
        raise ValueError(f"notes for values that do not exist: {sorted(unknown)}")
    items = [f"{v} ({notes[v]})" if notes.get(v) else v for v in values]
    return "; ".join([*items[:-1], f"or {items[-1]}"] if len(items) > 1 else items)


_HOW = ("breadcrumb", "more", "nav", "tab", "pager", "hub")
_HOW_DOC = "breadcrumb, more, nav, tab, pager (links of those kinds on a fetched page) or hub (a link on a hub page)"
_INCIDENTS = (
    "crawl-failed (a run failed), crawl-partial (the same failures several runs in a row), held:<run> (a run is "
    "held), channel-down:<fingerprint> (a notify channel keeps failing)"
)

# ---------------------------------------------------------- SCHEMA, written as text
# The description is data, so it is written as text and parsed at import, not as hundreds
# of lines of Python of one shape. A block is records: a line at the margin starts one, its
# fields apart by two or more spaces; an indented line goes on with the record's last
# field (joined by one space); blank lines and "# " lines are passed over. A record
# "[name]  …" starts a section.
#
# In _SCHEMA_TEXT a section is a table, "[name]  primary key  summary" (a key of several
# columns comma-separated, "-" for none), and each record under it a column, "name  type
# description". A type is str or int, with the set of values the column holds in brackets:
# literal values apart by "|", and "{NAME}" for the set of that name in _VALUE_SETS. In a
# description "{NAME}" is that set with its notes (_VALUE_NOTES), or one of _TEXTS (built
# from the constants above, so a description follows them); a literal brace is doubled.

_TYPES: dict[str, type] = {"str": str, "int": int}

# The sets of values a column can hold, by name.
_VALUE_SETS: dict[str, tuple[str, ...]] = {
    "RUN_STATUSES": RUN_STATUSES,
    "HOLD_FLAGS": HOLD_FLAGS,
    "CANDIDATE_KINDS": ("list", "hub", "other"),
    "HOW": _HOW,
    "ALERT_KINDS": (*KINDS, OPERATIONS),
    "FAILURE_KINDS": FAILURE_KINDS,
}

# Descriptions' parts made from constants.
_TEXTS: dict[str, object] = {
    "CONTENT_FIELDS": ", ".join(CONTENT_FIELDS),
    "MAX_REFUSALS": MAX_REFUSALS,
    "OPERATIONS": OPERATIONS,
    "HOW": _HOW_DOC,
    "INCIDENTS": _INCIDENTS,
}

# "[set]", then "value  what it means" (a value may be "{NAME}" of _TEXTS); a value
# without a note is listed bare.
_VALUE_NOTES = """
[RUN_STATUSES]
running       still crawling, or its process died and no crawl has run since
partial       some pages failed, the rest was stored
failed        nothing fetched, robots.txt unreachable, every list disallowed, or a storage error
interrupted   stopped or killed before the end

[HOLD_FLAGS]
suspect       too many revisited articles changed, or a body shrank: its change alerts wait
released      an operator confirmed it with `barwatch release`

[CANDIDATE_KINDS]
list          channel names it
hub           a page of links to lists
other         asked again after recheck_after

[ALERT_KINDS]
new           first archived, outside a channel's baseline
changed       a new version
removed       the site answered 404/410
restored      a removed article is back
{OPERATIONS}  a notice about barwatch itself: a failed run, repeated failures, a held run, a notify channel down or
              refusing a message; sent whatever [alerts] kinds says

[FAILURE_KINDS]
fetch         an article page could not be fetched
list          a list page could not be fetched or read
http          an answer about an article never archived: 404/410 or 304
parse         an article page that did not parse, e.g. an error page served with 200
extraction    the page lost its title or body; the drift guard kept the stored version
encoding      the page did not decode cleanly
redirect      off the site or to another article, or a loop
robots        robots.txt unreachable: the run fails
storage       the archive could not store a page
"""

# The archive's one description: every table and column, with its type and what it holds.
# ensure_schema creates from it, Datasette shows it (storage.serve), the README's table of
# tables is generated from it (readme_table; tests/test_docs.py keeps them equal).
_SCHEMA_TEXT = """
[articles]  id  One row per article of lawyers.org.cn, its newest content
id                str                     The article's identity: the 32 hex digits after /info/ in its URL.
url               str                     Canonical URL, https://www.lawyers.org.cn/info/<id> (wx./info. hosts and http
                                          fold to it).
section           str                     Channel from the page's breadcrumb, e.g. 行业资讯 > 律协动态.
title             str                     Title as the page shows it.
subtitle          str                     The line between title and metadata of a magazine piece (上海律师), else empty.
published         str                     Publication date (YYYY-MM-DD; YYYY-MM for a magazine issue), empty when none
                                          is known; published_from says where it came from.
author            str                     作者 from the metadata line, e.g. 办公室 or a committee.
source            str                     信息来源/来源 (press reprints name the newspaper).
views             int                     Last seen view counter (阅读:N次); not content, changes on every fetch.
body              str                     Body text, one paragraph a line, page chrome and footer removed.
attachments       str                     JSON list of attachment links found in the body.
content_hash      str                     SHA-256 of the normalised content fields ({CONTENT_FIELDS}); a change is a
                                          new version.
first_seen        str                     When barwatch first archived the article (UTC).
last_seen         str                     When the article was last fetched successfully, or confirmed by a 304 (UTC).
last_changed      str                     When the content last changed: its newest version (UTC).
status            str[live|removed]       live, or removed once the site answered 404/410 (its text stays).
version           int                     Current version number (1 = as first archived).
# Not in the public contract, but useful to operators and needed for conditional
# requests and the slow re-verification rotation.
removed_at        str                     When the article was found gone (UTC); empty while live (a restored article
                                          clears it).
last_checked      str                     When the site last answered for the article (UTC): a fetch, a 304 or a
                                          404/410. The slow re-verification rotation goes by it.
etag              str                     HTTP ETag of the last fetch, for conditional requests.
last_modified     str                     HTTP Last-Modified of the last fetch, for conditional requests.
published_from    str[page|list|issue]    Where published came from: page (printed on it), list (the list row that
                                          linked to it) or issue (the magazine issue it names, as YYYY-MM). Only a page
                                          date is content: the others never make a version.
channel           str                     The channel (channels.url_template) whose list first showed the article;
                                          empty when it was first reached otherwise (a link on another page).
search_key        int                     The article's row in the search index: its day (published, else first
                                          archived) in the high bits and a slot in the low ones, so index order is date
                                          order; empty when not indexed (removed, or written by another tool until
                                          barwatch reindex).
search_checksum   int                     CRC-32 of the text the search index holds for the article (a contentless
                                          index needs that text to forget it): a row changed outside barwatch is
                                          detected and the index rebuilt.

[versions]  article_id,version  Every content version of every article, with the diff from the one before
article_id        str                     The article (articles.id).
version           int                     1 for the first archived content, then one more per edit.
fetched_at        str                     When this version was fetched (UTC).
title             str                     Title of this version.
subtitle          str                     Subtitle of this version (magazine pieces).
published         str                     Publication date of this version as the page printed it.
author            str                     Author of this version.
source            str                     Source of this version.
body              str                     Body text of an earlier version; empty for the current one, whose body is
                                          articles.body (stored once).
content_hash      str                     SHA-256 of this version's normalised content fields.
diff              str                     Unified diff of the content fields, one paragraph a line, from the previous
                                          version (empty for version 1).
run_id            int                     The crawl run that found this version (crawl_runs.id).
note              str                     Empty for an edit; 'repair: …' when the stored version was garbled (bad
                                          decoding) or a newer barwatch reads a field the stored one lacks from the
                                          same page: a version without an alert; 'held: …' when the body shrank so much
                                          that the run is held and the change waits for `barwatch release`.

[crawl_runs]  id  One row per crawl, with its counts and outcome
id                int                     Run number.
started_at        str                     Start (UTC).
finished_at       str                     End (UTC); empty while running. A run whose process died is closed by the
                                          next crawl, as interrupted.
status            str[{RUN_STATUSES}]     {RUN_STATUSES}.
mode              str[incremental|full]   incremental (each list until a page shows nothing new; known articles only as
                                          revisits) or full (every list page, every listed article).
requests          int                     HTTP requests made.
new               int                     Articles archived for the first time.
changed           int                     Articles whose content changed.
unchanged         int                     Articles re-checked without change.
removed           int                     Articles found gone.
failed            int                     Failures recorded (its rows in failures): pages that could not be fetched,
                                          parsed or stored.
baseline          int                     1 while the archive had no finished crawl (no run ok or partial, no channel
                                          out of baseline): its first crawl or a retry of it. Which new articles send
                                          alerts follows each channel's own baseline (channels.baseline_done_at).
note              str                     Why a run failed, was interrupted or is held.
held              str[{HOLD_FLAGS}]       Empty; {HOLD_FLAGS}.

# In baseline until one walk of it has finished: what is first seen before that is
# backlog and announced to nobody.
[channels]  url_template  Each list barwatch walks, configured or discovered, with a baseline of its own
url_template      str                     The channel's identity: its list URL, relative to the site, with {{page}}
                                          where the page number goes (none for a list of one page).
name              str                     The channel's name: the config's [[sections]] name, or the breadcrumb text
                                          that led to it.
first_page        int                     A discovered channel's first page number: mostly 1, 0 where the site counts
                                          from 0. When first_url is set, that is page first_page and the template
                                          starts at the next (index.html, then index_2.html). Empty for a configured
                                          one ([[sections]] first_page).
first_url         str                     Its first page when that does not fit the template (index.html), else empty.
how_found         str[config|{HOW}]       config, or how discovery found it: {HOW}.
found_on          str                     The page whose link led to it.
first_seen        str                     When barwatch first knew it (UTC): the first run with it configured, or its
                                          discovery.
baseline_done_at  str                     When its first walk finished (UTC); empty while in baseline (what it lists
                                          until then is backlog, announced to nobody).
last_walked       str                     When a walk of it last finished (UTC).
newest_item       str                     The newest list date seen on it: a quiet channel is walked daily, a closed
                                          one weekly.
articles_found    int                     Articles first archived from its lists.
last_error        str                     What went wrong on its last walk, empty when it went well.
js_pager          int                     1 when its pager only works by JavaScript: only page 1 is walked.

[candidates]  url  Every page offered as a possible channel list, and what it turned out to be
url               str                     A page some fetched page linked to as a possible channel list.
kind              str[{CANDIDATE_KINDS}]  {CANDIDATE_KINDS}.
how               str[{HOW}]              How it was offered: {HOW}.
text              str                     The link text.
found_on          str                     The page that linked to it.
depth             int                     Hub levels followed to reach it.
first_seen        str                     When it was first classified (UTC).
checked_at        str                     When it was last classified (UTC).
recheck_after     str                     For other: when it may be asked again (UTC).
channel           str                     For list: the channel (channels.url_template) it is a page of.
note              str                     Why it is not a list, or what is special about it.

[backlog]  article_id  Ids a channel's baseline walk listed but could not store then (a failed fetch): still backlog,
                                          not news, when they arrive
article_id        str                     An article a channel's baseline walk listed but could not store then.
url_template      str                     The channel (channels.url_template).
added_at          str                     When (UTC). The row goes when the article is stored, without an alert.

[incidents]  key  Breakage of barwatch itself, open and closed: one notice when it starts, one when it clears, not one
                                          per run
key               str                     What broke: {INCIDENTS}.
opened_at         str                     When it started (UTC); an operations notice went out.
opened_run        int                     The run that started it; empty for one outside a run (channel-down).
closed_at         str                     When it cleared (UTC); empty while open.
closed_run        int                     The run that cleared it; empty for one outside a run (channel-down).
detail            str                     The notice sent when it started.

[meta]  key  barwatch's own settings and bookkeeping in the archive
key               str                     A setting barwatch keeps in the archive itself.
value             str                     Its value.

[views]  -  The view counter of each article each time it was read
article_id        str                     The article (articles.id).
seen_at           str                     When the counter was read (UTC).
count             int                     The view counter (阅读:N次) at that time.

[alerts]  id  The outbox: new, changed, removed and restored articles and operations notices, queued for every channel
id                int                     Alert number.
article_id        str                     The article (articles.id); empty for an operations notice.
kind              str[{ALERT_KINDS}]      {ALERT_KINDS}.
run_id            int                     The run that raised it (crawl_runs.id); empty for a notice raised outside a
                                          run (about a notify channel).
created_at        str                     When it was queued (UTC).
version           int                     The article version the alert is about; empty for operations notices.
# Operations notices (kind "operations", no article): the incident they belong
# to and the message itself.
incident          str                     Operations notices: the incident (incidents.key: {INCIDENTS}), or
                                          refused:<fingerprint> when a channel refused alerts {MAX_REFUSALS} times.
notice            str                     Operations notices: the message.

[failures]  id  What went wrong in a run; stored articles are never touched by it
id                int                     Failure number.
run_id            int                     The run (crawl_runs.id).
url               str                     The URL that failed.
article_id        str                     The article, when the URL is one.
kind              str[{FAILURE_KINDS}]    {FAILURE_KINDS}.
message           str                     What went wrong.
at                str                     When (UTC).

# Where alerts go, each known by a fingerprint that holds no secret. A channel takes
# the alerts numbered after start_after: one added later does not replay the archive's
# history.
[notify_channels]  fingerprint  Where alerts go: the mail and each chat URL, by a fingerprint without the secret
fingerprint       str                     The channel's identity without its secret: email for the mail,
                                          <service>:<hash> for a chat URL.
kind              str                     email, or the chat URL's service (wecombot, dingtalk, feishu, json …).
label             str                     A printable description, secrets masked.
first_seen        str                     When barwatch first used it (UTC).
start_after       int                     It takes the alerts numbered after this one (a channel added later does not
                                          replay history).
last_ok           str                     When it last accepted a message (UTC).
last_error        str                     What went wrong the last time it failed.
failing_since     str                     Since when it has been failing (UTC); empty while it works.

# The outbox's record of each alert on each channel: a row appears at the first attempt.
[deliveries]  alert_id,channel  Each alert on each channel: sent, pending with its last error, or given up
alert_id          int                     The alert (alerts.id).
channel           str                     The channel (notify_channels.fingerprint).
sent_at           str                     When the channel accepted it (UTC); empty while pending.
attempts          int                     Delivery attempts so far.
refused           int                     Failures while the same channel accepted other messages (it is up and refuses
                                          this one); at {MAX_REFUSALS} barwatch gives up.
last_error        str                     Error of the last failed attempt.
gave_up_at        str                     When barwatch stopped retrying it on this channel (UTC): refused
                                          {MAX_REFUSALS} times; an operations notice said so.
"""


def _sections(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """The sections of a block written as text (see above): each its "[name]  …" record
    (the name without brackets) and the records under it."""
    sections: list[tuple[list[str], list[list[str]]]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("# "):
            continue
        if line[0].isspace():
            record = sections[-1][1][-1] if sections[-1][1] else sections[-1][0]
            record[-1] += " " + line.strip()
        elif line.startswith("["):
            name, *fields = re.split(r" {2,}", line)
            sections.append(([name.strip("[]"), *fields], []))
        else:
            sections[-1][1].append(re.split(r" {2,}", line.rstrip()))
    return sections


def _column(record: list[str], descriptions: Mapping[str, object]) -> Column:
    """A column from its record, "name  type  description"."""
    spec = re.fullmatch(r"(str|int)(?:\[(.+)\])?", record[1]) if len(record) == 3 else None
    if spec is None:
        raise ValueError(f"not a column (name  str|int[values]  description): {record}")
    values = [_VALUE_SETS[v[1:-1]] if v.startswith("{") else (v,) for v in (spec[2] or "").split("|") if v]
    return Column(record[0], _TYPES[spec[1]], record[2].format_map(descriptions), tuple(v for s in values for v in s))


def _schema(text: str) -> dict[str, Table]:
    """SCHEMA from _SCHEMA_TEXT (see above)."""
    notes = {name: {k.format_map(_TEXTS): v for k, v in rows} for (name,), rows in _sections(_VALUE_NOTES)}
    descriptions = {**_TEXTS, **{name: _choices(_VALUE_SETS[name], n) for name, n in notes.items()}}
    schema = {}
    for (name, pk, summary), rows in _sections(text):
        keys = tuple(pk.split(","))
        columns = tuple(_column(row, descriptions) for row in rows)
        schema[name] = Table(summary, None if pk == "-" else keys if len(keys) > 1 else keys[0], columns)
    return schema


SCHEMA: dict[str, Table] = _schema(_SCHEMA_TEXT)


# The search index (storage.search) is a table too, derived from articles: not created here.
SEARCH_INDEX_SUMMARY = "The search index (contentless FTS5, managed by barwatch; `barwatch reindex` rebuilds it)"

# name -> (columns in order with their types, primary key), as ensure_schema creates them.
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...] | None]] = {
    name: ({c.name: c.type for c in table.columns}, table.pk) for name, table in SCHEMA.items()
}


NOT_NULL_DEFAULTS = {
    "crawl_runs": {"requests": 0, "new": 0, "changed": 0, "unchanged": 0, "removed": 0, "failed": 0, "baseline": 0},
    "deliveries": {"attempts": 0, "refused": 0},
    "channels": {"articles_found": 0, "js_pager": 0},
    "candidates": {"depth": 0},
}

# (table, columns[, unique])
INDEXES: list[tuple[str, list[str]] | tuple[str, list[str], bool]] = [
    ("articles", ["status", "last_checked"]),
    ("articles", ["published"]),
    ("versions", ["fetched_at"]),
    ("views", ["article_id", "seen_at"]),
    ("deliveries", ["channel", "sent_at"]),
    ("alerts", ["article_id", "kind", "run_id"], True),
    ("failures", ["run_id"]),
    ("articles", ["last_checked"]),
    ("articles", ["channel"]),
    # The search's join by key, and its section filter (storage.search.search_sql).
    ("articles", ["search_key"]),
    ("articles", ["section", "search_key"]),
    ("versions", ["run_id"]),
]

FOREIGN_KEYS = {
    "versions": [("article_id", "articles", "id")],
    "views": [("article_id", "articles", "id")],
    "alerts": [("article_id", "articles", "id"), ("run_id", "crawl_runs", "id")],
    "deliveries": [("alert_id", "alerts", "id"), ("channel", "notify_channels", "fingerprint")],
}


def schema_version(conn: sqlite3.Connection) -> int | None:
    """The archive's schema version, or None if the file holds no barwatch archive. Reads only."""
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"articles", "versions", "crawl_runs"} <= names:
        return None
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return max(version, 1)


def ensure_schema(db: sqlite_utils.Database, progress=None) -> None:
    """Create or migrate every table, index and the search index.

    The caller holds the crawl lock and an open write transaction (``BEGIN IMMEDIATE``):
    sqlite-utils' own operations nest inside it as savepoints, so the whole migration
    commits at once or not at all.
    """
    from storage import search  # the search index is part of the schema, kept with it

    previous = schema_version(db.conn)

    for name, (columns, pk) in TABLES.items():
        table = db.table(name)
        if not table.exists():
            table.create(
                columns,
                pk=pk,
                not_null=set(NOT_NULL_DEFAULTS.get(name, {})),
                defaults=NOT_NULL_DEFAULTS.get(name),
                foreign_keys=FOREIGN_KEYS.get(name),
                if_not_exists=True,
            )
        else:
            existing = {c.name for c in table.columns}
            for col, typ in columns.items():
                if col not in existing:
                    table.add_column(col, typ)
    for table_name, cols, *flags in INDEXES:
        db.table(table_name).create_index(cols, unique=bool(flags and flags[0]), if_not_exists=True)
    if previous is not None and previous < 2:
        _migrate_1_to_2(db.conn)
    if previous is not None and previous < 3:
        _migrate_2_to_3(db.conn)
    if previous is not None and previous < 4:
        _migrate_3_to_4(db.conn)
    db.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    search.ensure_schema(db, progress)


def version_body_sql(v: str, a: str) -> str:
    """SQL for the body of version row ``v`` joined to its article ``a``: the current
    version's body is stored once, in articles."""
    return f"CASE WHEN {v}.version = {a}.version THEN {a}.body ELSE {v}.body END"


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    # suspect/released were statuses; now they are a hold flag beside ok.
    conn.execute("UPDATE crawl_runs SET held = status, status = 'ok' WHERE status IN ('suspect', 'released')")
    # Version 1 kept one archive-wide baseline: channels configured when it is upgraded
    # have had theirs (if a run ever finished), so they start out of baseline.
    if conn.execute("SELECT 1 FROM crawl_runs WHERE status = 'ok' LIMIT 1").fetchone():
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('inherit_baseline', '1')")


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    # The current version's body was stored twice. (The search index is rebuilt by
    # search.ensure_schema: its layout changed.)
    conn.execute(
        "UPDATE versions SET body = NULL WHERE body IS (SELECT a.body FROM articles a "
        "WHERE a.id = versions.article_id AND a.version = versions.version)"
    )


# The mail's channel: one, whatever the server or the recipients (storage.outbox.EMAIL).
EMAIL_CHANNEL = "email"


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    # The mail's delivery state moves from alerts' own columns to deliveries, where every
    # channel keeps its own. An archive that mailed before has the mail as its channel
    # from the start, so nothing it already sent goes out again and nothing pending is lost.
    columns = {r[1] for r in conn.execute("PRAGMA table_info(alerts)")}
    if "sent_at" not in columns:
        return
    used = conn.execute("SELECT MIN(created_at) FROM alerts WHERE sent_at IS NOT NULL OR attempts > 0").fetchone()[0]
    if used is not None:
        conn.execute(
            "INSERT OR IGNORE INTO notify_channels(fingerprint, kind, label, first_seen, start_after) "
            "VALUES (?, 'email', 'e-mail (SMTP)', ?, 0)",
            [EMAIL_CHANNEL, used],
        )
        conn.execute(
            "INSERT OR IGNORE INTO deliveries(alert_id, channel, sent_at, attempts, refused, last_error) "
            "SELECT id, ?, sent_at, attempts, 0, last_error FROM alerts WHERE sent_at IS NOT NULL OR attempts > 0",
            [EMAIL_CHANNEL],
        )
    conn.execute("DROP INDEX IF EXISTS idx_alerts_sent_at_kind")
    for column in ("sent_at", "attempts", "last_error"):
        conn.execute(f"ALTER TABLE alerts DROP COLUMN {column}")


# ---------------------------------------------------------------------------- the README
README_START = "<!-- schema:start -->"
README_END = "<!-- schema:end -->"
_README_NOTE = (
    "<!-- Generated from storage/schema.py by `python -m storage.schema --write-readme README.md`: edit there. -->"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _readme_column(column: Column) -> str:
    if not column.values:
        return f"`{column.name}`"
    return f"`{column.name}` (" + ", ".join(f"`{v}`" for v in column.values) + ")"


def readme_table() -> str:
    """The README's table of tables (markdown): each table's summary and its columns, those
    with a fixed set of values with the set. Each column's description is in Datasette."""
    from storage.search import FTS_TABLE, INDEX_COLUMNS

    rows = ["| table | contents | columns |", "|---|---|---|"]
    for name, table in SCHEMA.items():
        columns = ", ".join(_readme_column(c) for c in table.columns)
        rows.append(f"| `{name}` | {_cell(table.summary)} | {_cell(columns)} |")
    indexed = ", ".join(f"`{c}`" for c, _weight in INDEX_COLUMNS)
    rows.append(f"| `{FTS_TABLE}` | {_cell(SEARCH_INDEX_SUMMARY)} | {indexed} |")
    return "\n".join(rows) + "\n"


def readme_section() -> str:
    """What the README holds between its schema markers."""
    return f"\n{_README_NOTE}\n\n{readme_table()}\n"


def readme_with_table(text: str) -> str:
    """``text`` (a README) with the generated table between its schema markers."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"no {README_START} ... {README_END} markers")
    return text[: start + len(README_START)] + readme_section() + text[end:]


def dict_rows(cursor: sqlite3.Cursor) -> list[dict]:
    """A cursor's rows as dicts keyed by column name (every reader of the archive)."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m storage.schema",
        description="The README's table of the archive's tables, generated from storage/schema.py.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write-readme", metavar="README", type=Path, help="rewrite the table between its markers")
    group.add_argument("--check-readme", metavar="README", type=Path, help="exit 1 if the README's table is behind")
    args = parser.parse_args(argv)
    path = args.write_readme or args.check_readme
    if path is None:
        sys.stdout.write(readme_table())
        return 0
    try:
        text = path.read_text(encoding="utf-8")
        updated = readme_with_table(text)
    except (OSError, ValueError) as exc:
        print(f"barwatch: {path}: {exc}", file=sys.stderr)
        return 2
    if updated == text:
        return 0
    if args.check_readme:
        print(
            f"barwatch: {path}: the archive table is behind; run python -m storage.schema --write-readme {path}",
            file=sys.stderr,
        )
        return 1
    path.write_text(updated, encoding="utf-8")
    print(f"barwatch: {path}: archive table updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
