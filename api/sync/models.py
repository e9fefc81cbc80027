"""Sync state, stored next to the data it describes so a pass commits both together.

`sync_regions` says, per region of a race, which row of its parent's table (votes and TPS progress, as a
fingerprint) its whole subtree has been synced to, with the HTTP validators of its aggregated file. It is written in
the same transaction as the last tallies below the region, so after a crash the next pass re-descends exactly where
work is missing. `sync_races` keeps the outcome of the last pass; `sync_rejections` is a bounded log of documents
that were refused, with the reason; `sync_unreadable` holds the documents that cannot be read now (one row per
region or TPS, gone once its document reads again). `sync_metrics` holds the numbers the syncer reports about each
race (pass and document counters, the state of the last pass), so every API worker and replica exports the same
values and a restart loses none of them.

"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.storage.models import Base


class SyncRace(Base):
    """A synced race: when its tree was bootstrapped and how its last pass went."""

    __tablename__ = "sync_races"

    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"), primary_key=True)
    target: Mapped[str] = mapped_column(String(32))  # "pkwkk 5304", as configured
    bootstrapped_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_reason: Mapped[str | None] = mapped_column(String(500))
    upstream_ts: Mapped[datetime | None]
    tps_in: Mapped[int | None] = mapped_column(Integer)
    tps_total: Mapped[int | None] = mapped_column(Integer)


class SyncRegion(Base):
    """How far one region's subtree is synced, and the validators of its aggregated file."""

    __tablename__ = "sync_regions"

    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    fingerprint: Mapped[str | None] = mapped_column(String(32))
    etag: Mapped[str | None] = mapped_column(String(128))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    source_ts: Mapped[datetime | None]
    synced_at: Mapped[datetime]


class SyncRejection(Base):
    """A document that was refused or could not be fetched, with why; the newest few hundred per race are kept."""

    __tablename__ = "sync_rejections"
    __table_args__ = (Index("ix_sync_rejections_race_at", "race_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    path: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime]


class SyncUnreadable(Base):
    """A region or TPS whose latest document could not be read (HTML, truncated, not JSON, wrong shape): since when,
    why, and when it was last tried. Its last good numbers stay where they are."""

    __tablename__ = "sync_unreadable"

    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    path: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500))
    since: Mapped[datetime]
    seen_at: Mapped[datetime]


class SyncMetric(Base):
    """One number the syncer reports about a race: a counter (added to after each pass) or a gauge (set).

    Keyed by the metrics' `race` label rather than the race's id, so a race whose bootstrap keeps failing (and so has
    no row in `races` yet) still reports its failed passes.
    """

    __tablename__ = "sync_metrics"

    race: Mapped[str] = mapped_column(String(32), primary_key=True)  # the `race` label, e.g. pkwkk-5304
    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # the metric family, e.g. pantau_sync_passes
    label: Mapped[str] = mapped_column(String(32), primary_key=True)  # outcome or reason; "" for a gauge
    value: Mapped[float] = mapped_column(Float)
