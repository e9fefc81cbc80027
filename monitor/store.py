"""Where the monitor keeps probes, incidents and per-target state (SQLite by default, PostgreSQL supported).

Times are stored as UTC epoch seconds. Everything a restart needs lives here, so a monitor restarted during an
outage continues the open incident instead of closing or duplicating it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, MetaData, String, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from monitor.incidents import Incident, TargetState
from monitor.probe import Freshness, ProbeResult, Reason

DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}

#: One probe's result, the target's new state, its freshness, and the incident it opened or closed.
Recorded = tuple[ProbeResult, TargetState, "Freshness | None", "Incident | None", "Incident | None"]


class Base(DeclarativeBase):
    metadata = MetaData()


class ProbeRow(Base):
    __tablename__ = "monitor_probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    reason: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str] = mapped_column(String(300))
    status: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float)
    data_ts: Mapped[float | None] = mapped_column(Float)
    tps_in: Mapped[int | None] = mapped_column(Integer)
    tps_total: Mapped[int | None] = mapped_column(Integer)


class IncidentRow(Base):
    __tablename__ = "monitor_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(100), index=True)
    reason: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[float] = mapped_column(Float, index=True)
    ended_at: Mapped[float | None] = mapped_column(Float)


class TargetRow(Base):
    __tablename__ = "monitor_targets"

    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


def epoch(at: datetime) -> float:
    return at.timestamp()


def moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class Store:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.engine: AsyncEngine = create_async_engine(url.set(drivername=DRIVERS[url.get_backend_name()]))
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    async def record(self, round_: list[Recorded]) -> list[TargetState]:
        """Store a round of probes and their consequences in one transaction; returns the states with incident ids."""
        async with self.sessions.begin() as session:
            return [await self._record(session, *item) for item in round_]

    async def _record(
        self,
        session: AsyncSession,
        result: ProbeResult,
        state: TargetState,
        freshness: Freshness | None,
        opened: Incident | None,
        closed: Incident | None,
    ) -> TargetState:
        await session.execute(
            insert(ProbeRow).values(
                target=result.target,
                at=epoch(result.at),
                reason=result.reason.value,
                detail=result.detail[:300],
                status=result.status,
                duration=result.duration_seconds,
                data_ts=epoch(result.data_ts) if result.data_ts else None,
                tps_in=result.tps_in,
                tps_total=result.tps_total,
            )
        )
        if opened is not None:
            new_id = await session.scalar(
                insert(IncidentRow)
                .values(
                    target=opened.target,
                    reason=opened.reason.value,
                    detail=opened.detail[:300],
                    started_at=epoch(opened.started_at),
                )
                .returning(IncidentRow.id)
            )
            state = TargetState(
                state.failures,
                state.first_failure,
                state.successes,
                state.first_success_at,
                Incident(opened.target, opened.reason, opened.started_at, None, opened.detail, new_id),
            )
        if closed is not None and closed.id is not None and closed.ended_at is not None:
            await session.execute(
                update(IncidentRow).where(IncidentRow.id == closed.id).values(ended_at=epoch(closed.ended_at))
            )
        row = await session.get(TargetRow, result.target)
        encoded = _encode(state, freshness)
        if row is None:
            session.add(TargetRow(target=result.target, state=encoded))
        else:
            row.state = encoded
        return state

    async def states(self) -> dict[str, tuple[TargetState, Freshness | None]]:
        async with self.sessions() as session:
            rows = list(await session.scalars(select(TargetRow)))
            open_incidents = {
                i.target: _incident(i)
                for i in await session.scalars(select(IncidentRow).where(IncidentRow.ended_at.is_(None)))
            }
        return {row.target: _decode(row.target, row.state, open_incidents.get(row.target)) for row in rows}

    async def incidents(
        self, *, target: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> list[Incident]:
        """Incidents overlapping [start, end), oldest first."""
        query = select(IncidentRow).order_by(IncidentRow.started_at, IncidentRow.id)
        if target is not None:
            query = query.where(IncidentRow.target == target)
        if end is not None:
            query = query.where(IncidentRow.started_at < epoch(end))
        if start is not None:
            query = query.where((IncidentRow.ended_at.is_(None)) | (IncidentRow.ended_at > epoch(start)))
        async with self.sessions() as session:
            return [_incident(row) for row in await session.scalars(query)]

    async def probes(self, target: str, start: datetime, end: datetime) -> list[ProbeResult]:
        query = (
            select(ProbeRow)
            .where(ProbeRow.target == target, ProbeRow.at >= epoch(start), ProbeRow.at < epoch(end))
            .order_by(ProbeRow.at)
        )
        async with self.sessions() as session:
            return [
                ProbeResult(
                    r.target,
                    moment(r.at) or datetime.now(UTC),
                    Reason(r.reason),
                    r.detail,
                    r.status,
                    r.duration,
                    moment(r.data_ts),
                    r.tps_in,
                    r.tps_total,
                )
                for r in await session.scalars(query)
            ]


def _incident(row: IncidentRow) -> Incident:
    started = moment(row.started_at)
    assert started is not None
    return Incident(row.target, Reason(row.reason), started, moment(row.ended_at), row.detail, row.id)


def _encode(state: TargetState, freshness: Freshness | None) -> dict[str, Any]:
    first = state.first_failure
    return {
        "failures": state.failures,
        "first_failure": None
        if first is None
        else {"at": epoch(first.at), "reason": first.reason.value, "detail": first.detail},
        "successes": state.successes,
        "first_success_at": epoch(state.first_success_at) if state.first_success_at else None,
        "freshness": None
        if freshness is None
        else {"hash": freshness.content_hash, "since": epoch(freshness.unchanged_since)},
    }


def _decode(target: str, data: dict[str, Any], incident: Incident | None) -> tuple[TargetState, Freshness | None]:
    first = data.get("first_failure")
    failure = None
    if first is not None:
        at = moment(first["at"])
        assert at is not None
        failure = ProbeResult(target, at, Reason(first["reason"]), first["detail"])
    fresh = data.get("freshness")
    since = moment(fresh["since"]) if fresh else None
    freshness = Freshness(fresh["hash"], since) if fresh and since else None
    state = TargetState(data["failures"], failure, data["successes"], moment(data["first_success_at"]), incident)
    return state, freshness
