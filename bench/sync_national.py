"""How fast does `pantau sync` take in the national tree, and what does an incremental pass cost?

Starts `pantau sim --scenario national` (823,236 TPS; `--quick`: 20,000) in its own process and a fresh SQLite
database (or `--database-url`), then measures:
  1. the baseline: the simulator's raw serving rate for TPS documents, fetched with the same client
     (`api.sync.fetcher.create_client`) and concurrency the sync uses, no parsing, no database (documents/s), and
     this process's CPU milliseconds per document;
  2. bootstrap (region lists down to the TPS) and the first full pass: wall time, documents/s and CPU ms per
     document (SQLite's work included: it runs in this process; PostgreSQL's is not);
  3. the simulator changes 1% of TPS (`/_sim/national/changes`); an incremental pass: wall time and the share of
     the tree's documents it fetched (tree = every aggregated region file and TPS file: what a full pass reads).

    python bench/sync_national.py [--quick] [--concurrency 32] [--database-url URL]

Targets on a 2-core machine: full national sync within 15 minutes, a 1% incremental pass within 60 s that fetches
no more than it must: the changed TPS and the region files above them (the simulator counts those), about 2.4% of
the tree when 1% of TPS change, as they are spread over two thirds of the kecamatan. The last line is one JSON
object (see ../shared/docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.storage.db import create_engine, sessionmaker  # noqa: E402
from api.storage.migrate import upgrade  # noqa: E402
from api.sync.fetcher import FetchPolicy, create_client  # noqa: E402
from api.sync.metrics import SyncStats  # noqa: E402
from api.sync.service import SyncConfig, SyncService  # noqa: E402
from sirekap.races import RaceTarget  # noqa: E402
from sirekap.sim.national_tree import build_tree  # noqa: E402
from sirekap.timestamps import WIB  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, deadline_s: float = 300) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


#: The simulator's whole national tree (Pemilu 2024's TPS count), which the time targets are for.
NATIONAL_TPS = 823_236


async def baseline(base_url: str, paths: list[str], concurrency: int) -> tuple[float, float]:
    """TPS documents per second from the simulator, fetched only (the same client the sync uses), and this
    process's CPU milliseconds per document."""
    policy = FetchPolicy(concurrency=concurrency)
    async with create_client(base_url, policy) as client:
        slots = asyncio.Semaphore(concurrency)

        async def one(path: str) -> None:
            async with slots:
                try:
                    response = await client.get(path)
                except httpx.TransportError:  # a keep-alive connection the server closed just then: once more
                    response = await client.get(path)
                response.raise_for_status()

        await asyncio.gather(*(one(p) for p in paths[:200]))  # warm-up
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(p) for p in paths))
        return len(paths) / (time.perf_counter() - start), (time.process_time() - cpu) / len(paths) * 1000


def tps_path(code: str) -> str:
    return f"/pemilu/hhcw/ppwp/{code[:2]}/{code[:4]}/{code[:6]}/{code[:10]}/{code}.json"


async def run(args: argparse.Namespace, base_url: str, admin_url: str, database_url: str) -> dict[str, float]:
    tree = build_tree(args.tps, 2024)
    regions = 1 + sum(len(children) for children in tree.children.values())
    tree_documents = regions + tree.tps_total
    rng = random.Random(7)
    sample = [tps_path(tree.tps_at(rng.randrange(tree.tps_total))) for _ in range(args.baseline_docs)]
    rounds = [await baseline(base_url, sample, args.concurrency) for _ in range(3)]
    raw, raw_cpu = sorted(r for r, _ in rounds)[1], sorted(c for _, c in rounds)[1]
    print(f"baseline: simulator serves {raw:,.0f} TPS documents/s, {raw_cpu:.2f} CPU ms/doc here (median of 3)")

    await upgrade(database_url)
    engine = create_engine(database_url)
    policy = FetchPolicy(concurrency=args.concurrency, timeout_seconds=30)
    config = SyncConfig(base_url, (RaceTarget.parse("ppwp"),), source_zone=WIB, policy=policy)
    service = SyncService(config, sessionmaker(engine), stats=SyncStats())
    figures: dict[str, float] = {"tps": tree.tps_total, "tree_documents": tree_documents, "raw_docs_per_s": raw,
                                 "raw_cpu_ms_per_doc": raw_cpu}  # fmt: skip
    try:
        start, cpu = time.perf_counter(), time.process_time()
        result = (await service.run_pass())["ppwp-0"]
        full_s, full_cpu = time.perf_counter() - start, time.process_time() - cpu
        requests = service.fetcher.requests
        assert result.outcome == "success", result
        stats = service.stats.race("ppwp-0")
        print(
            f"full sync (bootstrap + first pass): {full_s:,.1f} s, {requests:,} requests, "
            f"{requests / full_s:,.0f} docs/s, {full_cpu / requests * 1000:.2f} CPU ms/doc, "
            f"{result.tps_written:,} TPS written"
        )
        figures |= {"full_sync_seconds": full_s, "full_sync_requests": requests, "full_docs_per_s": requests / full_s,
                    "full_cpu_ms_per_doc": full_cpu / requests * 1000}  # fmt: skip

        async with httpx.AsyncClient(timeout=600) as admin:
            changes = (await admin.post(f"{admin_url}/_sim/national/changes", json={"fraction": 0.01})).json()
        before, fetched_before = service.fetcher.requests, stats.documents["fetched"]
        start = time.perf_counter()
        result = (await service.run_pass())["ppwp-0"]
        incremental_s = time.perf_counter() - start
        assert result.outcome == "success", result
        requests = service.fetcher.requests - before
        share = requests / tree_documents
        least = changes["changed"] + changes["files_above"]
        print(
            f"incremental pass after {changes['changed']:,} TPS changed: {incremental_s:,.1f} s, {requests:,} "
            f"requests = {share:.2%} of the tree's {tree_documents:,} documents, {result.tps_written:,} TPS written; "
            f"the least that sees the change: {least:,} (the changed TPS and {changes['files_above']:,} region files "
            f"above them), so {requests / least:.2f}x that"
        )
        figures |= {
            "changed_tps": changes["changed"],
            "incremental_seconds": incremental_s,
            "incremental_requests": requests,
            "incremental_fetched": stats.documents["fetched"] - fetched_before,
            "incremental_share_of_tree": share,
            "incremental_least_requests": least,
        }
    finally:
        await service.stop()
        await engine.dispose()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 TPS instead of 823,236")
    parser.add_argument("--tps", type=int, help="override the tree size")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--baseline-docs", type=int, help="TPS documents per baseline round")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    args = parser.parse_args()
    args.tps = args.tps or (20_000 if args.quick else NATIONAL_TPS)
    args.baseline_docs = args.baseline_docs or (2_000 if args.quick else 20_000)
    port, admin_port = free_port(), free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "pantau.cli", "sim", "--scenario", "national", "--tps", str(args.tps), "--speed", "0",
         "--port", str(port), "--admin-port", str(admin_port), "--log-level", "warning"],
        cwd=ROOT,
    )  # fmt: skip
    try:
        base_url, admin_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
        wait_for(f"{admin_url}/_sim/state")
        with tempfile.TemporaryDirectory() as tmp:
            database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
            # the loop `pantau sync` runs on, for the baseline and the sync alike
            figures = uvloop.run(run(args, base_url, admin_url, database_url))
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    ratios = {
        "full_docs_per_s_vs_raw": figures["full_docs_per_s"] / figures["raw_docs_per_s"],
        "full_cpu_per_doc_vs_raw": figures["full_cpu_ms_per_doc"] / figures["raw_cpu_ms_per_doc"],
        "incremental_share_of_tree": figures["incremental_share_of_tree"],
        "incremental_requests_vs_least": figures["incremental_requests"] / figures["incremental_least_requests"],
    }
    national = figures["tps"] == NATIONAL_TPS  # the time targets are for the whole national tree: None elsewhere
    met = {
        "full_sync_at_most_15_min": figures["full_sync_seconds"] <= 15 * 60 if national else None,
        "incremental_at_most_60_s": figures["incremental_seconds"] <= 60 if national else None,
        "full_docs_per_s_at_least_0.8_of_raw": ratios["full_docs_per_s_vs_raw"] >= 0.8,
        "incremental_fetches_only_what_changed": ratios["incremental_requests_vs_least"] <= 1.0,
    }
    shown = {True: "met", False: "NOT met", None: f"not measured (needs the {NATIONAL_TPS:,} TPS tree)"}
    print("targets: " + ", ".join(f"{name} {shown[ok]}" for name, ok in met.items()))
    mode = "quick" if args.quick else "full"
    print(json.dumps({"bench": "sync_national", "mode": mode, "figures": figures, "ratios": ratios,
                      "targets_met": met}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
