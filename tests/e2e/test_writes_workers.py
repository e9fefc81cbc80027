"""`pantau api --workers 2` as a real process: a subscriber on one worker hears of writes applied by the other.

Writes name the worker that applied them (the Pantau-Worker header); the test writes until both workers have applied
one, and the subscriber, whichever worker holds its websocket, must receive every one of them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import pytest

from sirekap.belu import belu_2020
from tests.integration.test_writes_http import SUBMIT, tps_input
from tests.live import next_event, subscribe
from tests.servers import api_process

pytestmark = pytest.mark.e2e


def admin_token(database_url: str) -> str:
    """A token made the way an administrator makes one: `pantau token create`."""
    made = subprocess.run(
        [sys.executable, "-m", "pantau.cli", "token", "create", "--role", "admin", "--name", "e2e"],
        env={**os.environ, "PANTAU_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


async def hear_writes_from_both_workers(base: str, token: str) -> None:
    socket = await subscribe(base, "5304")  # listening once the SUBSCRIBED event has come
    async with socket:
        heard: set[str] = set()

        async def listen() -> None:
            while True:
                event = await next_event(socket, within=60)
                assert event["kind"] == "CHANGES", event  # a resync here would mean changes were missed
                heard.update(c["subjectCode"] for c in event["changes"])

        listener = asyncio.create_task(listen())
        applied: dict[str, str] = {}  # TPS code -> pid of the worker that applied it
        forms = iter(belu_2020().tps)
        deadline = time.monotonic() + 60
        try:
            while len(set(applied.values())) < 2 or not set(applied) <= heard:
                assert time.monotonic() < deadline, f"applied by {applied}, heard {sorted(heard)}"
                if listener.done():
                    listener.result()  # raises what went wrong with the subscription
                if len(set(applied.values())) < 2:
                    form = next(forms, None)
                    assert form is not None, f"all {len(applied)} writes went to one worker: {set(applied.values())}"
                    code = form.code
                    # a new connection each time, so the two workers take turns accepting
                    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                        answer = await client.post(
                            "/graphql",
                            json={"query": SUBMIT, "variables": {"input": tps_input(code)}},
                            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                        )
                    result: dict[str, Any] = answer.json()["data"]["w"]
                    assert result["__typename"] == "WriteAccepted", result
                    applied[code] = answer.headers["Pantau-Worker"]
                    # paced, so a second worker still starting up has the time to take its share
                    await asyncio.sleep(0.05)
                else:
                    await asyncio.sleep(0.05)  # polling for the events of the last writes
        finally:
            listener.cancel()
        assert len(set(applied.values())) == 2 and set(applied) <= heard


@pytest.mark.parametrize("via", ["database", "redis"])
def test_a_subscriber_on_one_worker_hears_writes_on_the_other(belu_database_url: str, backend: str, via: str) -> None:
    env = {"PANTAU_DATABASE_URL": belu_database_url, "PANTAU_RATE_LIMIT": "0"}
    if via == "redis":
        if not os.environ.get("PANTAU_TEST_REDIS_URL"):
            pytest.skip("PANTAU_TEST_REDIS_URL not set")
        env |= {"PANTAU_REDIS_URL": os.environ["PANTAU_TEST_REDIS_URL"], "PANTAU_REDIS_PREFIX": uuid.uuid4().hex}
    elif backend == "sqlite":
        pytest.skip("SQLite cannot notify other processes: several workers on SQLite need Redis")
    token = admin_token(belu_database_url)
    with api_process(env, "--workers", "2") as base:
        asyncio.run(hear_writes_from_both_workers(base, token))
