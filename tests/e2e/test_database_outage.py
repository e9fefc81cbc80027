"""A database outage under a running `pantau api` (issue 13, case 8), on a PostgreSQL server the test owns and stops:
503 with Retry-After and a GraphQL error while it is down, one log line for the outage, /healthz saying so, and the
API back by itself once the server is."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.dataset.loader import load_dataset
from tests.databases import AFTER_THE_NIGHT
from tests.postgres_server import OwnPostgres, own_postgres
from tests.servers import free_port

pytestmark = pytest.mark.e2e

QUERIES = [
    '{ region(code: "5304") { name results(source: PLENO_KABUPATEN) { votes { votes } } } }',
    '{ tpsConnection(race: "pkwkk-5304-2020", first: 5) { totalCount edges { node { code } } } }',
]


async def _prepare(server: OwnPostgres) -> str:
    conn = await asyncpg.connect(server.admin_url)
    try:
        await conn.execute("CREATE DATABASE pantau")
    finally:
        await conn.close()
    url = server.url("pantau")
    await load_dataset(url, "belu-2020", until=AFTER_THE_NIGHT)
    return url


@contextmanager
def api_logging_to(url: str, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "--port", str(port)],
            env={**os.environ, "PANTAU_DATABASE_URL": url, "PANTAU_CACHE_VERSION_SECONDS": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)


def _ask(client: httpx.Client, query: str, method: str) -> httpx.Response:
    if method == "GET":
        return client.get("/graphql", params={"query": query})
    return client.post("/graphql", json={"query": query})


def test_an_outage_is_answered_503_logged_once_and_recovered_from(tmp_path: Path) -> None:
    with own_postgres() as server:
        url = asyncio.run(_prepare(server))
        log = tmp_path / "api.log"
        with api_logging_to(url, log) as base, httpx.Client(base_url=base, timeout=10) as client:
            for query in QUERIES:
                for method in ("GET", "POST"):
                    assert _ask(client, query, method).status_code == 200
            server.stop()
            for _ in range(20):
                for query in QUERIES:
                    for method in ("GET", "POST"):
                        answer = _ask(client, query, method)
                        assert answer.status_code == 503, answer.text
                        assert answer.headers["retry-after"] == "5"
                        assert answer.headers["cache-control"] == "no-store"
                        (error,) = answer.json()["errors"]
                        assert error["message"] == "the database is unreachable; retry in a few seconds"
            health = client.get("/healthz")
            assert health.status_code == 503
            assert health.json() == {"status": "unavailable", "database": "unreachable: connection refused"}
            server.start()
            deadline = time.monotonic() + 30
            while _ask(client, QUERIES[0], "POST").status_code != 200:
                assert time.monotonic() < deadline, "the API did not recover"
                time.sleep(0.2)
            for query in QUERIES:
                for method in ("GET", "POST"):
                    answer = _ask(client, query, method)
                    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
            healthy = client.get("/healthz").json()
            assert (healthy["status"], healthy["database"]) == ("ok", "ok")
        lines = log.read_text().splitlines()
    assert "Traceback" not in log.read_text()
    outage = [line for line in lines if "database unreachable" in line]
    assert len(outage) == 1, outage
    assert len([line for line in lines if "database reachable again" in line]) == 1, lines
