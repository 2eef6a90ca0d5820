"""Chinese full-text search over the archive.

Why not SQLite's own tokenizers: ``unicode61`` makes a whole run of Chinese characters one
token (so 律师 is not found inside 上海市律师协会), and ``trigram`` cannot match the
one- and two-character words that most Chinese words are. So the text is folded and
spaced here, in Python, and ``unicode61`` then only has to split on spaces: every CJK
character is its own token (Latin words and numbers stay whole). A Chinese query term
becomes an FTS5 *phrase of single characters*, which is exact substring semantics for a
term of any length: 律, 律师, 律工委, 宝山区律师工作委员会 are all found wherever they occur,
inside longer words too. No word segmenter is needed to match, so none is loaded: jieba
(schema 2) only nudged the ranking and cost 68 MiB and 0.7 s in every process.

Both the index and every query go through the same :func:`fold_text` (storage.chinese: NFKC,
lower case, a traditional-to-simplified table, pinyin annotations of mirror copies dropped),
so a simplified query finds the traditional mirror copy of an article, and ＩＣＰ finds ICP.

One index table, contentless (the text lives once, in ``articles``):
``articles_fts(body, title)``, whose rowid is ``articles.rowid``, so Datasette's
``fts_table`` search box works. A contentless table forgets a row only when given exactly
the text it indexed; ``articles_fts_map`` records which article each index row holds and a
checksum of that text, and every update recomputes the old text from the old row in the
same transaction. Opening an archive never scans the index; a crawl's open checks it in
SQL and rebuilds it when it cannot be kept up row by row (``barwatch reindex`` does the same on demand).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import zlib
from collections.abc import Callable
from datetime import date

from storage import chinese
from storage.chinese import CJK, fold, fold_text
from storage.textops import clean_text, one_line

FTS_TABLE = "articles_fts"
_OLD_MAP_TABLE = "articles_fts_map"  # schema 2 kept index bookkeeping here; now in articles
SLOTS_PER_DAY = 256
_NO_MATCH = '""'  # an empty FTS5 phrase: valid, and matches no row
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
# A query matching more articles than this is ranked among its newest this many matches:
# bm25 over every match of 律师 (all 100,000 articles) takes a quarter of a second, over
# the newest 10,000 a fortieth (scripts/benchmark.py).
RANK_WINDOW = 10_000
# The index's columns with their bm25 weights. A term in the title weighs a thousand
# hits in the body: bm25 saturates, so this puts every article with the term in its title
# above every article with it only in the body, and more terms in the title above fewer.
# Body first: FTS5 marks every position list outside column 0 with the column's number,
# and bodies hold most of the tokens (a quarter of the index saved).
INDEX_COLUMNS = (("body", 1.0), ("title", 1000.0))
# Keys in the meta table: the folding the index was built with, and why it must be rebuilt.
SEGMENTER_KEY = "search_segmenter"
DIRTY_KEY = "search_dirty"
# Bump when indexing changes in a way that needs existing rows re-indexed (a change of
# storage.chinese's folding changes segmenter_version by itself).
_CODE_VERSION = "3"
Progress = Callable[[int, int], None]
MAX_TERMS = 32
DEFAULT_MARKERS = ("【", "】")

# ---------------------------------------------------------------------------- folding
# fold_text and fold (with its map back to the original, for snippets) are
# storage.chinese's: one traditional-to-simplified table and one pinyin-note pattern for
# the index and the crawler's parser alike.
_CJK_RE = re.compile(f"([{CJK}])")
# A token as unicode61 sees it: letters and digits; "_" and punctuation separate.
_TOKEN_RE = re.compile(r"[^\W_]+")


class _SpacedTable(dict):
    """str.translate table: a CJK character to itself between spaces, anything else to
    itself; filled as characters are met. Six times faster than a regex substitution,
    which expands its template once per character (every body passes here)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = value = f" {ch} " if _CJK_RE.fullmatch(ch) else ch
        return value


_SPACED = _SpacedTable()


def spaced_chars(folded: str) -> str:
    """Indexed form: a space on each side of every CJK character, so that unicode61 makes
    each one a token (Latin words and numbers stay whole)."""
    return folded.translate(_SPACED)


def char_tokens(text: str) -> list[str]:
    """The tokens FTS5 (unicode61) sees in an indexed column for this (unfolded) text."""
    return _TOKEN_RE.findall(spaced_chars(fold_text(text)))


def segmenter_version() -> str:
    """Changes whenever the index of an unchanged article would come out different."""
    h = hashlib.sha256(_CODE_VERSION.encode())
    h.update(chinese.SIGNATURE.encode())  # the table, the pinyin pattern, the folding steps
    return h.hexdigest()[:16]


# A magazine piece's subtitle is searched as part of its title.
def indexed_title(article: dict) -> str | None:
    """The title as the index holds it: the subtitle, if any, on a second line."""
    title, subtitle = article.get("title"), article.get("subtitle")
    return f"{title or ''}\n{subtitle}" if subtitle else title


def index_columns(article: dict) -> tuple[str, str]:
    """The (title, body) the index holds for an ``articles`` row.

    Author and source go with the body: a district committee's items name it only as
    author (松江区律师工作委员会), and press reprints name the paper only as source.
    """
    body = "\n".join(x for x in (article.get("body"), article.get("author"), article.get("source")) if x)
    return spaced_chars(fold_text(indexed_title(article))), spaced_chars(fold_text(body))


def _checksum(columns: tuple[str, str]) -> int:
    return zlib.crc32("\x1f".join(columns).encode("utf-8"))


# ---------------------------------------------------------------------------- schema
def _conn(db) -> sqlite3.Connection:
    """Accept a sqlite_utils Database or a plain sqlite3 connection."""
    return getattr(db, "conn", db)


def _exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [name]).fetchone() is not None


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def _set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", [key])
    else:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])


def _create(conn: sqlite3.Connection) -> None:
    # contentless: the text is in articles; the index keeps only tokens and positions.
    conn.execute(
        f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING fts5({', '.join(c for c, _ in INDEX_COLUMNS)}, content = '', "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    # The ranking of every query that says ORDER BY rank.
    weights = ", ".join(str(w) for _, w in INDEX_COLUMNS)
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('rank', 'bm25({weights})')")
    # A crawl commits one article at a time, each a new segment. Merging sixteen at a time
    # rather than four writes a third less (1.9 -> 1.3 ms an article at 3,000); rebuilds
    # end with 'optimize' anyway.
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('automerge', 16)")


def _current_layout(conn: sqlite3.Connection) -> bool:
    if not _exists(conn, FTS_TABLE):
        return False
    return [r[1] for r in conn.execute(f"PRAGMA table_info([{FTS_TABLE}])")] == [c for c, _ in INDEX_COLUMNS]


def ensure_schema(db, progress: Progress | None = None) -> None:
    """Create the search index, or rebuild it when it cannot be kept up by row updates.

    Runs inside the caller's write transaction (schema creation and migration), under the
    crawl lock, after ``articles`` has its ``search_key`` and ``search_checksum``
    columns. Rebuilt: an index of an older layout (schema 2's jieba word columns), a
    changed folding (``segmenter_version``), or a row whose indexed text was changed
    behind barwatch's back. Articles that are merely missing
    (rows inserted with plain SQL) are added. Reads never come here.
    """
    conn = _conn(db)
    if not _exists(conn, "articles"):
        return
    conn.execute(f"DROP TABLE IF EXISTS [{_OLD_MAP_TABLE}]")
    if not _current_layout(conn):
        conn.execute(f"DROP TABLE IF EXISTS [{FTS_TABLE}]")
        _create(conn)
        rebuild(conn, progress)
        return
    if _meta(conn, SEGMENTER_KEY) != segmenter_version() or _meta(conn, DIRTY_KEY):
        rebuild(conn, progress)
        return
    missing = [
        r for (r,) in conn.execute("SELECT rowid FROM articles WHERE search_key IS NULL AND status IS NOT 'removed'")
    ]
    _index_rowids(conn, missing, progress)


def rebuild(db, progress: Progress | None = None) -> int:
    """Index every article that is not removed from scratch; returns how many.

    Inside the caller's write transaction: a reader sees the old index until it commits.
    """
    conn = _conn(db)
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}]) VALUES ('delete-all')")
    conn.execute("UPDATE articles SET search_key = NULL, search_checksum = NULL WHERE search_key IS NOT NULL")
    rowids = [r for (r,) in conn.execute("SELECT rowid FROM articles WHERE status IS NOT 'removed' ORDER BY rowid")]
    _index_rowids(conn, rowids, progress)
    # One b-tree instead of a pile of segments: smaller and faster to query.
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}]) VALUES ('optimize')")
    _set_meta(conn, SEGMENTER_KEY, segmenter_version())
    _set_meta(conn, DIRTY_KEY, None)
    return len(rowids)


_INDEXED_FIELDS = ("title", "subtitle", "body", "author", "source", "published", "first_seen")


def _index_rowids(conn: sqlite3.Connection, rowids: list[int], progress: Progress | None) -> None:
    total = len(rowids)
    for start in range(0, total, 500):
        chunk = rowids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT rowid, id, {', '.join(_INDEXED_FIELDS)} FROM articles WHERE rowid IN ({marks})", chunk
        ).fetchall()
        for rowid, aid, *values in rows:
            key, checksum = index_entry(conn, None, {"id": aid, **dict(zip(_INDEXED_FIELDS, values, strict=True))})
            conn.execute(
                "UPDATE articles SET search_key = ?, search_checksum = ? WHERE rowid = ?", [key, checksum, rowid]
            )
        if progress is not None:
            progress(min(start + len(chunk), total), total)


def _day(value: str | None) -> int | None:
    m = _DATE_RE.match(value or "")
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        return date(year, month, day).toordinal()
    except ValueError:  # 2024-02-30 and the like: the month will do
        try:
            return date(year, month, 1).toordinal()
        except ValueError:
            return date(year, 1, 1).toordinal()


def search_key(article: dict) -> int:
    """Where the article's slots in the index start: its date (published, else first
    archived) times ``SLOTS_PER_DAY``; ``index_entry`` takes the one after the day's last
    taken. So the
    index's rowid order is date order and "the newest N matches" is a cheap rowid range
    for FTS5, while neighbouring rowids stay close: FTS5 stores each rowid as a varint of
    the gap to the one before, in every token's list (a 32-bit hash in the low bits made
    the index 44 % bigger). Independent of ``articles.rowid``, which VACUUM may renumber."""
    day = _day(article.get("published")) or _day(article.get("first_seen")) or 0
    return day * SLOTS_PER_DAY


def since_key(since: str | None) -> int:
    """The smallest search key of an article published on or after ``since``."""
    return (_day(since) or 0) * SLOTS_PER_DAY


def index_entry(db, old: dict | None, new: dict) -> tuple[int | None, int | None]:
    """Index ``new`` (an ``articles`` row about to be written, with its id) in place of
    ``old`` (the row as stored, None if new); returns the ``(search_key,
    search_checksum)`` the row must be written with. In the caller's transaction."""
    conn = _conn(db)
    if old is not None:
        forget(conn, old)
    if new.get("status") == "removed":
        return None, None
    columns = index_columns(new)
    # The slot after the last one taken on its day (FTS5's own table of indexed rowids
    # says which are), or the next free one: a day with more articles than slots runs on
    # into the next day's, which keeps the order.
    start = search_key(new)
    key = conn.execute(
        f"SELECT coalesce(max(id) + 1, ?) FROM [{FTS_TABLE}_docsize] WHERE id >= ? AND id < ?",
        [start, start, start + SLOTS_PER_DAY],
    ).fetchone()[0]
    while conn.execute(f"SELECT 1 FROM [{FTS_TABLE}_docsize] WHERE id = ?", [key]).fetchone():
        key += 1
    conn.execute(f"INSERT INTO [{FTS_TABLE}](rowid, title, body) VALUES (?, ?, ?)", [key, *columns])
    return key, _checksum(columns)


def forget(db, old: dict) -> None:
    """Take an article out of the index; ``old`` is its row as stored. The caller writes
    the row with ``search_key`` NULL.

    A contentless FTS5 table forgets a row only when told exactly the text it indexed, so
    that text is recomputed from the stored row; the checksum proves it is the same. If it
    is not (the row was edited with plain SQL), the entry stays and the index is marked
    for a rebuild at the next crawl instead of being corrupted."""
    key = old.get("search_key")
    if key is None:
        return
    columns = index_columns(old)
    if _checksum(columns) != old.get("search_checksum"):
        _set_meta(_conn(db), DIRTY_KEY, f"article {old.get('id')} was changed outside barwatch")
        return
    _conn(db).execute(
        f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rowid, title, body) VALUES ('delete', ?, ?, ?)", [key, *columns]
    )


# ---------------------------------------------------------------------------- queries
_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "”": "”"}
# Outside quotes, whitespace and Chinese punctuation separate terms; ASCII punctuation
# inside a word (COVID-19, 3.5) keeps the word one phrase.
_SEPARATORS = set(" \t\r\n\u3000，、；。！？：,;")


def _lex(query: str) -> list[tuple[str, str]]:
    """Split a user query into (kind, text): kind is term, phrase, not-term, not-phrase, or."""
    items: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch in _SEPARATORS:
            i += 1
            continue
        negate = False
        if ch == "-" and i + 1 < n and query[i + 1] not in _SEPARATORS:
            negate, i, ch = True, i + 1, query[i + 1]
        if ch in _QUOTES:
            close = _QUOTES[ch]
            end = query.find(close, i + 1)
            if end < 0 and ch != '"':
                end = query.find('"', i + 1)
            end = n if end < 0 else end
            items.append(("not-phrase" if negate else "phrase", query[i + 1 : end]))
            i = end + 1
            continue
        j = i
        while j < n and query[j] not in _SEPARATORS and query[j] not in _QUOTES:
            j += 1
        word = query[i:j]
        if not negate and word in ("OR", "|"):
            items.append(("or", word))
        else:
            items.append(("not-term" if negate else "term", word))
        i = j
    return items


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def parse_query(query: str) -> tuple[list[list[list[str]]], list[list[str]]]:
    """(groups, excluded): groups are AND-ed, each an OR of token lists; excluded token lists.

    Raises ValueError when nothing searchable is left.
    """
    if query is None or not query.strip():
        raise ValueError("empty search query: give at least one word, e.g. 律师 or ESG")
    groups: list[list[list[str]]] = []
    excluded: list[list[str]] = []
    join_next = False
    items = _lex(query)
    for kind, text in items:
        if kind == "or":
            join_next = bool(groups)
            continue
        tokens = char_tokens(text)
        if not tokens:
            continue
        if kind.startswith("not-"):
            excluded.append(tokens)
            join_next = False  # "a OR -b c": the OR does not carry over to c
            continue
        if join_next:
            groups[-1].append(tokens)
        else:
            groups.append([tokens])
        join_next = False
    if not groups:
        if excluded:
            raise ValueError(f"search query {query!r} only excludes words: give at least one word to look for")
        if items and all(kind == "or" for kind, _ in items):
            raise ValueError(
                f"search query {query!r} is only the operator OR: put it between two words, e.g. 调解 OR 仲裁"
            )
        raise ValueError(f"search query {query!r} has no letters, digits or Chinese characters to search for")
    if sum(len(g) for g in groups) + len(excluded) > MAX_TERMS:
        raise ValueError(f"search query has more than {MAX_TERMS} terms")
    return groups, excluded


def _phrase(tokens: list[str]) -> str:
    # A Chinese term is a phrase of single-character tokens: exact substring semantics.
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def fts_query(query: str, title_only: bool = False) -> str:
    """The FTS5 MATCH expression for a user's query (``title_only``: every term in the title).

    Terms separated by spaces must all occur; ``"..."`` (or “...”, 「...」) is a phrase,
    ``-word`` excludes, ``OR`` between two terms accepts either. A Chinese term matches as
    a substring of any length. Raises ValueError for an empty query or one of only
    punctuation.
    """
    groups, excluded = parse_query(query)
    wanted = " AND ".join(
        _phrase(g[0]) if len(g) == 1 else "(" + " OR ".join(_phrase(t) for t in g) + ")" for g in groups
    )
    if title_only:
        wanted = f"title : ({wanted})"
    if not excluded:
        return wanted
    # An excluded word is excluded wherever it occurs, also when only titles are searched.
    return f"({wanted}) NOT ({' OR '.join(_phrase(t) for t in excluded)})"


def title_hit(title: str | None, subtitle: str | None, query: str) -> bool:
    """Every term of the query is in the title (or subtitle): such articles are listed first."""
    try:
        groups, _ = parse_query(query)
    except ValueError:
        return False
    folded = fold_text(indexed_title({"title": title, "subtitle": subtitle}))
    return all(any(re.search(_term_pattern(tokens), folded) for tokens in group) for group in groups)


def _in_section(section: str) -> str:
    # Only the few distinct sections are folded, once (materialised as `sections`, and
    # kept out of the DISTINCT, where SQLite would push the test down to every row); the
    # keys of their articles become one temporary b-tree. The "+" keeps the test away from
    # FTS5, which would otherwise be asked once per key and lose its rowid order.
    return (
        f"(({section}) IS NULL OR +[{FTS_TABLE}].rowid IN (SELECT search_key FROM articles WHERE section IN sections))"
    )


def _sections_cte(section: str) -> str:
    return f"""sections AS MATERIALIZED (
  SELECT section FROM (SELECT DISTINCT section FROM articles LIMIT -1)
  WHERE instr(barwatch_fold(section), barwatch_fold({section})) > 0
)"""


def search_sql(columns: str, *, expr: str, title_expr: str, query: str, section: str, since: str, limit: str) -> str:
    """The ranked search, as one SELECT of ``columns`` (over ``articles a`` and the hit
    ``h`` with its ``rank``) for the Python API and for Datasette's stored query.

    Each keyword argument is an SQL expression (a parameter, or a call of barwatch's SQL
    functions in Datasette). The index's rowids are in date order (``search_key``), so the
    first step walks a query's matches down from the newest, without ranking, to find
    whether it has more than ``RANK_WINDOW`` of them:

    * up to ``RANK_WINDOW``: bm25 over body and title (a title hit weighs a thousand body
      hits, see ``INDEX_COLUMNS``), one FTS5 ``ORDER BY rank LIMIT`` query;
    * more (律师 matches every article): bm25 would rank them all, and FTS5 counts every
      match again for its IDF, a quarter of a second at 100,000 articles for a
      difference that says little. Such a query lists the newest of its newest
      ``RANK_WINDOW`` matches with every term in the title, then the newest others.
      With a filter, "more" counts the whole archive's matches (the IDF's cost does),
      and the window the filtered ones.

    Either way the page is ordered with articles holding every term in their title first,
    then by rank, then newest first (by search key: the date published, else first
    archived). ``since`` is a rowid range; ``section`` filters inside the FTS5 queries.
    """
    in_section = _in_section(section)
    window = f"[{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH"

    def only_if(condition: str, match: str) -> str:
        # The branch not taken matches the empty phrase, which FTS5 answers at once. (A
        # condition beside MATCH is tested only after FTS5 has ranked every match.)
        return f"(SELECT CASE WHEN {condition} THEN {match} ELSE '{_NO_MATCH}' END FROM bound)"

    after = f"rowid >= (SELECT lo FROM bound) AND {in_section}"
    return f"""
WITH {_sections_cte(section)},
bound(lo, many) AS (
  SELECT coalesce(edge, floor),
         -- bm25 counts the matches of the whole archive for its IDF, whatever the filters
         CASE WHEN ({section}) IS NULL AND ({since}) IS NULL THEN edge IS NOT NULL ELSE (
           SELECT rowid FROM {window} {expr} ORDER BY rowid DESC LIMIT 1 OFFSET {RANK_WINDOW - 1}
         ) IS NOT NULL END
  FROM (SELECT barwatch_since_key({since}) AS floor, (
    SELECT rowid FROM {window} {expr} AND rowid >= barwatch_since_key({since}) AND {in_section}
    ORDER BY rowid DESC LIMIT 1 OFFSET {RANK_WINDOW - 1}
  ) AS edge)
),
hits AS MATERIALIZED (
  SELECT * FROM (SELECT rowid, rank FROM {window} {only_if("NOT many", expr)} AND {after}
                 ORDER BY rank LIMIT {limit})
  UNION
  SELECT * FROM (SELECT rowid, 0 FROM {window} {only_if("many", title_expr)} AND {after}
                 ORDER BY rowid DESC LIMIT {limit})
  UNION
  SELECT * FROM (SELECT rowid, 0 FROM {window} {only_if("many", expr)} AND {after}
                 ORDER BY rowid DESC LIMIT {limit})
)
SELECT {columns}
FROM hits h JOIN articles a ON a.search_key = h.rowid
ORDER BY barwatch_title_hit(a.title, a.subtitle, {query}) DESC, h.rank, h.rowid DESC
LIMIT {limit}
"""


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions search_sql uses."""
    # Sections of mirror copies are in traditional characters: compare folded forms.
    conn.create_function("barwatch_fold", 1, fold_text, deterministic=True)
    conn.create_function("barwatch_title_hit", 3, title_hit, deterministic=True)
    conn.create_function("barwatch_since_key", 1, lambda since: since_key(since or None), deterministic=True)


# ---------------------------------------------------------------------------- snippets
_NONCJK_WORD = rf"[^\W_{CJK}]"


def _term_pattern(tokens: list[str]) -> str:
    """A regex over folded text equivalent to the FTS5 phrase of these tokens."""
    parts = []
    for t in tokens:
        if _CJK_RE.fullmatch(t):
            parts.append(re.escape(t))
        else:
            parts.append(rf"(?<!{_NONCJK_WORD}){re.escape(t)}(?!{_NONCJK_WORD})")
    return r"[\W_]*".join(parts)


def _hit_spans(folded: str, token_lists: list[list[str]]) -> list[tuple[int, int, int]]:
    spans = []
    for k, tokens in enumerate(token_lists):
        for m in re.finditer(_term_pattern(tokens), folded):
            if m.end() > m.start():
                spans.append((m.start(), m.end(), k))
    return sorted(spans)


def highlight(text: str | None, query: str, markers: tuple[str, str] = DEFAULT_MARKERS, width: int = 80) -> str:
    """A piece of ``text`` (the original characters) around the best hit, hits marked.

    The window of ``width`` characters holding the most distinct query terms (then the
    rarest, then the most hits) wins. With no hit, or an unparsable query, the start of
    the text, unmarked.
    """
    # Cleaned first (rows of older barwatch versions may hold control characters), so
    # the positions below are positions in the text that is shown.
    text = clean_text(text) or ""
    try:
        groups, _ = parse_query(query)
    except ValueError:
        groups = []
    token_lists = [t for g in groups for t in g]
    folded, index_map = fold(text)
    spans = _hit_spans(folded, token_lists)
    if not spans:
        return _flatten(text[:width]) + ("…" if len(text) > width else "")
    start_f = spans[_best_window(spans, width)][0]
    # Show a little context before the first hit.
    lead = min(width // 4, start_f)
    start_f -= lead
    end_f = min(len(folded), start_f + width)
    start, end = index_map[start_f], _orig_end(index_map, end_f, len(text))
    out, pos = [], start
    for os_, oe in _marks(spans, index_map, start_f, end_f, len(text)):
        out += [text[pos:os_], markers[0], text[os_:oe], markers[1]]
        pos = oe
    out.append(text[pos:end])
    return ("…" if start > 0 else "") + _flatten("".join(out)) + ("…" if end < len(text) else "")


def _best_window(spans: list[tuple[int, int, int]], width: int) -> int:
    """The index of the hit that starts the best window of ``width`` folded characters."""
    # Sliding window over the hits, sorted by start.
    totals: dict[int, int] = {}
    for _, _, k in spans:
        totals[k] = totals.get(k, 0) + 1
    best, best_key, j = 0, (-1, -1.0, -1), 0
    counts: dict[int, int] = {}
    for i, (s, _, _) in enumerate(spans):
        if j < i:  # the previous hit alone was wider than the window
            j = i
            counts.clear()
        while j < len(spans) and spans[j][1] <= s + width:
            counts[spans[j][2]] = counts.get(spans[j][2], 0) + 1
            j += 1
        # Most distinct terms; then the rarer terms (a word that occurs once in the
        # article says more than one that occurs everywhere); then most hits.
        key = (len(counts), sum(1 / totals[k] for k in counts), sum(counts.values()))
        if key > best_key:
            best, best_key = i, key
        if j > i:
            k = spans[i][2]
            counts[k] -= 1
            if not counts[k]:
                del counts[k]
    return best


def _marks(
    spans: list[tuple[int, int, int]], index_map: list[int], start_f: int, end_f: int, text_len: int
) -> list[list[int]]:
    """The hits inside folded ``[start_f, end_f)`` as [start, end) in original coordinates,
    merged where hits overlap."""
    marks: list[list[int]] = []
    for s, e, _ in spans:
        if s < start_f or e > end_f:
            continue
        os_, oe = index_map[s], _orig_end(index_map, e, text_len)
        if marks and os_ <= marks[-1][1]:
            marks[-1][1] = max(marks[-1][1], oe)
        else:
            marks.append([os_, oe])
    return marks


def _orig_end(index_map: list[int], end: int, text_len: int) -> int:
    """Original position just past folded ``[..end)``, a dropped pinyin annotation included."""
    if end >= len(index_map):
        return text_len
    return max(index_map[end - 1] + 1, index_map[end])


def _flatten(s: str) -> str:
    return re.sub(r"\s*\n\s*", " ", s).strip()


# ---------------------------------------------------------------------------- search
_SINCE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def search(
    db,
    query: str,
    section: str | None = None,
    since: str | None = None,
    limit: int = 20,
    markers: tuple[str, str] = DEFAULT_MARKERS,
) -> list[dict]:
    """Ranked articles matching ``query``: id, url, title, published, section, snippet,
    score (higher is better) and title_hit (every term is in the title; these come first).

    ``section`` keeps articles whose section contains it (律协动态 matches
    "行业资讯 > 律协动态"); ``since`` (YYYY, YYYY-MM or YYYY-MM-DD) keeps those published
    on or after it. Removed articles are never returned.
    """
    if since is not None and not _SINCE_RE.match(since):
        raise ValueError(f"since must look like 2024, 2024-05 or 2024-05-31, not {since!r}")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # Each part of the statement is a named parameter of the same name.
    names = ("expr", "title_expr", "query", "section", "since", "limit")
    sql = search_sql(
        "a.id, a.url, a.title, a.subtitle, a.published, a.section, a.body, h.rank", **{n: f":{n}" for n in names}
    )
    params = {
        "expr": fts_query(query),
        "title_expr": fts_query(query, title_only=True),
        "query": query,
        "section": section or None,
        "since": since,
        "limit": limit,
    }
    conn = _conn(db)
    register_functions(conn)
    results = []
    for row in conn.execute(sql, params).fetchall():
        aid, url, title, subtitle, published, sec, body, rank = row
        results.append(
            {
                "id": aid,
                "url": url,
                "title": title,
                "published": published,
                "section": sec,
                "snippet": highlight(body, query, markers),
                "score": round(-rank, 4),
                "title_hit": title_hit(title, subtitle, query),
            }
        )
    return results


def count(db, query: str, section: str | None = None, since: str | None = None) -> int:
    """How many articles ``search`` would find with no limit (a walk of the matches, no
    ranking: about a tenth of a second for a word in every one of 100,000 articles)."""
    sql = (
        f"WITH {_sections_cte(':section')} SELECT count(*) FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH :expr "
        f"AND rowid >= barwatch_since_key(:since) AND {_in_section(':section')}"
    )
    conn = _conn(db)
    register_functions(conn)
    return conn.execute(sql, {"expr": fts_query(query), "section": section or None, "since": since}).fetchone()[0]


def format_results(results: list[dict]) -> str:
    """Terminal listing: one block per hit, best first."""
    if not results:
        return "no matching articles"
    # Every value is one line without control characters: a stored title must not be able
    # to move the cursor, retitle the terminal or reorder what is shown (one_line).
    lines = []
    for n, r in enumerate(results, 1):
        meta = "  ".join(x for x in (one_line(r.get("published")), one_line(r.get("section"))) if x)
        lines.append(f"{n:>2}. {one_line(r.get('title')) or '(no title)'}")
        if meta:
            lines.append(f"    {meta}")
        if one_line(r.get("snippet")):
            lines.append(f"    {one_line(r.get('snippet'))}")
        lines.append(f"    {one_line(r.get('url'))}  [{one_line(r.get('id'))[:8]}]")
    return "\n".join(lines)
