"""The process's catalog: what rarely changes is read once, and a new race still shows up."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.read.catalog import Catalog
from api.settings import Settings
from api.storage.models import Race

SETTINGS = Settings()
SCHEMA = build_schema(SETTINGS)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_new_race_shows_up_at_the_next_check(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock()
    catalog = Catalog(belu_sessions, check_seconds=1.0, clock=clock)
    assert [r.slug for r in await catalog.races()] == ["pkwkk-5304-2020"]
    async with belu_sessions.begin() as session:
        await session.execute(
            insert(Race).values(
                slug="pkwkk-5304-2024",
                kind="pkwkk",
                title="Pemilihan Bupati Belu 2024",
                region_code="5304",
                voting_day=date(2024, 11, 27),
                time_zone="Asia/Makassar",
                voter_cap_per_tps=600,
            )
        )
    assert [r.slug for r in await catalog.races()] == ["pkwkk-5304-2020"]  # within the check interval
    clock.now = 1.0
    assert [r.slug for r in await catalog.races()] == ["pkwkk-5304-2024", "pkwkk-5304-2020"]
    assert (await catalog.race_covering("530412")) == await catalog.race("pkwkk-5304-2024")


async def test_a_warm_breakdown_costs_one_statement(
    belu_engine: AsyncEngine, belu_sessions: async_sessionmaker[AsyncSession]
) -> None:
    catalog = Catalog(belu_sessions, check_seconds=3600)
    query = """{ region(code: "5304", race: "pkwkk-5304-2020") { name breakdown(source: SIREKAP) {
        region { code name } result { votes { paslon { shortName } votes } coverage { reported expected } } } } }"""
    statements: list[str] = []
    event.listen(belu_engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for _ in range(2):
        statements.clear()
        result = await SCHEMA.execute(query, context_value=Context(belu_sessions, SETTINGS, catalog=catalog))
        assert result.errors is None, result.errors
        assert result.data is not None
    rows = result.data["region"]["breakdown"]
    assert len(rows) == 12
    assert sum(r["result"]["coverage"]["expected"] for r in rows) == 426
    assert len(statements) == 1, statements
