"""Sirekap's `ts` values: wall times with no zone, written in the source zone (WIB for the national host).

Everything Pantau stores or compares is aware UTC; the source zone is a setting passed in, never assumed here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

#: The zone KPU's national systems write `ts` in; a default only for callers that have no setting at hand.
WIB = ZoneInfo("Asia/Jakarta")


def parse_ts(value: str, source_zone: ZoneInfo) -> datetime:
    """`"2024-02-26 09:00:15"` read as a wall time in `source_zone`, returned as an aware UTC datetime.

    A value that carries its own offset (`"2024-02-26T02:00:15+00:00"`) keeps it. Raises ValueError for anything
    that is not an ISO 8601 date and time.
    """
    if type(value) is not str:
        raise ValueError(f"expected a timestamp string, got {value!r}")
    return _parse_ts(value, source_zone)


# Snapshot `ts` values repeat across every document of a batch (they land on round times), so a small cache
# turns most of the 823k parses of a national sync into a dictionary hit.
@lru_cache(maxsize=4096)
def _parse_ts(value: str, source_zone: ZoneInfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a timestamp like '2024-02-26 09:00:15', got {value!r}") from None
    if len(value) < 16:
        # fromisoformat also takes a bare date; a snapshot time without its clock is not one Sirekap writes
        raise ValueError(f"expected a timestamp like '2024-02-26 09:00:15', got {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=source_zone)
    return parsed.astimezone(UTC)


def format_ts(at: datetime, source_zone: ZoneInfo) -> str:
    """The inverse of `parse_ts`: an aware instant as Sirekap writes it (wall time in `source_zone`, no zone)."""
    if at.tzinfo is None:
        raise ValueError("format_ts needs an aware datetime")
    return at.astimezone(source_zone).strftime("%Y-%m-%d %H:%M:%S")
