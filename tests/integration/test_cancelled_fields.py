"""A field that fails cancels its siblings (graphql-core does): their reads still finish and give their connections
back to the pool, so a hostile or mistaken query cannot drain it."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.settings import Settings
from api.storage.db import sessionmaker

# `tpsConnection` is non-null: its error nulls the whole answer and cancels the breakdowns still reading.
DOCUMENT = """{
  a: region(code: "5304") { breakdown(source: SIREKAP) { result { valid } } comparison { claims { valid } } }
  b: region(code: "530412") { breakdown(source: SIREKAP) { result { valid } } }
  c: tpsConnection(race: "no-such-race") { totalCount }
}"""


async def test_reads_of_cancelled_fields_return_their_connections(belu_engine: AsyncEngine) -> None:
    settings = Settings()
    schema = build_schema(settings)
    sessions = sessionmaker(belu_engine)
    for _ in range(20):
        # A new context each time: no DataLoader answers from what an earlier round read.
        result = await schema.execute(DOCUMENT, context_value=Context(sessions, settings))
        assert result.data is None and result.errors
        assert result.errors[0].message == "no race 'no-such-race'"
    await asyncio.sleep(0.5)  # reads cut loose from their callers finish
    assert belu_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
