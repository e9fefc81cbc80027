"""Operations over the websocket (issue 13, case 1), with a real websocket client: over graphql-transport-ws a
mutation works exactly as over POST (token from connection_init, NotAllowed without one, idempotency, the answer
delivered); the older graphql-ws carries subscriptions only and refuses a mutation before anything is written; every
operation spends the client's rate-limit budget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from api.app import create_app
from api.settings import Settings
from tests.integration.test_writes_http import SUBMIT, TOKENS, TPS, WriteApi, make_tokens, tps_input
from tests.servers import serving_here

HEADLINE = '{ region(code: "5304") { name results(source: PLENO_KABUPATEN) { votes { votes } margin } } }'


class Socket:
    """One websocket connection speaking graphql-transport-ws or the older graphql-ws."""

    def __init__(self, connection: Any, protocol: str) -> None:
        self.connection = connection
        self.protocol = protocol
        self.ids = 0

    @classmethod
    async def open(cls, base: str, protocol: str, init: dict[str, Any] | None = None) -> Socket:
        connection = await websockets.connect(base.replace("http", "ws") + "/graphql", subprotocols=[protocol])
        await connection.send(json.dumps({"type": "connection_init", "payload": init or {}}))
        assert json.loads(await asyncio.wait_for(connection.recv(), 10))["type"] == "connection_ack"
        return cls(connection, protocol)

    async def run(self, query: str, **variables: Any) -> dict[str, Any]:
        """Send one operation and return its single result (`next`/`data` payload, or the `error` payload)."""
        self.ids += 1
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        message = {"id": str(self.ids), "type": kind, "payload": {"query": query, "variables": variables}}
        await self.connection.send(json.dumps(message))
        result: dict[str, Any] | None = None
        while True:
            answer = json.loads(await asyncio.wait_for(self.connection.recv(), 10))
            if answer["type"] in ("ping", "ka"):
                continue
            assert answer["id"] == str(self.ids), answer
            if answer["type"] == "error":  # the operation's last message
                return {"errors": answer["payload"]}
            if answer["type"] == "complete":
                assert result is not None
                return result
            assert answer["type"] in ("next", "data") and result is None, answer
            result = answer["payload"]

    async def close(self) -> None:
        await self.connection.close()


@pytest.fixture
async def api(belu_database_url: str) -> AsyncIterator[WriteApi]:
    tokens = await make_tokens(belu_database_url, TOKENS)
    app = create_app(Settings(database_url=belu_database_url, rate_limit_per_minute=0))
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield WriteApi(base, belu_database_url, tokens, client)


async def test_a_mutation_over_the_websocket_works_as_over_post(api: WriteApi) -> None:
    socket = await Socket.open(api.base, "graphql-transport-ws", {"Authorization": f"Bearer {api.tokens['operator']}"})
    try:
        read = (
            f'{{ tps(code: "{TPS}") {{ results(source: CHASIL) {{ valid }} }} '
            'region(code: "530412") { results(source: CHASIL) { coverage { reported } } } }'
        )
        earlier = (await socket.run(read))["data"]
        assert earlier["tps"]["results"] is None and earlier["region"]["results"]["coverage"]["reported"] == 0
        before = await api.counts()
        first = await socket.run(SUBMIT, input=tps_input(), key="ws-1")
        assert "errors" not in first, first
        accepted = first["data"]["w"]
        assert (accepted["__typename"], accepted["subjectCode"], accepted["version"]) == ("WriteAccepted", TPS, 1)
        # the client retries, as clients do when an answer seems lost: the same write, answered as a replay
        again = (await socket.run(SUBMIT, input=tps_input(), key="ws-1"))["data"]["w"]
        assert (again["__typename"], again["replayed"], again["version"]) == ("WriteAccepted", True, 1)
        tallies, entries = await api.counts()
        assert (tallies, entries) == (before[0] + 1, before[1] + 1)
        # and it reads its own write on the same connection, not what the connection read before
        after = await socket.run(read)
        assert after["data"]["tps"]["results"]["valid"] == tps_input()["valid"]
        assert after["data"]["region"]["results"]["coverage"]["reported"] == 1
    finally:
        await socket.close()


async def test_a_mutation_over_the_websocket_without_a_token_is_not_allowed(api: WriteApi) -> None:
    socket = await Socket.open(api.base, "graphql-transport-ws")
    try:
        before = await api.counts()
        answer = (await socket.run(SUBMIT, input=tps_input()))["data"]["w"]
        assert answer["__typename"] == "NotAllowed" and "bearer token" in answer["message"]
        assert await api.counts() == before
    finally:
        await socket.close()


async def test_the_older_protocol_refuses_a_mutation_before_writing(
    api: WriteApi, caplog: pytest.LogCaptureFixture
) -> None:
    socket = await Socket.open(api.base, "graphql-ws", {"Authorization": f"Bearer {api.tokens['operator']}"})
    try:
        before = await api.counts()
        refused = await socket.run(SUBMIT, input=tps_input())
        assert refused["errors"]["message"].startswith("the graphql-ws protocol carries subscriptions only")
        assert await api.counts() == before
        assert all(r.exc_info is None for r in caplog.records)
    finally:
        await socket.close()


async def test_the_token_may_be_nested_in_headers(api: WriteApi) -> None:
    init = {"headers": {"Authorization": f"Bearer {api.tokens['operator']}"}}
    socket = await Socket.open(api.base, "graphql-transport-ws", init)
    try:
        answer = (await socket.run(SUBMIT, input=tps_input()))["data"]["w"]
        assert answer["__typename"] == "WriteAccepted", answer
    finally:
        await socket.close()


async def test_websocket_operations_spend_the_same_budget(belu_database_url: str) -> None:
    # HEADLINE costs 6: two fit in a budget of 15 whether sent by POST or over the websocket, the third does not.
    app = create_app(Settings(database_url=belu_database_url, rate_limit_per_minute=15))
    async with serving_here(app) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.post("/graphql", json={"query": HEADLINE})).status_code == 200
        socket = await Socket.open(base, "graphql-transport-ws")
        try:
            assert "errors" not in await socket.run(HEADLINE)
            refused = await socket.run(HEADLINE)
            assert refused["errors"][0]["message"] == "rate limit exceeded: this query costs 6; retry later"
            assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        finally:
            await socket.close()


async def test_a_long_document_over_the_websocket_is_refused(belu_database_url: str) -> None:
    app = create_app(Settings(database_url=belu_database_url, max_document_bytes=1000))
    async with serving_here(app) as base:
        socket = await Socket.open(base, "graphql-transport-ws")
        try:
            refused = await socket.run("{ __typename }" + "#" * 2000)
            assert refused["errors"][0]["message"] == "the document is 2014 characters long; at most 1000 are accepted"
        finally:
            await socket.close()
