"""The monitor against the simulator over real HTTP, on a fake clock that moves with the scenario's."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.app import create_app
from monitor.probe import Reason
from monitor.settings import Settings, Target, race_file_url
from sirekap.sim.testing import RunningSim, running_simulator
from tests.servers import serving_here

WITA = ZoneInfo("Asia/Makassar")
MINUTE = timedelta(minutes=1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with running_simulator("belu-2020", speed=0.0) as running:
        yield running


def settings_for(sim: RunningSim, database_url: str) -> Settings:
    target = Target("pkwkk-5304", race_file_url(sim.base_url, "pkwkk", "5304"))
    return Settings(
        targets=(target,),
        database_url=database_url,
        interval_seconds=60,
        timeout_seconds=5,
        stale_after_seconds=24 * 3600,
        frozen_after_seconds=7 * 24 * 3600,
    )


def wita(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WITA).astimezone(UTC)


def sample(text: str, name: str) -> float | None:
    """The value of a metric for the Belu target in Prometheus text."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels.get("target") == "pkwkk-5304":
                return float(found.value)
    return None


async def probe_at(app_state: object, sim: RunningSim, clock: Clock, at: datetime) -> Reason:
    sim.set_clock(at=at)
    clock.now = at
    (result,) = await app_state.monitor.probe_all()  # type: ignore[attr-defined]
    return result.reason


async def test_the_1400_outage_is_one_incident_from_1400_wita_to_recovery(
    sim: RunningSim, empty_database_url: str
) -> None:
    clock = Clock(wita("2020-12-09T13:55"))
    app = create_app(settings_for(sim, empty_database_url), clock=clock, run_loop=False)
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        reasons = [await probe_at(app.state, sim, clock, wita("2020-12-09T13:55") + i * MINUTE) for i in range(15)]
        assert reasons[:7] == [Reason.UP] * 7 and set(reasons[7:]) == {Reason.DOWN}
        status = (await client.get("/api/status")).json()["targets"][0]
        assert status["state"] == "down" and status["reason"] == "down"
        since = datetime.fromisoformat(status["since"])
        assert wita("2020-12-09T14:00") <= since <= wita("2020-12-09T14:00") + MINUTE * 3
        assert status["since_local"] == "2020-12-09 14:02 WITA"
        assert status["headline"].startswith("Sirekap down since 14:02 WITA")
        await client.get("/api/status")
        metrics = (await client.get("/metrics")).text
        assert 'pantau_monitor_http_requests_total{handler="/api/status",method="GET",status="200"}' in metrics
        assert sample(metrics, "pantau_monitor_incident_open") == 1.0
        assert sample(metrics, "pantau_monitor_incident_start_timestamp_seconds") == since.timestamp()
        assert sample(metrics, "pantau_monitor_probe_success") == 0.0
        assert 'pantau_monitor_incident_info{reason="down",since_local="14:02 WITA",target="pkwkk-5304"} 1.0' in metrics

        recovery = wita("2020-12-10T10:00")
        after = [await probe_at(app.state, sim, clock, recovery + i * MINUTE) for i in range(3)]
        assert after == [Reason.UP] * 3
        (incident,) = (await client.get("/api/incidents")).json()["incidents"]
        assert incident["reason"] == "down"
        assert datetime.fromisoformat(incident["started_at"]) == since
        assert datetime.fromisoformat(incident["ended_at"]) == recovery
        assert incident["ended_local"] == "2020-12-10 10:00 WITA"

        exported = (await client.get("/api/incidents", params={"format": "csv"})).text
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert rows == [{k: "" if v is None else str(v) for k, v in incident.items()}]
        window = {"target": "pkwkk-5304", "from": "2020-12-10T12:00:00+08:00", "to": "2020-12-10T13:00:00+08:00"}
        assert (await client.get("/api/incidents", params=window)).json()["incidents"] == []
        assert (await client.get("/api/incidents", params={"from": "yesterday"})).status_code == 400


async def test_a_restart_during_the_outage_continues_the_incident_and_the_gap_is_unknown(
    sim: RunningSim, empty_database_url: str
) -> None:
    settings = settings_for(sim, empty_database_url)
    clock = Clock(wita("2020-12-09T14:03"))
    first = create_app(settings, clock=clock, run_loop=False)
    async with serving_here(first):
        for i in range(4):
            await probe_at(first.state, sim, clock, wita("2020-12-09T14:03") + i * MINUTE)
        (opened,) = first.state.monitor.open_incidents()
    # the monitor is down for 40 minutes, Sirekap still is too
    second = create_app(settings, clock=clock, run_loop=False)
    async with serving_here(second) as base, httpx.AsyncClient(base_url=base) as client:
        for i in range(3):
            await probe_at(second.state, sim, clock, wita("2020-12-09T14:46") + i * MINUTE)
        (still,) = second.state.monitor.open_incidents()
        assert still.id == opened.id and still.started_at == opened.started_at == wita("2020-12-09T14:03")
        incidents = (await client.get("/api/incidents")).json()["incidents"]
        assert len(incidents) == 1 and incidents[0]["ended_at"] is None
        hour = (await client.get("/api/status")).json()["targets"][0]["availability"]["1h"]
        # the hour to 14:48 saw 14:03-14:08 (the last probe vouches for two intervals) and 14:46-14:48: 7 minutes,
        # all of them down; the other 53 are unknown, neither up nor down
        assert hour["ratio"] == 0.0
        assert hour["unknown_seconds"] == pytest.approx(53 * 60)
        assert hour["coverage"] == pytest.approx(7 / 60)


async def test_metrics_pass_promtool(sim: RunningSim, empty_database_url: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    clock = Clock(wita("2020-12-09T13:58"))
    app = create_app(settings_for(sim, empty_database_url), clock=clock, run_loop=False)
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        for i in range(6):
            await probe_at(app.state, sim, clock, wita("2020-12-09T13:58") + i * MINUTE)
        text = (await client.get("/metrics")).text
    checked = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for name in ("probe_success", "probe_duration_seconds", "probes_total", "incident_open", "incidents_total",
                 "upstream_timestamp_seconds", "progress_ratio", "last_success_timestamp_seconds",
                 "availability_ratio", "availability_coverage_ratio"):  # fmt: skip
        assert f"pantau_monitor_{name}" in text
