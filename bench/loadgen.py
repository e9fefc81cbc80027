"""A load generator for the benchmarks, run in its own process: keep-alive HTTP/1.1 connections on loopback.

    python bench/loadgen.py PORT REQUESTS_JSON SECONDS CONNECTIONS   # prints {"rps", "p50_ms", "p99_ms", "statuses"}

REQUESTS_JSON holds a list of raw HTTP requests; each connection sends them in a seeded random order.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


def get(path: str, headers: dict[str, str] | None = None) -> str:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n"


def post_json(path: str, body: object) -> str:
    data = json.dumps(body)
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data.encode())}\r\n\r\n{data}"
    )


async def _connection(
    port: int, requests: list[bytes], stop_at: float, latencies: list[float], seed: int
) -> Counter[int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random(seed)
    statuses: Counter[int] = Counter()
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        writer.write(rng.choice(requests))
        head = await reader.readuntil(b"\r\n\r\n")
        statuses[int(head.split(b" ", 2)[1])] += 1
        lower = head.lower()
        if b"content-length:" in lower:
            await reader.readexactly(int(lower.split(b"content-length:")[1].split(b"\r\n")[0]))
        latencies.append(time.perf_counter() - started)
    writer.close()
    return statuses


async def _load(port: int, requests: list[bytes], seconds: float, connections: int) -> dict[str, object]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(_connection(port, requests, stop_at, latencies, seed) for seed in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    statuses: Counter[int] = sum(counts, Counter())
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "statuses": dict(statuses),
    }


def measure(port: int, requests: list[str], seconds: float, connections: int, workdir: Path) -> dict[str, object]:
    """Run one round from a separate process and return its figures."""
    path = workdir / f"requests-{port}.json"
    path.write_text(json.dumps(requests))
    out = subprocess.run(
        [sys.executable, __file__, str(port), str(path), str(seconds), str(connections)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def rounds(port: int, requests: list[str], n: int, seconds: float, connections: int, workdir: Path) -> dict[str, float]:
    """Warm up, then the median of `n` rounds."""
    measure(port, requests, min(2.0, seconds), connections, workdir)
    results = [measure(port, requests, seconds, connections, workdir) for _ in range(n)]
    for r in results:
        bad = {s: c for s, c in dict(r["statuses"]).items() if int(s) >= 400}  # type: ignore[call-overload]
        if bad:
            raise RuntimeError(f"error responses during the benchmark: {bad}")
    return {key: statistics.median(float(r[key]) for r in results) for key in ("rps", "p50_ms", "p99_ms")}  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, path: str, deadline_s: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {port}")


def main(argv: list[str]) -> None:
    port, path, seconds, connections = int(argv[0]), argv[1], float(argv[2]), int(argv[3])
    requests = [r.encode() for r in json.loads(Path(path).read_text())]
    try:
        import uvloop

        result = uvloop.run(_load(port, requests, seconds, connections))
    except ImportError:
        result = asyncio.run(_load(port, requests, seconds, connections))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
