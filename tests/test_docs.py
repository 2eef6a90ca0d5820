"""The archive's one description (storage.schema.SCHEMA) stays true: the README's table of
tables is the generated one, every table and column an archive has is described, and the
fixed sets the descriptions list are the ones the code uses. (sqlite-utils keeps its docs
true with cog; this is barwatch's equivalent.)"""

from __future__ import annotations

import ast
import inspect
import re
import sqlite3
from pathlib import Path

from storage import outbox, schema, serve
from storage.archive import Archive
from storage.schema import FAILURE_KINDS, HOLD_FLAGS, KINDS, OPERATIONS, RUN_STATUSES, SCHEMA
from storage.search import FTS_TABLE

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SQLITE_TYPES = {str: "TEXT", int: "INTEGER"}


def column(table: str, name: str) -> schema.Column:
    return next(c for c in SCHEMA[table].columns if c.name == name)


# ---------------------------------------------------------------------------- the README
def test_readme_archive_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    assert text.count(schema.README_START) == 1 and text.count(schema.README_END) == 1
    held = text.split(schema.README_START, 1)[1].split(schema.README_END, 1)[0]
    assert held == schema.readme_section(), (
        "README.md's archive table differs from storage/schema.py: run "
        "`python -m storage.schema --write-readme README.md`"
    )


def test_readme_table_lists_every_table_and_column():
    table = schema.readme_table()
    for name, described in SCHEMA.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        assert described.summary in row
        for c in described.columns:
            assert f"`{c.name}`" in row, f"{name}.{c.name}"
            for value in c.values:
                assert f"`{value}`" in row, f"{name}.{c.name}: {value}"
    assert f"| `{FTS_TABLE}` |" in table


def test_write_readme_replaces_only_the_table(tmp_path, capsys):
    path = tmp_path / "README.md"
    stale = f"# Title\n\nProse before.\n\n{schema.README_START}\n| old | table |\n{schema.README_END}\n\nProse after.\n"
    path.write_text(stale, encoding="utf-8")
    assert schema.main(["--check-readme", str(path)]) == 1
    assert path.read_text(encoding="utf-8") == stale  # a check never writes
    assert schema.main(["--write-readme", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nProse before.\n\n" + schema.README_START)
    assert text.endswith(schema.README_END + "\n\nProse after.\n")
    assert "| old | table |" not in text and schema.readme_table() in text
    assert schema.main(["--check-readme", str(path)]) == 0
    assert schema.main(["--write-readme", str(path)]) == 0 and path.read_text(encoding="utf-8") == text
    path.write_text("# No markers\n", encoding="utf-8")
    assert schema.main(["--write-readme", str(path)]) == 2
    assert "markers" in capsys.readouterr().err


# ---------------------------------------------------------------------------- completeness
def test_every_table_and_column_of_an_archive_is_described(tmp_path):
    with Archive(tmp_path / "a.db"):
        pass
    conn = sqlite3.connect(tmp_path / "a.db")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    names = {n for n in names if not n.startswith(("sqlite_", f"{FTS_TABLE}_"))}
    assert names == set(SCHEMA) | {FTS_TABLE}
    for name, table in SCHEMA.items():
        assert table.summary.strip() and not table.summary.endswith("."), name  # a line, not a sentence
        info = [(r[1], r[2]) for r in conn.execute(f"PRAGMA table_info([{name}])")]
        assert info == [(c.name, SQLITE_TYPES[c.type]) for c in table.columns], name
        for c in table.columns:
            assert c.doc.strip() and c.doc.endswith("."), f"{name}.{c.name} has no description"
            for value in c.values:
                assert re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", c.doc), f"{name}.{c.name}: {value}"
    conn.close()


def test_datasette_shows_the_schema_descriptions():
    tables = serve.build_metadata("fixture")["databases"]["fixture"]["tables"]
    assert not hasattr(serve, "COLUMNS")  # no second description
    for name, table in SCHEMA.items():
        assert tables[name]["columns"] == {c.name: c.doc for c in table.columns}
        assert tables[name]["description"].startswith(table.summary + ".")


def test_time_columns_are_the_utc_timestamps():
    utc = {c.name for t in SCHEMA.values() for c in t.columns if "(UTC)" in c.doc}
    assert utc == serve.TIME_COLUMNS
    stamps = {c.name for t in SCHEMA.values() for c in t.columns if c.name == "at" or c.name.endswith("_at")}
    assert stamps <= utc, stamps - utc
    assert {"first_seen", "last_seen", "last_checked", "recheck_after", "failing_since"} <= utc


# ---------------------------------------------------------------------------- fixed sets
def test_fixed_sets_are_the_constants():
    assert column("crawl_runs", "status").values == RUN_STATUSES
    assert column("crawl_runs", "held").values == HOLD_FLAGS
    assert column("alerts", "kind").values == (*KINDS, OPERATIONS)
    assert column("failures", "kind").values == FAILURE_KINDS
    # storage.outbox re-exports what moved into the schema.
    assert (outbox.KINDS, outbox.OPERATIONS, outbox.MAX_REFUSALS) == (KINDS, OPERATIONS, schema.MAX_REFUSALS)
    assert f"{schema.MAX_REFUSALS} times" in column("deliveries", "gave_up_at").doc
    assert set(schema.RUN_STATUS_LABELS) == set(RUN_STATUSES) and set(schema.HOLD_FLAG_LABELS) == set(HOLD_FLAGS)
    assert set(outbox.KIND_LABELS) == set(KINDS)


def test_run_statuses_and_hold_flags_are_those_the_archive_sets():
    source = "\n".join(inspect.getsource(f) for f in (Archive.start_run, Archive.finish_run, Archive.release))
    statuses = set(re.findall(r"""\bstatus(?:, notes)? = ["'](\w+)["']""", source))
    statuses |= set(re.findall(r"INSERT INTO crawl_runs\([^)]*\) VALUES \(\?, '(\w+)'", source))
    assert statuses == set(RUN_STATUSES)
    held = set(re.findall(r"""\bheld = ["'](\w+)["']""", source))
    assert held == set(HOLD_FLAGS)


# Where a failure's kind is passed: function name -> the argument's position.
_FAILURE_CALLS = {"failure_item": 1, "_redirect": 1, "record_failure": 2, "_failure": 4}


def _literals(node: ast.AST) -> set[str]:
    """The strings an expression can be: a literal, or a conditional between literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literals(node.body) | _literals(node.orelse)
    return set()


def _failure_kinds_in(path: Path) -> set[str]:
    """The kinds ``path`` passes to the failure calls: literals, or a local variable
    assigned literals (a parameter is covered by its callers)."""
    found: set[str] = set()
    functions = [f for f in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(f, ast.FunctionDef)]
    for func in functions:
        assigned: dict[str, set[str]] = {}
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                assigned.setdefault(node.targets[0].id, set()).update(_literals(node.value))
        calls = [n for n in ast.walk(func) if isinstance(n, ast.Call)]
        for call in calls:
            name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
            position = _FAILURE_CALLS.get(name or "")
            if position is None or len(call.args) <= position:
                continue
            arg = call.args[position]
            found |= _literals(arg) or (assigned.get(arg.id, set()) if isinstance(arg, ast.Name) else set())
    return found


def test_failure_kinds_are_those_the_code_records():
    files = ["crawler/spiders/lawyers.py", "crawler/pipelines.py", "storage/archive.py"]
    found = set().union(*(_failure_kinds_in(ROOT / f) for f in files))
    documented = set(FAILURE_KINDS)
    assert found == documented, f"undocumented: {found - documented}, never recorded: {documented - found}"
