"""The process's catalog: what rarely changes is read once, and a new race still shows up."""

from __future__ import annotations

import asyncio
from datetime import date
from types import TracebackType
from typing import Any, cast

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.read.catalog import Catalog
from api.settings import Settings
from api.storage.models import Race

SETTINGS = Settings()
SCHEMA = build_schema(SETTINGS)


class HeldCheck:
    """Sessions whose structure-version check hands back its answer only once another reader has loaded the races:
    the moment a check lands while others read."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.checking = asyncio.Event()
        self.loaded = asyncio.Event()

    def __call__(self) -> _HeldSession:
        return _HeldSession(self.sessions(), self)


class _HeldSession:
    def __init__(self, session: AsyncSession, held: HeldCheck) -> None:
        self.session = session
        self.held = held

    async def __aenter__(self) -> _HeldSession:
        await self.session.__aenter__()
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.session.__aexit__(*exc)

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await self.session.execute(statement, *args, **kwargs)
        text = str(statement)
        if "max(" in text:
            self.held.checking.set()
            await self.held.loaded.wait()
        elif "FROM paslon" in text:
            self.held.loaded.set()
        return result


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


async def test_a_check_landing_during_a_load_leaves_no_race_without_its_paslon(
    belu_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with belu_sessions() as session:
        race_id = await session.scalar(select(Race.id))
    assert race_id is not None
    held = HeldCheck(belu_sessions)
    catalog = Catalog(cast(async_sessionmaker[AsyncSession], held))
    checking = asyncio.create_task(catalog.races())
    await held.checking.wait()
    # This reader finds the check under way, so it loads the races and their paslon itself; the check lands just
    # after, and drops what that reader loaded.
    assert [p.number for p in await catalog.paslon(race_id)] == [1, 2]
    assert [r.slug for r in await checking] == ["pkwkk-5304-2020"]
