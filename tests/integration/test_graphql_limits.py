"""Every safety limit rejects with a clear message; internal errors are masked; validation is cached."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.extensions.validation_cache import _get_validate_cache

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker

SETTINGS = Settings(max_depth=6, max_aliases=3, max_tokens=200)


async def errors_of(sessions: async_sessionmaker[AsyncSession], query: str, settings: Settings = SETTINGS) -> list[str]:
    result = await build_schema(settings).execute(query, context_value=Context(sessions, settings))
    return [e.message for e in result.errors or []]


def _deep(levels: int) -> str:
    return '{ region(code: "530412") { ' + "parent { " * levels + "code" + " }" * levels + " } }"


async def test_depth_limit(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    assert await errors_of(belu_sessions, _deep(3)) == []
    assert await errors_of(belu_sessions, _deep(8)) == ["'anonymous' exceeds maximum operation depth of 6"]


async def test_alias_limit(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    query = "{ " + " ".join(f'r{i}: region(code: "5304") {{ code }}' for i in range(4)) + " }"
    assert await errors_of(belu_sessions, query) == ["4 aliases found. Allowed: 3"]


async def test_token_limit(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    query = "{ races { " + "slug " * 300 + "} }"
    assert await errors_of(belu_sessions, query) == [
        "Syntax Error: Document contains more than 200 tokens. Parsing aborted."
    ]


async def test_introspection_only_in_development(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    query = "{ __schema { queryType { name } } }"
    assert await errors_of(belu_sessions, query, replace(SETTINGS, development=True)) == []
    messages = await errors_of(belu_sessions, query)
    assert messages and "introspection" in messages[0].lower()


async def test_internal_errors_are_masked(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)  # no tables: every query fails inside the database driver
    try:
        messages = await errors_of(sessionmaker(engine), '{ region(code: "5304") { name } }')
    finally:
        await engine.dispose()
    assert messages == ["Unexpected error."]


async def test_validation_errors_stay_readable(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    messages = await errors_of(belu_sessions, "{ region(code: 5304) { nosuch } }")
    assert any("Cannot query field 'nosuch' on type 'Region'." in m for m in messages)


async def test_a_repeated_query_is_validated_once_with_the_limits_on(
    belu_sessions: async_sessionmaker[AsyncSession],
) -> None:
    schema = build_schema(SETTINGS)
    cache = _get_validate_cache(512)
    query = '{ region(code: "5304") { name tpsTotal } }'
    first = await schema.execute(query, context_value=Context(belu_sessions, SETTINGS))
    before = cache.cache_info()
    second = await schema.execute(query, context_value=Context(belu_sessions, SETTINGS))
    after = cache.cache_info()
    assert first.errors is None and second.errors is None
    assert after.hits == before.hits + 1
    assert after.misses == before.misses


@pytest.mark.parametrize("first", [-1, 101])
async def test_page_size_limit(belu_sessions: async_sessionmaker[AsyncSession], first: int) -> None:
    query = f'{{ tpsConnection(race: "pkwkk-5304-2020", first: {first}) {{ totalCount }} }}'
    assert await errors_of(belu_sessions, query) == ["first must be between 0 and 100"]


async def test_breadth_limit(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    # Within the depth limit and a dozen fields, yet 1,728 regions resolved: about a second on Belu before.
    fan_out = "{ races { region { children { parent { children { parent { children { name status } } } } } } } }"
    settings = replace(SETTINGS, max_depth=10, max_tokens=2000)
    assert await errors_of(belu_sessions, fan_out, settings) == [
        "this query would resolve more than 15000 values (lists multiplied out): ask for fewer nested lists or smaller"
        " pages"
    ]
    page = '{ tpsConnection(race: "pkwkk-5304-2020", first: 100) { edges { node { code registeredVoters } } } }'
    assert await errors_of(belu_sessions, page, settings) == []
    huge_page = "{ auditLog(first: 165825) { id action subjectCode } }"
    assert "would resolve more than 15000 values" in (await errors_of(belu_sessions, huge_page, settings))[0]
