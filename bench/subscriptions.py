"""Live updates under a burst of writes: does every subscriber hear of every write, and how soon?

446 writes in 10 s (every Belu TPS's C.Hasil once, then 20 corrections) through the write API with an operator token,
on PostgreSQL with 2 API workers (changes travel by LISTEN/NOTIFY, or Redis with --redis), while 50 subscribers (4 on
the kabupaten, the rest spread over its 12 kecamatan, each on its own websocket, so on either worker) listen with the
README's selection plus `kind dataVersion changes`. Writes and subscribers run in one client process of their own.

A write is heard by a subscriber of a region it lies in when an event lists it (TPS and version), or when a RESYNC
reaches the subscriber after the write was sent; a *silent loss* is neither. Delivery latency: from sending the write
to receiving the event (and, for the live-update path alone, from the write's answer, once it is committed and
published). Baseline, same run: the same writes with no subscriber (the writes' own latency). On a machine too busy
to take 45 writes/s the writes queue, and every latency with them: read the baseline before the figures.

    python bench/subscriptions.py [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test] [--redis URL]
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
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.writes import chasil_forms, prepare_database  # noqa: E402

TEMPLATE = "pantau_bench_live_tpl"
RESULT = (
    "__typename ... on WriteAccepted { version } ... on WriteRejected { message } ... on VersionConflict { message }"
)
SUBMIT = "mutation($input: ChasilInput!) { w: submitChasil(input: $input) { " + RESULT + " } }"
CORRECT = "mutation($input: ChasilInput!) { w: correctChasil(input: $input) { " + RESULT + " } }"
SUBSCRIPTION = """subscription($region: String!) { resultsChanged(region: $region, initial: true) {
  kind resyncReason dataVersion changes { subjectCode version }
  region { status results(source: CHASIL) { coverage { reported expected } votes { votes } } } } }"""


def plan(writes: int, corrections: int, seed: int = 7) -> list[dict[str, Any]]:
    """The writes in the order they are sent: first entries of shuffled TPS, then corrections of the earliest."""
    forms = chasil_forms()
    random.Random(seed).shuffle(forms)
    entries = [{"query": SUBMIT, "input": f, "version": 1} for f in forms[: writes - corrections]]
    fixes = [
        {"query": CORRECT, "input": f | {"invalid": f["invalid"] + 1, "total": f["total"] + 1, "correctsVersion": 1}}
        for f in forms[:corrections]
    ]
    return entries + [fix | {"version": 2} for fix in fixes]


def regions(subscribers: int) -> list[str]:
    from sirekap.belu import belu_2020

    kecamatan = sorted({t.code[:6] for t in belu_2020().tps})
    kabupaten = min(4, subscribers)
    return ["5304"] * kabupaten + [kecamatan[i % len(kecamatan)] for i in range(subscribers - kabupaten)]


# --- the client process ---------------------------------------------------------------------------------------------


async def _subscriber(url: str, region: str, heard: list[tuple[float, str, set[tuple[str, int]]]]) -> Any:
    import websockets

    socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None)
    await socket.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    payload = {"query": SUBSCRIPTION, "variables": {"region": region}}
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    first = json.loads(await socket.recv())
    assert first["payload"]["data"]["resultsChanged"]["resyncReason"] == "SUBSCRIBED", first

    async def listen() -> None:
        async for raw in socket:
            message = json.loads(raw)
            if message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                event = message["payload"]["data"]["resultsChanged"]
                changes = {(c["subjectCode"], c["version"]) for c in event["changes"]}
                heard.append((time.perf_counter(), event["kind"], changes))

    return socket, asyncio.create_task(listen())


async def _client(config: dict[str, Any]) -> dict[str, Any]:
    import httpx

    base = f"http://127.0.0.1:{config['port']}"
    writes: list[dict[str, Any]] = config["writes"]
    spread: list[str] = config["regions"]
    heard: list[list[tuple[float, str, set[tuple[str, int]]]]] = [[] for _ in spread]
    url = base.replace("http", "ws") + "/graphql"
    subscribed = await asyncio.gather(*(_subscriber(url, r, h) for r, h in zip(spread, heard, strict=True)))
    sent: list[float] = [0.0] * len(writes)
    answered: list[float] = [0.0] * len(writes)
    accepted: list[bool] = [False] * len(writes)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {config['token']}"}
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:

        async def write(i: int, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            sent[i] = time.perf_counter()
            body = {"query": writes[i]["query"], "variables": {"input": writes[i]["input"]}}
            answer = (await client.post("/graphql", json=body)).json()
            answered[i] = time.perf_counter()
            latencies.append(answered[i] - sent[i])
            kind = answer["data"]["w"]["__typename"] if answer.get("data") else "error"
            outcomes[kind] = outcomes.get(kind, 0) + 1
            accepted[i] = kind == "WriteAccepted"

        start = time.perf_counter() + 0.5
        spacing = config["seconds"] / len(writes)
        await asyncio.gather(*(write(i, start + i * spacing) for i in range(len(writes))))
        elapsed = time.perf_counter() - start
    # what each subscriber must hear: every accepted write in its region (a refused one changed nothing)
    expected = [[i for i, w in enumerate(writes) if accepted[i] and w["input"]["tps"].startswith(r)] for r in spread]
    deadline = time.perf_counter() + 15
    while time.perf_counter() < deadline and not _all_heard(writes, expected, heard):  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # draining: polling for the last events
    for socket, task in subscribed:
        task.cancel()
        await socket.close()
    return _figures(writes, expected, heard, sent, answered) | {
        "writes_per_s": len(writes) / elapsed,
        "write_p50_ms": statistics.median(latencies) * 1000,
        "write_p99_ms": sorted(latencies)[int(len(latencies) * 0.99)] * 1000,
        "outcomes": outcomes,
    }


def _heard_keys(events: list[tuple[float, str, set[tuple[str, int]]]]) -> set[tuple[str, int]]:
    return {key for _, _, changes in events for key in changes}


def _all_heard(writes: list[dict[str, Any]], expected: list[list[int]], heard: list[Any]) -> bool:
    return all(
        {(writes[i]["input"]["tps"], writes[i]["version"]) for i in wanted} <= _heard_keys(events)
        for wanted, events in zip(expected, heard, strict=True)
    )


def _figures(
    writes: list[dict[str, Any]], expected: list[list[int]], heard: list[Any], sent: list[float], answered: list[float]
) -> dict[str, Any]:
    delays: list[float] = []
    after_answer: list[float] = []  # the live-update path alone: from the write's answer (committed, published)
    silent = resynced = 0
    for wanted, events in zip(expected, heard, strict=True):
        for i in wanted:
            key = (writes[i]["input"]["tps"], writes[i]["version"])
            listed = [at for at, _, changes in events if key in changes]
            resyncs = [at for at, kind, _ in events if kind == "RESYNC" and at >= sent[i]]
            if listed:
                delays.append(listed[0] - sent[i])
                after_answer.append(max(0.0, listed[0] - answered[i]))
            elif resyncs:
                resynced += 1
                delays.append(resyncs[0] - sent[i])
                after_answer.append(max(0.0, resyncs[0] - answered[i]))
            else:
                silent += 1
    delays.sort()
    after_answer.sort()
    counts = [len(events) for events in heard]
    return {
        "deliveries": sum(len(w) for w in expected),
        "silent_losses": silent,
        "covered_by_resync": resynced,
        "resync_events": sum(1 for events in heard for _, kind, _ in events if kind == "RESYNC"),
        "delivery_p50_ms": delays[len(delays) // 2] * 1000 if delays else 0.0,
        "delivery_p99_ms": delays[int(len(delays) * 0.99)] * 1000 if delays else 0.0,
        "delivery_max_ms": delays[-1] * 1000 if delays else 0.0,
        "after_answer_p99_ms": after_answer[int(len(after_answer) * 0.99)] * 1000 if after_answer else 0.0,
        "events_per_subscriber": statistics.mean(counts) if counts else 0.0,
        "events_per_kabupaten_subscriber": statistics.mean(counts[: min(4, len(counts))]) if counts else 0.0,
    }


# --- the main process -----------------------------------------------------------------------------------------------


async def _sql(admin_url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _round(ns: argparse.Namespace, token: str, writes: list[dict[str, Any]], subscribers: int) -> dict[str, Any]:
    name = f"pantau_bench_live_{uuid.uuid4().hex[:8]}"
    asyncio.run(_sql(ns.admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    port = loadgen.free_port()
    env = {**os.environ, "PANTAU_DATABASE_URL": f"{ns.admin_url.rsplit('/', 1)[0]}/{name}", "PANTAU_RATE_LIMIT": "0"}
    if ns.redis:
        env |= {"PANTAU_REDIS_URL": ns.redis, "PANTAU_REDIS_PREFIX": name}
    log = Path(tempfile.mkstemp(prefix="pantau-bench-live-api-", suffix=".log")[1])
    api = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port), "--workers", str(ns.workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        loadgen.wait_for(port, "/healthz")
        config = {"port": port, "token": token, "writes": writes, "regions": regions(subscribers)}
        config["seconds"] = ns.seconds
        path = Path(tempfile.mkstemp(prefix="pantau-bench-live-", suffix=".json")[1])
        path.write_text(json.dumps(config))
        out = subprocess.run(
            [sys.executable, __file__, "--client", str(path)], check=True, capture_output=True, text=True
        ).stdout
        path.unlink()
        return dict(json.loads(out.strip().splitlines()[-1]))
    finally:
        api.terminate()
        api.wait(timeout=30)
        problems = [
            line for line in log.read_text(errors="replace").splitlines() if "WARNING" in line or "ERROR" in line
        ]
        if problems:
            print(f"the API logged {len(problems)} warnings or errors, e.g.: {problems[:3]}")
        log.unlink()
        asyncio.run(_sql(ns.admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round and one baseline round (under a minute)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", help="carry changes through this Redis instead of PostgreSQL NOTIFY")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--writes", type=int, default=446)
    parser.add_argument("--seconds", type=float, default=10.0)
    ns = parser.parse_args()
    rounds = 1 if ns.quick else 3
    writes = plan(ns.writes, corrections=20)
    _, token = asyncio.run(prepare_database(ns.admin_url, TEMPLATE))  # Belu and an operator token for it
    try:
        live = [_round(ns, token, writes, ns.subscribers) for _ in range(rounds)]
        bare = [_round(ns, token, writes, 0) for _ in range(rounds)]
    finally:
        asyncio.run(_sql(ns.admin_url, f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"))

    def median(results: list[dict[str, Any]], key: str) -> float:
        return round(statistics.median(float(r[key]) for r in results), 1)

    figures = {
        "writes": len(writes),
        "write_seconds": ns.seconds,
        "subscribers": ns.subscribers,
        "workers": ns.workers,
        "deliveries": live[0]["deliveries"],
        "silent_losses": sum(r["silent_losses"] for r in live),
        "covered_by_resync": sum(r["covered_by_resync"] for r in live),
        "delivery_p50_ms": median(live, "delivery_p50_ms"),
        "delivery_p99_ms": median(live, "delivery_p99_ms"),
        "delivery_max_ms": max(round(r["delivery_max_ms"], 1) for r in live),
        "after_answer_p99_ms": median(live, "after_answer_p99_ms"),
        "events_per_subscriber": median(live, "events_per_subscriber"),
        "events_per_kabupaten_subscriber": median(live, "events_per_kabupaten_subscriber"),
        "writes_per_s": median(live, "writes_per_s"),
        "write_p99_ms": median(live, "write_p99_ms"),
        "baseline_write_p99_ms": median(bare, "write_p99_ms"),
    }
    via = "Redis" if ns.redis else "PostgreSQL LISTEN/NOTIFY"
    print(f"{len(writes)} writes in {ns.seconds:.0f} s, {ns.subscribers} subscribers, {ns.workers} workers, via {via};")
    print("baseline: the same writes with no subscriber, same run; medians of", rounds, "round(s)")
    for key, value in figures.items():
        print(f"  {key:<34} {value}")
    for n, (r, b) in enumerate(zip(live, bare, strict=True), 1):
        print(
            f"  round {n}: {r['writes_per_s']:.1f} writes/s, delivery p99 {r['delivery_p99_ms']:.0f} ms "
            f"({r['after_answer_p99_ms']:.0f} ms after the answer), write p99 {r['write_p99_ms']:.0f} ms; "
            f"baseline {b['writes_per_s']:.1f} writes/s, write p99 {b['write_p99_ms']:.0f} ms"
        )
    print(f"  write outcomes: {[r['outcomes'] for r in live + bare]}")
    summary = {
        "bench": "subscriptions",
        "mode": "quick" if ns.quick else "full",
        "figures": figures,
        "ratios": {
            "write_p99_vs_baseline": round(figures["write_p99_ms"] / figures["baseline_write_p99_ms"], 2),
            "events_per_write_kabupaten": round(figures["events_per_kabupaten_subscriber"] / len(writes), 3),
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--client":
        print(json.dumps(asyncio.run(_client(json.loads(Path(sys.argv[2]).read_text())))))
    else:
        raise SystemExit(main())
