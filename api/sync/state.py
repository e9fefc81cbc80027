"""Reading and writing the sync state (`api.sync.models`) in the caller's transaction. Nothing here commits."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import table_of
from api.sync.models import SyncRace, SyncRegion, SyncRejection, SyncUnreadable

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
    rows = [
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
    await _upsert(session, SyncRegion, rows, ("fingerprint", "etag", "last_modified", "source_ts", "synced_at"))


async def _upsert(
    session: AsyncSession, model: type[SyncRegion | SyncUnreadable], rows: list[dict[str, Any]], updated: Sequence[str]
) -> None:
    """Insert rows, or update the `updated` columns of those whose primary key is already there."""
    dialect = session.get_bind().dialect.name
    await session.execute(_upsert_statement(dialect, model, tuple(updated)), rows)


@functools.cache
def _upsert_statement(dialect: str, model: type[SyncRegion | SyncUnreadable], updated: tuple[str, ...]) -> Any:
    """One statement per table, executed for many rows: compiled once, not once per call and row count."""
    table = table_of(model)
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    keys = [column.name for column in table.primary_key.columns]
    return stmt.on_conflict_do_update(index_elements=keys, set_={name: stmt.excluded[name] for name in updated})


@dataclass(frozen=True)
class Rejection:
    """A document refused this pass: its path, why, and the region or TPS it is the document of (None: not one)."""

    path: str
    reason: str
    detail: str
    code: str | None = None

    @property
    def unreadable(self) -> bool:
        """Whether the document itself cannot be read (as opposed to stale, naming an unknown region, or a host
        that is struggling right now)."""
        return self.code is not None and self.reason in UNREADABLE_REASONS


#: Reasons that mean a document cannot be read whatever the host's health: what came back is not the document
#: (`sirekap.documents` reasons), or the host refuses that one document (404, another 4xx such as a WAF's 403).
#: Timeouts, refused connections and 5xx are the host's health (the monitor's and SyncFailing's business).
UNREADABLE_REASONS = frozenset({"html", "truncated", "not_json", "shape", "not_found", "http_4xx"})


def describe(documents: Sequence[Rejection], shown: int = 3) -> str:
    """Documents a pass could not use, by path, for a log line: `2 documents not read: /…/5304012001001.json (html),
    /…/5304012001005.json (truncated)`."""
    if not documents:
        return ""
    named = ", ".join(f"{r.path} ({r.reason})" for r in documents[:shown])
    more = f" and {len(documents) - shown} more" if len(documents) > shown else ""
    return f"{len(documents)} document{'s' if len(documents) != 1 else ''} not read: {named}{more}"


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


async def record_unreadable(
    session: AsyncSession,
    race_id: int,
    rejections: Sequence[Rejection],
    *,
    read: Collection[str],
    settled: Collection[str],
    now: datetime,
) -> None:
    """The race's unreadable documents after a pass: those refused as unreadable now are kept (since when they
    first were), those read this pass (`read`: codes) or below a desa settled this pass (`settled`: desa codes whose
    every TPS is synced, which a TPS refused this pass never is) are gone."""
    unreadable = {r.code: r for r in rejections if r.unreadable and r.code is not None}
    cleared = [code for code in read if code not in unreadable]
    for start in range(0, len(cleared), 500):
        await session.execute(
            delete(SyncUnreadable).where(
                SyncUnreadable.race_id == race_id, SyncUnreadable.code.in_(cleared[start : start + 500])
            )
        )
    settled_desa = sorted(settled)
    for start in range(0, len(settled_desa), 200):
        chunk = settled_desa[start : start + 200]
        await session.execute(
            delete(SyncUnreadable).where(
                SyncUnreadable.race_id == race_id,
                or_(*(SyncUnreadable.code.between(desa + "000", desa + "999") for desa in chunk)),
            )
        )
    if not unreadable:
        return
    rows = [
        {
            "race_id": race_id,
            "code": code,
            "path": r.path[:200],
            "reason": r.reason,
            "detail": r.detail[:500],
            "since": now,
            "seen_at": now,
        }
        for code, r in sorted(unreadable.items())
    ]
    await _upsert(session, SyncUnreadable, rows, ("path", "reason", "detail", "seen_at"))


async def unreadable_count(session: AsyncSession, race_id: int) -> int:
    """How many of the race's documents cannot be read now."""
    return (
        await session.scalar(select(func.count()).select_from(SyncUnreadable).where(SyncUnreadable.race_id == race_id))
        or 0
    )
