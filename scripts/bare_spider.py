"""The crawl benchmark's anchor: about the least a Scrapy spider can do to archive the site.

    python scripts/bare_spider.py --config fixtures/site.toml --base-url URL --db out.db

It walks each [[sections]] list_url of the config from its first_page until a page has no
article links, fetches every article once, takes the title and the body paragraphs with
two XPaths on the new design's article page (what fixtures.synthetic serves), and writes
(id, url, title, body) with one executemany in one transaction at the end.

What decides speed is set as `barwatch crawl` sets it (crawler/settings.py, then the
config's [crawl] table through crawler.runner.config_settings): one request at a time,
robots.txt obeyed, the config's delay, AutoThrottle rule, retries and timeout, no cookies,
no HTTP cache, the same download size limit. Lists go before articles, as in barwatch.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import tomllib
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess

SITE_HOSTS = {"www.lawyers.org.cn", "wx.lawyers.org.cn", "info.lawyers.org.cn"}
ARTICLE_PATH = re.compile(r"^/info/([0-9a-f]{32})/?$")
USER_AGENT = "barwatch/0.1 (archive of the Shanghai Bar Association news; polite, obeys robots.txt)"


def scrapy_settings(crawl: dict) -> dict:
    delay = float(crawl.get("download_delay", 1.0))
    return {
        "USER_AGENT": crawl.get("user_agent", USER_AGENT),
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 1,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": bool(crawl.get("autothrottle", True)) and delay > 0,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.1),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "RETRY_TIMES": int(crawl.get("retry_times", 3)),
        "DOWNLOAD_TIMEOUT": float(crawl.get("timeout", 30.0)),
        "DOWNLOAD_MAXSIZE": 10 * 1024 * 1024,
        "COOKIES_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "LOGSTATS_INTERVAL": 0,
        "STATS_DUMP": False,
    }


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, base_url: str, sections: list[dict], **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.sections = sections
        self.hosts = SITE_HOSTS | {urlsplit(self.base_url).netloc}
        self.rows: list[tuple[str, str, str, str]] = []

    async def start(self):
        for section in self.sections:
            yield self._list_request(section["list_url"], int(section.get("first_page", 1)))

    def _list_request(self, template: str, page: int) -> scrapy.Request:
        url = urljoin(self.base_url, template.replace("{page}", str(page)))
        return scrapy.Request(url, self.parse_list, cb_kwargs={"template": template, "page": page}, priority=10)

    def parse_list(self, response, template: str, page: int):
        ids = list(dict.fromkeys(filter(None, map(self._article_id, response.xpath("//a/@href").getall()))))
        if not ids:
            return
        for aid in ids:
            yield scrapy.Request(f"{self.base_url}/info/{aid}", self.parse_article, cb_kwargs={"aid": aid})
        yield self._list_request(template, page + 1)

    def _article_id(self, href: str) -> str | None:
        parts = urlsplit(urljoin(self.base_url + "/", href))
        m = ARTICLE_PATH.match(parts.path)
        return m.group(1) if m and parts.netloc in self.hosts else None

    def parse_article(self, response, aid: str):
        title = response.xpath("normalize-space(//h1)").get()
        paras = (p.xpath("normalize-space()").get() for p in response.xpath("//article/p"))
        self.rows.append((aid, f"https://www.lawyers.org.cn/info/{aid}", title, "\n".join(p for p in paras if p)))


def store(db: str, rows: list[tuple[str, str, str, str]]) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS articles (id TEXT PRIMARY KEY, url TEXT, title TEXT, body TEXT)")
        conn.executemany("INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?)", rows)
    conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="barwatch TOML config: its [[sections]] and [crawl]")
    ap.add_argument("--base-url", required=True, help="scheme and host to crawl, e.g. http://127.0.0.1:8000")
    ap.add_argument("--db", required=True, help="SQLite file to write")
    args = ap.parse_args(argv)
    with open(args.config, "rb") as f:
        config = tomllib.load(f)
    process = CrawlerProcess(scrapy_settings(config.get("crawl", {})))
    crawler = process.create_crawler(BareSpider)
    sections = [s for s in config["sections"] if s.get("enabled", True)]
    process.crawl(crawler, base_url=args.base_url, sections=sections)
    process.start()
    rows = crawler.spider.rows
    store(args.db, rows)
    print(f"bare spider: {len(rows)} articles, {crawler.stats.get_value('downloader/request_count', 0)} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
