"""A graphql-transport-ws client for tests of live updates: subscribe with the SUBSCRIBED handshake (the first event
says the subscription listens, so no test sleeps to let it register), then read events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

SELECTION = """kind resyncReason dataVersion race changes { source subjectCode version }
  region { code status results(source: CHASIL) { coverage { reported } votes { votes } } }"""


def subscription(selection: str = SELECTION) -> str:
    return "subscription($region: String!) { resultsChanged(region: $region, initial: true) { " + selection + " } }"


async def subscribe(
    base: str, region: str, *, selection: str = SELECTION, origin: str | None = None, handshake: bool = True
) -> Any:
    """An open websocket subscribed to `region`; with `handshake`, once its SUBSCRIBED event has arrived."""
    headers = {"Origin": origin} if origin else {}
    socket = await websockets.connect(
        base.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"], additional_headers=headers
    )
    await socket.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
    payload = {"query": subscription(selection), "variables": {"region": region}}
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    if handshake:
        first = await next_event(socket)
        assert (first["kind"], first["resyncReason"]) == ("RESYNC", "SUBSCRIBED"), first
    return socket


async def next_event(socket: Any, within: float = 10) -> dict[str, Any]:
    """The next event of the subscription (answering pings on the way)."""
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), within))
        if message["type"] == "ping":
            await socket.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["resultsChanged"]
        return event
