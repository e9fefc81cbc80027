"""Five canonical frontend queries against the API, next to a plain endpoint returning the same JSON.

For each query: requests/s and p50/p99 of one API worker, and of the baseline, a plain uvicorn app that returns the
same response bytes, measured in the same run from a separate load-generator process. The headline is asked by GET
(cacheable: answered from the ETag-keyed response cache); the others by POST to a worker whose answer cache is off
(uncached: executed every time). `*_persisted` rows ask the TPS page and the breakdown by POST with only their
persisted-query hash, from a second worker with the answer cache on: what a frontend using APQ gets.

    python bench/api_queries.py [--quick] [--tps 823236] [--admin-url postgresql://postgres@127.0.0.1:5432/test]

Quick: Belu and a 20,000-TPS national race on SQLite. Full: Belu and the 823,236-TPS national race on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.national_data import SLUG as NATIONAL_SLUG  # noqa: E402
from bench.national_data import fill  # noqa: E402

RESULT = "votes { paslon { number } votes share } valid coverage { reported expected ratio } leader { number } margin"
BASELINE_APP = """
import json, sys, uvicorn
bodies = {k: v.encode() for k, v in json.load(open(sys.argv[2])).items()}
async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    while (await receive()).get('more_body'):
        pass
    body = bodies[scope['query_string'].decode()]
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]})
    await send({'type': 'http.response.body', 'body': body})
uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), http='httptools', loop='uvloop', log_level='warning',
            access_log=False, lifespan='off')
"""


def queries(race: str, kabupaten: str, kecamatan: str) -> dict[str, str]:
    return {
        "headline": f'{{ race(slug: "{race}") {{ title region {{ name status comparison {{ official {{ {RESULT} }} '
        f"results {{ source {RESULT} asOf {{ local }} }} claims {{ claimant {{ number }} {RESULT} }} }} }} }} }}",
        "kabupaten_breakdown": f'{{ region(code: "{kabupaten}", race: "{race}") {{ name breakdown(source: SIREKAP) '
        f"{{ region {{ code name }} result {{ {RESULT} }} }} }} }}",
        "kecamatan_breakdown": f'{{ region(code: "{kecamatan}", race: "{race}") {{ name breakdown(source: SIREKAP) '
        f"{{ region {{ code name }} result {{ {RESULT} }} }} }} }}",
        "tps_page": f'{{ tpsConnection(race: "{race}", region: "{kabupaten}", first: 100) {{ totalCount '
        "pageInfo { hasNextPage endCursor } edges { node { code number registeredVoters } } } }",
        "comparison": f'{{ region(code: "{kecamatan}", race: "{race}") {{ comparison {{ official {{ source }} '
        f"results {{ source status {RESULT} }} claims {{ {RESULT} }} differences {{ source paslon {{ number }} "
        "difference } } } }",
    }


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bench_dataset(label: str, database_url: str, race: str, kab: str, kec: str, ns: argparse.Namespace, workdir: Path):
    api_port, cached_port, base_port = loadgen.free_port(), loadgen.free_port(), loadgen.free_port()
    env = {"PATH": "/usr/bin:/bin", "PANTAU_DATABASE_URL": database_url, "PANTAU_RATE_LIMIT": "0"}
    api = start([sys.executable, "-m", "api", "--port", str(api_port)], {**env, "PANTAU_ANSWER_CACHE_SECONDS": "0"})
    cached = start([sys.executable, "-m", "api", "--port", str(cached_port)], env)
    baseline = None
    figures: dict[str, dict[str, float]] = {}
    try:
        loadgen.wait_for(api_port, "/healthz")
        loadgen.wait_for(cached_port, "/healthz")
        requests: dict[str, tuple[int, str]] = {}
        bodies: dict[str, str] = {}
        for name, query in queries(race, kab, kec).items():
            if name == "headline":
                path = "/graphql?" + urllib.parse.urlencode({"query": query})
                requests[name] = (api_port, loadgen.get(path))
                answer = httpx.get(f"http://127.0.0.1:{api_port}{path}")
            else:
                requests[name] = (api_port, loadgen.post_json("/graphql", {"query": query}))
                answer = httpx.post(f"http://127.0.0.1:{api_port}/graphql", json={"query": query})
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text[:500]
            bodies[name] = answer.text
            if name in ("tps_page", "kabupaten_breakdown"):
                persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}}
                registered = httpx.post(
                    f"http://127.0.0.1:{cached_port}/graphql", json={"query": query, "extensions": persisted}
                )
                assert registered.text == answer.text, registered.text[:500]
                requests[f"{name}_persisted"] = (cached_port, loadgen.post_json("/graphql", {"extensions": persisted}))
                bodies[f"{name}_persisted"] = answer.text
        (workdir / "bodies.json").write_text(json.dumps(bodies))
        baseline = start([sys.executable, "-c", BASELINE_APP, str(base_port), str(workdir / "bodies.json")])
        loadgen.wait_for(base_port, "/?headline")
        for name, (port, request) in requests.items():
            api_figures = loadgen.rounds(port, [request], ns.rounds, ns.seconds, ns.connections, workdir)
            plain = loadgen.rounds(
                base_port, [loadgen.get(f"/?{name}")], ns.rounds, ns.seconds, ns.connections, workdir
            )
            figures[name] = {
                "rps": api_figures["rps"],
                "p50_ms": api_figures["p50_ms"],
                "p99_ms": api_figures["p99_ms"],
                "baseline_rps": plain["rps"],
                "baseline_p99_ms": plain["p99_ms"],
            }
            print(
                f"{label:<9} {name:<29} {api_figures['rps']:8.0f} {api_figures['p50_ms']:7.1f} "
                f"{api_figures['p99_ms']:7.1f} {plain['rps']:9.0f} {api_figures['rps'] / plain['rps']:6.2f}",
                flush=True,
            )
    finally:
        for process in (api, cached, baseline):
            if process is not None:
                process.terminate()
                process.wait(timeout=15)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tps", type=int, default=None, help="national TPS (quick 20,000; full 823,236)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--connections", type=int, default=8)
    ns = parser.parse_args()
    ns.rounds, ns.seconds = (1, 1.0) if ns.quick else (3, 5.0)
    tps = ns.tps or (20_000 if ns.quick else 823_236)
    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
    from sirekap.sim.national_tree import build_tree

    tree = build_tree(tps, 2024)
    kab = tree.children[tree.children[""][0]][0]
    kec = tree.children[kab][0]
    print(
        f"one API worker (rate limit off) vs a plain uvicorn endpoint returning the same bytes; "
        f"{ns.connections} connections from a separate load-generator process"
    )
    print(f"{'dataset':<9} {'query':<29} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'plain r/s':>9} {'ratio':>6}")
    databases = asyncio.run(_databases(ns, workdir, tps))
    try:
        results = {
            "belu": bench_dataset("belu", databases["belu"], "pkwkk-5304-2020", "5304", "530412", ns, workdir),
            "national": bench_dataset("national", databases["national"], NATIONAL_SLUG, kab, kec, ns, workdir),
        }
    finally:
        asyncio.run(_drop(ns, databases))
    summary = {
        "bench": "api_queries",
        "mode": "quick" if ns.quick else "full",
        "figures": {
            f"{d}_{q}_{k}": round(v, 2) for d, qs in results.items() for q, f in qs.items() for k, v in f.items()
        },
        "ratios": {
            f"{d}_{q}_vs_plain_rps": round(f["rps"] / f["baseline_rps"], 3)
            for d, qs in results.items()
            for q, f in qs.items()
        },
    }
    national = results["national"]
    targets = {
        "headline_vs_plain_at_least_0.9": national["headline"]["rps"] / national["headline"]["baseline_rps"] >= 0.9,
        "national_kabupaten_breakdown_p99_ms_at_most_50": national["kabupaten_breakdown"]["p99_ms"] <= 50,
        "uncached_tps_page_rps_at_least_500": min(r["tps_page"]["rps"] for r in results.values()) >= 500,
    }
    print("targets: " + ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in targets.items()))
    summary["targets_met"] = targets
    print(json.dumps(summary))
    return 0


async def _databases(ns: argparse.Namespace, workdir: Path, tps: int) -> dict[str, str]:
    from api.dataset.loader import load_dataset

    if ns.quick:
        urls = {"belu": f"sqlite:///{workdir}/belu.db", "national": f"sqlite:///{workdir}/national.db"}
    else:
        import asyncpg

        conn = await asyncpg.connect(ns.admin_url)
        try:
            names = {kind: f"pantau_bench_{kind}_{os.getpid()}" for kind in ("belu", "national")}  # this run's own
            for name in names.values():
                await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        base = ns.admin_url.rsplit("/", 1)[0]
        urls = {kind: f"{base}/{name}" for kind, name in names.items()}
    started = time.perf_counter()
    await load_dataset(urls["belu"], "belu-2020", until=time_now())  # the race with every claim and pleno
    await _sirekap_for_belu(urls["belu"])
    await fill(urls["national"], tps)
    print(f"(data ready in {time.perf_counter() - started:.0f} s)")
    return urls


async def _sirekap_for_belu(url: str) -> None:
    """Sirekap tallies for every Belu TPS (the synthetic counts), so breakdowns have numbers to sum."""
    from sqlalchemy import select

    from api.storage.db import create_engine, sessionmaker
    from api.storage.models import Paslon, Source, Tps
    from api.tallies.writer import RaceInfo, TallyInput, TallyWrite, record_tallies
    from sirekap.belu import belu_2020

    engine = create_engine(url)
    try:
        async with sessionmaker(engine).begin() as session:
            race = await RaceInfo.load(session, 1)
            ids = dict((await session.execute(select(Tps.code, Tps.id))).all())
            paslon = dict((await session.execute(select(Paslon.number, Paslon.id))).all())
            writes = [
                TallyWrite(tps.code, TallyInput({paslon[n]: v for n, v in tps.count.votes.items()}, tps.count.valid,
                           tps.count.invalid, tps.count.total, source_ts=time_now()), tps_id=ids[tps.code])
                for tps in belu_2020().tps
            ]  # fmt: skip
            await record_tallies(session, race, Source.SIREKAP, writes, received_at=time_now())
        from bench.graphql_floor import analyze

        await analyze(engine)  # planner statistics, as a database in service has them
    finally:
        await engine.dispose()


async def _drop(ns: argparse.Namespace, urls: dict[str, str]) -> None:
    if ns.quick:
        return
    import asyncpg

    conn = await asyncpg.connect(ns.admin_url)
    try:
        for url in urls.values():
            await conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    finally:
        await conn.close()


def time_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


if __name__ == "__main__":
    raise SystemExit(main())
