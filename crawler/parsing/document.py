"""First stage: bytes or text -> lxml document. Decoding (:func:`decode_html`), character
references that must not survive parsing, and the parse itself (:func:`parse_tree`)."""

from __future__ import annotations

import codecs
import re

import lxml.etree
import lxml.html
from w3lib.encoding import read_bom, resolve_encoding, to_unicode

from crawler.textnorm import strip_controls

__all__ = ["ParseError", "decode_html", "parse_tree", "to_text"]


class ParseError(ValueError):
    """The page is not an article (or not HTML at all)."""


# Labels of the GB family: GB18030 is the superset of each (as in browsers).
_GB_LABELS = frozenset(
    {
        "gb2312",
        "gbk",
        "x-gbk",
        "gb_2312-80",
        "gb_2312",
        "gb-2312",
        "csgb2312",
        "chinese",
        "iso-ir-58",
        "csiso58gb231280",
        "cp936",
        "ms936",
        "windows-936",
        "euc-cn",
        "x-euc-cn",
        "gb18030",
    }
)
# Python codecs that are no web encoding: never taken from a header or a page.
_NOT_WEB = frozenset(
    {
        "utf-7",
        "unicode-escape",
        "raw-unicode-escape",
        "punycode",
        "idna",
        "undefined",
        "mbcs",
        "oem",
        "utf-16",
        "utf-16-le",
        "utf-16-be",
        "utf-32",
        "utf-32-le",
        "utf-32-be",
    }
)
_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_META_SCAN = 4096  # bytes of the page searched for a <meta> declaration
_META_SCAN_RE = re.compile(
    r"<!--.*?(?:-->|$)|<meta(?=[\s/])(?P<meta>[^>]*)|<\?xml\s(?P<xml>[^>]*)|<body[\s>]", re.I | re.S
)
_META_CHARSET_RE = re.compile(r"""\bcharset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING_RE = re.compile(r"""\bencoding\s*=\s*["']\s*([\w.:-]+)""", re.I)


def _encoding(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when it is unknown or no web encoding
    (None: the next source decides). GB2312/GBK and their aliases are GB18030."""
    label = (label or "").strip().lower()
    if not label:
        return None
    if label in _GB_LABELS:
        return "gb18030"
    name = resolve_encoding(label)  # w3lib: WHATWG aliases (latin1 -> cp1252), never UTF-7
    if name is None:
        return None
    info = codecs.lookup(name)
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_WEB:
        return None
    return info.name


def _declared_in_page(data: bytes) -> str | None:
    """The encoding a <meta charset>, <meta http-equiv="Content-Type" content="...;
    charset=..."> or <?xml encoding?> in the first few KB declares (comments skipped,
    nothing after <body>); None if none names a usable encoding."""
    head = data[:_META_SCAN].decode("latin-1")
    for m in _META_SCAN_RE.finditer(head):
        if m.group("meta") is not None:
            found = _META_CHARSET_RE.search(m.group("meta"))
        elif m.group("xml") is not None:
            found = _XML_ENCODING_RE.search(m.group("xml"))
        elif m.group(0).lower().startswith("<body"):
            return None
        else:  # a comment
            continue
        enc = _encoding(found.group(1)) if found else None
        if enc is not None:
            return enc
    return None


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Bytes -> text, by a rule that cannot turn a correct page into mojibake.

    1. Bytes that are valid UTF-8 are UTF-8, whatever the label says. GB18030 decodes
       almost any byte sequence without an error, so UTF-8 read as GB18030 gives
       ``涓婃捣甯傚緥甯堝崗浼`` for 上海市律师协会 and no U+FFFD to notice; the
       converse, a GB page that happens to be valid UTF-8, does not occur in practice.
       (Pure ASCII reads the same in every label the page could carry.)
    2. Otherwise a byte-order mark, then the charset of the HTTP Content-Type header,
       then the ``<meta>`` declaration in the first few KB, then GB18030 (the site's
       legacy encoding). A UTF-8 label is known to be false by then and is skipped (a
       GB18030 page served as ``charset=utf-8`` is the usual mislabel). GB2312/GBK and
       their aliases are GB18030. Unknown labels, and labels of no ASCII-compatible web
       encoding (UTF-16/32 without a BOM, UTF-7, Python's base64 and friends), are
       skipped. Bytes that do not decode become U+FFFD, which
       ``storage.textops.encoding_problem`` reports.
    """
    if isinstance(data, str):
        return data
    data = bytes(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    bom_encoding, bom = read_bom(data)
    if bom_encoding is not None and bom is not None:
        return to_unicode(data[len(bom) :], bom_encoding)
    header = _HEADER_CHARSET_RE.search(content_type or "")
    labels = ((_encoding(header.group(1)) if header else None), _declared_in_page(data))
    encoding = next((e for e in labels if e and e != "utf-8"), "gb18030")
    return to_unicode(data, encoding)


def to_text(html: str | bytes) -> str:
    """The page as text: bytes are decoded (:func:`decode_html`); anything else is no page."""
    if isinstance(html, (bytes, bytearray, memoryview)):
        return decode_html(bytes(html))
    if not isinstance(html, str):
        raise ParseError(f"expected HTML as str or bytes, got {type(html).__name__}")
    return html


# A character reference to NUL, a surrogate or beyond U+10FFFF is parsed as U+FFFD, which
# would read as a decoding failure (storage.textops.encoding_problem): drop it instead.
_CHAR_REF_RE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _drop_void_ref(m: re.Match[str]) -> str:
    digits, base = (m.group(1), 16) if m.group(1) is not None else (m.group(2), 10)
    digits = digits.lstrip("0")
    if len(digits) > 8:
        return ""
    value = int(digits or "0", base)
    return "" if value == 0 or 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else m.group(0)


def parse_tree(text: str) -> lxml.html.HtmlElement | None:
    """The document of a page's text, or None when there is nothing to parse."""
    # Literal control characters go before parsing (lxml makes a NUL U+FFFD); the ones
    # written as character references (&#27;) exist only after it: clean.clean_record.
    text = strip_controls(text)
    if "&#" in text:
        text = _CHAR_REF_RE.sub(_drop_void_ref, text)
    if not text.strip():
        return None
    # Parse bytes with an explicit encoding: lxml refuses str input that carries an
    # XML encoding declaration, and a stale <meta charset> must not re-decode text.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser=parser)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError, UnicodeError):
        return None
    return root
