"""barwatch configuration: one TOML file, validated at load into frozen pydantic models.

The defaults ship in the package (``default_config.toml``); a user's file replaces them
as a whole, and any key it leaves out takes the built-in default below. A broken file is
reported with the file, the dotted key and what is wrong (``ConfigError``), never
half-applied: ``sections[0].list_url: must contain {page} where the page number goes``.

The models are strict about types: an integer must be a TOML integer (not ``"3"``, not
``true``), a switch a TOML boolean; a float also accepts an integer. Unknown keys and
tables are errors. Keys that moved are still read from their old place, with a warning
(``RENAMED``); giving both the old and the new key is an error.

Public API: ``load_config(path | None)``, ``parse_config(raw, path)``, ``Config`` (with
``Section``, ``CrawlSettings``, ``DriftSettings``, ``ScheduleSettings``,
``AlertSettings``, ``WebSettings``), ``ConfigError``, ``RENAMED``, ``DEFAULT_CONFIG_PATH``, and the
address helpers ``parse_addresses`` / ``valid_address`` shared with ``scheduler.notify``.
"""

from __future__ import annotations

import difflib
import logging
import string
import tomllib
import typing
import warnings
from email.utils import getaddresses
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    InstanceOf,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from crawler.parsing import ParseRules
from crawler.urls import rebase
from storage.outbox import KINDS
from storage.serve import ARTICLE_PAGE
from storage.textops import SITE_TIMEZONE

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.toml")

logger = logging.getLogger("barwatch.config")

# Keys that moved: old dotted key -> new dotted key (``table.key`` each). The old
# spelling keeps working with a deprecation warning; a later move is one more line.
RENAMED: dict[str, str] = {
    "crawl.min_body_ratio": "drift.min_body_ratio",
    "crawl.suspect_share": "drift.suspect_share",
    "crawl.suspect_min": "drift.suspect_min",
}

# Keys that no longer mean anything: still accepted, with a warning that says why.
DROPPED: dict[str, str] = {
    "crawl.rotation_per_run": "replaced by crawl.reverify_days (every article re-verified within that many days)",
}

AlertMode = Literal["digest", "per_article"]
ALERT_MODES: tuple[str, ...] = typing.get_args(AlertMode)


class ConfigError(Exception):
    """A config file that cannot be used: ``str()`` is ``"{path}: {key}: {problem}"``."""

    def __init__(self, path: str | Path, key: str, problem: str):
        self.path, self.key, self.problem = str(path), key, problem
        super().__init__(f"{path}: {key}: {problem}" if key else f"{path}: {problem}")


# --------------------------------------------------------------------------- e-mail addresses
def parse_addresses(value: str) -> list[tuple[str, str]]:
    """(display, address) pairs of a comma-separated list; commas inside quotes are kept."""
    return [(name, addr) for name, addr in getaddresses([value]) if name or addr]


def valid_address(addr: str) -> bool:
    """A bare address with a local part, an @ and a domain, and no white space."""
    local, at, domain = addr.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in addr)


# --------------------------------------------------------------------------- field checks
def _check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL such as https://www.lawyers.org.cn, got {value!r}")
    return value.rstrip("/")


def _check_list_url(value: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        value.format(page=1)
    except KeyError as exc:
        raise ValueError(
            f"unknown placeholder {{{exc.args[0]}}}: only {{page}} may appear (write {{{{ and }}}} for literal braces)"
        ) from None
    except IndexError:
        raise ValueError("positional placeholder {}: write {page} where the page number goes") from None
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(
            f"not a valid pattern ({exc}): write {{page}} for the page number and {{{{ and }}}} for literal braces"
        ) from None
    if "page" not in names:
        raise ValueError("must contain {page} where the page number goes")
    return value


def _check_nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _check_cron(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None  # an empty cron means "not set", as before
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"not a crontab expression ({exc}): {value!r}") from None
    return value


def _check_recipient(value: str) -> str:
    value = value.strip()
    pairs = parse_addresses(value)
    if value and (len(pairs) != 1 or not valid_address(pairs[0][1])):
        raise ValueError(f"{value!r} is not one e-mail address")
    return value


# Strict scalars: no "3" for an int, no true for a number; a float takes an int.
Int = StrictInt
Float = Annotated[float, Strict()]
Bool = StrictBool
Str = StrictStr
Ratio = Annotated[Float, Field(gt=0, le=1)]
Cron = Annotated[Str | None, AfterValidator(_check_cron)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- the model
class Section(_Model):
    """One channel list: ``list_url`` with ``{page}`` where the page number goes."""

    name: Annotated[Str, AfterValidator(_check_nonblank)]
    list_url: Annotated[Str, AfterValidator(_check_nonblank), AfterValidator(_check_list_url)]
    first_page: Annotated[Int, Field(ge=0)] = 1
    max_pages: Annotated[Int, Field(ge=1, le=10000)] | None = None
    # false: never walk this list, and silence a discovered channel with the same list_url.
    enabled: Bool = True

    def page_url(self, page: int, base_url: str) -> str:
        return urljoin(base_url.rstrip("/") + "/", self.list_url.format(page=page))


class CrawlSettings(_Model):
    """``[crawl]``: politeness, retries and the incremental revisit plan."""

    download_delay: Annotated[Float, Field(ge=0)] = 1.0
    autothrottle: Bool = True
    max_pages: Annotated[Int, Field(ge=1, le=10000)] = 50
    revisit_days: Annotated[Int, Field(ge=0)] = 30
    reverify_days: Annotated[Int, Field(ge=1, le=365)] = 7
    retry_times: Annotated[Int, Field(ge=0, le=20)] = 3
    retry_backoff: Annotated[Float, Field(ge=0, le=600)] = 2.0
    timeout: Annotated[Float, Field(gt=0)] = 30.0
    user_agent: Str = "barwatch/0.1 (archive of the Shanghai Bar Association news; polite, obeys robots.txt)"


class DriftSettings(_Model):
    """``[drift]``: when a fetched page is a layout problem rather than an edit.

    ``min_body_ratio``: a body shorter than this share of the stored one is an extraction
    failure (0 turns the check off). ``suspect_share``/``suspect_min``: if more than this
    share of the revisited articles change in one run (at least ``suspect_min`` revisited),
    the run is suspect and its change alerts are held.
    """

    min_body_ratio: Annotated[Float, Field(ge=0, le=1)] = 0.5
    suspect_share: Ratio = 0.5
    suspect_min: Annotated[Int, Field(ge=1)] = 4


class DiscoverySettings(_Model):
    """``[discovery]``: finding channel list pages from the pages barwatch fetches anyway.

    ``max_candidates_per_run``: not-yet-known pages it may fetch in one run. ``hub_depth``:
    how far it follows a hub (a page of links to lists, like the magazine's year pages).
    ``recheck_days``: a page found not to be a list is asked again after this long.
    ``daily_after_days`` / ``weekly_after_days``: a channel whose newest item is older than
    this is walked once a day / once a week instead of every run.
    """

    enabled: Bool = True
    max_candidates_per_run: Annotated[Int, Field(ge=0, le=1000)] = 10
    hub_depth: Annotated[Int, Field(ge=0, le=5)] = 2
    recheck_days: Annotated[Int, Field(ge=1, le=3650)] = 30
    daily_after_days: Annotated[Int, Field(ge=1, le=3650)] = 30
    weekly_after_days: Annotated[Int, Field(ge=1, le=3650)] = 365


class ScheduleSettings(_Model):
    """``[schedule]`` of ``barwatch daemon``: ``cron`` wins over ``interval_minutes``."""

    interval_minutes: Annotated[Float, Field(ge=1)] | None = 60.0
    cron: Cron = None
    full_cron: Cron = None
    notify: Bool = True


class AlertSettings(_Model):
    """``[alerts]``: what is mailed and how.

    ``kinds``: the alert kinds mailed; other kinds stay queued, untouched.
    ``mode``: ``digest`` = one mail per crawl run, ``per_article`` = one mail per alert.
    ``recipients``: To addresses; if empty, ``BARWATCH_MAIL_TO`` (``SmtpSettings.mail_to``).
    ``body_lines``: how many paragraphs of a new article's body the mail shows.
    ``subject_prefix``: put before every subject.
    ``notice_after_partial_runs``: how many partial runs in a row with the same failures
    raise an operations notice.
    """

    kinds: tuple[Str, ...] = KINDS
    mode: AlertMode = "digest"
    recipients: tuple[Annotated[Str, AfterValidator(_check_recipient)], ...] = ()
    body_lines: Annotated[Int, Field(ge=0, le=50)] = 3
    subject_prefix: Str = "【barwatch】"
    notice_after_partial_runs: Annotated[Int, Field(ge=1, le=100)] = 3

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}: alert kinds must be among {', '.join(KINDS)}")
        return tuple(dict.fromkeys(kinds))

    @field_validator("recipients")
    @classmethod
    def _drop_blank(cls, recipients: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(r for r in recipients if r)


def _check_public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"must be the http(s) address of the archive in Datasette, e.g. https://barwatch.example.org/barwatch (got {value!r})"
        )
    return value.rstrip("/")


class WebSettings(_Model):
    """``[web]``: where operators read the archive.

    ``public_url``: the archive's address in Datasette as readers reach it (the database
    page, e.g. ``https://barwatch.example.org/barwatch``). With it, mail links a removed
    article to its archived page ``<public_url>/-/article/<id>``; without it the mail
    carries the removed article's text instead.
    """

    public_url: Annotated[Str, AfterValidator(_check_public_url)] | None = None

    def article_url(self, article_id: str) -> str | None:
        return f"{self.public_url}/{ARTICLE_PAGE.format(id=article_id)}" if self.public_url else None


class _Tables(_Model):
    """The tables a config file and ``Config`` share, each its own model."""

    sections: Annotated[tuple[Section, ...], Field(min_length=1)]
    crawl: CrawlSettings = CrawlSettings()
    drift: DriftSettings = DriftSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    alerts: AlertSettings = AlertSettings()
    web: WebSettings = WebSettings()
    parsing: dict[str, Any] = Field(default_factory=dict)


class Config(_Tables):
    """A whole, valid configuration. ``rules`` is ``[parsing]`` built into ParseRules;
    ``parsing`` is that table as written (kept for compatibility)."""

    base_url: Annotated[Str, AfterValidator(_check_base_url)]
    timezone: Timezone = SITE_TIMEZONE
    rules: InstanceOf[ParseRules]
    path: Str = str(DEFAULT_CONFIG_PATH)

    @model_validator(mode="before")
    @classmethod
    def _build_rules(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rules" not in data:
            data = {**data, "rules": ParseRules.from_mapping(data.get("parsing") or {})}
        return data

    def with_base_url(self, base_url: str | None) -> Config:
        """The --base-url switch: same config, every URL moved to another scheme and host."""
        if not base_url:
            return self
        try:
            base_url = _check_base_url(str(base_url))
        except ValueError as exc:
            raise ConfigError("--base-url", "--base-url", str(exc)) from None
        sections = tuple(
            s.model_copy(update={"list_url": rebase(urljoin(self.base_url, s.list_url), base_url)})
            if urlsplit(s.list_url).scheme
            else s
            for s in self.sections
        )
        return self.model_copy(update={"base_url": base_url, "sections": sections})


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a time zone name (IANA, e.g. Asia/Shanghai): {value!r}") from None
    return value


Timezone = Annotated[Str, AfterValidator(_check_timezone)]


class _Site(_Model):
    base_url: Annotated[Str, AfterValidator(_check_base_url)]
    # The site's and its readers' time zone: times in mail (and pages) are shown in it.
    timezone: Timezone = SITE_TIMEZONE


class _ConfigFile(_Tables):
    """The file as written: what ``parse_config`` validates before building ``Config``."""

    site: _Site


# --------------------------------------------------------------------------- errors
_TYPE_NAMES = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dataclass_type": "a table",
}
_SECTIONS_HINT = "at least one [[sections]] table with name and list_url is required"
_HINTS = {
    ("missing", "site.base_url"): 'missing; e.g. base_url = "https://www.lawyers.org.cn"',
    ("missing", "sections"): _SECTIONS_HINT,
    ("too_short", "sections"): _SECTIONS_HINT,
    ("tuple_type", "sections"): "expected [[sections]] tables (double brackets: an array of tables)",
}


def _dotted(loc: tuple) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model whose fields ``loc`` (a path of field names and list indexes) leads to."""
    model = root
    for part in loc:
        if isinstance(part, int):
            continue
        if part not in model.model_fields:
            return None
        inner = _models_in(model.model_fields[part].annotation)
        if not inner:
            return None
        model = inner[0]
    return model


def _field_at(root: type[BaseModel], loc: tuple):
    """(model, field name) of the field ``loc`` points at (list indexes after it ignored)."""
    while loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    model = _model_at(root, loc[:-1]) if loc else None
    return model, (loc[-1] if model is not None and loc[-1] in model.model_fields else None)


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _range(model: type[BaseModel] | None, name: str | None, ctx: dict) -> str:
    # A bound is whatever number the field's constraint (or pydantic's error) holds.
    lo: Any = None
    hi: Any = None
    lo_open = False
    metadata = model.model_fields[name].metadata if model is not None and name else []
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            lo = m.ge
        elif isinstance(m, annotated_types.Gt):
            lo, lo_open = m.gt, True
        elif isinstance(m, annotated_types.Le):
            hi = m.le
    if lo is None and hi is None:  # constraints inside an Optional: the error's own bound
        lo = ctx.get("ge", ctx.get("gt"))
        lo_open = "gt" in ctx
        hi = ctx.get("le")
    if lo is not None and hi is not None:
        return (
            f"must be greater than {_num(lo)} and at most {_num(hi)}"
            if lo_open
            else f"must be from {_num(lo)} to {_num(hi)}"
        )
    if lo is not None:
        return f"must be greater than {_num(lo)}" if lo_open else f"must be at least {_num(lo)}"
    return f"must be at most {_num(hi)}"


def _table_rank(loc: tuple) -> int:
    """[site] first, then the tables in their model order: a config file reads that way
    (``_ConfigFile`` inherits the shared tables, so ``site`` comes last among its fields)."""
    order = ("site", *_Tables.model_fields)
    return order.index(loc[0]) if loc and loc[0] in order else len(order)


def _problem(err: ErrorDetails, root: type[BaseModel], key: str, prefix_len: int) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    loc = tuple(err["loc"])
    if (kind, key) in _HINTS:
        return _HINTS[(kind, key)]
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        known = sorted(model.model_fields, key=lambda name: _table_rank((name,))) if model is not None else []
        if known and len(known) <= 12:
            what = "table" if len(loc) == 1 and prefix_len == 0 else "key"
            return f"unknown {what} (known: {', '.join(known)})"
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        return f"unknown key (did you mean {close[0]!r}?)" if close else "unknown key"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_shown(value)}"
    if kind in ("greater_than", "greater_than_equal", "less_than_equal", "less_than"):
        model, name = _field_at(root, loc)
        return f"{_range(model, name, ctx)}, got {_shown(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {_shown(value)}"
    if kind == "too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"needs at least {ctx.get('min_length')} items"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {_shown(value)}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return err["msg"]


def _config_error(path, exc: ValidationError, root: type[BaseModel], prefix: tuple = ()) -> ConfigError:
    """The first of pydantic's errors, in the order of the file's tables, as a ConfigError
    with a dotted key."""
    err = min(exc.errors(include_url=False), key=lambda e: _table_rank(e["loc"][:1]) if not prefix else 0)
    key = _dotted(prefix + tuple(err["loc"]))
    return ConfigError(path, key, _problem(err, root, key, len(prefix)))


# --------------------------------------------------------------------------- loading
def _apply_renames(raw: dict, path) -> dict:
    """Move keys of RENAMED to their new place (warning once each); both given is an error."""
    raw = dict(raw)
    for old, new in RENAMED.items():
        old_table, old_key = old.split(".", 1)
        new_table, new_key = new.split(".", 1)
        source = raw.get(old_table)
        if not isinstance(source, dict) or old_key not in source:
            continue
        target = raw.get(new_table, {})
        if not isinstance(target, dict):
            continue  # the model reports the bad table
        if new_key in target:
            raise ConfigError(path, old, f"renamed to {new}, which is also given: remove {old}")
        warnings.warn(f"{path}: {old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)
        logger.warning("%s: %s is deprecated, use %s instead", path, old, new)
        raw[old_table] = {k: v for k, v in source.items() if k != old_key}
        raw[new_table] = {**target, new_key: source[old_key]}
    for old, why in DROPPED.items():
        table, key = old.split(".", 1)
        source = raw.get(table)
        if isinstance(source, dict) and key in source:
            warnings.warn(f"{path}: {old} is ignored: {why}", DeprecationWarning, stacklevel=3)
            logger.warning("%s: %s is ignored: %s", path, old, why)
            raw[table] = {k: v for k, v in source.items() if k != key}
    return raw


def parse_config(raw: dict, path: str | Path = "<config>") -> Config:
    """Validate a parsed TOML document; ConfigError names the first problem."""
    if not isinstance(raw, dict):
        raise ConfigError(path, "", f"expected a TOML document, got {_shown(raw)}")
    raw = _apply_renames(raw, path)
    raw.setdefault("site", {})  # a missing [site] is reported as a missing site.base_url
    try:
        file = _ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(path, exc, _ConfigFile) from None
    try:
        rules = ParseRules.from_mapping(file.parsing)
    except ValidationError as exc:
        raise _config_error(path, exc, _parsing_model(), ("parsing",)) from None
    except ValueError as exc:
        raise ConfigError(path, "parsing", str(exc)) from None
    return Config(
        base_url=file.site.base_url,
        timezone=file.site.timezone,
        sections=file.sections,
        crawl=file.crawl,
        drift=file.drift,
        discovery=file.discovery,
        schedule=file.schedule,
        alerts=file.alerts,
        web=file.web,
        parsing=file.parsing,
        rules=rules,
        path=str(path),
    )


def _parsing_model() -> type[BaseModel]:
    from crawler.parsing.rules import rules_table

    return rules_table()


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
