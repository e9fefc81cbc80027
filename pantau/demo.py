"""`pantau demo`: the whole stack locally on SQLite, as real processes, stopped with Ctrl-C.

It loads Belu 2020, then starts the Sirekap simulator replaying election night (accelerated), the API syncing from
it, and the monitor probing it, and prints where to look, with an operator token for Kota Atambua to try a C.Hasil
entry with.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from api.db import create_engine, sessionmaker
from api.loader import load_dataset
from api.settings import Settings
from api.tokens import Role, create_token

#: The kecamatan the demo's operator token may write in (Kota Atambua), and a TPS in it.
DEMO_KECAMATAN = "530412"
DEMO_TPS = "5304121003001"


@dataclass(frozen=True)
class Part:
    name: str
    argv: list[str]
    health_url: str


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pantau demo", description=__doc__)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--monitor-port", type=int, default=8001)
    parser.add_argument("--sim-port", type=int, default=8002)
    parser.add_argument("--speed", type=float, default=60.0, help="scenario seconds per real second")
    parser.add_argument("--start", default="2020-12-09T13:45", help="scenario start, local time (WITA)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ)
    result = asyncio.run(load_dataset(settings.database_url, "belu-2020", now=datetime.now(UTC)))
    print(f"database {settings.database_url}: {result.slug} {'loaded' if result.created else 'already loaded'}")
    token = asyncio.run(_operator_token(settings.database_url))

    sirekap = f"http://127.0.0.1:{args.sim_port}"
    env = {
        **os.environ,
        "PANTAU_SIREKAP_URL": os.environ.get("PANTAU_SIREKAP_URL", sirekap),
        "PANTAU_SYNC_RACES": os.environ.get("PANTAU_SYNC_RACES", "pkwkk 5304 2020"),
        "PANTAU_SYNC_INTERVAL": os.environ.get("PANTAU_SYNC_INTERVAL", "15"),
        "PANTAU_PROBE_INTERVAL": os.environ.get("PANTAU_PROBE_INTERVAL", "5"),
        "PANTAU_MONITOR_URL": f"http://127.0.0.1:{args.monitor_port}",
        "PANTAU_DEVELOPMENT": os.environ.get("PANTAU_DEVELOPMENT", "1"),
        # The monitor and the sync keep the scenario's time, so "down since 14:02 WITA" reads as on the night.
        "PANTAU_CLOCK_START": args.start,
        "PANTAU_CLOCK_SPEED": str(args.speed),
    }
    python = sys.executable
    parts = [
        Part(
            "simulator",
            [
                python,
                "-m",
                "pantau.cli",
                "sim",
                "--scenario",
                "belu-2020",
                "--speed",
                str(args.speed),
                "--start",
                args.start,
                "--port",
                str(args.sim_port),
            ],
            f"{sirekap}/pilkada/paslon/pkwkk.json",
        ),
        Part("API", [python, "-m", "api", "--port", str(args.api_port)], f"http://127.0.0.1:{args.api_port}/healthz"),
        Part(
            "monitor",
            [python, "-m", "monitor", "--port", str(args.monitor_port)],
            f"http://127.0.0.1:{args.monitor_port}/healthz",
        ),
    ]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for part in parts:
            processes.append(subprocess.Popen(part.argv, env=env))
            _wait_healthy(part, processes[-1])
        print(
            "\nPantau demo is running (Ctrl-C stops it):\n"
            f"  GraphiQL        http://127.0.0.1:{args.api_port}/graphql\n"
            f"  API metrics     http://127.0.0.1:{args.api_port}/metrics\n"
            f"  status page     http://127.0.0.1:{args.monitor_port}/\n"
            f"  monitor metrics http://127.0.0.1:{args.monitor_port}/metrics\n"
            f"  Sirekap (sim)   {sirekap}/pilkada/hhcw/pkwkk/53/5304.json\n"
            f"\nAn operator token for kecamatan {DEMO_KECAMATAN} (Kota Atambua), for this local database only:\n"
            f"  {token}\n"
            "Enter a C.Hasil tally in GraphiQL (header Authorization: Bearer <token>):\n"
            f'  mutation {{ submitChasil(input: {{tps: "{DEMO_TPS}", votes: [{{paslon: 1, votes: 137}}, '
            "{paslon: 2, votes: 151}], valid: 288, invalid: 3, total: 291}) "
            "{ __typename ... on WriteAccepted { version } ... on WriteRejected { reasons { field message } } } }\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = next(part for part, p in zip(parts, processes, strict=False) if p.poll() is not None)
        print(f"the {failed.name} stopped; stopping the demo", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(timeout=15)


async def _operator_token(database_url: str) -> str:
    """A new operator token for the demo kecamatan (one per run; `pantau token revoke` ends it)."""
    engine = create_engine(database_url)
    try:
        async with sessionmaker(engine).begin() as session:
            _, secret = await create_token(
                session,
                role=Role.OPERATOR,
                name="demo operator",
                region_code=DEMO_KECAMATAN,
                paslon=None,
                now=datetime.now(UTC),
            )
    finally:
        await engine.dispose()
    return secret


def _wait_healthy(part: Part, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {part.name} exited with status {process.returncode} while starting")
        try:
            if httpx.get(part.health_url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the {part.name} did not answer {part.health_url} within {timeout:.0f} s")
