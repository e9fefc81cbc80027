"""How fast a 10 MB request body is refused, what it costs the server's memory, and whether a small query sent at the
same time waits for it.

Starts `pantau api` (one worker) on a Belu SQLite database, then, from this process on loopback: sends the headers of
a 10 MB POST with the first 64 KiB of its body and times the answer (413 expected); sends whole 10 MB bodies, each
with a `{ __typename }` POST in flight beside it; and reads the server's resident memory (VmRSS) before and after.
Baseline, same server and run: POST of `{ __typename }`.

    python bench/edge_body_limit.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port  # noqa: E402

TEN_MB = 10 * 1024 * 1024
SMALL = json.dumps({"query": "{ __typename }"}).encode()


def _head(length: int) -> bytes:
    return (
        f"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def _answer(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def _small(port: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(_head(len(SMALL)) + SMALL)
    assert await _answer(reader) == 200
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed


async def _refused_after_headers(port: int) -> float:
    """Headers of a 10 MB body and its first 64 KiB: the time until the 413 arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(_head(TEN_MB) + b'{"query": "#' + b"x" * 65536)
    status = await _answer(reader)
    elapsed = time.perf_counter() - started
    writer.close()
    assert status == 413, status
    return elapsed


async def _whole_body_beside_a_small_query(port: int) -> tuple[float, float]:
    """A client that pushes all 10 MB regardless, and a `{ __typename }` sent meanwhile: both latencies."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    writer.write(_head(TEN_MB))

    async def push() -> None:
        chunk = b"#" * 65536
        try:
            for _ in range(TEN_MB // len(chunk)):
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass  # the server answered and closed: the rest was never read

    pushing = asyncio.create_task(push())
    small = asyncio.create_task(_small(port))
    status = await _answer(reader)
    refused = time.perf_counter() - started
    small_seconds = await small
    pushing.cancel()
    writer.close()
    assert status == 413, status
    return refused, small_seconds


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _measure(port: int, pid: int, rounds: int) -> dict[str, float]:
    for _ in range(20):  # warm up
        await _small(port)
    baseline = [await _small(port) for _ in range(rounds)]
    rss_before = _rss_kib(pid)
    refused = [await _refused_after_headers(port) for _ in range(rounds)]
    beside = [await _whole_body_beside_a_small_query(port) for _ in range(max(3, rounds // 10))]
    rss_after = _rss_kib(pid)
    return {
        "baseline_p50_ms": statistics.median(baseline) * 1000,
        "refused_after_headers_p50_ms": statistics.median(refused) * 1000,
        "refused_after_headers_max_ms": max(refused) * 1000,
        "whole_10mb_refused_p50_ms": statistics.median(r for r, _ in beside) * 1000,
        "small_query_beside_10mb_max_ms": max(s for _, s in beside) * 1000,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_growth_kib": rss_after - rss_before,
        "bodies_sent": rounds + len(beside),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under a minute)")
    args = parser.parse_args()
    rounds = 20 if args.quick else 200
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        env = {**os.environ, "PANTAU_DATABASE_URL": url, "PANTAU_RATE_LIMIT": "0"}
        for command in (["db", "upgrade"], ["load", "belu-2020"]):
            subprocess.run([sys.executable, "-m", "pantau.cli", *command], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "api", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    asyncio.run(_small(port))
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the API did not start"
                    time.sleep(0.2)
            figures = asyncio.run(_measure(port, server.pid, rounds))
        finally:
            server.terminate()
            server.wait(timeout=20)
    print("baseline: POST { __typename } on the same server")
    for name, value in figures.items():
        print(f"  {name:<34} {value:>10.1f}")
    ratios = {"refused_vs_baseline_p50": figures["refused_after_headers_p50_ms"] / figures["baseline_p50_ms"]}
    print(json.dumps({"bench": "edge_body_limit", "mode": "quick" if args.quick else "full", "figures": figures,
                      "ratios": ratios}))  # fmt: skip


if __name__ == "__main__":
    main()
