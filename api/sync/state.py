"""Reading and writing the sync state (`api.sync.models`) in the caller's transaction. Nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.sync.models import SyncRace, SyncRegion, SyncRejection

#: Rejected documents kept per race; older ones are pruned at the end of each pass.
REJECTIONS_KEPT = 500


@dataclass(frozen=True)
class RegionState:
    """How far a region's subtree is synced (`fingerprint` of the row it was synced to) and its file's validators."""

    fingerprint: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    source_ts: datetime | None = None


async def region_states(session: AsyncSession, race_id: int) -> dict[str, RegionState]:
    rows = await session.execute(
        select(
            SyncRegion.region_code,
            SyncRegion.fingerprint,
            SyncRegion.etag,
            SyncRegion.last_modified,
            SyncRegion.source_ts,
        ).where(SyncRegion.race_id == race_id)
    )
    return {code: RegionState(fp, etag, modified, ts) for code, fp, etag, modified, ts in rows}


async def save_region_states(
    session: AsyncSession, race_id: int, states: Sequence[tuple[str, RegionState]], *, now: datetime
) -> None:
    if not states:
        return
    upsert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = upsert(SyncRegion).values(
        [
            {
                "race_id": race_id,
                "region_code": code,
                "fingerprint": state.fingerprint,
                "etag": state.etag,
                "last_modified": state.last_modified,
                "source_ts": state.source_ts,
                "synced_at": now,
            }
            for code, state in states
        ]
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SyncRegion.race_id, SyncRegion.region_code],
            set_={name: stmt.excluded[name] for name in ("fingerprint", "etag", "last_modified", "source_ts")}
            | {"synced_at": stmt.excluded.synced_at},
        )
    )


@dataclass(frozen=True)
class Rejection:
    path: str
    reason: str
    detail: str


async def record_rejections(session: AsyncSession, race_id: int, rejections: Sequence[Rejection], at: datetime) -> None:
    if rejections:
        await session.execute(
            insert(SyncRejection),
            [
                {"race_id": race_id, "path": r.path[:200], "reason": r.reason, "detail": r.detail[:500], "at": at}
                for r in rejections
            ],
        )


async def prune_rejections(session: AsyncSession, race_id: int, keep: int = REJECTIONS_KEPT) -> None:
    oldest_dropped = await session.scalar(
        select(SyncRejection.id)
        .where(SyncRejection.race_id == race_id)
        .order_by(SyncRejection.id.desc())
        .offset(keep)
        .limit(1)
    )
    if oldest_dropped is not None:
        await session.execute(
            delete(SyncRejection).where(SyncRejection.race_id == race_id, SyncRejection.id <= oldest_dropped)
        )


async def recent_rejections(session: AsyncSession, race_id: int, limit: int = 50) -> list[SyncRejection]:
    """The newest rejected documents of a race, newest first."""
    rows = await session.scalars(
        select(SyncRejection).where(SyncRejection.race_id == race_id).order_by(SyncRejection.id.desc()).limit(limit)
    )
    return list(rows)


async def sync_race(session: AsyncSession, race_id: int) -> SyncRace | None:
    return await session.get(SyncRace, race_id)


async def ensure_sync_race(session: AsyncSession, race_id: int, target: str) -> SyncRace:
    row = await session.get(SyncRace, race_id)
    if row is None:
        row = SyncRace(race_id=race_id, target=target)
        session.add(row)
        await session.flush()
    return row
