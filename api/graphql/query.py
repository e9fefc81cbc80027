"""The Query type: what a frontend asks for to build a results page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types.nodes import SelectedField, Selection

from api.graphql.context import Info
from api.graphql.errors import PublicError
from api.graphql.findings import FindingConnection, findings_connection
from api.graphql.paging import PageInfo
from api.graphql.tps import Tps, TpsStatusEnum
from api.graphql.types import FindingSeverity, Race, Region, Source
from api.graphql.upstream import Upstream, upstream_status
from api.read.catalog import RaceRow
from api.read.findings import Severity
from api.read.tps import MAX_PAGE, CursorError, TpsFilter, TpsOrder, TpsPage, TpsRow, tps_count, tps_page
from api.storage import models
from api.storage.db import shielded_read
from sirekap.codes import CodeError, Level, level_of

TpsOrderEnum = strawberry.enum(TpsOrder, description="How TPS pages are ordered (always then by code).")


@strawberry.type(description="A TPS in a page, with the cursor to continue after it.")
class TpsEdge:
    row: strawberry.Private[TpsRow]
    cursor: str = strawberry.field(
        resolver=lambda root: root.row.cursor,  # encoded only for the edges whose cursor is asked
        description="Pass as `after` to get the TPS that follow.",
    )
    node: Tps = strawberry.field(description="The TPS.")


@strawberry.type(description="A page of TPS in keyset order.")
class TpsConnection:
    edges: list[TpsEdge] = strawberry.field(description="The TPS of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    total_count: int = strawberry.field(description="How many TPS match the filters in all pages.")


def _asks_for(selections: Sequence[Selection], name: str, *, within: bool = False) -> bool:
    """Whether a field of this name is selected here, fragments included; `within`: inside these fields (the nodes of
    the field being resolved, several when a document repeats it)."""
    for selection in selections:
        if isinstance(selection, SelectedField) and not within:
            found = selection.name == name
        else:  # a fragment, or one of the nodes of the field being resolved: look inside
            found = _asks_for(selection.selections, name)
        if found:
            return True
    return False


async def _race_for(info: Info, slug: str | None, code: str) -> RaceRow | None:
    """The race named by slug, else the newest race whose region covers the code."""
    catalog = info.context.loaders.catalog
    return await catalog.race(slug) if slug is not None else await catalog.race_covering(code)


async def _race_named(info: Info, slug: str) -> RaceRow:
    found = await info.context.loaders.catalog.race(slug)
    if found is None:
        raise PublicError(f"no race {slug!r}")
    return found


def _check_code(code: str) -> Level:
    try:
        return level_of(code)
    except CodeError as error:
        raise PublicError(str(error)) from error


RaceSlug = Annotated[
    str | None, strawberry.argument(description="Race slug; default: the newest race covering the code.")
]


@strawberry.type(description="Read access to races, regions, TPS and results from every source.")
class Query:
    @strawberry.field(description="Every race, newest first.")
    async def races(self, info: Info) -> list[Race]:
        return [Race.of(r) for r in await info.context.loaders.catalog.races()]

    @strawberry.field(description="A race by slug, e.g. pkwkk-5304-2020.")
    async def race(self, info: Info, slug: str) -> Race | None:
        found = await info.context.loaders.catalog.race(slug)
        return Race.of(found) if found else None

    @strawberry.field(description="A region by code (2, 4, 6 or 10 digits) as covered by a race.")
    async def region(self, info: Info, code: str, race: RaceSlug = None) -> Region | None:
        if _check_code(code) is Level.TPS:
            raise PublicError(f"{code} is a TPS code; use the tps query")
        found_race = await _race_for(info, race, code)
        if found_race is None:
            return None
        covered = (await info.context.loaders.catalog.tps_totals(found_race.id, [code])).get(code)
        region = await info.context.loaders.region.load(code)
        if region is None or (covered is None and code != found_race.region_code[: len(code)]):
            return None
        return Region.of(region, found_race)

    @strawberry.field(description="A TPS by its 13-digit code.")
    async def tps(self, info: Info, code: str, race: RaceSlug = None) -> Tps | None:
        if _check_code(code) is not Level.TPS:
            raise PublicError(f"{code} is not a 13-digit TPS code")
        found_race = await _race_for(info, race, code)
        if found_race is None:
            return None
        statement = select(models.Tps).where(models.Tps.race_id == found_race.id, models.Tps.code == code)
        # Shielded: a field cancelled by a failing sibling never cuts the read short.
        row = await shielded_read(info.context.sessions, lambda session: session.scalar(statement))
        return _tps(row, found_race) if row else None

    @strawberry.field(description=f"TPS of a race, filtered and ordered, {MAX_PAGE} per page at most.")
    async def tps_connection(
        self,
        info: Info,
        race: str,
        region: str | None = None,
        status: TpsStatusEnum | None = None,  # type: ignore[valid-type]
        reported_by: Source | None = None,  # type: ignore[valid-type]
        has_findings: bool | None = None,
        min_registered_voters: int | None = None,
        max_registered_voters: int | None = None,
        order_by: TpsOrderEnum = TpsOrder.CODE,  # type: ignore[valid-type]
        descending: bool = False,
        votes_source: Source = models.Source.SIREKAP,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
    ) -> TpsConnection:
        if not 0 <= first <= MAX_PAGE:
            raise PublicError(f"first must be between 0 and {MAX_PAGE}")
        if region is not None:
            _check_code(region)
        found_race = await _race_named(info, race)
        filters = TpsFilter(region, status, reported_by, has_findings, min_registered_voters, max_registered_voters)
        # Counted only when asked; with the region as the only filter, the catalog's TPS total, no statement.
        count = 0
        counting = _asks_for(info.selected_fields, "totalCount", within=True)
        code = filters.region_code or found_race.region_code
        if counting and filters.only_region() and level_of(code) is not Level.TPS:
            count, counting = (await info.context.loaders.catalog.tps_totals(found_race.id, [code])).get(code, 0), False

        async def read(session: AsyncSession) -> tuple[TpsPage, int]:
            page = await tps_page(
                session,
                found_race.id,
                filters,
                order=order_by,
                source=votes_source,
                descending=descending,
                first=first,
                after=after,
            )
            if not counting:
                return page, count
            return page, await tps_count(session, found_race.id, filters, found_race.region_code)

        try:  # shielded: a field cancelled by a failing sibling never cuts the read short
            page, count = await shielded_read(info.context.sessions, read)
        except CursorError as error:
            raise PublicError(str(error)) from error
        edges = [
            TpsEdge(
                row=row,
                node=Tps(
                    id=row.id,
                    race_id=found_race.id,
                    time_zone=found_race.time_zone,
                    desa_code=row.desa_code,
                    code=row.code,
                    number=row.number,
                    registered_voters=row.registered_voters,
                ),
            )
            for row in page.rows
        ]
        end_cursor = page.rows[-1].cursor if page.rows else None
        return TpsConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=end_cursor),
            total_count=count,
        )

    @strawberry.field(
        description="Sirekap's health from the monitor: up or down since when, and incident windows. Null, with an"
        " error on this field only, when the monitor does not answer: the rest of the answer stays."
    )
    async def upstream(self, info: Info) -> Upstream | None:
        return await upstream_status(info)

    @strawberry.field(
        description=f"Findings on current numbers in a region and below it, by subject code, {MAX_PAGE} per page at"
        " most; filter by severity (ANOMALY for failed consistency rules) and by rule (check name)."
    )
    async def findings(
        self,
        info: Info,
        race: str,
        region: str,
        severity: list[FindingSeverity] | None = None,  # type: ignore[valid-type]
        rule: list[str] | None = None,
        first: int = MAX_PAGE,
        after: str | None = None,
    ) -> FindingConnection:
        severities = None if severity is None else [Severity(s) for s in severity]
        return await findings_connection(info, race, region, severities, rule, first, after)


def _tps(row: models.Tps, race: RaceRow) -> Tps:
    return Tps(
        id=row.id,
        race_id=race.id,
        time_zone=race.time_zone,
        desa_code=row.desa_code,
        code=row.code,
        number=row.number,
        registered_voters=row.registered_voters,
    )
