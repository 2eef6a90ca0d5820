"""Scrapy settings of the barwatch project (``scrapy crawl lawyers`` reads these).

Politeness is the default: robots.txt obeyed, one request at a time, about a second apart
with AutoThrottle slowing down further when the site does, retries with back-off. The
``barwatch`` command overrides some of these from the TOML config (crawler.runner).
"""

BOT_NAME = "barwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = "barwatch/0.1 (archive of the Shanghai Bar Association news; polite, obeys robots.txt)"
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30

RETRY_ENABLED = True
RETRY_TIMES = 3
BARWATCH_RETRY_BACKOFF = 2.0

# Conditional requests are done by hand (ETag/Last-Modified per article). Scrapy's HTTP
# cache stays off: with its RFC2616 policy it can answer from a stale copy without asking.
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# An unattended archiver has no use for a control port left open during every crawl.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The summary line of barwatch replaces Scrapy's dump of every counter.
STATS_DUMP = False
LOGSTATS_INTERVAL = 0
LOG_VERSIONS: list[str] = []
# Scrapy re-reads and re-parses a callback's source on every response to warn about
# generators that return values; its cache is keyed on the bound method, a new object per
# request: about 1 ms a page, a sixth of the crawl's CPU (measured, scripts/benchmark.py).
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy starts this many asyncio workers for the output of every response (a page yields
# an item or two, stored synchronously): 100 by default, an eighth of the crawl's CPU
# spent on tasks that find nothing to do.
CONCURRENT_ITEMS = 1

# An article page is tens of KB; a page of many MB is a broken or hostile answer, and
# must not be read into memory whole. Bigger downloads are cancelled and recorded.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

DOWNLOADER_MIDDLEWARES = {
    # robots.txt per RFC 9309 (a 5xx or unreachable robots.txt disallows everything).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.RobotsPolicyMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.BackoffDelayMiddleware": 560,
}
ITEM_PIPELINES = {"crawler.pipelines.ArchivePipeline": 300}
EXTENSIONS = {"crawler.progress.Progress": 500}

# Where the archive lives and which config to use; the barwatch command sets these.
BARWATCH_DB = "barwatch.db"
BARWATCH_CONFIG = None
BARWATCH_BASE_URL = None
BARWATCH_MODE = "incremental"
