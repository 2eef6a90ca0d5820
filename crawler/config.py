"""barwatch configuration: a TOML file, validated into plain dataclasses.

The defaults ship in the package (``default_config.toml``); a user's file replaces them
as a whole, and any key it leaves out takes the built-in default below. A broken file is
reported with the file, the key and what is wrong (``ConfigError``), never half-applied.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawler.urls import rebase

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.toml")


class ConfigError(Exception):
    def __init__(self, path: str | Path, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{path}: {key}: {problem}" if key else f"{path}: {problem}")


@dataclass(frozen=True)
class Section:
    name: str
    list_url: str
    first_page: int = 1
    max_pages: int | None = None

    def page_url(self, page: int, base_url: str) -> str:
        return urljoin(base_url.rstrip("/") + "/", self.list_url.format(page=page))


@dataclass(frozen=True)
class CrawlSettings:
    download_delay: float = 1.0
    autothrottle: bool = True
    max_pages: int = 50
    revisit_days: int = 30
    rotation_per_run: int = 20
    retry_times: int = 3
    retry_backoff: float = 2.0
    timeout: float = 30.0
    min_body_ratio: float = 0.5
    suspect_share: float = 0.5
    suspect_min: int = 4
    user_agent: str = "barwatch/0.1 (archive of the Shanghai Bar Association news; polite, obeys robots.txt)"


@dataclass(frozen=True)
class ScheduleSettings:
    interval_minutes: float | None = 60.0
    cron: str | None = None
    full_cron: str | None = None
    notify: bool = True


@dataclass(frozen=True)
class AlertSettings:
    kinds: tuple[str, ...] = ("new", "changed", "removed")
    mode: str = "digest"
    recipients: tuple[str, ...] = ()
    body_lines: int = 3


@dataclass(frozen=True)
class Config:
    base_url: str
    sections: tuple[Section, ...]
    crawl: CrawlSettings = CrawlSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    alerts: AlertSettings = AlertSettings()
    parsing: dict = field(default_factory=dict)
    path: str = str(DEFAULT_CONFIG_PATH)

    def with_base_url(self, base_url: str | None) -> "Config":
        """The --base-url switch: same config, every URL moved to another scheme and host."""
        if not base_url:
            return self
        _check_base_url(base_url, "--base-url", "--base-url")
        sections = tuple(
            Section(s.name, rebase(urljoin(self.base_url, s.list_url), base_url), s.first_page, s.max_pages)
            if urlsplit(s.list_url).scheme
            else s
            for s in self.sections
        )
        return Config(base_url.rstrip("/"), sections, self.crawl, self.schedule, self.alerts, self.parsing, self.path)


def _check_base_url(value: Any, path, key) -> None:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise ConfigError(path, key, f"must be an http(s) URL such as https://www.lawyers.org.cn, got {value!r}")


def _typed(path, key: str, value: Any, typ: Any) -> Any:
    """Check one scalar against the dataclass field type; ints are accepted for floats."""
    optional = "None" in str(typ)
    if value is None and optional:
        return None
    base = str(typ).replace(" | None", "")
    checks = {
        "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), float),
        "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), int),
        "bool": (lambda v: isinstance(v, bool), bool),
        "str": (lambda v: isinstance(v, str), str),
        "tuple[str, ...]": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), tuple),
    }
    ok, conv = checks[base]
    if not ok(value):
        raise ConfigError(path, key, f"expected {base.replace('tuple[str, ...]', 'a list of strings')}, got {value!r}")
    return conv(value)


def _table(path, name: str, raw: dict, cls):
    if not isinstance(raw, dict):
        raise ConfigError(path, name, "must be a table")
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(path, f"{name}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
        values[key] = _typed(path, f"{name}.{key}", value, known[key].type)
    return cls(**values)


def parse_config(raw: dict, path: str | Path = "<config>") -> Config:
    unknown = set(raw) - {"site", "sections", "crawl", "schedule", "alerts", "parsing"}
    if unknown:
        raise ConfigError(path, sorted(unknown)[0], "unknown table (known: site, sections, crawl, schedule, alerts, parsing)")
    site = raw.get("site", {})
    if not isinstance(site, dict) or "base_url" not in site:
        raise ConfigError(path, "site.base_url", "missing; e.g. base_url = \"https://www.lawyers.org.cn\"")
    _check_base_url(site["base_url"], path, "site.base_url")
    extra = set(site) - {"base_url"}
    if extra:
        raise ConfigError(path, f"site.{sorted(extra)[0]}", "unknown key (known: base_url)")
    raw_sections = raw.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise ConfigError(path, "sections", "at least one [[sections]] table with name and list_url is required")
    sections = []
    for i, s in enumerate(raw_sections):
        key = f"sections[{i}]"
        if not isinstance(s, dict):
            raise ConfigError(path, key, "must be a table")
        for req in ("name", "list_url"):
            if not isinstance(s.get(req), str) or not s[req].strip():
                raise ConfigError(path, f"{key}.{req}", "missing or not a string")
        section = _table(path, key, s, Section)
        if "{page}" not in section.list_url:
            raise ConfigError(path, f"{key}.list_url", "must contain {page} where the page number goes")
        if section.max_pages is not None and section.max_pages < 1:
            raise ConfigError(path, f"{key}.max_pages", "must be at least 1")
        sections.append(section)
    crawl = _table(path, "crawl", raw.get("crawl", {}), CrawlSettings)
    for key in ("max_pages", "retry_times", "revisit_days", "rotation_per_run"):
        if getattr(crawl, key) < 0:
            raise ConfigError(path, f"crawl.{key}", "must not be negative")
    if not 0 < crawl.suspect_share <= 1:
        raise ConfigError(path, "crawl.suspect_share", "must be in (0, 1]")
    schedule = _table(path, "schedule", raw.get("schedule", {}), ScheduleSettings)
    if schedule.cron:
        _check_cron(path, "schedule.cron", schedule.cron)
    if schedule.full_cron:
        _check_cron(path, "schedule.full_cron", schedule.full_cron)
    if schedule.interval_minutes is not None and schedule.interval_minutes <= 0:
        raise ConfigError(path, "schedule.interval_minutes", "must be positive")
    alerts = _table(path, "alerts", raw.get("alerts", {}), AlertSettings)
    bad_kinds = set(alerts.kinds) - {"new", "changed", "removed"}
    if bad_kinds:
        raise ConfigError(path, "alerts.kinds", f"unknown kind {sorted(bad_kinds)[0]!r} (known: new, changed, removed)")
    if alerts.mode not in ("digest", "per_article"):
        raise ConfigError(path, "alerts.mode", f"must be 'digest' or 'per_article', got {alerts.mode!r}")
    parsing = raw.get("parsing", {})
    if not isinstance(parsing, dict):
        raise ConfigError(path, "parsing", "must be a table")
    try:
        from crawler.parsing import ParseRules

        ParseRules.from_mapping(parsing)
    except ValueError as exc:
        raise ConfigError(path, "parsing", str(exc)) from exc
    return Config(site["base_url"].rstrip("/"), tuple(sections), crawl, schedule, alerts, parsing, str(path))


def _check_cron(path, key: str, expr: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        raise ConfigError(path, key, f"not a crontab expression ({exc}): {expr!r}") from exc


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a config file; None means the packaged defaults."""
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    return parse_config(raw, path)
