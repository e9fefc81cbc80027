"""How fast does the simulator serve national TPS documents? (requests/s and p99 over loopback)

Starts `pantau sim --scenario national` (823,236 TPS) and, as the baseline, a plain uvicorn+httptools ASGI app that
returns one fixed TPS document's bytes; loads each from a separate process (an asyncio keep-alive HTTP/1.1 client
over N connections, random TPS paths), warm-up first, then the median of several rounds.

    python bench/sim_serve.py [--quick] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402

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


def bench(
    label: str, port: int, paths: list[str], n: int, seconds: float, connections: int, workdir: Path
) -> dict[str, float]:
    figures = loadgen.rounds(port, [loadgen.get(p) for p in paths], n, seconds, connections, workdir)
    print(f"  {label:<10} {figures['rps']:8.0f} req/s   p99 {figures['p99_ms']:6.1f} ms", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 s (under a minute)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tps", type=int, default=823_236)
    ns = parser.parse_args()
    rounds, seconds = (3, 3.0) if ns.quick else (5, 10.0)

    from sirekap.codes import url_path
    from sirekap.sim.national_tree import build_tree

    tree = build_tree(ns.tps, 2024)
    rng = random.Random(1)
    paths = [f"/pemilu/hhcw/ppwp/{url_path(tree.tps_at(rng.randrange(tree.tps_total)))}.json" for _ in range(20_000)]
    workdir = Path(subprocess.check_output(["mktemp", "-d"], text=True).strip())
    free_port, wait_for = loadgen.free_port, loadgen.wait_for
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
        simulator = bench("simulator", sim_port, paths, rounds, seconds, ns.connections, workdir)
        plain = bench("baseline", base_port, paths, rounds, seconds, ns.connections, workdir)
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
