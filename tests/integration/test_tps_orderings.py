"""Every `tpsConnection` ordering pages through all of Belu's TPS, both ways, on SQLite and PostgreSQL (issue 13,
case 8: TURNOUT failed on PostgreSQL, its sort key a Decimal that no cursor could hold)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.settings import Settings
from api.storage.models import Source, Tps
from api.tallies.writer import RaceInfo, TallyInput, TallyWrite, record_tallies

PAGE = """query($order: TpsOrder!, $descending: Boolean!, $after: String) {
  tpsConnection(race: "pkwkk-5304-2020", orderBy: $order, descending: $descending, first: 97, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { code registeredVoters } } } }"""


async def _some_sirekap_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[int, int]]:
    """Sirekap numbers for every third TPS: (valid, total), with turnouts that differ and some that tie."""
    counted: dict[str, tuple[int, int]] = {}
    async with sessions.begin() as session:
        race = await RaceInfo.load(session, 1)
        paslon = sorted(race.paslon_ids)
        for i, tps in enumerate((await session.scalars(select(Tps).order_by(Tps.code))).all()[::3]):
            valid = 50 + (i * 37) % 200
            total = valid + i % 4
            tally = TallyInput({paslon[0]: valid - valid // 3, paslon[1]: valid // 3}, valid=valid, total=total)
            write = TallyWrite(tps.code, tally, tps_id=tps.id)
            await record_tallies(
                session, race, Source.SIREKAP, [write], received_at=datetime(2020, 12, 9, 6, tzinfo=UTC)
            )
            counted[tps.code] = (valid, total)
    return counted


def _key(order: str, code: str, registered: int, counted: dict[str, tuple[int, int]]) -> int | str:
    if order == "CODE":
        return code
    valid, total = counted.get(code, (-1, -1))
    if order == "VALID_VOTES":
        return valid
    return total * 10000 // registered if code in counted and registered else -1


@pytest.mark.parametrize("order", ["CODE", "VALID_VOTES", "TURNOUT"])
@pytest.mark.parametrize("descending", [False, True])
async def test_every_ordering_pages_through_every_tps(
    belu_sessions: async_sessionmaker[AsyncSession], order: str, descending: bool
) -> None:
    counted = await _some_sirekap_counts(belu_sessions)
    schema = build_schema(Settings())
    seen: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        variables = {"order": order, "descending": descending, "after": after}
        result = await schema.execute(PAGE, variable_values=variables, context_value=Context(belu_sessions, Settings()))
        assert result.errors is None, result.errors
        assert result.data is not None
        page = result.data["tpsConnection"]
        assert page["totalCount"] == 426
        seen.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    codes = [node["code"] for node in seen]
    assert len(codes) == 426 and len(set(codes)) == 426
    keys = [(_key(order, n["code"], n["registeredVoters"], counted), n["code"]) for n in seen]
    assert keys == sorted(keys, reverse=descending)
