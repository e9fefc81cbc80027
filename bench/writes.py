"""Sustained single-TPS C.Hasil submissions over HTTP on PostgreSQL, with rollups updated in each transaction.

An operator token writes every Belu TPS once (submitChasil), then keeps correcting them (correctChasil naming the
version it corrects); each connection owns its own TPS, so nothing conflicts, while every write still updates the
kabupaten, kecamatan and desa rollups above its TPS (the kabupaten row is shared by all). Load comes from a separate
process on keep-alive connections. Baseline, same server and run: POST of `{ __typename }` (GraphQL over HTTP with no
database work).

    python bench/writes.py [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--workers 1]
        [--database pantau_bench_writes_<pid>]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402

MUTATION = (
    "mutation($input: ChasilInput!) { w: %s(input: $input) { __typename ... on WriteAccepted { version } "
    "... on VersionConflict { currentVersion } ... on WriteRejected { message } ... on NotAllowed { message } } }"
)
#: Submissions per second on PostgreSQL with 2 API workers that election night needs.
TARGET_PER_S = 1_000
#: Made and dropped by this run alone: another run beside it uses its own.
DATABASE = f"pantau_bench_writes_{os.getpid()}"


def _request(token: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def _writer(
    port: int,
    token: str,
    forms: list[dict[str, Any]],
    versions: dict[str, int],
    stop_at: float,
    latencies: list[float],
    seed: int,
) -> dict[str, int]:
    """One connection: first entries for its TPS, then corrections round and round, tracking versions."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    while time.perf_counter() < stop_at:
        form = rng.choice(forms)
        version = versions.get(form["tps"], 0)
        entry = dict(form)
        if version:
            bump = version % 2  # alternate the invalid count, so every correction changes the numbers
            entry |= {"invalid": form["invalid"] + bump, "total": form["total"] + bump, "correctsVersion": version}
        body = {"query": MUTATION % ("correctChasil" if version else "submitChasil"), "variables": {"input": entry}}
        started = time.perf_counter()
        writer.write(_request(token, body))
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        answer = json.loads(await reader.readexactly(length))
        latencies.append(time.perf_counter() - started)
        result = answer.get("data", {}).get("w") if isinstance(answer.get("data"), dict) else None
        kind = result["__typename"] if result else "error"
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if kind == "WriteAccepted":
            versions[form["tps"]] = result["version"]
        elif kind == "VersionConflict":
            versions[form["tps"]] = result["currentVersion"]
    writer.close()
    return outcomes


async def _client(port: int, token: str, workdir: Path, seconds: float, connections: int) -> dict[str, Any]:
    forms: list[dict[str, Any]] = json.loads((workdir / "forms.json").read_text())
    stored = workdir / "versions.json"  # versions written by earlier rounds
    versions: dict[str, int] = json.loads(stored.read_text()) if stored.exists() else {}
    shares = [forms[i::connections] for i in range(connections)]
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_writer(port, token, share, versions, stop_at, latencies, seed) for seed, share in enumerate(shares))
    )
    stored.write_text(json.dumps(versions))
    elapsed = time.perf_counter() - started
    latencies.sort()
    outcomes: dict[str, int] = {}
    for r in results:
        for k, v in r.items():
            outcomes[k] = outcomes.get(k, 0) + v
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "outcomes": outcomes,
    }


def _cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its children still running (the API and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _children(pid: int) -> list[int]:
    try:
        found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return found + [g for c in found for g in _children(c)]


def _round(port: int, token: str, workdir: Path, seconds: float, connections: int, server: int) -> dict[str, Any]:
    cpu = _cpu_seconds(server)
    out = subprocess.run(
        [sys.executable, __file__, "--client", str(port), token, str(workdir), str(seconds), str(connections)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["server_cpu_ms"] = (_cpu_seconds(server) - cpu) * 1000 / max(1, sum(result["outcomes"].values()))
    return result


def chasil_forms() -> list[dict[str, Any]]:
    """The C.Hasil of every Belu TPS, as `submitChasil` takes it."""
    from sirekap.belu import belu_2020

    return [
        {
            "tps": t.code,
            "votes": [{"paslon": n, "votes": v} for n, v in sorted(t.count.votes.items())],
            "valid": t.count.valid,
            "invalid": t.count.invalid,
            "total": t.count.total,
        }
        for t in belu_2020().tps
    ]


async def prepare_database(admin_url: str, database: str = DATABASE) -> tuple[str, str]:
    """A fresh database with Belu loaded and an operator token for the whole kabupaten: its URL and the token."""
    from datetime import UTC, datetime

    import asyncpg

    from api.auth.tokens import Role, create_token
    from api.dataset.loader import load_dataset
    from api.storage.db import create_engine, sessionmaker
    from bench.graphql_floor import analyze

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {database}")
    finally:
        await conn.close()
    url = f"{admin_url.rsplit('/', 1)[0]}/{database}"
    await load_dataset(url, "belu-2020")
    engine = create_engine(url)
    try:
        async with sessionmaker(engine).begin() as session:
            _, secret = await create_token(
                session, role=Role.OPERATOR, name="bench", region_code="5304", paslon=None, now=datetime.now(UTC)
            )
        await analyze(engine)  # planner statistics, as a database in service has them
    finally:
        await engine.dispose()
    return url, secret


async def _check_rollups(url: str) -> list[str]:
    from api.storage.db import create_engine, sessionmaker
    from api.tallies.rollup_check import rollup_mismatches
    from api.tallies.writer import RaceInfo

    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            return await rollup_mismatches(session, await RaceInfo.load(session, 1))
    finally:
        await engine.dispose()


async def _drop(admin_url: str, database: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short round (under a minute)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database", default=DATABASE, help="the database created (and dropped) for the run")
    parser.add_argument("--server-log", type=Path, help="where the API's own output goes (default: nowhere)")
    ns = parser.parse_args()
    rounds, seconds = (1, 5.0) if ns.quick else (3, 15.0)
    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-writes-"))
    (workdir / "forms.json").write_text(json.dumps(chasil_forms()))
    url, token = asyncio.run(prepare_database(ns.admin_url, ns.database))
    port = loadgen.free_port()
    log = ns.server_log.open("wb") if ns.server_log else subprocess.DEVNULL
    env = {**os.environ, "PANTAU_DATABASE_URL": url, "PANTAU_RATE_LIMIT": "0"}
    api = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port), "--workers", str(ns.workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        loadgen.wait_for(port, "/healthz")
        _round(port, token, workdir, 2.0, ns.connections, api.pid)  # warm-up: the first entries of many TPS
        results = [_round(port, token, workdir, seconds, ns.connections, api.pid) for _ in range(rounds)]
        baseline = loadgen.rounds(
            port,
            [loadgen.post_json("/graphql", {"query": "{ __typename }"})],
            rounds,
            seconds,
            ns.connections,
            workdir,
        )
    finally:
        api.terminate()
        api.wait(timeout=20)
    problems = asyncio.run(_check_rollups(url))
    asyncio.run(_drop(ns.admin_url, ns.database))
    outcomes: dict[str, int] = {}
    for r in results:
        for k, v in r["outcomes"].items():
            outcomes[k] = outcomes.get(k, 0) + v
    figures = {
        "submissions_per_s": round(statistics.median(r["rps"] for r in results), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in results), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in results), 2),
        "server_cpu_ms_per_submission": round(statistics.median(r["server_cpu_ms"] for r in results), 2),
        "baseline_rps": round(baseline["rps"], 1),
        "baseline_p99_ms": round(baseline["p99_ms"], 2),
    }
    print(
        f"PostgreSQL, {ns.workers} API worker(s), {ns.connections} connections from a separate process; "
        f"baseline: POST {{ __typename }} on the same server"
    )
    print(f"{'what':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    print(
        f"{'C.Hasil submission + rollups':<32} {figures['submissions_per_s']:9.0f} "
        f"{figures['p50_ms']:8.1f} {figures['p99_ms']:8.1f}"
    )
    print(f"{'baseline { __typename }':<32} {baseline['rps']:9.0f} {baseline['p50_ms']:8.1f} {baseline['p99_ms']:8.1f}")
    print(f"API CPU time per submission: {figures['server_cpu_ms_per_submission']:.2f} ms (all its processes)")
    print(f"outcomes: {outcomes}; rollups consistent afterwards: {not problems}")
    if problems or set(outcomes) != {"WriteAccepted"}:
        print("WARNING: " + "; ".join(problems[:3] or [f"unexpected outcomes {outcomes}"]))
    met = ns.workers == 2 and figures["submissions_per_s"] >= TARGET_PER_S and not problems
    print(
        f"target: at least {TARGET_PER_S:,} submissions/s with 2 workers, rollups consistent: "
        + ("met" if met else "NOT met")
        + ("" if ns.workers == 2 else f" (this run has {ns.workers} worker(s))")
    )
    summary = {
        "bench": "writes",
        "mode": "quick" if ns.quick else "full",
        "figures": figures,
        "ratios": {"submissions_vs_baseline_rps": round(figures["submissions_per_s"] / baseline["rps"], 3)},
        "targets_met": {f"submissions_per_s_at_least_{TARGET_PER_S}_with_2_workers": met},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        port, token, path, seconds, connections = sys.argv[2:7]
        print(json.dumps(asyncio.run(_client(int(port), token, Path(path), float(seconds), int(connections)))))
    else:
        raise SystemExit(main())
