"""Parse article and list pages of www.lawyers.org.cn into plain records.

No raw HTML of the real site is available (SITE.md): tag names and CSS classes are
unknown. The parser therefore works on the page's *visible text* laid out as lines
(one line per block element or ``<br>``), anchored on text patterns the site is known
to print: the breadcrumb ``当前位置: 首页 >> …``, the metadata line ``日期:… 作者:…
阅读:…次`` and the fixed footer. Every guess about wording lives in :class:`ParseRules`
so that a ``[parsing]`` TOML table can override it without code changes.

Body extraction is structural first: the body is the text that follows the metadata
line inside the nearest enclosing element that holds any, cut at the footer and with
page furniture dropped. trafilatura is the fallback for pages without a metadata line
or title anchor; its output is post-filtered with the same rules because it keeps
footers that sit inside the content wrapper, keeps header lines and drops short
paragraphs.

All functions are pure: no I/O, no clock, no logging.

Modules, in the order an article page goes through them:

* ``rules``, ``defaults``: :class:`ParseRules` and the site's default wording.
* ``document``: bytes -> text -> lxml document (:func:`decode_html`).
* ``lines``: the document's visible text as lines.
* ``breadcrumb``, ``meta``, ``title``, ``subtitle``: the header (section, metadata
  line, title, subtitle); ``furniture``: which lines are page chrome.
* ``body``: the structural body and its attachments; ``fallback``: trafilatura.
* ``clean``: control characters out of the record; ``article``: :func:`parse_article`.
* ``lists``: list pages (:func:`parse_list`).
"""

from __future__ import annotations

from crawler.parsing.article import RECORD_KEYS, parse_article
from crawler.parsing.document import ParseError, decode_html
from crawler.parsing.lists import ListRow, parse_list
from crawler.parsing.meta import issue_month
from crawler.parsing.rules import DEFAULT_RULES, ParseRules
from storage.record import ArticleRecord

__all__ = [
    "DEFAULT_RULES",
    "RECORD_KEYS",
    "ArticleRecord",
    "ListRow",
    "ParseError",
    "ParseRules",
    "decode_html",
    "issue_month",
    "parse_article",
    "parse_list",
]
