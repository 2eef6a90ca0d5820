"""One definition for each fact, imported by everything else.

Each fact below is imported from its home, and the Python sources of crawler/, storage/
and scheduler/ are read to check that no other module defines it again: not under its
name, not as the same literal under another name, and (for the config model) not as
another class of that name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from crawler.config import AlertSettings, Config, CrawlSettings, WebSettings
from storage.chinese import PINYIN_NOTE_RE, TRAD_SIMP_PAIRS, TRAD_TO_SIMP
from storage.outbox import KIND_LABELS
from storage.schema import EMAIL_CHANNEL, FAILURE_KINDS, HOLD_FLAGS, KINDS, OPERATIONS, RUN_STATUSES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for d in ("crawler", "storage", "scheduler") for p in (ROOT / d).rglob("*.py"))

# name -> (its home, its value)
FACTS = {
    "KINDS": ("storage/schema.py", KINDS),
    "OPERATIONS": ("storage/schema.py", OPERATIONS),
    "RUN_STATUSES": ("storage/schema.py", RUN_STATUSES),
    "HOLD_FLAGS": ("storage/schema.py", HOLD_FLAGS),
    "FAILURE_KINDS": ("storage/schema.py", FAILURE_KINDS),
    "EMAIL_CHANNEL": ("storage/schema.py", EMAIL_CHANNEL),
    "KIND_LABELS": ("storage/outbox.py", KIND_LABELS),
    "TRAD_SIMP_PAIRS": ("storage/chinese.py", TRAD_SIMP_PAIRS),
    "TRAD_TO_SIMP": ("storage/chinese.py", TRAD_TO_SIMP),
    "PINYIN_NOTE_RE": ("storage/chinese.py", PINYIN_NOTE_RE),
}
MODELS = {cls.__name__: "crawler/config.py" for cls in (Config, AlertSettings, CrawlSettings, WebSettings)}


def modules():
    for path in SOURCES:
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def literal(node: ast.AST):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def definitions():
    """(module, name, literal value or None) of every assignment in the sources."""
    for module, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            for target in targets:
                if isinstance(target, ast.Name):
                    yield module, target.id, literal(value)


def test_the_facts_have_the_values_the_code_relies_on():
    assert KINDS == ("new", "changed", "removed", "restored")
    assert RUN_STATUSES == ("running", "ok", "partial", "failed", "interrupted")
    assert set(KIND_LABELS) == set(KINDS)
    assert TRAD_TO_SIMP[ord("會")] == "会" and len(TRAD_TO_SIMP) > 1000
    assert PINYIN_NOTE_RE.search("協會(huì)")


@pytest.mark.parametrize("name", sorted(FACTS))
def test_each_fact_is_defined_once(name):
    home, value = FACTS[name]
    places = [module for module, n, _ in definitions() if n == name]
    assert places == [home], f"{name} is defined in {places}; it belongs in {home} alone"


@pytest.mark.parametrize("name", ["KINDS", "RUN_STATUSES", "HOLD_FLAGS", "FAILURE_KINDS", "KIND_LABELS"])
def test_no_copy_under_another_name(name):
    home, value = FACTS[name]
    copies = [
        (module, n)
        for module, n, v in definitions()
        if v is not None and n != name and isinstance(v, (tuple, list, dict, set)) and v == value
    ]
    assert copies == [], f"{name} is written out again at {copies}: import it from {home}"


def test_the_config_model_is_defined_once():
    found = [
        (module, node.name)
        for module, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name in MODELS
    ]
    assert sorted(found) == sorted((home, name) for name, home in MODELS.items())


def test_nothing_else_reads_the_config_file():
    # The config model is built once per command (crawler.config.load_config) and passed
    # down; no other module reads TOML but the CLI, for its own --version in pyproject.toml.
    readers = [
        module
        for module, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("load", "loads")
        and isinstance(node.value, ast.Name)
        and node.value.id == "tomllib"
    ]
    assert sorted(set(readers)) == ["crawler/config.py", "scheduler/cli.py"]
