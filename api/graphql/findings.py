"""The `findings` query: findings on current numbers in and below a region, as a paged connection filtered by
severity and rule."""

from __future__ import annotations

import strawberry

from api.graphql.context import Info
from api.graphql.errors import PublicError
from api.graphql.paging import PageInfo
from api.graphql.types import FindingSeverity, Source
from api.read.findings import MAX_PAGE, FindingCursorError, FindingFilter, Severity, findings_page
from api.storage import models
from api.storage.db import shielded_read
from sirekap.codes import CodeError, level_of


@strawberry.type(description="A finding on the current numbers of a TPS or region.")
class SubjectFinding:
    subject_code: str = strawberry.field(description="The TPS or region code the numbers belong to.")
    source: Source = strawberry.field(description="The source of the numbers.")  # type: ignore[valid-type]
    check: str = strawberry.field(description="The check's stable name (the rule), e.g. votes_sum_valid.")
    kind: str = strawberry.field(description="'invalid' (a contradiction) or 'incomplete' (numbers missing).")
    severity: FindingSeverity = strawberry.field(description="Anomaly, incomplete or note.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="What failed, with the numbers.")


@strawberry.type(description="A finding in a page, with the cursor to continue after it.")
class FindingEdge:
    cursor: str = strawberry.field(description="Pass as `after` to get the findings that follow.")
    node: SubjectFinding = strawberry.field(description="The finding.")


@strawberry.type(description="A page of findings, by subject code.")
class FindingConnection:
    edges: list[FindingEdge] = strawberry.field(description="The findings of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many findings match the filters in all pages.")


async def findings_connection(
    info: Info,
    race: str,
    region: str,
    severity: list[Severity] | None,
    rule: list[str] | None,
    first: int,
    after: str | None,
) -> FindingConnection:
    if not 0 <= first <= MAX_PAGE:
        raise PublicError(f"first must be between 0 and {MAX_PAGE}")
    try:
        level_of(region)
    except CodeError as error:
        raise PublicError(str(error)) from error
    found_race = await info.context.loaders.catalog.race(race)
    if found_race is None:
        raise PublicError(f"no race {race!r}")
    filters = FindingFilter(region, severity, rule)
    try:  # shielded: a field cancelled by a failing sibling never cuts the read short
        page = await shielded_read(
            info.context.sessions,
            lambda session: findings_page(session, found_race.id, filters, first=first, after=after),
        )
    except FindingCursorError as error:
        raise PublicError(str(error)) from error
    edges = [
        FindingEdge(
            cursor=row.cursor,
            node=SubjectFinding(
                subject_code=row.subject_code,
                source=models.Source(row.source),
                check=row.rule,
                kind=row.kind,
                severity=row.severity,
                message=row.message,
            ),
        )
        for row in page.rows
    ]
    return FindingConnection(
        edges=edges,
        page_info=PageInfo.of(edges, page.has_next_page),
        total_count=page.total_count,
    )
