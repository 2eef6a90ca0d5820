"""Config: the packaged defaults load; every broken file names file, key and problem."""

import logging
import warnings

import pytest
from pydantic import ValidationError

from crawler.config import (
    RENAMED,
    AlertSettings,
    Config,
    ConfigError,
    CrawlSettings,
    DriftSettings,
    ScheduleSettings,
    Section,
    load_config,
    parse_config,
)
from crawler.parsing import DEFAULT_RULES, ParseRules
from storage.outbox import KINDS
from tests.crawling import FIXTURE_CONFIG

GOOD = """
[site]
base_url = "https://www.lawyers.org.cn"
[[sections]]
name = "业务指引"
list_url = "/studies/businessguide?currentPageNo={page}"
first_page = 1
"""
SITE = '[site]\nbase_url = "https://x"\n'
ONE = SITE + '[[sections]]\nname="x"\nlist_url="/a?p={page}"\n'


def write(tmp_path, text):
    path = tmp_path / "barwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_defaults_load_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the packaged file uses no deprecated key
        config = load_config()
    assert config.base_url == "https://www.lawyers.org.cn"
    assert [(s.name, s.list_url, s.first_page, s.max_pages) for s in config.sections] == [
        ("业务指引", "/studies/businessguide?currentPageNo={page}", 1, None)
    ]
    assert config.crawl == CrawlSettings()  # the file and the built-in defaults agree
    assert config.drift == DriftSettings(min_body_ratio=0.5, suspect_share=0.5, suspect_min=4)
    assert config.schedule == ScheduleSettings(interval_minutes=60, cron=None, full_cron=None, notify=True)
    assert config.alerts == AlertSettings(
        kinds=KINDS,
        mode="digest",
        recipients=(),
        body_lines=3,
        subject_prefix="【barwatch】",
        notice_after_partial_runs=3,
    )
    assert config.parsing == {} and config.rules == DEFAULT_RULES
    assert config.path.endswith("default_config.toml")


def test_fixture_site_config_loads():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load_config(FIXTURE_CONFIG)
    assert len(config.sections) == 4
    assert (config.crawl.download_delay, config.crawl.autothrottle, config.crawl.timeout) == (0.0, False, 10.0)
    assert config.path == str(FIXTURE_CONFIG)


def test_user_file_replaces_defaults_and_base_url_override(tmp_path):
    config = load_config(write(tmp_path, GOOD + "[crawl]\ndownload_delay = 0\n"))
    assert config.crawl.download_delay == 0.0 and isinstance(config.crawl.download_delay, float)  # an int for a float
    assert config.crawl.max_pages == 50  # a key left out keeps the built-in default
    moved = config.with_base_url("http://127.0.0.1:8123")
    assert (
        moved.sections[0].page_url(2, moved.base_url) == "http://127.0.0.1:8123/studies/businessguide?currentPageNo=2"
    )
    assert (
        config.sections[0].page_url(0, config.base_url)
        == "https://www.lawyers.org.cn/studies/businessguide?currentPageNo=0"
    )
    assert moved.rules is config.rules and moved.crawl is config.crawl
    assert config.with_base_url(None) is config


def test_bad_base_url_override():
    with pytest.raises(ConfigError, match=r"^--base-url: --base-url: must be an http\(s\) URL"):
        load_config().with_base_url("127.0.0.1:8000")


def test_absolute_list_url_is_rebased(tmp_path):
    text = GOOD.replace("/studies/", "https://www.lawyers.org.cn/studies/")
    moved = load_config(write(tmp_path, text)).with_base_url("http://127.0.0.1:9")
    assert moved.sections[0].page_url(3, moved.base_url) == "http://127.0.0.1:9/studies/businessguide?currentPageNo=3"


def test_literal_braces_in_list_url(tmp_path):
    config = load_config(write(tmp_path, GOOD.replace("{page}", "{page}&q={{x}}")))
    assert config.sections[0].page_url(2, config.base_url).endswith("currentPageNo=2&q={x}")


def test_parsing_table_becomes_rules(tmp_path):
    config = load_config(write(tmp_path, GOOD + "[parsing]\nmin_body_chars = 3\nextra_nav_tokens = ['导航']\n"))
    assert isinstance(config.rules, ParseRules)
    assert config.rules.min_body_chars == 3 and config.rules.nav_tokens[-1] == "导航"
    assert config.parsing == {"min_body_chars": 3, "extra_nav_tokens": ["导航"]}  # the table as written


def test_models_are_frozen_and_strict():
    config = load_config()
    with pytest.raises(ValidationError):
        config.crawl.timeout = 1.0
    with pytest.raises(ValidationError):
        config.base_url = "https://example.org"
    with pytest.raises(ValueError, match="unknown kind 'edited'"):
        AlertSettings(kinds=("new", "edited"))
    with pytest.raises(ValueError, match="extra_forbidden|Extra inputs"):
        CrawlSettings(delay=1)
    assert AlertSettings(kinds=("new", "new")).kinds == ("new",)


def test_config_built_in_python_builds_its_rules():
    config = Config(
        base_url="https://x/", sections=[Section(name="a", list_url="/{page}")], parsing={"min_body_chars": 3}
    )
    assert config.base_url == "https://x" and config.rules.min_body_chars == 3


BROKEN = [
    # the file's structure
    (
        "[[sections]]\nname='x'\nlist_url='/a?p={page}'\n",
        "site.base_url",
        'missing; e.g. base_url = "https://www.lawyers.org.cn"',
    ),
    (
        '[site]\nbase_url = "ftp://x"\n[[sections]]\nname="x"\nlist_url="/a?p={page}"\n',
        "site.base_url",
        "must be an http(s) URL such as https://www.lawyers.org.cn, got 'ftp://x'",
    ),
    (SITE, "sections", "at least one [[sections]] table with name and list_url is required"),
    (
        SITE + "sections = []\n",
        "site.sections",
        "unknown key (known: base_url, timezone)",
    ),  # TOML: the key is in [site]
    (
        SITE + "timezone = 'Beijing'\n[[sections]]\nname='x'\nlist_url='/a?p={page}'\n",
        "site.timezone",
        "not a time zone name (IANA, e.g. Asia/Shanghai): 'Beijing'",
    ),
    (SITE + '[sections]\nname="x"\n', "sections", "expected [[sections]] tables (double brackets: an array of tables)"),
    (
        GOOD + "[extras]\n",
        "extras",
        "unknown table (known: site, sections, crawl, drift, discovery, schedule, alerts, web, parsing)",
    ),
    (
        GOOD + "[crawl]\ndelay = 1\n",
        "crawl.delay",
        "unknown key (known: download_delay, autothrottle, max_pages, revisit_days, reverify_days, retry_times, "
        "retry_backoff, timeout, user_agent)",
    ),
    (ONE + "foo = 1\n", "sections[0].foo", "unknown key (known: name, list_url, first_page, max_pages, enabled)"),
    # sections
    (SITE + '[[sections]]\nname="x"\n', "sections[0].list_url", "missing"),
    (SITE + '[[sections]]\nname=" "\nlist_url="/a?p={page}"\n', "sections[0].name", "must not be empty"),
    (
        SITE + '[[sections]]\nname="x"\nlist_url="/a"\n',
        "sections[0].list_url",
        "must contain {page} where the page number goes",
    ),
    (
        SITE + '[[sections]]\nname="x"\nlist_url="/a?p={page}&x={foo}"\n',
        "sections[0].list_url",
        "unknown placeholder {foo}: only {page} may appear (write {{ and }} for literal braces)",
    ),
    (
        SITE + '[[sections]]\nname="x"\nlist_url="/a?p={}"\n',
        "sections[0].list_url",
        "positional placeholder {}: write {page} where the page number goes",
    ),
    (
        SITE + '[[sections]]\nname="x"\nlist_url="/a?p={page}&x={"\n',
        "sections[0].list_url",
        "not a valid pattern (Single '{' encountered in format string): write {page} for the page number "
        "and {{ and }} for literal braces",
    ),
    (
        SITE + '[[sections]]\nname="x"\nlist_url="/a?p={{page}}"\n',
        "sections[0].list_url",
        "must contain {page} where the page number goes",
    ),
    (ONE + "max_pages = 0\n", "sections[0].max_pages", "must be at least 1, got 0"),
    (ONE + "max_pages = 10001\n", "sections[0].max_pages", "must be at most 10000, got 10001"),
    # [crawl]
    (GOOD + "[crawl]\ntimeout = -1\n", "crawl.timeout", "must be greater than 0, got -1"),
    (
        GOOD + '[web]\npublic_url = "barwatch.example.org"\n',
        "web.public_url",
        "must be the http(s) address of the archive in Datasette, e.g. https://barwatch.example.org/barwatch "
        "(got 'barwatch.example.org')",
    ),
    (GOOD + "[crawl]\ntimeout = inf\n", "crawl.timeout", "must be a finite number, got inf"),
    (GOOD + "[crawl]\ndownload_delay = -5\n", "crawl.download_delay", "must be at least 0, got -5"),
    (GOOD + "[crawl]\ndownload_delay = 'slow'\n", "crawl.download_delay", "expected a number, got 'slow'"),
    (GOOD + "[crawl]\nmax_pages = 0\n", "crawl.max_pages", "must be from 1 to 10000, got 0"),
    (GOOD + "[crawl]\nretry_times = 100000000\n", "crawl.retry_times", "must be from 0 to 20, got 100000000"),
    (GOOD + "[crawl]\nretry_times = '3'\n", "crawl.retry_times", "expected an integer, got '3'"),
    (GOOD + "[crawl]\nretry_times = true\n", "crawl.retry_times", "expected an integer, got True"),
    (GOOD + "[crawl]\nretry_times = 3.0\n", "crawl.retry_times", "expected an integer, got 3.0"),
    (GOOD + "[crawl]\nretry_backoff = 601\n", "crawl.retry_backoff", "must be from 0 to 600, got 601"),
    (GOOD + "[crawl]\nrevisit_days = -1\n", "crawl.revisit_days", "must be at least 0, got -1"),
    (GOOD + "[crawl]\nreverify_days = 0\n", "crawl.reverify_days", "must be from 1 to 365, got 0"),
    (
        GOOD + "[discovery]\nmax_candidates_per_run = -1\n",
        "discovery.max_candidates_per_run",
        "must be from 0 to 1000, got -1",
    ),
    (GOOD + "[discovery]\nenabled = 1\n", "discovery.enabled", "expected true or false, got 1"),
    (GOOD + "[crawl]\nautothrottle = 1\n", "crawl.autothrottle", "expected true or false, got 1"),
    (GOOD + "[crawl]\nuser_agent = 3\n", "crawl.user_agent", "expected a string, got 3"),
    # [drift], also through the old [crawl] spelling
    (GOOD + "[drift]\nmin_body_ratio = 50\n", "drift.min_body_ratio", "must be from 0 to 1, got 50"),
    (GOOD + "[crawl]\nmin_body_ratio = 50\n", "drift.min_body_ratio", "must be from 0 to 1, got 50"),
    (GOOD + "[drift]\nsuspect_share = 0\n", "drift.suspect_share", "must be greater than 0 and at most 1, got 0"),
    (GOOD + "[drift]\nsuspect_share = 1.5\n", "drift.suspect_share", "must be greater than 0 and at most 1, got 1.5"),
    (GOOD + "[drift]\nsuspect_min = 0\n", "drift.suspect_min", "must be at least 1, got 0"),
    # [schedule]
    (GOOD + "[schedule]\ninterval_minutes = 0.0001\n", "schedule.interval_minutes", "must be at least 1, got 0.0001"),
    (
        GOOD + "[schedule]\ncron = 'every hour'\n",
        "schedule.cron",
        "not a crontab expression (Wrong number of fields; got 2, expected 5): 'every hour'",
    ),
    (GOOD + "[schedule]\nfull_cron = '61 * * * *'\n", "schedule.full_cron", None),
    (GOOD + "[schedule]\nnotify = 'yes'\n", "schedule.notify", "expected true or false, got 'yes'"),
    # [alerts]
    (
        GOOD + "[alerts]\nrecipients = ['ops@example.org', 'not an address']\n",
        "alerts.recipients[1]",
        "'not an address' is not one e-mail address",
    ),
    (
        GOOD + "[alerts]\nrecipients = 'ops@example.org'\n",
        "alerts.recipients",
        "expected a list, got 'ops@example.org'",
    ),
    (
        GOOD + "[alerts]\nkinds = ['new', 'edited']\n",
        "alerts.kinds",
        "unknown kind 'edited': alert kinds must be among new, changed, removed, restored",
    ),
    (GOOD + "[alerts]\nmode = 'weekly'\n", "alerts.mode", "must be 'digest' or 'per_article', got 'weekly'"),
    (GOOD + "[alerts]\nbody_lines = 51\n", "alerts.body_lines", "must be from 0 to 50, got 51"),
    (
        GOOD + "[alerts]\nnotice_after_partial_runs = 0\n",
        "alerts.notice_after_partial_runs",
        "must be from 1 to 100, got 0",
    ),
    # [parsing]
    (GOOD + "[parsing]\nnav_tokens = '首页'\n", "parsing.nav_tokens", "expected a list, got '首页'"),
    (
        GOOD + "[parsing]\nissue_pattern = '第(期'\n",
        "parsing.issue_pattern",
        "bad regular expression '第(期': missing ), unterminated subpattern at position 1",
    ),
    (
        GOOD + "[parsing]\nextra_drop_patterns = ['(']\n",
        "parsing.extra_drop_patterns[0]",
        "bad regular expression '(': missing ), unterminated subpattern at position 0",
    ),
    (
        GOOD + "[parsing]\nfooter_patern = ['x']\n",
        "parsing.footer_patern",
        "unknown key (did you mean 'footer_patterns'?)",
    ),
    (GOOD + "[parsing]\nmin_body_chars = -1\n", "parsing.min_body_chars", "must be at least 0, got -1"),
    (GOOD + "[parsing]\nuse_trafilatura = 'no'\n", "parsing.use_trafilatura", "expected true or false, got 'no'"),
    (GOOD + "[parsing]\ndate_labels = []\n", "parsing.date_labels", "must not be empty"),
    (
        GOOD + "[parsing]\ncontent_xpath = '//div[@'\n",
        "parsing.content_xpath",
        "not a valid XPath (Invalid expression): '//div[@'",
    ),
    (
        GOOD + "parsing = 3\n",
        "sections[0].parsing",
        "unknown key (known: name, list_url, first_page, max_pages, enabled)",
    ),
    # renamed keys: the old and the new spelling at once
    (
        GOOD + "[crawl]\nsuspect_min = 3\n[drift]\nsuspect_min = 4\n",
        "crawl.suspect_min",
        "renamed to drift.suspect_min, which is also given: remove crawl.suspect_min",
    ),
]


@pytest.mark.parametrize("text,key,problem", BROKEN, ids=[f"{i}-{key}" for i, (_, key, _) in enumerate(BROKEN)])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_broken_config_names_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.path, info.value.key) == (str(path), key)
    if problem is not None:
        assert info.value.problem == problem
    assert str(info.value) == f"{path}: {key}: {info.value.problem}"
    assert "\n" not in str(info.value)


def test_not_toml(tmp_path):
    path = write(tmp_path, "[site\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "" and info.value.problem.startswith("not valid TOML: ")
    assert str(info.value).startswith(f"{path}: not valid TOML: ")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("old,new", sorted(RENAMED.items()))
def test_old_key_still_works_with_a_deprecation_warning(tmp_path, caplog, old, new):
    table, key = old.split(".")
    value = 0.25 if key != "suspect_min" else 7
    path = write(tmp_path, GOOD + f"[{table}]\n{key} = {value}\n")
    with (
        caplog.at_level(logging.WARNING, logger="barwatch.config"),
        pytest.warns(DeprecationWarning, match=f"{old} is deprecated; use {new}"),
    ):
        config = load_config(path)
    assert getattr(config.drift, new.split(".")[1]) == value
    assert not hasattr(config.crawl, key)
    [record] = [r for r in caplog.records if r.name == "barwatch.config"]
    assert record.getMessage() == f"{path}: {old} is deprecated, use {new} instead"


def test_renames_do_not_touch_the_callers_mapping():
    raw = {
        "site": {"base_url": "https://x"},
        "sections": [{"name": "x", "list_url": "/{page}"}],
        "crawl": {"suspect_min": 2},
    }
    with pytest.warns(DeprecationWarning):
        config = parse_config(raw, "mem.toml")
    assert config.drift.suspect_min == 2 and config.path == "mem.toml"
    assert raw["crawl"] == {"suspect_min": 2} and "drift" not in raw


def test_a_dropped_key_is_ignored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "old.toml"
    path.write_text(GOOD + "[crawl]\nrotation_per_run = 20\n", encoding="utf-8")
    with pytest.warns(DeprecationWarning, match="crawl.rotation_per_run is ignored: replaced by crawl.reverify_days"):
        config = load_config(path)
    assert config.crawl.reverify_days == 7
    assert "rotation_per_run is ignored" in caplog.text


def test_web_public_url_names_the_archived_article_pages(tmp_path):
    assert load_config(write(tmp_path, GOOD)).web.article_url("ab" * 16) is None
    config = load_config(write(tmp_path, GOOD + '[web]\npublic_url = "https://barwatch.example.org/barwatch/"\n'))
    assert config.web.public_url == "https://barwatch.example.org/barwatch"
    assert config.web.article_url("ab" * 16) == "https://barwatch.example.org/barwatch/-/article/" + "ab" * 16
