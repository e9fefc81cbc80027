"""One syncer per deployment, with real processes: `pantau sync --follow` and `pantau api --workers 2`, all three
configured to follow the simulator once a second. Only the sync service syncs (one pass a second, not three); every
worker's /metrics reports the same sync numbers, which never go backwards from one scrape to the next, whichever
worker answers; the API's subscribers hear the sync service's passes; and when the sync service stops, one worker takes
over, still at one pass a second."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sirekap.sim.belu_timeline import WITA
from sirekap.sim.testing import RunningSim, running_simulator
from tests.live import next_event, subscribe
from tests.servers import api_process

pytestmark = pytest.mark.e2e
EVENING = datetime(2020, 12, 11, 18, 15, tzinfo=WITA)
NEXT_DAY = datetime(2020, 12, 12, 21, 0, tzinfo=WITA)
INTERVAL = 1.0
WINDOW = 6.0


@dataclass(frozen=True)
class Scrape:
    at: float
    worker: str
    #: (metric, labels) → value of every pantau_sync sample
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]

    @property
    def passes(self) -> float:
        return sum(v for (name, _), v in self.samples.items() if name == "pantau_sync_passes_total")


def scrape(base: str) -> Scrape:
    # a new connection each time, so the workers take turns answering
    answer = httpx.get(f"{base}/metrics", headers={"Connection": "close"}, timeout=10)
    assert answer.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
        if s.name.startswith("pantau_sync_")
    }
    return Scrape(time.monotonic(), answer.headers["Pantau-Worker"], samples)


def scrapes_for(base: str, seconds: float) -> list[Scrape]:
    taken: list[Scrape] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        taken.append(scrape(base))
        time.sleep(0.1)  # pacing the scrapes of a fixed window, not waiting for a result
    return taken


def wait_for_passes(base: str, at_least: float, within: float = 60) -> Scrape:
    deadline = time.monotonic() + within
    while True:
        latest = scrape(base)
        if latest.passes >= at_least:
            return latest
        assert time.monotonic() < deadline, f"{latest.passes} passes, wanted {at_least}"
        time.sleep(0.1)


@contextmanager
def sync_service(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.sync", "--follow"], env={**os.environ, **env}, stdout=out, stderr=out
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def assert_one_pass_per_interval(scrapes: list[Scrape]) -> None:
    seconds = scrapes[-1].at - scrapes[0].at
    made = scrapes[-1].passes - scrapes[0].passes
    assert seconds / INTERVAL - 2 <= made <= seconds / INTERVAL + 2, f"{made} passes in {seconds:.1f} s"


def assert_workers_agree(scrapes: list[Scrape]) -> None:
    assert len({s.worker for s in scrapes}) == 2, "every scrape was answered by the same worker"
    for before, after in itertools.pairwise(scrapes):
        for key, value in before.samples.items():
            if key[0].endswith("_total"):  # counters never go back, whichever worker answers
                assert after.samples.get(key, 0) >= value, (key, before, after)
        if before.worker != after.worker and before.passes == after.passes:
            # the same stored state, read by two workers: the same numbers (the lag moves with each one's clock)
            for key, value in before.samples.items():
                if key[0] != "pantau_sync_upstream_lag_seconds":
                    assert after.samples[key] == value, key


async def hear_a_sync_pass(base: str, sim: RunningSim) -> None:
    socket = await subscribe(base, "5304")
    try:
        sim.set_clock(at=NEXT_DAY)  # Sirekap moves on: the sync service's next pass writes TPS
        event = await next_event(socket, within=60)
        assert event["kind"] == "CHANGES" and {c["source"] for c in event["changes"]} == {"SIREKAP"}, event
    finally:
        await socket.close()


def test_the_sync_service_syncs_alone_and_every_worker_reports_the_same(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    with running_simulator("belu-2020", at=EVENING) as sim:
        env = {
            "PANTAU_DATABASE_URL": database_url,
            "PANTAU_SIREKAP_URL": sim.base_url,
            "PANTAU_SYNC_RACES": "pkwkk 5304 2020",
            "PANTAU_SYNC_INTERVAL": str(INTERVAL),
            "PANTAU_RATE_LIMIT": "0",
        }
        notified = backend == "postgresql" or bool(os.environ.get("PANTAU_TEST_REDIS_URL"))
        if backend == "sqlite" and notified:  # SQLite cannot notify other processes: Redis carries the passes
            env |= {"PANTAU_REDIS_URL": os.environ["PANTAU_TEST_REDIS_URL"], "PANTAU_REDIS_PREFIX": uuid.uuid4().hex}
        with sync_service(env, tmp_path / "sync.log") as syncer, api_process(env, "--workers", "2") as base:
            wait_for_passes(base, 2)  # the sync service bootstrapped and follows
            window = scrapes_for(base, WINDOW)
            assert_one_pass_per_interval(window)
            assert_workers_agree(window)
            if notified:
                asyncio.run(hear_a_sync_pass(base, sim))

            syncer.terminate()
            assert syncer.wait(timeout=20) == 0, (tmp_path / "sync.log").read_text()
            # a worker takes the lock over within a standby check, and syncs at the same pace
            wait_for_passes(base, scrape(base).passes + 2, within=30)
            after = scrapes_for(base, WINDOW)
            assert_one_pass_per_interval(after)
            assert_workers_agree(after)
