"""`pantau api --workers 2` as a real process: every worker answers, and answers right."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

QUERY = '{ region(code: "5304") { tpsTotal results(source: PLENO_KABUPATEN) { votes { votes } } } }'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_process(database_url: str, *args: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PANTAU_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
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


def test_two_workers_answer_correctly(belu_database_url: str) -> None:
    with api_process(belu_database_url, "--workers", "2") as base, httpx.Client(base_url=base) as client:
        answers = [client.post("/graphql", json={"query": QUERY}, headers={"Connection": "close"}) for _ in range(30)]
    for answer in answers:
        assert answer.status_code == 200
        region = answer.json()["data"]["region"]
        assert region == {"tpsTotal": 426, "results": {"votes": [{"votes": 50376}, {"votes": 50623}]}}
