"""`pantau demo`: election night in Belu replayed by the whole stack, locally on SQLite, stopped with Ctrl-C.

It loads the Belu 2020 race as it stood before the night (no results), then starts the Sirekap simulator, the API
following it and the monitor probing it, all on one drill clock that starts at 13:45 WITA on 9 Dec 2020 and runs
60 times faster than real time. On that clock the demo sends the night's results through the write API as they
came: the posko claims of 10 Dec, the PPK plenos of 12-14 Dec, the KPU Belu pleno of 16 Dec 18:00 WITA. It prints
the URLs, an operator token for Kota Atambua with a C.Hasil entry to try, and a timeline of what it did and what
Pantau showed. Its databases (`pantau-demo.db`, `pantau-demo-monitor.db`) are made afresh on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from api.auth.tokens import Role, create_token
from api.dataset.events import night_events
from api.dataset.loader import load_dataset
from api.storage.db import create_engine, sessionmaker
from pantau.replay import Played, Replay, replay_tokens, timeline_line
from sirekap.belu import belu_2020
from sirekap.clock import Clock

#: The kecamatan the demo's operator token may write in (Kota Atambua), and a TPS in it.
DEMO_KECAMATAN = "530412"
DEMO_TPS = "5304121003001"
WITA = ZoneInfo("Asia/Makassar")
MUTATION = (
    f'mutation {{ submitChasil(input: {{tps: "{DEMO_TPS}", votes: [{{paslon: 1, votes: 137}}, '
    "{paslon: 2, votes: 151}], valid: 288, invalid: 3, total: 291}) { __typename "
    "... on WriteAccepted { version } ... on WriteRejected { message reasons { field message } } "
    "... on VersionConflict { message currentVersion } ... on NotAllowed { message } } }"
)
STATE = """{ race(slug: "pkwkk-5304-2020") { region { status
  sirekap: results(source: SIREKAP) { coverage { reported expected } }
  official: comparison { official { votes { paslon { shortName } votes } margin } } } } }"""
#: Sirekap's progress goes into the timeline at most this often (drill time), and when it completes.
PROGRESS_EVERY = timedelta(hours=6)


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
    parser.add_argument("--sim-admin-port", type=int, help="the simulator's admin API (default: --sim-port + 1)")
    parser.add_argument("--speed", type=float, default=60.0, help="drill seconds per real second (default 60)")
    parser.add_argument("--start", default="2020-12-09T13:45", help="the drill's start, local time (WITA)")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="real seconds the clock stands at --start while the parts start"
    )
    parser.add_argument("--database", default="pantau-demo.db", help="the API's SQLite file, made afresh")
    parser.add_argument("--monitor-database", default="pantau-demo-monitor.db", help="the monitor's, made afresh")
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start)
    start = start if start.tzinfo else start.replace(tzinfo=WITA)
    if not args.speed > 0:
        parser.error("--speed must be greater than 0")

    for path in (args.database, args.monitor_database):
        Path(path).unlink(missing_ok=True)
    database_url = f"sqlite:///{args.database}"
    result = asyncio.run(load_dataset(database_url, "belu-2020"))
    print(f"database {database_url}: {result.slug} loaded as it stood before the night (no results)")
    # The clock stands at the start while the parts start up, so the night begins once they are up.
    clock = Clock.drill(start, args.speed, epoch=time.time() + args.warmup)
    operator = asyncio.run(_operator_token(database_url, clock.now()))
    tokens = asyncio.run(replay_tokens(database_url, belu_2020(), clock.now()))

    sirekap = f"http://127.0.0.1:{args.sim_port}"
    env = {
        **os.environ,
        **clock.environ(),  # one clock for every process of the demo
        "PANTAU_DATABASE_URL": database_url,
        "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{args.monitor_database}",
        "PANTAU_SIREKAP_URL": sirekap,
        "PANTAU_SYNC_RACES": "pkwkk 5304 2020",
        # Drill seconds: a probe round every minute of the night, and a sync pass every minute too, but never more
        # than once a real second (a faster drill would keep SQLite's one writer busy with nothing but passes).
        "PANTAU_SYNC_INTERVAL": os.environ.get("PANTAU_SYNC_INTERVAL", f"{max(60.0, args.speed):g}"),
        "PANTAU_PROBE_INTERVAL": os.environ.get("PANTAU_PROBE_INTERVAL", "60"),
        "PANTAU_MONITOR_URL": f"http://127.0.0.1:{args.monitor_port}",
        "PANTAU_DEVELOPMENT": os.environ.get("PANTAU_DEVELOPMENT", "1"),
    }
    python = sys.executable
    parts = [
        Part(
            "simulator",
            [python, "-m", "pantau.cli", "sim", "--scenario", "belu-2020", "--port", str(args.sim_port)]
            + ([] if args.sim_admin_port is None else ["--admin-port", str(args.sim_admin_port)]),
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
        # Sirekap first, so the monitor never probes a simulator still starting; then the API and the monitor.
        processes.append(subprocess.Popen(parts[0].argv, env=env))
        _wait_healthy(parts[0], processes[0])
        processes.extend(subprocess.Popen(part.argv, env=env) for part in parts[1:])
        for part, process in zip(parts[1:], processes[1:], strict=True):
            _wait_healthy(part, process)
        print(
            "\nPantau demo is running (Ctrl-C stops it):\n"
            f"  GraphiQL        http://127.0.0.1:{args.api_port}/graphql\n"
            f"  status page     http://127.0.0.1:{args.monitor_port}/\n"
            f"  API metrics     http://127.0.0.1:{args.api_port}/metrics\n"
            f"  monitor metrics http://127.0.0.1:{args.monitor_port}/metrics\n"
            f"  Sirekap (sim)   {sirekap}/pilkada/hhcw/pkwkk/53/5304.json\n"
            f"\nThe night runs from {start:%d %b %H:%M} WITA at {args.speed:g}x ({clock.describe()}).\n"
            f"An operator token for kecamatan {DEMO_KECAMATAN} (Kota Atambua), for this demo's database only:\n"
            f"  {operator}\n"
            "Enter a C.Hasil tally in GraphiQL (header Authorization: Bearer <token>):\n"
            f"  {MUTATION}\n"
            "\nTimeline (WITA):",
            flush=True,
        )
        night = Night(clock, f"http://127.0.0.1:{args.api_port}", f"http://127.0.0.1:{args.monitor_port}")
        return asyncio.run(night.play(tokens, parts, processes))
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(parts, processes)


class Night:
    """Plays the night's events and prints a timeline of what Pantau shows, until Ctrl-C or a part stops."""

    def __init__(self, clock: Clock, api: str, monitor: str) -> None:
        self.clock = clock
        self.api = api
        self.monitor = monitor
        self.headline: str | None = None
        self.status: str | None = None
        self.progress: tuple[int, int] | None = None  # Sirekap's progress as last printed, and when
        self.progress_at: datetime | None = None
        self.pending: tuple[tuple[int, int], datetime] | None = None  # a newer one not printed yet, and when seen

    def say(self, text: str, at: datetime | None = None) -> None:
        print(timeline_line(at or self.clock.now(), WITA, text), flush=True)

    async def play(
        self, tokens: dict[str, str], parts: Sequence[Part], processes: Sequence[subprocess.Popen[bytes]]
    ) -> int:
        async with httpx.AsyncClient(base_url=self.api, timeout=30) as client:
            replay = Replay(client, night_events(belu_2020(), "pkwkk-5304-2020"), tokens, "pkwkk-5304-2020")
            late = self.clock.wall() - self.clock.epoch
            if late > 0:
                print(
                    f"(the parts took {late:.0f} s longer to start than --warmup allowed: the night began without "
                    "them; a longer --warmup keeps its first minutes)",
                    flush=True,
                )
            else:
                await asyncio.sleep(-late)
            self.say(
                "the night starts: Sirekap replayed, the posko claims and the plenos sent at their times",
                self.clock.start,
            )
            played = asyncio.create_task(replay.follow(self.clock, self.played))
            over = False
            while all(p.poll() is None for p in processes):
                await self.watch(client)
                if played.done() and not over and self.status == "OFFICIAL":
                    over = True
                    self.say("the night is over: every claim and pleno is in; the stack runs on until Ctrl-C")
                await asyncio.sleep(0.5)
            played.cancel()
        failed = next(part for part, p in zip(parts, processes, strict=True) if p.poll() is not None)
        print(f"the {failed.name} stopped; stopping the demo", file=sys.stderr)
        return 1

    def played(self, played: Played) -> None:
        self.say(f"sent {played.event.what}: {played.outcome}", played.event.at)

    async def watch(self, client: httpx.AsyncClient) -> None:
        try:
            status = (await client.get(f"{self.monitor}/api/status")).json()["targets"][0]
            region = (await client.post("/graphql", json={"query": STATE})).json()["data"]["race"]["region"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError):
            return  # a part is busy or restarting: look again next time
        now = self.clock.now()
        coverage = region["sirekap"]["coverage"] if region["sirekap"] else None
        if coverage and (coverage["reported"], coverage["expected"]) not in (
            self.progress,
            self.pending and self.pending[0],
        ):
            self.pending = ((coverage["reported"], coverage["expected"]), now)
        headline_changed = status["headline"] != self.headline
        if self.pending is not None:
            (reported, expected), seen = self.pending
            due = self.progress_at is None or seen - self.progress_at >= PROGRESS_EVERY
            if due or headline_changed or reported == expected:
                self.say(f"Pantau: Sirekap {reported} of {expected} TPS in", seen)
                self.progress, self.progress_at, self.pending = (reported, expected), seen, None
        if headline_changed:
            self.headline = status["headline"]
            self.say(f"status page: {self.headline}")
        if region["status"] != self.status:
            self.status = region["status"]
            official = region["official"]["official"]
            detail = ""
            if official:
                votes = sorted(official["votes"], key=lambda v: -v["votes"])
                listed = ", ".join(f"{v['paslon']['shortName']} {v['votes']:,}" for v in votes)
                detail = f": {listed}, margin {official['margin']:,}"
            self.say(f"Pantau: Belu is {self.status}{detail}")


async def _operator_token(database_url: str, now: datetime) -> str:
    """A new operator token for the demo kecamatan."""
    engine = create_engine(database_url)
    try:
        async with sessionmaker(engine).begin() as session:
            _, secret = await create_token(
                session,
                role=Role.OPERATOR,
                name="demo operator",
                region_code=DEMO_KECAMATAN,
                paslon=None,
                now=now,
            )
    finally:
        await engine.dispose()
    return secret


def _stop(parts: Sequence[Part], processes: Sequence[subprocess.Popen[bytes]], grace: float = 20.0) -> None:
    """Asks every part to stop, gives them `grace` seconds together, then kills the ones still running."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for part, process in zip(parts, processes, strict=False):
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"the {part.name} did not stop within {grace:.0f} s; killed", file=sys.stderr)
            process.kill()
            process.wait()


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
