"""Last stage: control characters out of every string of a record (article or list row),
after lxml has decoded the page's character references."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storage.textops import one_line

__all__ = ["clean_record"]


def clean_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Control characters out of every string of the record, after entity decoding.

    ``&#27;]0;title&#7;`` in the page is a real ESC and BEL only once lxml has decoded
    it. One-line fields go through ``one_line``; the body keeps one paragraph a line,
    each cleaned the same way, and a paragraph that was nothing but controls goes.
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "body" and isinstance(value, str):
            value = "\n".join(p for p in (one_line(line) for line in value.split("\n")) if p)
        elif isinstance(value, str):
            value = one_line(value) or None
        elif isinstance(value, list):
            value = [v for v in (_clean_value(v) for v in value) if v not in (None, "")]
        elif isinstance(value, dict):
            value = _clean_value(value)
        out[key] = value
    return out


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, dict):
        return {k: _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value
