"""How fast does the simulator serve national TPS documents? (requests/s and p99 over loopback)

Starts `pantau sim --scenario national` (823,236 TPS) and, as the baseline, a plain uvicorn+httptools ASGI app that
returns one fixed TPS document's bytes; loads each from a separate process (an asyncio keep-alive HTTP/1.1 client
over N connections, random TPS paths), warm-up first, then the median of several rounds.

    python bench/sim_serve.py [--quick] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASELINE_APP = """
import sys, uvicorn
body = open(sys.argv[2], 'rb').read()
headers = [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]
async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    await send({'type': 'http.response.start', 'status': 200, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body})
uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), http='httptools', loop='uvloop', log_level='warning',
            access_log=False, lifespan='off', proxy_headers=False)
"""


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


# --- the load generator (its own process) ----------------------------------------------------------------------


async def _connection(port: int, paths: list[str], stop_at: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    rng = random.Random(id(latencies) + len(latencies))
    while time.perf_counter() < stop_at:
        request = f"GET {rng.choice(paths)} HTTP/1.1\r\nHost: sim\r\n\r\n".encode()
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        done += 1
    writer.close()
    return done


async def _load(port: int, paths: list[str], seconds: float, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    counts = await asyncio.gather(*(_connection(port, paths, stop_at, latencies) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": sum(counts) / elapsed, "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


def load_main(port: int, paths_file: str, seconds: float, connections: int) -> None:
    paths = Path(paths_file).read_text().split()
    try:
        import uvloop

        result = uvloop.run(_load(port, paths, seconds, connections))
    except ImportError:
        result = asyncio.run(_load(port, paths, seconds, connections))
    print(json.dumps(result))


def measure(port: int, paths_file: Path, seconds: float, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--load", str(port), str(paths_file), str(seconds), str(connections)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


# --- the benchmark ----------------------------------------------------------------------------------------------


def bench(label: str, port: int, paths_file: Path, rounds: int, seconds: float, connections: int) -> dict[str, float]:
    measure(port, paths_file, min(2.0, seconds), connections)  # warm-up
    results = [measure(port, paths_file, seconds, connections) for _ in range(rounds)]
    for i, r in enumerate(results, start=1):
        print(f"  {label:<10} round {i}: {r['rps']:8.0f} req/s   p99 {r['p99_ms']:6.1f} ms", flush=True)
    return {
        "rps": statistics.median(r["rps"] for r in results),
        "p99_ms": statistics.median(r["p99_ms"] for r in results),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 s (under a minute)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tps", type=int, default=823_236)
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.load:
        load_main(int(ns.load[0]), ns.load[1], float(ns.load[2]), int(ns.load[3]))
        return 0
    rounds, seconds = (3, 3.0) if ns.quick else (5, 10.0)

    from sirekap.codes import url_path
    from sirekap.sim.national_tree import build_tree

    tree = build_tree(ns.tps, 2024)
    rng = random.Random(1)
    paths = [f"/pemilu/hhcw/ppwp/{url_path(tree.tps_at(rng.randrange(tree.tps_total)))}.json" for _ in range(20_000)]
    workdir = Path(subprocess.check_output(["mktemp", "-d"], text=True).strip())
    paths_file = workdir / "paths.txt"
    paths_file.write_text("\n".join(paths))

    sim_port, base_port = free_port(), free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "sirekap.sim.cli", "--scenario", "national", "--tps", str(ns.tps), "--speed", "0",
         "--port", str(sim_port), "--admin-port", str(free_port()), "--log-level", "warning"],
        cwd=ROOT,
    )  # fmt: skip
    baseline = None
    try:
        wait_for(sim_port, paths[0])
        body_file = workdir / "tps.json"
        import httpx

        body_file.write_bytes(httpx.get(f"http://127.0.0.1:{sim_port}{paths[0]}").content)
        baseline = subprocess.Popen([sys.executable, "-c", BASELINE_APP, str(base_port), str(body_file)], cwd=ROOT)
        wait_for(base_port, "/")
        print(f"national TPS documents, {ns.connections} keep-alive connections, {rounds} rounds of {seconds:.0f} s")
        simulator = bench("simulator", sim_port, paths_file, rounds, seconds, ns.connections)
        plain = bench("baseline", base_port, paths_file, rounds, seconds, ns.connections)
    finally:
        for process in (sim, baseline):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
    print()
    print(f"{'server':<48} {'req/s':>8} {'p99 ms':>8}")
    print(f"{'simulator (national TPS documents)':<48} {simulator['rps']:8.0f} {simulator['p99_ms']:8.1f}")
    print(f"{'baseline: plain uvicorn app, same bytes':<48} {plain['rps']:8.0f} {plain['p99_ms']:8.1f}")
    summary = {
        "bench": "sim_serve",
        "mode": "quick" if ns.quick else "full",
        "figures": {
            "sim_rps": round(simulator["rps"]),
            "sim_p99_ms": round(simulator["p99_ms"], 2),
            "baseline_rps": round(plain["rps"]),
            "baseline_p99_ms": round(plain["p99_ms"], 2),
        },
        "ratios": {"sim_vs_baseline_rps": round(simulator["rps"] / plain["rps"], 3)},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
