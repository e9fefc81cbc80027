"""Findings on current numbers in and below a region, paged by keyset cursors and filtered by severity and rule.

One row per finding (`tally_findings`), joined to its tally only to keep the current versions; ordered by subject
code, then tally, then the finding's place in it, so a page is a range scan whatever the filters.
"""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import Source, Tally, TallyFinding

MAX_PAGE = 100


class Severity(enum.StrEnum):
    """How much a finding matters (`sirekap.findings`)."""

    ANOMALY = "anomaly"  # a consistency rule failed: the numbers contradict each other
    INCOMPLETE = "incomplete"  # a check could not run: a number it needs is missing
    NOTE = "note"  # a check could not run: only fields the upstream may leave out are missing


class FindingCursorError(ValueError):
    """A cursor that this query did not hand out."""


@dataclass(frozen=True)
class FindingFilter:
    region_code: str
    severities: Collection[Severity] | None = None
    rules: Collection[str] | None = None


@dataclass(frozen=True)
class FindingRow:
    subject_code: str
    source: Source
    rule: str
    kind: str
    severity: Severity
    message: str
    cursor: str


@dataclass(frozen=True)
class FindingPage:
    rows: list[FindingRow]
    has_next_page: bool
    total_count: int


def _encode(subject: str, tally_id: int, position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["finding", subject, tally_id, position]).encode()).decode()


def _decode(cursor: str) -> tuple[str, int, int]:
    try:
        kind, subject, tally_id, position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise FindingCursorError("the cursor is not one this API handed out") from error
    if kind != "finding" or not isinstance(subject, str) or not all(isinstance(n, int) for n in (tally_id, position)):
        raise FindingCursorError("the cursor is not one this API handed out")
    return subject, tally_id, position


def _where(race_id: int, f: FindingFilter) -> list[ColumnElement[bool]]:
    # every code below a region starts with it and has at most 13 digits: one index range, no LIKE
    where = [
        TallyFinding.race_id == race_id,
        TallyFinding.subject_code.between(f.region_code, f.region_code.ljust(13, "9")),
    ]
    if f.severities is not None:
        where.append(TallyFinding.severity.in_([s.value for s in f.severities]))
    if f.rules is not None:
        where.append(TallyFinding.rule.in_(list(f.rules)))
    return where


_CURRENT = and_(Tally.id == TallyFinding.tally_id, Tally.is_current)


async def findings_page(
    session: AsyncSession, race_id: int, filters: FindingFilter, *, first: int = MAX_PAGE, after: str | None = None
) -> FindingPage:
    """One page of the findings on current numbers of the region and everything below it."""
    if not 0 <= first <= MAX_PAGE:
        raise ValueError(f"first must be between 0 and {MAX_PAGE}")
    where = _where(race_id, filters)
    paged = list(where)
    if after is not None:
        key = tuple_(TallyFinding.subject_code, TallyFinding.tally_id, TallyFinding.position)
        paged.append(key > tuple_(*_decode(after)))
    query = (
        select(
            TallyFinding.subject_code,
            TallyFinding.tally_id,
            TallyFinding.position,
            TallyFinding.source,
            TallyFinding.rule,
            TallyFinding.kind,
            TallyFinding.severity,
            TallyFinding.message,
        )
        .join(Tally, _CURRENT)
        .where(*paged)
        .order_by(TallyFinding.subject_code, TallyFinding.tally_id, TallyFinding.position)
        .limit(first + 1)
    )
    found = (await session.execute(query)).all()
    rows = [
        FindingRow(subject, Source(source), rule, kind, Severity(severity), message, _encode(subject, tally, position))
        for subject, tally, position, source, rule, kind, severity, message in found[:first]
    ]
    total = await session.scalar(select(func.count()).select_from(TallyFinding).join(Tally, _CURRENT).where(*where))
    return FindingPage(rows, len(found) > first, total or 0)
