"""Rollup writes: add a change to the rollups of many regions at once, in the caller's transaction.

Rollups hold, per (race, source, region), the sums of the current TPS tallies below the region. Every write adds its
difference here, so a region's totals and progress are read without scanning its TPS. Rows are written in region
code order, so concurrent writers lock the rows they share (the kabupaten's) in the same order.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import Rollup, RollupVote, Source, table_of
from api.tallies.rollups import Totals

ROLLUPS = table_of(Rollup)
ROLLUP_VOTES = table_of(RollupVote)


async def add_to_rollups(
    session: AsyncSession,
    race_id: int,
    source: Source,
    changes: Mapping[str, tuple[Totals, datetime | None]],
    now: datetime,
) -> None:
    """Add each region's change to its rollup, creating rollups as needed; the newest source time wins."""
    if not changes:
        return
    ordered = sorted(changes.items())
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_PG_ADD_TO_ROLLUPS, _pg_rollup_arrays(race_id, source, ordered, now))
        return
    keys = {"race_id": race_id, "source": source}
    rows = [
        {
            **keys,
            "region_code": code,
            "tps_in": total.tps_in,
            "valid": total.valid,
            "invalid": total.invalid,
            "total": total.total,
            "voters_total": total.voters_total,
            "latest_source_ts": ts,
            "updated_at": now,
        }
        for code, (total, ts) in ordered
    ]
    await session.execute(_sqlite_rollup_upsert(), rows)
    votes = [
        {**keys, "region_code": code, "paslon_id": paslon, "votes": count}
        for code, (total, _) in ordered
        for paslon, count in sorted(total.votes.items())
        if count
    ]
    if votes:
        await session.execute(_sqlite_rollup_votes_upsert(), votes)


# PostgreSQL: both tables in one statement, from arrays. Rows that every write shares (the kabupaten's) are locked
# from this statement to the commit right after it, so one round trip less is that much less waiting for the rest.
# An unreferenced data-modifying CTE runs after the main statement, so every writer locks in the same order:
# rollup_votes, then rollups, each by region code.
_PG_ADD_TO_ROLLUPS = text(
    """
WITH rolled AS (
    INSERT INTO rollups AS r
        (race_id, source, region_code, tps_in, valid, invalid, total, voters_total, latest_source_ts, updated_at)
    SELECT CAST(:race_id AS integer), CAST(:source AS varchar), c.code, c.tps_in, c.valid, c.invalid, c.total,
           c.voters_total, c.ts, CAST(:now AS timestamptz)
    FROM unnest(
        CAST(:codes AS varchar[]), CAST(:tps_in AS integer[]), CAST(:valid AS integer[]),
        CAST(:invalid AS integer[]), CAST(:total AS integer[]), CAST(:voters_total AS integer[]),
        CAST(:ts AS timestamptz[])
    ) AS c(code, tps_in, valid, invalid, total, voters_total, ts)
    ORDER BY c.code
    ON CONFLICT (race_id, source, region_code) DO UPDATE SET
        tps_in = r.tps_in + excluded.tps_in,
        valid = r.valid + excluded.valid,
        invalid = r.invalid + excluded.invalid,
        total = r.total + excluded.total,
        voters_total = r.voters_total + excluded.voters_total,
        latest_source_ts = CASE
            WHEN r.latest_source_ts IS NULL OR excluded.latest_source_ts > r.latest_source_ts
            THEN excluded.latest_source_ts ELSE r.latest_source_ts END,
        updated_at = excluded.updated_at
)
INSERT INTO rollup_votes AS v (race_id, source, region_code, paslon_id, votes)
SELECT CAST(:race_id AS integer), CAST(:source AS varchar), x.code, x.paslon_id, x.votes
FROM unnest(CAST(:vote_codes AS varchar[]), CAST(:paslon_ids AS integer[]), CAST(:votes AS integer[]))
    AS x(code, paslon_id, votes)
ORDER BY x.code, x.paslon_id
ON CONFLICT (race_id, source, region_code, paslon_id) DO UPDATE SET votes = v.votes + excluded.votes
"""
)


def _pg_rollup_arrays(
    race_id: int, source: Source, ordered: list[tuple[str, tuple[Totals, datetime | None]]], now: datetime
) -> dict[str, Any]:
    votes = [
        (code, paslon, count) for code, (total, _) in ordered for paslon, count in sorted(total.votes.items()) if count
    ]
    return {
        "race_id": race_id,
        "source": source.value,
        "now": now,
        "codes": [code for code, _ in ordered],
        "tps_in": [total.tps_in for _, (total, _) in ordered],
        "valid": [total.valid for _, (total, _) in ordered],
        "invalid": [total.invalid for _, (total, _) in ordered],
        "total": [total.total for _, (total, _) in ordered],
        "voters_total": [total.voters_total for _, (total, _) in ordered],
        "ts": [ts for _, (_, ts) in ordered],
        "vote_codes": [code for code, _, _ in votes],
        "paslon_ids": [paslon for _, paslon, _ in votes],
        "votes": [count for _, _, count in votes],
    }


@functools.cache
def _sqlite_rollup_upsert() -> Any:
    stmt = sqlite.insert(ROLLUPS)
    new, old = stmt.excluded, ROLLUPS.c
    return stmt.on_conflict_do_update(
        index_elements=[old.race_id, old.source, old.region_code],
        set_={
            "tps_in": old.tps_in + new.tps_in,
            "valid": old.valid + new.valid,
            "invalid": old.invalid + new.invalid,
            "total": old.total + new.total,
            "voters_total": old.voters_total + new.voters_total,
            "latest_source_ts": case(
                (
                    or_(old.latest_source_ts.is_(None), new.latest_source_ts > old.latest_source_ts),
                    new.latest_source_ts,
                ),
                else_=old.latest_source_ts,
            ),
            "updated_at": new.updated_at,
        },
    )


@functools.cache
def _sqlite_rollup_votes_upsert() -> Any:
    stmt = sqlite.insert(ROLLUP_VOTES)
    old = ROLLUP_VOTES.c
    return stmt.on_conflict_do_update(
        index_elements=[old.race_id, old.source, old.region_code, old.paslon_id],
        set_={"votes": old.votes + stmt.excluded.votes},
    )
