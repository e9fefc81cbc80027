"""TPS pages with keyset cursors, where each TPS stands (its status, an unreadable document), its tally history.

One module past 300 lines: the filters, orderings, cursors, page and count statements are one query's parts, built
together per request shape; apart they would only be read together.
"""

from __future__ import annotations

import base64
import enum
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Select, String, and_, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.storage.models import TPS_SOURCES, RaceRegion, Source, Tally, Tps
from api.sync.models import SyncUnreadable
from api.tallies.writer import votes_of
from sirekap.codes import Level, level_of

MAX_PAGE = 100

_COLUMN_BY_LEVEL = {
    Level.PROVINSI: Tps.provinsi_code,
    Level.KABUPATEN: Tps.kabupaten_code,
    Level.KECAMATAN: Tps.kecamatan_code,
    Level.DESA: Tps.desa_code,
}


class TpsStatus(enum.StrEnum):
    """Where a TPS stands: no numbers yet, numbers in, numbers in with a failed consistency rule (a finding of
    severity anomaly), or its latest Sirekap document cannot be read (its last good numbers, if any, are kept)."""

    WAITING = "waiting"
    REPORTED = "reported"
    ANOMALY = "anomaly"
    UNREADABLE = "unreadable"


class TpsOrder(enum.StrEnum):
    CODE = "code"
    VALID_VOTES = "valid_votes"
    TURNOUT = "turnout"


#: The current tally joined to each TPS for ordering; one alias, so SQLAlchemy's statement cache is hit.
_TALLY = aliased(Tally, name="current_tally")


class CursorError(ValueError):
    """A cursor that this query did not hand out."""


@dataclass(frozen=True)
class TpsFilter:
    region_code: str | None = None
    status: TpsStatus | None = None
    reported_by: Source | None = None
    has_findings: bool | None = None
    min_registered_voters: int | None = None
    max_registered_voters: int | None = None

    def only_region(self) -> bool:
        return (
            self.status is None
            and self.reported_by is None
            and self.has_findings is None
            and self.min_registered_voters is None
            and self.max_registered_voters is None
        )


class TpsRow(NamedTuple):
    """One TPS of a page (a tuple: a page builds a hundred of them)."""

    id: int
    code: str
    number: int
    desa_code: str
    registered_voters: int
    valid: int | None
    total: int | None
    sort_key: int | str
    order: TpsOrder

    @property
    def cursor(self) -> str:
        """Encoded when asked: a page is usually asked for its last cursor only."""
        return encode_cursor(self.order, self.sort_key, self.code)


@dataclass(frozen=True)
class TpsPage:
    rows: list[TpsRow]
    has_next_page: bool


def encode_cursor(order: TpsOrder, key: int | str, code: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([order.value, key, code]).encode()).decode()


def decode_cursor(order: TpsOrder, cursor: str) -> tuple[int | str, str]:
    try:
        kind, key, code = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise CursorError("the cursor is not one this API handed out") from error
    if kind != order.value or not isinstance(code, str) or not isinstance(key, int | str):
        raise CursorError("the cursor belongs to another ordering")
    return key, code


def _any_tps_tally(*extra: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        Tally.tps_id == Tps.id, Tally.is_current, Tally.source.in_([s.value for s in TPS_SOURCES]), *extra
    )


def _where(
    level: Level | None,
    min_voters: bool,
    max_voters: bool,
    reported_by: bool,
    has_findings: bool | None,
    status: TpsStatus | None,
) -> list[ColumnElement[bool]]:
    """The filters of one shape (`_shape`), their values bound by name (`_values`)."""
    where: list[ColumnElement[bool]] = [Tps.race_id == bindparam("race_id", type_=Integer)]
    if level is not None:
        region = bindparam("region", type_=String)
        where.append(Tps.code == region if level is Level.TPS else _COLUMN_BY_LEVEL[level] == region)
    if min_voters:
        where.append(Tps.registered_voters >= bindparam("min_voters", type_=Integer))
    if max_voters:
        where.append(Tps.registered_voters <= bindparam("max_voters", type_=Integer))
    if reported_by:
        where.append(exists().where(Tally.tps_id == Tps.id, Tally.is_current, Tally.source == bindparam("reported_by")))
    if has_findings is not None:
        findings = _any_tps_tally(Tally.finding_count > 0)
        where.append(findings if has_findings else ~findings)
    anomaly = _any_tps_tally(Tally.anomaly_count > 0)
    unreadable = _unreadable()
    if status is TpsStatus.WAITING:
        where.extend([~_any_tps_tally(), ~unreadable])
    elif status is TpsStatus.REPORTED:
        where.extend([_any_tps_tally(), ~anomaly, ~unreadable])
    elif status is TpsStatus.ANOMALY:
        where.extend([anomaly, ~unreadable])
    elif status is TpsStatus.UNREADABLE:
        where.append(unreadable)
    return where


def _unreadable() -> ColumnElement[bool]:
    return exists().where(SyncUnreadable.race_id == Tps.race_id, SyncUnreadable.code == Tps.code)


@dataclass(frozen=True)
class Unreadable:
    """The TPS's latest Sirekap document cannot be read: why (html, truncated, not_json, shape), since when."""

    path: str
    reason: str
    detail: str
    since: datetime
    seen_at: datetime


@dataclass(frozen=True)
class TpsState:
    status: TpsStatus
    unreadable: Unreadable | None


async def tps_states(session: AsyncSession, race_id: int, codes: Mapping[int, str]) -> dict[int, TpsState]:
    """Where each TPS stands (by id; `codes`: id → TPS code), in two statements whatever the number of TPS."""
    ids = list(codes)
    counted: dict[int, bool] = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(Tally.tps_id, func.max(Tally.anomaly_count))
            .where(
                Tally.tps_id.in_(ids[start : start + 500]),
                Tally.is_current,
                Tally.source.in_([s.value for s in TPS_SOURCES]),
            )
            .group_by(Tally.tps_id)
        )
        counted.update({tps_id: bool(anomalies) for tps_id, anomalies in rows if tps_id is not None})
    unreadable: dict[str, Unreadable] = {}
    wanted = sorted(set(codes.values()))
    for start in range(0, len(wanted), 500):
        for row in await session.scalars(
            select(SyncUnreadable).where(
                SyncUnreadable.race_id == race_id, SyncUnreadable.code.in_(wanted[start : start + 500])
            )
        ):
            unreadable[row.code] = Unreadable(row.path, row.reason, row.detail, row.since, row.seen_at)
    states: dict[int, TpsState] = {}
    for tps_id, code in codes.items():
        if code in unreadable:
            status = TpsStatus.UNREADABLE
        elif tps_id in counted:
            status = TpsStatus.ANOMALY if counted[tps_id] else TpsStatus.REPORTED
        else:
            status = TpsStatus.WAITING
        states[tps_id] = TpsState(status, unreadable.get(code))
    return states


@functools.lru_cache(maxsize=256)
def _page_statement(order: TpsOrder, descending: bool, shape: tuple[Any, ...], after: bool, limit: int) -> Select[Any]:
    """The page's statement for one shape of request, built once: every value it varies in is a bound parameter
    (`race_id`, `region`, `min_voters`, `max_voters`, `reported_by`, `source`, `after_key`, `after_code`)."""
    tally = _TALLY
    joined = and_(tally.tps_id == Tps.id, tally.source == bindparam("source"), tally.is_current)
    if order is TpsOrder.CODE:
        key: Any = Tps.code
    elif order is TpsOrder.VALID_VOTES:
        key = func.coalesce(tally.valid, -1)
    else:  # basis points of registered voters who cast a ballot, a whole number; -1 when unknown
        # Floor division keeps it an integer on every database (true division is NUMERIC, a Decimal, on PostgreSQL).
        key = func.coalesce(tally.total * 10000 // func.nullif(Tps.registered_voters, 0, type_=Integer), -1)
    where = _where(*shape)
    if after:
        after_code = bindparam("after_code", type_=String)
        if order is TpsOrder.CODE:
            where.append(Tps.code < after_code if descending else Tps.code > after_code)
        else:
            bound = bindparam("after_key", type_=Integer)
            if descending:
                where.append(or_(key < bound, and_(key == bound, Tps.code < after_code)))
            else:
                where.append(or_(key > bound, and_(key == bound, Tps.code > after_code)))
    ordering = [key.desc(), Tps.code.desc()] if descending else [key.asc(), Tps.code.asc()]
    if order is TpsOrder.CODE:
        ordering = ordering[1:]
    return (
        select(Tps.id, Tps.code, Tps.number, Tps.desa_code, Tps.registered_voters, tally.valid, tally.total, key)
        .select_from(Tps)
        .outerjoin(tally, joined)
        .where(*where)
        .order_by(*ordering)
        .limit(limit)
    )


def _shape(filters: TpsFilter) -> tuple[Any, ...]:
    """What a filter's statement depends on besides its values: which filters are set, and the region's level."""
    level = level_of(filters.region_code) if filters.region_code else None
    return (
        level,
        filters.min_registered_voters is not None,
        filters.max_registered_voters is not None,
        filters.reported_by is not None,
        filters.has_findings,
        filters.status,
    )


def _values(race_id: int, filters: TpsFilter) -> dict[str, Any]:
    return {
        "race_id": race_id,
        "region": filters.region_code,
        "min_voters": filters.min_registered_voters,
        "max_voters": filters.max_registered_voters,
        "reported_by": Source(filters.reported_by).value if filters.reported_by is not None else None,
    }


async def tps_page(
    session: AsyncSession,
    race_id: int,
    filters: TpsFilter,
    *,
    order: TpsOrder = TpsOrder.CODE,
    source: Source = Source.SIREKAP,
    descending: bool = False,
    first: int = 50,
    after: str | None = None,
) -> TpsPage:
    """One page of TPS in keyset order, in one statement built once per shape of request; `tps_count` counts them."""
    if not 0 <= first <= MAX_PAGE:
        raise ValueError(f"first must be between 0 and {MAX_PAGE}")
    values = _values(race_id, filters)
    values["source"] = Source(source).value
    if after is not None:
        values["after_key"], values["after_code"] = decode_cursor(order, after)
    statement = _page_statement(order, descending, _shape(filters), after is not None, first + 1)
    rows = (await session.execute(statement, values)).all()
    page = [TpsRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], order) for r in rows[:first]]
    return TpsPage(page, len(rows) > first)


@functools.lru_cache(maxsize=64)
def _count_statement(shape: tuple[Any, ...]) -> Select[Any]:
    return select(func.count()).select_from(Tps).where(*_where(*shape))


async def tps_count(session: AsyncSession, race_id: int, filters: TpsFilter, race_region: str | None = None) -> int:
    """How many TPS match the filters in all pages; from race_regions when only the region filters.

    `race_region` is the race's own region code, whose stored TPS total is the count when nothing filters.
    """
    if filters.only_region():
        code = filters.region_code if filters.region_code is not None else race_region
        if code is None:
            race_total = await session.scalar(
                select(func.max(RaceRegion.tps_total)).where(RaceRegion.race_id == race_id)
            )
            return race_total or 0
        if level_of(code) is not Level.TPS:
            stored = await session.scalar(
                select(RaceRegion.tps_total).where(RaceRegion.race_id == race_id, RaceRegion.region_code == code)
            )
            return stored or 0
    count = await session.scalar(_count_statement(_shape(filters)), _values(race_id, filters))
    return count or 0


async def tally_histories(
    session: AsyncSession, tps_ids: Sequence[int]
) -> dict[int, list[tuple[Tally, dict[int, int]]]]:
    """Every version of every source's tally of each TPS, oldest first; two statements for any number of TPS."""
    found: dict[int, list[tuple[Tally, dict[int, int]]]] = {tps_id: [] for tps_id in tps_ids}
    query = select(Tally).where(Tally.tps_id.in_(list(found))).order_by(Tally.tps_id, Tally.source, Tally.version)
    for tally, votes in await _with_votes(session, list(await session.scalars(query))):
        assert tally.tps_id is not None
        found[tally.tps_id].append((tally, votes))
    return found


async def _with_votes(session: AsyncSession, tallies: list[Tally]) -> list[tuple[Tally, dict[int, int]]]:
    votes = await votes_of(session, [t.id for t in tallies])
    return [(t, votes[t.id]) for t in tallies]
