import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection

import api.sync.models  # noqa: F401  (the sync tables are part of the schema)
from api.storage.db import create_engine
from api.storage.migrate import downgrade, upgrade
from api.storage.models import Base

TABLES = {"regions", "races", "paslon", "tps", "race_regions", "tallies", "tally_votes", "rollups", "rollup_votes"}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_creates_the_schema_and_downgrade_removes_it(empty_database_url: str) -> None:
    await upgrade(empty_database_url)
    assert await _tables(empty_database_url) >= TABLES
    await downgrade(empty_database_url)
    assert await _tables(empty_database_url) <= {"alembic_version"}
    await upgrade(empty_database_url)  # and back up again from base
    assert await _tables(empty_database_url) >= TABLES


async def test_migrations_match_the_models(database_url: str) -> None:
    def diff(sync: AsyncConnection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_findings_stored_before_severities_get_theirs(empty_database_url: str) -> None:
    """Tallies written before 0005 keep their findings, now one row each with a severity, and an anomaly count; a
    TPS created by a sync before its DPT was known counts as such."""
    from sqlalchemy import text

    await upgrade(empty_database_url, "0004")
    notes = [
        {"check": "total_within_voters", "kind": "incomplete", "message": "cannot check: pengguna_total_j missing"},
        {"check": "valid_invalid_total", "kind": "incomplete", "message": "cannot check: suara_total missing"},
        {
            "check": "votes_sum_valid",
            "kind": "invalid",
            "message": "candidate votes 80 + 98 = 178, but suara_sah is 185",
        },
    ]
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            for statement in (
                "INSERT INTO regions (code, name, level) VALUES ('53', 'NTT', 'provinsi')",
                "INSERT INTO regions (code, name, level, parent_code) VALUES ('5304', 'BELU', 'kabupaten', '53')",
                "INSERT INTO regions (code, name, level, parent_code) VALUES ('530412', 'KOTA', 'kecamatan', '5304')",
                "INSERT INTO regions (code, name, level, parent_code) VALUES ('5304121003', 'M', 'desa', '530412')",
                "INSERT INTO races (id, slug, kind, title, region_code, voting_day, time_zone, voter_cap_per_tps)"
                " VALUES (1, 'pkwkk-5304-2024', 'pkwkk', 'B', '5304', '2024-11-27', 'Asia/Makassar', 600)",
                "INSERT INTO tps (id, race_id, code, number, desa_code, kecamatan_code, kabupaten_code, provinsi_code,"
                " registered_voters) VALUES (1, 1, '5304121003001', 1, '5304121003', '530412', '5304', '53', 0)",
                "INSERT INTO race_regions (race_id, region_code, tps_total, registered_voters)"
                " VALUES (1, '5304', 1, 0), (1, '530412', 1, 0), (1, '5304121003', 1, 0)",
            ):
                await conn.execute(text(statement))
            await conn.execute(
                text(
                    "INSERT INTO tallies (id, race_id, source, subject_code, claimant, tps_id, version, is_current,"
                    " status, received_at, findings, finding_count) VALUES (1, 1, 'sirekap', '5304121003001', 0, 1, 1,"
                    " true, 'provisional', '2024-11-28 03:00:00', :findings, 3)"
                ),
                {"findings": json.dumps(notes)},
            )
    finally:
        await engine.dispose()

    await upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT rule, severity FROM tally_findings ORDER BY position"))).all()
            anomalies = await conn.scalar(text("SELECT anomaly_count FROM tallies WHERE id = 1"))
            unknown = (await conn.execute(text("SELECT region_code, tps_without_dpt FROM race_regions"))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("total_within_voters", "note"),
        ("valid_invalid_total", "incomplete"),
        ("votes_sum_valid", "anomaly"),
    ]
    assert anomalies == 1
    assert sorted(tuple(r) for r in unknown) == [("5304", 1), ("530412", 1), ("5304121003", 1)]
