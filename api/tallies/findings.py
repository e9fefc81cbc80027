"""Findings stored with each tally version: the `findings` list on the tally (as written), one `tally_findings` row
per finding (to page and filter them in SQL), and the tally's `anomaly_count` (what makes a TPS an anomaly).

Nothing here commits: the store and the sync's batch ingest call these inside their own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import TallyFinding, table_of
from sirekap.findings import severity_of

_INSERT = insert(table_of(TallyFinding))


def stored(findings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The findings as the tally stores them, each with its severity."""
    return [{**f, "severity": severity_of(f)} for f in findings]


def anomaly_count(findings: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for f in findings if severity_of(f) == "anomaly")


def rows(
    tally_id: int, race_id: int, source: str, subject: str, findings: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The `tally_findings` rows of one tally version."""
    return [
        {
            "tally_id": tally_id,
            "position": position,
            "race_id": race_id,
            "subject_code": subject,
            "source": source,
            "rule": str(f.get("check", ""))[:40],
            "severity": severity_of(f),
            "kind": str(f.get("kind", ""))[:10],
            "message": str(f.get("message", ""))[:500],
        }
        for position, f in enumerate(findings)
    ]


async def insert_rows(session: AsyncSession, found: Sequence[Mapping[str, Any]]) -> None:
    if found:
        await session.execute(_INSERT, list(found))
