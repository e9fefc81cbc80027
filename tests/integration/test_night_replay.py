"""The Belu night told in time, through the public interfaces, on every database backend.

The race is loaded as it stood before the night. At each of six moments the simulator's Sirekap and the clock of the
API and the sync move to it, the sync makes a pass, and the replay sends the claims and plenos known by then through
the write API. At every moment Pantau shows what was known then and nothing that had not yet happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.app import create_app
from api.dataset.events import night_events
from api.settings import Settings
from pantau.replay import Replay, replay_tokens
from sirekap.belu import belu_2020
from sirekap.clock import Clock
from sirekap.sim.testing import RunningSim, running_simulator
from tests.integration.test_sync_support import FakeClock, sync_harness
from tests.servers import serving_here

WITA = ZoneInfo("Asia/Makassar")
SLUG = "pkwkk-5304-2020"
STATE = """{ region(code: "5304") { status
  sirekap: results(source: SIREKAP) { coverage { reported expected } votes { paslon { number } votes }
    receivedAt { utc } }
  plenos: results(source: PLENO_KECAMATAN) { status isOfficial coverage { reported expected } receivedAt { utc } }
  kpu: results(source: PLENO_KABUPATEN) { status isOfficial margin votes { paslon { shortName } votes }
    asOf { local } receivedAt { utc } }
  comparison { official { source }
    claims { isClaim isOfficial status claimant { shortName } asOf { local } asOfDate receivedAt { utc } } } } }"""


def wita(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2020, 12, day, hour, minute, tzinfo=WITA)


@dataclass
class Wall:
    """The wall clock under the API's clock, moved by hand to each moment."""

    at: datetime

    def __call__(self) -> float:
        return self.at.timestamp()


@dataclass
class Night:
    sim: RunningSim
    wall: Wall
    sync_clock: FakeClock
    client: httpx.AsyncClient
    replay: Replay
    harness: Any

    async def at(self, moment: datetime) -> dict[str, Any]:
        """Move everything to `moment`: Sirekap, the clocks, a sync pass, the results known by then."""
        self.sim.set_clock(at=moment)
        self.wall.at = self.sync_clock.now = moment.astimezone(UTC)
        await self.harness.service.run_pass()
        played = await self.replay.play_until(moment)
        assert all(p.recorded for p in played), played
        answer = (await self.client.post("/graphql", json={"query": STATE})).json()
        assert "errors" not in answer, answer
        region: dict[str, Any] = answer["data"]["region"]
        shown = [region["sirekap"], region["plenos"], region["kpu"], *region["comparison"]["claims"]]
        for result in filter(None, shown):  # nothing that had not yet happened
            received = result["receivedAt"]
            assert received is None or datetime.fromisoformat(received["utc"]) <= moment, (moment, result)
        return region


@pytest.fixture
async def night(belu_race_database_url: str) -> AsyncIterator[Night]:
    start = wita(9, 13, 45)
    wall, sync_clock = Wall(start), FakeClock(start.astimezone(UTC))
    tokens = await replay_tokens(belu_race_database_url, belu_2020(), start)
    # Each moment is read right after the sync or a replayed write: the data version is read on every request.
    settings = Settings(
        database_url=belu_race_database_url, rate_limit_per_minute=0, clock=Clock(wall=wall), cache_version_seconds=0
    )
    with running_simulator("belu-2020") as sim:
        async with (
            sync_harness(belu_race_database_url, sim.base_url, sync_clock) as harness,
            serving_here(create_app(settings)) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as client,
        ):
            replay = Replay(client, night_events(belu_2020(), SLUG), tokens, SLUG)
            yield Night(sim, wall, sync_clock, client, replay, harness)


def coverage(result: dict[str, Any] | None) -> tuple[int, int] | None:
    return None if result is None else (result["coverage"]["reported"], result["coverage"]["expected"])


def claimants(region: dict[str, Any]) -> list[str]:
    claims = region["comparison"]["claims"]
    assert all(c["isClaim"] and not c["isOfficial"] and c["status"] == "CLAIM" for c in claims), claims
    return sorted(c["claimant"]["shortName"] for c in claims)


async def test_the_night_at_six_moments(night: Night) -> None:
    # 9 Dec 13:45: polls closed, the first uploads; no claim, no pleno
    region = await night.at(wita(9, 13, 45))
    assert region["status"] == "PARTIAL" and coverage(region["sirekap"]) == (30, 426)
    assert (coverage(region["plenos"]), region["kpu"], claimants(region)) == ((0, 12), None, [])
    assert region["comparison"]["official"] is None

    await night.at(wita(9, 14, 0))  # the last batch before the central server fails at 14:02: 60 of 426
    # 15:00: Sirekap is down; Pantau keeps what it last read
    region = await night.at(wita(9, 15, 0))
    assert region["status"] == "PARTIAL" and coverage(region["sirekap"]) == (60, 426)
    assert (coverage(region["plenos"]), region["kpu"], claimants(region)) == ((0, 12), None, [])

    # 10 Dec 01:00: SEHATI's post has claimed victory (00:30); SAHABAT's claim comes later that day
    region = await night.at(wita(10, 1, 0))
    assert claimants(region) == ["SEHATI"]
    (claim,) = region["comparison"]["claims"]
    assert (claim["asOf"], claim["asOfDate"]) == ({"local": "2020-12-10 00:30 WITA"}, None)
    assert coverage(region["sirekap"]) == (60, 426) and region["comparison"]["official"] is None

    # 11 Dec 18:15: Sirekap shows 163 of 426 TPS, SAHABAT 19,539, SEHATI 19,580; both posts have claimed
    region = await night.at(wita(11, 18, 15))
    assert coverage(region["sirekap"]) == (163, 426)
    assert {v["paslon"]["number"]: v["votes"] for v in region["sirekap"]["votes"]} == {1: 19539, 2: 19580}
    assert claimants(region) == ["SAHABAT", "SEHATI"]
    sahabat = next(c for c in region["comparison"]["claims"] if c["claimant"]["shortName"] == "SAHABAT")
    assert (sahabat["asOf"], sahabat["asOfDate"]) == (None, "2020-12-10")  # known only by its day
    assert (coverage(region["plenos"]), region["kpu"]) == ((0, 12), None) and region["status"] == "PARTIAL"

    # 14 Dec, once the twelve PPK plenos are read: a complete recap, nothing official
    region = await night.at(wita(14, 23, 59))
    assert region["status"] == "PLENO_KECAMATAN_DONE" and coverage(region["sirekap"]) == (426, 426)
    assert coverage(region["plenos"]) == (12, 12)
    assert (region["plenos"]["status"], region["plenos"]["isOfficial"]) == ("RECAP", False)
    assert region["kpu"] is None and region["comparison"]["official"] is None

    # 16 Dec 18:00: the KPU Belu pleno, the official result
    region = await night.at(wita(16, 18, 0))
    assert region["status"] == "OFFICIAL" and region["comparison"]["official"] == {"source": "PLENO_KABUPATEN"}
    kpu = region["kpu"]
    assert (kpu["status"], kpu["isOfficial"], kpu["margin"]) == ("OFFICIAL", True, 247)
    assert {v["paslon"]["shortName"]: v["votes"] for v in kpu["votes"]} == {"SAHABAT": 50376, "SEHATI": 50623}
    assert kpu["asOf"] == {"local": "2020-12-16 18:00 WITA"}
    assert claimants(region) == ["SAHABAT", "SEHATI"]
