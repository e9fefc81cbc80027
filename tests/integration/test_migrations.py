from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection

import api.sync.models  # noqa: F401  (the sync tables are part of the schema)
from api.db import create_engine
from api.migrate import downgrade, upgrade
from api.models import Base

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
