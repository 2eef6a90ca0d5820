"""Config: the packaged defaults load; every broken file names file, key and problem."""
import pytest

from crawler.config import ConfigError, load_config

GOOD = """
[site]
base_url = "https://www.lawyers.org.cn"
[[sections]]
name = "业务指引"
list_url = "/studies/businessguide?currentPageNo={page}"
first_page = 1
"""


def write(tmp_path, text):
    path = tmp_path / "barwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_defaults():
    config = load_config()
    assert config.base_url == "https://www.lawyers.org.cn"
    assert [(s.name, s.list_url, s.first_page) for s in config.sections] == [
        ("业务指引", "/studies/businessguide?currentPageNo={page}", 1)
    ]
    assert config.crawl.download_delay == 1.0
    assert config.crawl.revisit_days == 30


def test_user_file_replaces_defaults_and_base_url_override(tmp_path):
    config = load_config(write(tmp_path, GOOD + "[crawl]\ndownload_delay = 0\n"))
    assert config.crawl.download_delay == 0.0
    assert config.crawl.max_pages == 50  # a key left out keeps the built-in default
    moved = config.with_base_url("http://127.0.0.1:8123")
    assert moved.sections[0].page_url(2, moved.base_url) == "http://127.0.0.1:8123/studies/businessguide?currentPageNo=2"
    assert config.sections[0].page_url(0, config.base_url) == "https://www.lawyers.org.cn/studies/businessguide?currentPageNo=0"


def test_absolute_list_url_is_rebased(tmp_path):
    text = GOOD.replace("/studies/", "https://www.lawyers.org.cn/studies/")
    moved = load_config(write(tmp_path, text)).with_base_url("http://127.0.0.1:9")
    assert moved.sections[0].page_url(3, moved.base_url) == "http://127.0.0.1:9/studies/businessguide?currentPageNo=3"


BROKEN = [
    ("[site\n", "", "not valid TOML"),
    ("[[sections]]\nname='x'\nlist_url='/a?p={page}'\n", "site.base_url", "missing"),
    ('[site]\nbase_url = "ftp://x"\n[[sections]]\nname="x"\nlist_url="/a?p={page}"\n', "site.base_url", "must be an http(s) URL"),
    ('[site]\nbase_url = "https://x"\n', "sections", "at least one"),
    ('[site]\nbase_url = "https://x"\n[[sections]]\nname="x"\n', "sections[0].list_url", "missing"),
    ('[site]\nbase_url = "https://x"\n[[sections]]\nname="x"\nlist_url="/a"\n', "sections[0].list_url", "must contain {page}"),
    (GOOD + "[crawl]\ndownload_delay = 'slow'\n", "crawl.download_delay", "expected float"),
    (GOOD + "[crawl]\ndelay = 1\n", "crawl.delay", "unknown key"),
    (GOOD + "[schedule]\ncron = 'every hour'\n", "schedule.cron", "not a crontab expression"),
    (GOOD + "[alerts]\nkinds = ['new', 'edited']\n", "alerts.kinds", "unknown kind 'edited'"),
    (GOOD + "[alerts]\nmode = 'weekly'\n", "alerts.mode", "must be 'digest' or 'per_article'"),
    (GOOD + "[extras]\n", "extras", "unknown table"),
]


@pytest.mark.parametrize("text,key,problem", BROKEN)
def test_broken_config_names_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
