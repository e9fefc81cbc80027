"""Where the monitor keeps probes, incidents and per-target state (SQLite by default, PostgreSQL supported).

Times are stored as UTC epoch seconds. Everything a restart needs lives here, so a monitor restarted during an
outage continues the open incident instead of closing or duplicating it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, MetaData, String, delete, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
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
    __table_args__ = (Index("ix_monitor_probes_target_at", "target", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(100))
    at: Mapped[float] = mapped_column(Float, index=True)
    reason: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str] = mapped_column(String(300))
    status: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float)
    data_ts: Mapped[float | None] = mapped_column(Float)
    tps_in: Mapped[int | None] = mapped_column(Integer)
    tps_total: Mapped[int | None] = mapped_column(Integer)


#: The probes' table, for a Core insert.
PROBES = Base.metadata.tables[ProbeRow.__tablename__]


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
        self._saved: dict[str, dict[str, Any]] = {}  # each target's state as last written

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    async def record(self, round_: list[Recorded]) -> list[TargetState]:
        """Store a round of probes and their consequences in one transaction; returns the states with incident ids."""
        states, changed = [], {}
        async with self.sessions.begin() as session:
            if round_:
                # a Core insert of the table: one executemany, without the ORM bulk path's per-row bookkeeping
                await session.execute(insert(PROBES), [_probe_row(result) for result, *_ in round_])
            for result, state, freshness, opened, closed in round_:
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
                    state = replace(state, incident=replace(opened, id=new_id))
                if closed is not None and closed.id is not None and closed.ended_at is not None:
                    await session.execute(
                        update(IncidentRow).where(IncidentRow.id == closed.id).values(ended_at=epoch(closed.ended_at))
                    )
                encoded = _encode(state, freshness)
                if self._saved.get(result.target) != encoded:  # a steady target costs one row per probe, no more
                    row = await session.get(TargetRow, result.target)
                    if row is None:
                        session.add(TargetRow(target=result.target, state=encoded))
                    else:
                        row.state = encoded
                    changed[result.target] = encoded
                states.append(state)
        self._saved.update(changed)  # only once committed
        return states

    async def states(self) -> dict[str, tuple[TargetState, Freshness | None]]:
        """Each target's state as the last run left it, its open incident and the time of its last probe included."""
        async with self.sessions() as session:
            rows = list(await session.scalars(select(TargetRow)))
            open_incidents = {
                i.target: _incident(i)
                for i in await session.scalars(select(IncidentRow).where(IncidentRow.ended_at.is_(None)))
            }
            last = select(ProbeRow.target, func.max(ProbeRow.at)).group_by(ProbeRow.target)
            last_probes = {target: at for target, at in await session.execute(last)}
        self._saved.update({row.target: row.state for row in rows})
        return {
            row.target: _decode(row.target, row.state, open_incidents.get(row.target), last_probes.get(row.target))
            for row in rows
        }

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

    async def last_successes(self) -> dict[str, datetime]:
        """The time of each target's last good probe, so a restart does not forget it."""
        query = select(ProbeRow.target, func.max(ProbeRow.at)).where(ProbeRow.reason == Reason.UP.value)
        async with self.sessions() as session:
            rows = (await session.execute(query.group_by(ProbeRow.target))).all()
        return {target: datetime.fromtimestamp(at, UTC) for target, at in rows}

    async def last_read(self, target: str) -> ProbeResult | None:
        """The target's last probe that read a document, so its `ts` and progress survive a restart."""
        query = (
            select(ProbeRow)
            .where(ProbeRow.target == target, ProbeRow.tps_total.is_not(None))
            .order_by(ProbeRow.at.desc())
            .limit(1)
        )
        async with self.sessions() as session:
            row = await session.scalar(query)
        return None if row is None else _probe(row)

    async def probe_times(self, start: datetime, end: datetime, target: str | None = None) -> dict[str, list[datetime]]:
        """When each target was probed in [start, end), oldest first: all availability needs from the probes."""
        query = select(ProbeRow.target, ProbeRow.at).where(ProbeRow.at >= epoch(start), ProbeRow.at < epoch(end))
        if target is not None:
            query = query.where(ProbeRow.target == target)
        found: defaultdict[str, list[datetime]] = defaultdict(list)
        async with self.sessions() as session:
            for name, at in await session.execute(query.order_by(ProbeRow.at)):
                found[name].append(datetime.fromtimestamp(at, UTC))
        return found

    async def prune(self, before: datetime) -> int:
        """Delete probes older than `before`; incidents are kept. Returns how many went."""
        async with self.sessions.begin() as session:
            deleted = await session.execute(delete(ProbeRow).where(ProbeRow.at < epoch(before)))
        return int(getattr(deleted, "rowcount", 0) or 0)

    async def probes(self, target: str, start: datetime, end: datetime) -> list[ProbeResult]:
        query = (
            select(ProbeRow)
            .where(ProbeRow.target == target, ProbeRow.at >= epoch(start), ProbeRow.at < epoch(end))
            .order_by(ProbeRow.at)
        )
        async with self.sessions() as session:
            return [_probe(row) for row in await session.scalars(query)]


def _probe(row: ProbeRow) -> ProbeResult:
    at = datetime.fromtimestamp(row.at, UTC)
    data_ts = moment(row.data_ts)
    return ProbeResult(
        row.target, at, Reason(row.reason), row.detail, row.status, row.duration, data_ts, row.tps_in, row.tps_total
    )


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


def _decode(
    target: str, data: dict[str, Any], incident: Incident | None, last_probe: float | None
) -> tuple[TargetState, Freshness | None]:
    first = data.get("first_failure")
    failure = None
    if first is not None:
        at = moment(first["at"])
        assert at is not None
        failure = ProbeResult(target, at, Reason(first["reason"]), first["detail"])
    fresh = data.get("freshness")
    since = moment(fresh["since"]) if fresh else None
    freshness = Freshness(fresh["hash"], since) if fresh and since else None
    first_success_at = moment(data["first_success_at"])
    # the last probe, or, when its row was pruned, the streak's own time: a long-stopped streak then breaks
    streak = failure.at if failure else first_success_at
    last_probe_at = moment(last_probe) or streak
    state = TargetState(data["failures"], failure, data["successes"], first_success_at, incident, last_probe_at)
    return state, freshness


def _probe_row(result: ProbeResult) -> dict[str, Any]:
    return {
        "target": result.target,
        "at": epoch(result.at),
        "reason": result.reason.value,
        "detail": result.detail[:300],
        "status": result.status,
        "duration": result.duration_seconds,
        "data_ts": epoch(result.data_ts) if result.data_ts else None,
        "tps_in": result.tps_in,
        "tps_total": result.tps_total,
    }
