"""Clients already subscribed keep hearing changes after the server's feed of changes was cut: a PostgreSQL server of
the test's own is restarted, a Redis connection is killed. Each subscriber gets a RESYNC (RECONNECTED), then the
changes that follow. And the sync catches up within one interval of its database coming back."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.auth.tokens import Role
from api.dataset.loader import load_dataset
from api.settings import Settings
from api.storage.migrate import upgrade
from api.sync.election import sync_lock_for
from sirekap.belu import belu_2020
from sirekap.sim.testing import running_simulator
from tests.integration.test_sync_schedule import AT, FakeSleep, follow_until_stopped, stored_passes
from tests.integration.test_writes_http import SUBMIT, make_tokens, tps_input
from tests.live import next_event, subscribe
from tests.postgres_server import OwnPostgres, own_postgres
from tests.servers import serving_here

KOTA = [t.code for t in belu_2020().tps if t.code.startswith("530412")]


@pytest.fixture(scope="module")
def postgres() -> Iterator[OwnPostgres]:
    with own_postgres() as server:
        yield server


async def belu(url: str) -> str:
    """Belu loaded, and an operator token for Kota Atambua."""
    await upgrade(url)
    await load_dataset(url, "belu-2020")
    return (await make_tokens(url, {"operator": (Role.OPERATOR, "530412", None)}))["operator"]


async def write(base: str, token: str, code: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        answer = await client.post(
            "/graphql",
            json={"query": SUBMIT, "variables": {"input": tps_input(code)}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.json()["data"]["w"]["__typename"] == "WriteAccepted", answer.text


async def write_until_accepted(base: str, token: str, code: str) -> None:
    """Writes while the database comes back up: refused attempts are retried until one is accepted."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await write(base, token, code)
            return
        except (AssertionError, httpx.HTTPError, KeyError, TypeError):
            assert time.monotonic() < deadline, "the write never got through"
            await asyncio.sleep(0.2)


async def resync_then_changes(base: str, token: str, cut: Callable[[], Awaitable[object]]) -> None:
    """A subscriber hears a write; the feed is cut and comes back; it hears a RESYNC, then the next write."""
    socket = await subscribe(base, "530412")
    try:
        await write(base, token, KOTA[0])
        assert [c["subjectCode"] for c in (await next_event(socket))["changes"]] == KOTA[:1]

        await cut()
        resync = await next_event(socket, within=60)  # the listener came back by itself
        assert (resync["kind"], resync["resyncReason"]) == ("RESYNC", "RECONNECTED")
        assert resync["region"]["results"]["coverage"]["reported"] == 1

        await write_until_accepted(base, token, KOTA[1])
        # The write is listed, or covered by a later resync (a connection may be cut twice: redis-py reconnects once
        # by itself, then gives up and the listener reconnects; an unread resync absorbs what comes after it).
        while True:
            event = await next_event(socket, within=30)
            if event["kind"] == "CHANGES" or event["region"]["results"]["coverage"]["reported"] == 2:
                break
            assert event["resyncReason"] == "RECONNECTED", event
        assert event["kind"] == "RESYNC" or [c["subjectCode"] for c in event["changes"]] == KOTA[1:2]
        assert event["region"]["results"]["coverage"]["reported"] == 2
        assert event["dataVersion"] > resync["dataVersion"]
    finally:
        await socket.close()


async def test_subscribers_hear_a_resync_after_postgresql_restarts_then_the_changes(postgres: OwnPostgres) -> None:
    url = await postgres.create_database()
    token = await belu(url)

    async def restart() -> None:
        postgres.stop()
        postgres.start()

    async with serving_here(create_app(Settings(database_url=url, rate_limit_per_minute=0))) as base:
        await resync_then_changes(base, token, restart)


@pytest.mark.skipif(not os.environ.get("PANTAU_TEST_REDIS_URL"), reason="PANTAU_TEST_REDIS_URL not set")
async def test_subscribers_hear_a_resync_after_the_redis_connection_drops(belu_database_url: str) -> None:
    token = (await make_tokens(belu_database_url, {"operator": (Role.OPERATOR, "530412", None)}))["operator"]
    redis_url = os.environ["PANTAU_TEST_REDIS_URL"]
    settings = Settings(
        database_url=belu_database_url, redis_url=redis_url, redis_prefix=uuid.uuid4().hex, rate_limit_per_minute=0
    )

    async def drop() -> None:
        assert await _kill_subscribers(redis_url, settings.redis_prefix) >= 1

    async with serving_here(create_app(settings)) as base:
        await resync_then_changes(base, token, drop)


async def test_the_sync_catches_up_within_one_interval_of_its_database_coming_back(postgres: OwnPostgres) -> None:
    url = await postgres.create_database()
    await upgrade(url)
    with running_simulator("belu-2020", at=AT) as sim:
        # the database goes away during the first wait and is back during the fifth
        sleep = FakeSleep(stop_at=6, hooks={1: postgres.stop, 5: postgres.start})
        await follow_until_stopped(url, sim.base_url, sleep, sync_lock_for(url))
    assert sleep.waits[0] <= 60 and [round(w) for w in sleep.waits[1:5]] == [5, 10, 20, 40]
    # back during a wait of 40 s (under the 60 s interval), and the next pass synced and recorded itself
    assert await stored_passes(url) == {"success": 2, "failure": 0}


async def _kill_subscribers(redis_url: str, prefix: str) -> int:
    """Kill the connections subscribed to this test's channel (only this test listens on its prefix)."""
    redis = Redis.from_url(redis_url)
    try:
        listening: dict[bytes, int] = await redis.pubsub_numsub(f"{prefix}:changes")  # type: ignore[assignment]
        assert dict(listening).get(f"{prefix}:changes".encode(), 0) >= 1
        killed = 0
        for client in await redis.client_list(_type="pubsub"):
            if client.get("db") == redis_url.rsplit("/", 1)[-1] and int(client.get("sub", 0)) >= 1:
                killed += int(await redis.execute_command("CLIENT", "KILL", "ID", client["id"]))
        return killed
    finally:
        await redis.aclose()
