"""The storage model: races, the region tree, TPS, paslon, versioned tallies and their rollups.

Tallies are never updated in place: a correction adds a version and moves `is_current`. Rollups hold, per
(race, source, region), the sums of the current TPS tallies below the region, kept in step on every write by
`api.tallies.writer`, so reading a region's totals and progress never scans its TPS.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def table_of(model: type[Base]) -> Table:
    """The Core table of a model: writes through Core skip the ORM's per-row bookkeeping and compile once."""
    table: Table = model.__table__  # type: ignore[assignment]
    return table


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that refuses naive datetimes and reads back aware on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, list[Any]: JSON}


class RaceKind(enum.StrEnum):
    """Sirekap's race codes."""

    PKWKK = "pkwkk"  # bupati / walikota
    PKWKP = "pkwkp"  # gubernur
    PPWP = "ppwp"  # presiden


class Source(enum.StrEnum):
    """Where a tally comes from. Sources are never mixed silently."""

    SIREKAP = "sirekap"
    CHASIL = "chasil"  # C.Hasil form entered by an operator
    POSKO = "posko"  # a campaign post's claim
    PLENO_KECAMATAN = "pleno_kecamatan"  # D.Hasil Kecamatan
    PLENO_KABUPATEN = "pleno_kabupaten"  # D.Hasil Kabupaten/Kota


#: Sources counted per TPS and rolled up; the others are recorded per region.
TPS_SOURCES = frozenset({Source.SIREKAP, Source.CHASIL})


class TallyStatus(enum.StrEnum):
    PROVISIONAL = "provisional"
    CLAIM = "claim"
    RECAP = "recap"  # a pleno below the race's own level: a step of the tiered recap, not the race's result
    OFFICIAL = "official"  # the pleno at the race's own level


def _enum(kind: type[enum.StrEnum]) -> String:
    return String(max(len(m.value) for m in kind))


class Region(Base):
    """A node of the region tree: provinsi, kabupaten/kota, kecamatan or desa/kelurahan."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(12))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)


class Race(Base):
    """An election contest over one region: a bupati race over a kabupaten, say."""

    __tablename__ = "races"
    __table_args__ = (UniqueConstraint("kind", "region_code", "voting_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(_enum(RaceKind))
    title: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    voting_day: Mapped[date] = mapped_column(Date)
    time_zone: Mapped[str] = mapped_column(String(40))
    voter_cap_per_tps: Mapped[int] = mapped_column(Integer)

    paslon: Mapped[list[Paslon]] = relationship(back_populates="race", order_by="Paslon.number", lazy="raise")


class Paslon(Base):
    """A candidate pair with its ballot number."""

    __tablename__ = "paslon"
    __table_args__ = (UniqueConstraint("race_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    number: Mapped[int] = mapped_column(Integer)
    calon: Mapped[str] = mapped_column(String(200))
    wakil: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    colour: Mapped[str | None] = mapped_column(String(9))
    upstream_id: Mapped[str | None] = mapped_column(String(32))

    race: Mapped[Race] = relationship(back_populates="paslon", lazy="raise")


class Tps(Base):
    """A polling station of a race. Ancestor codes are stored so a filter by any level uses an index."""

    __tablename__ = "tps"
    __table_args__ = (
        UniqueConstraint("race_id", "code"),
        Index("ix_tps_race_kecamatan", "race_id", "kecamatan_code", "code"),
        Index("ix_tps_race_desa", "race_id", "desa_code", "code"),
        Index("ix_tps_race_kabupaten", "race_id", "kabupaten_code", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    code: Mapped[str] = mapped_column(String(13))
    number: Mapped[int] = mapped_column(Integer)
    desa_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    kecamatan_code: Mapped[str] = mapped_column(String(6))
    kabupaten_code: Mapped[str] = mapped_column(String(4))
    provinsi_code: Mapped[str] = mapped_column(String(2))
    registered_voters: Mapped[int] = mapped_column(Integer)


class RaceRegion(Base):
    """A region as covered by one race: how many TPS and registered voters lie below it."""

    __tablename__ = "race_regions"

    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    tps_total: Mapped[int] = mapped_column(Integer, default=0)
    registered_voters: Mapped[int] = mapped_column(Integer, default=0)
    #: TPS below whose DPT no document has stated yet: `registered_voters` counts only the others.
    tps_without_dpt: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Tally(Base):
    """One version of one source's numbers for a TPS or a region.

    `subject_code` is the TPS code for TPS-level sources and the region code otherwise; `claimant` is the
    claiming paslon's number for posko claims and 0 for every other source.
    """

    __tablename__ = "tallies"
    __table_args__ = (
        UniqueConstraint("race_id", "source", "subject_code", "claimant", "version"),
        Index(
            "uq_tallies_current",
            "race_id",
            "source",
            "subject_code",
            "claimant",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    source: Mapped[str] = mapped_column(_enum(Source))
    subject_code: Mapped[str] = mapped_column(String(13))
    claimant: Mapped[int] = mapped_column(Integer, default=0)
    tps_id: Mapped[int | None] = mapped_column(ForeignKey("tps.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(_enum(TallyStatus))
    valid: Mapped[int | None] = mapped_column(Integer)
    invalid: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    voters_dpt: Mapped[int | None] = mapped_column(Integer)
    voters_dptb: Mapped[int | None] = mapped_column(Integer)
    voters_non_dpt: Mapped[int | None] = mapped_column(Integer)
    voters_total: Mapped[int | None] = mapped_column(Integer)
    tps_claimed: Mapped[int | None] = mapped_column(Integer)
    source_ts: Mapped[datetime | None]
    #: The source's day, for a fact known only by its day (a claim "on 10 Dec"): never an invented hour.
    source_date: Mapped[date | None]
    received_at: Mapped[datetime]
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Findings of severity "anomaly" (a failed consistency rule): only these make a TPS an anomaly.
    anomaly_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    entered_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))

    votes: Mapped[list[TallyVote]] = relationship(lazy="raise", order_by="TallyVote.paslon_id")


class TallyFinding(Base):
    """One finding of one tally version (a row of `tallies.findings`), so findings page and filter in SQL."""

    __tablename__ = "tally_findings"
    __table_args__ = (Index("ix_tally_findings_race_subject", "race_id", "subject_code", "tally_id", "position"),)

    tally_id: Mapped[int] = mapped_column(ForeignKey("tallies.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"))
    subject_code: Mapped[str] = mapped_column(String(13))
    source: Mapped[str] = mapped_column(_enum(Source))
    rule: Mapped[str] = mapped_column(String(40))  # the check's stable name
    severity: Mapped[str] = mapped_column(String(10))  # anomaly, incomplete, note
    kind: Mapped[str] = mapped_column(String(10))  # invalid, incomplete
    message: Mapped[str] = mapped_column(String(500))


class TallyVote(Base):
    """Votes for one paslon in one tally version."""

    __tablename__ = "tally_votes"

    tally_id: Mapped[int] = mapped_column(ForeignKey("tallies.id", ondelete="CASCADE"), primary_key=True)
    paslon_id: Mapped[int] = mapped_column(ForeignKey("paslon.id"), primary_key=True)
    votes: Mapped[int] = mapped_column(Integer)


class Rollup(Base):
    """Sums of the current TPS tallies of one source below one region."""

    __tablename__ = "rollups"

    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"), primary_key=True)
    source: Mapped[str] = mapped_column(_enum(Source), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    tps_in: Mapped[int] = mapped_column(Integer, default=0)
    valid: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    voters_total: Mapped[int] = mapped_column(Integer, default=0)
    latest_source_ts: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class RollupVote(Base):
    """Votes for one paslon in a rollup."""

    __tablename__ = "rollup_votes"

    race_id: Mapped[int] = mapped_column(ForeignKey("races.id"), primary_key=True)
    source: Mapped[str] = mapped_column(_enum(Source), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    paslon_id: Mapped[int] = mapped_column(ForeignKey("paslon.id"), primary_key=True)
    votes: Mapped[int] = mapped_column(Integer, default=0)
