"""The audit log: every applied write, with who made it, from which token, when, and the values before and after.

Entries are written in the same transaction as the write they describe, so there is no write without its entry and
no entry for a write that was rolled back. Refused writes change nothing and leave no entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import table_of
from api.storage.write_models import AuditEntry

#: Most entries one query returns.
MAX_ENTRIES = 200
_INSERT = insert(table_of(AuditEntry))


def entry(
    *,
    at: datetime,
    actor: str,
    action: str,
    token_id: int | None = None,
    race_id: int | None = None,
    source: str | None = None,
    subject_code: str | None = None,
    claimant: int | None = None,
    version: int | None = None,
    old: Any = None,
    new: Any = None,
) -> dict[str, Any]:
    """One audit entry as a row, to be inserted with the write it describes (`insert_entries`)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "token_id": token_id,
        "race_id": race_id,
        "source": source,
        "subject_code": subject_code,
        "claimant": claimant,
        "version": version,
        "old": old,
        "new": new,
    }


async def insert_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert entries made by `entry`, all in one statement."""
    if rows:
        await session.execute(_INSERT, list(rows))


async def record(session: AsyncSession, **fields: Any) -> None:
    """Insert one entry (the fields of `entry`)."""
    await insert_entries(session, [entry(**fields)])


@dataclass(frozen=True)
class AuditFilter:
    race_id: int | None = None
    #: Entries for this region or TPS and everything below it.
    subject_prefix: str | None = None
    token_id: int | None = None
    action: str | None = None
    #: Only entries older than this id (paging backwards from the newest).
    before_id: int | None = None


async def entries(session: AsyncSession, where: AuditFilter, first: int = 50) -> Sequence[AuditEntry]:
    """Matching entries, newest first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(0, min(first, MAX_ENTRIES)))
    if where.race_id is not None:
        query = query.where(AuditEntry.race_id == where.race_id)
    if where.subject_prefix:
        query = query.where(AuditEntry.subject_code.startswith(where.subject_prefix))
    if where.token_id is not None:
        query = query.where(AuditEntry.token_id == where.token_id)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.before_id is not None:
        query = query.where(AuditEntry.id < where.before_id)
    return list(await session.scalars(query))
