"""Response bodies into JSON values, and the field readers every Sirekap document parser shares. Pure.

    DocumentError(ValueError)      .reason, .where (a JSON path, "$" for the whole body)
      reason "html"       an HTML error or WAF page ("access is denied") served instead of JSON
      reason "truncated"  JSON cut off before its end
      reason "not_json"   any other body that is not JSON, the empty body included
      reason "shape"      JSON, but not a Sirekap document of that kind (wrong type, missing required key)

Counts are non-negative integers. A float with an integral value (`12.0`) is accepted as that integer, since JSON
does not distinguish the two and some serializers write every number as a float; `12.5`, booleans, strings and
negative numbers are rejected as "shape". A candidate key whose count is null is dropped like the `"null"` key, so
a consistency check reports the candidate as missing instead of the whole document failing. Candidate ids are the
all-digit keys of a chart or row; other keys (`persen`, `progres`, `psu`, …) are never read as candidates.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from sirekap.timestamps import parse_ts

Reason = Literal["html", "truncated", "not_json", "shape"]
_R = TypeVar("_R")


class DocumentError(ValueError):
    """A response body that is not the Sirekap document asked for; `reason` says why, `where` says where."""

    def __init__(self, reason: Reason, where: str, detail: str) -> None:
        super().__init__(f"{reason}: {where}: {detail}")
        self.reason: Reason = reason
        self.where = where
        self.detail = detail


_PARTIAL_TOKEN = re.compile(r"-?(\d+(\.\d*)?([eE][+-]?\d*)?)?|t(r(u)?)?|f(a(l(s)?)?)?|n(u(l)?)?")


def decode(raw: bytes) -> Any:
    """The JSON value of a response body, or DocumentError "html" / "truncated" / "not_json"."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as error:
        if _looks_like_html(raw):
            raise DocumentError("html", "$", "an HTML page instead of JSON") from None
        if error.end >= len(raw) and "end of data" in error.reason:
            raise DocumentError("truncated", "$", "body ends inside a UTF-8 character") from None
        raise DocumentError("not_json", "$", f"not UTF-8 ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise _classify(raw, error) from None


def _looks_like_html(raw: bytes) -> bool:
    start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start == b"<" or b"access is denied" in raw[:4096].lower()


def _classify(raw: bytes, error: json.JSONDecodeError) -> DocumentError:
    if _looks_like_html(raw):
        return DocumentError("html", "$", "an HTML page instead of JSON")
    text: str = error.doc
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        return DocumentError("not_json", "$", "empty body")
    if body[0] in "{[":
        rest = text[error.pos :].rstrip()
        if (
            not rest
            or error.msg.startswith("Unterminated string")
            or (error.msg.startswith("Invalid \\uXXXX") and len(rest) <= 5)
            or _PARTIAL_TOKEN.fullmatch(rest)
        ):
            return DocumentError("truncated", "$", f"JSON ends early ({error.msg} at char {error.pos})")
    preview = body[:40]
    return DocumentError("not_json", "$", f"{error.msg} at char {error.pos}: {preview!r}")


# --- field readers (the slow paths: parsers test `type(x) is int` inline first) -------------------------------------


def shape_error(where: str, expected: str, got: Any) -> DocumentError:
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return DocumentError("shape", where, f"expected {expected}, got {shown}")


def as_object(value: Any, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise shape_error(where, "an object", value)
    return value


def count(value: Any, where: str) -> int:
    """A non-negative integer count; an integral float is taken as that integer."""
    if type(value) is int and value >= 0:
        return value
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    raise shape_error(where, "a non-negative integer count", value)


def optional_count(value: Any, where: str) -> int | None:
    return None if value is None else count(value, where)


def number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        return float(value)
    raise shape_error(where, "a number", value)


def text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise shape_error(where, "a string", value)
    return value


def optional_text(value: Any, where: str) -> str | None:
    return None if value is None else text(value, where)


def flag(value: Any, where: str) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise shape_error(where, "true, false or null", value)


def timestamp(doc: dict[str, Any], source_zone: ZoneInfo, where: str) -> datetime | None:
    """The document's `ts` read in the source zone (aware UTC); None when absent or empty."""
    value = doc.get("ts")
    if value is None or value == "":
        return None
    try:
        return parse_ts(value, source_zone)
    except ValueError as error:
        raise DocumentError("shape", where, str(error)) from None


def required(doc: dict[str, Any], key: str, where: str) -> Any:
    try:
        return doc[key]
    except KeyError:
        raise DocumentError("shape", f"{where}.{key}", "missing") from None


def candidate_votes(section: dict[str, Any], where: str) -> dict[str, int]:
    """Candidate counts of a chart or table row: its all-digit keys; null counts (and the "null" key) dropped."""
    votes: dict[str, int] = {}
    for key, value in section.items():
        if type(value) is int and value >= 0 and key.isdigit():
            votes[key] = value
        elif value is not None and key.isdigit():
            votes[key] = count(value, f"{where}.{key}")
    return votes


def record(cls: type[_R], fields: dict[str, Any]) -> _R:
    """A frozen dataclass instance built without its generated __init__, which sets each field through
    object.__setattr__ and costs more than JSON-decoding the whole TPS file (4 µs for Administrasi alone).
    `fields` must name every field exactly once; the result compares, hashes and prints like any other instance."""
    made: _R = object.__new__(cls)
    made.__dict__.update(fields)
    return made
