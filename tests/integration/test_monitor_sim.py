"""The monitor against the simulator over real HTTP, on a fake clock that moves with the scenario's."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from monitor.app import create_app
from monitor.probe import Reason
from monitor.settings import Settings, Target, maintenance_from
from sirekap.clock import Clock
from sirekap.races import RaceTarget, race_file_url
from sirekap.sim.testing import RunningSim, running_simulator
from tests.servers import serving_here

WITA = ZoneInfo("Asia/Makassar")
MINUTE = timedelta(minutes=1)
NAME = "pkwkk-5304"


@dataclass
class Wall:
    """The wall clock under a monitor's `Clock`, moved by hand with the scenario's."""

    now: datetime

    def __call__(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with running_simulator("belu-2020", speed=0.0) as running:
        yield running


def settings_for(sim: RunningSim, database_url: str, **changes: Any) -> Settings:
    target = Target(NAME, race_file_url(sim.base_url, RaceTarget.parse("pkwkk 5304")))
    settings = Settings(
        targets=(target,),
        database_url=database_url,
        interval_seconds=60,
        timeout_seconds=5,
        stale_after_seconds=24 * 3600,
        frozen_after_seconds=7 * 24 * 3600,
    )
    return replace(settings, **changes)


def wita(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WITA).astimezone(UTC)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of a metric for the Belu target in Prometheus text."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == {"target": NAME, **labels}:
                return float(found.value)
    return None


async def probe_at(app: Starlette, sim: RunningSim, clock: Wall, at: datetime) -> Reason:
    """Move the scenario and the monitor to `at` and run one probe round."""
    sim.set_clock(at=at)
    clock.now = at
    (result,) = await app.state.monitor.probe_all()
    return Reason(result.reason)


async def test_the_1400_outage_is_one_incident_from_1400_wita_to_recovery(
    sim: RunningSim, empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    (outage,) = [f for f in sim.state()["faults"] if f["id"] == "belu-outage"]
    failed_at = datetime.fromisoformat(outage["start"]).astimezone(UTC)  # Sirekap fails "at 14:00" (14:02)
    assert wita("2020-12-09T14:00") <= failed_at < wita("2020-12-09T14:05")
    first = wita("2020-12-09T13:55:20")  # probes out of step with the minute, as in real life
    clock = Wall(first)
    app = create_app(settings_for(sim, empty_database_url), clock=Clock(wall=clock), run_loop=False)
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        reasons = [await probe_at(app, sim, clock, first + i * MINUTE) for i in range(15)]
        assert reasons[:7] == [Reason.UP] * 7 and set(reasons[7:]) == {Reason.DOWN}
        status = (await client.get("/api/status")).json()["targets"][0]
        assert status["state"] == "down" and status["reason"] == "down"
        since = datetime.fromisoformat(status["since"])
        assert since.utcoffset() == timedelta(0)
        assert failed_at <= since < failed_at + MINUTE  # within one probe interval of the failure
        assert status["since_local"] == "2020-12-09 14:02 WITA"
        assert status["headline"].startswith("Sirekap down since 14:02 WITA")
        await client.get("/api/status")
        metrics = (await client.get("/metrics")).text
        assert 'pantau_monitor_http_requests_total{handler="/api/status",method="GET",status="200"}' in metrics
        assert sample(metrics, "pantau_monitor_incident_open") == 1.0
        assert sample(metrics, "pantau_monitor_incident_start_timestamp_seconds") == since.timestamp()
        assert sample(metrics, "pantau_monitor_probe_success") == 0.0
        assert sample(metrics, "pantau_monitor_probe_http_status") == 503.0
        assert sample(metrics, "pantau_monitor_probes_total", reason="down") == 8.0
        assert sample(metrics, "pantau_monitor_last_success_timestamp_seconds") == (first + 6 * MINUTE).timestamp()
        assert sample(metrics, "pantau_monitor_progress_ratio") == pytest.approx(60 / 426)  # stuck at 14%
        assert 'pantau_monitor_incident_info{reason="down",since_local="14:02 WITA",target="pkwkk-5304"} 1.0' in metrics

        recovery = wita("2020-12-10T10:00:20")
        after = [await probe_at(app, sim, clock, recovery + i * MINUTE) for i in range(3)]
        assert after == [Reason.UP] * 3
        (incident,) = (await client.get("/api/incidents")).json()["incidents"]
        assert incident["reason"] == "down"
        assert datetime.fromisoformat(incident["started_at"]) == since
        assert datetime.fromisoformat(incident["ended_at"]) == recovery
        assert incident["ended_local"] == "2020-12-10 10:00 WITA"
        assert incident["duration_seconds"] == (recovery - since).total_seconds()
        metrics = (await client.get("/metrics")).text
        assert sample(metrics, "pantau_monitor_incident_open") == 0.0
        assert sample(metrics, "pantau_monitor_incidents_total") == 1.0
        assert sample(metrics, "pantau_monitor_incident_duration_seconds_count") == 1.0
    # The log says it as the status page does, in WITA, with UTC beside it.
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("incident ")]
    opened = since.astimezone(WITA)
    assert logged == [
        f"incident opened: pkwkk-5304 down since 2020-12-09 {opened:%H:%M:%S} WITA ({since:%H:%M:%S} UTC)",
        "incident closed: pkwkk-5304 at 2020-12-10 10:00:20 WITA (02:00:20 UTC)",
    ]


async def test_the_csv_export_round_trips_and_filters(sim: RunningSim, empty_database_url: str) -> None:
    clock = Wall(wita("2020-12-09T14:00"))
    app = create_app(settings_for(sim, empty_database_url), clock=Clock(wall=clock), run_loop=False)
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        for start in (wita("2020-12-09T14:00"), wita("2020-12-10T09:57")):  # the outage, then its end
            for i in range(6):
                await probe_at(app, sim, clock, start + i * MINUTE)
        fault = sim.add_fault("denied", status=200)  # a WAF page on 10 Dec, for three minutes
        for i in range(3):
            await probe_at(app, sim, clock, wita("2020-12-10T12:00") + i * MINUTE)
        sim.remove_fault(fault)
        for i in range(3):
            await probe_at(app, sim, clock, wita("2020-12-10T12:03") + i * MINUTE)
        incidents = (await client.get("/api/incidents")).json()["incidents"]
        assert [(i["reason"], i["started_local"], i["ended_local"]) for i in incidents] == [
            ("down", "2020-12-09 14:02 WITA", "2020-12-10 10:00 WITA"),
            ("error_page", "2020-12-10 12:00 WITA", "2020-12-10 12:03 WITA"),
        ]
        exported = await client.get("/api/incidents", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert rows == [{k: "" if v is None else str(v) for k, v in i.items()} for i in incidents]
        # and back: every field of the CSV reads as the JSON value it came from
        back = [{k: _typed(incidents[0][k], v) for k, v in row.items()} for row in rows[:1]]
        assert back == incidents[:1]
        window = {"target": NAME, "from": "2020-12-10T11:00:00+08:00", "to": "2020-12-10T13:00:00+08:00"}
        (found,) = (await client.get("/api/incidents", params=window)).json()["incidents"]
        assert found["reason"] == "error_page"
        assert (await client.get("/api/incidents", params={"target": "ppwp"})).json()["incidents"] == []
        assert (await client.get("/api/incidents", params={"from": "yesterday"})).status_code == 400
        assert (await client.get("/api/incidents", params={"from": "2020-12-10T11:00"})).status_code == 400


def _typed(like: Any, text: str) -> Any:
    if like is None:
        return None if text == "" else text
    return type(like)(text)


@pytest.mark.parametrize(
    ("fault", "reason", "detail"),
    [
        ({"kind": "error", "status": 502}, Reason.DOWN, "HTTP 502"),
        ({"kind": "refused"}, Reason.DOWN, "connection refused"),
        ({"kind": "hang"}, Reason.DOWN, "timeout"),
        ({"kind": "slow", "delay_s": 3}, Reason.DOWN, "timeout"),
        ({"kind": "denied", "status": 200}, Reason.ERROR_PAGE, "HTTP 200: html body"),
        ({"kind": "denied", "status": 403}, Reason.ERROR_PAGE, "HTTP 403: html body"),
        ({"kind": "truncated"}, Reason.INVALID, "HTTP 200: truncated"),
        ({"kind": "stale", "start": "2020-12-10T11:00"}, Reason.STALE, "data is 1 h 45 min old"),
        ({"kind": "freeze", "start": "2020-12-10T10:30"}, Reason.FROZEN, "numbers unchanged for 2 h 15 min"),
        ({"kind": "freeze", "start": "2020-12-10T10:30", "drop_charts": False}, Reason.FROZEN, "numbers unchanged"),
    ],
    ids=["5xx", "refused", "hang", "slow", "waf-200", "waf-403", "truncated", "stale", "frozen", "frozen-charts"],
)
async def test_each_fault_is_classified_with_its_reason(
    sim: RunningSim, empty_database_url: str, fault: dict[str, Any], reason: Reason, detail: str
) -> None:
    settings = settings_for(
        sim, empty_database_url, timeout_seconds=0.5, stale_after_seconds=3600, frozen_after_seconds=2 * 3600
    )
    clock = Wall(wita("2020-12-10T10:30"))
    app = create_app(settings, clock=Clock(wall=clock), run_loop=False)
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        sim.add_fault(**{"start": "2020-12-10T12:00", **fault})  # a freeze starts before the first probe
        assert await probe_at(app, sim, clock, wita("2020-12-10T10:30")) is Reason.UP
        found = await probe_at(app, sim, clock, wita("2020-12-10T12:45"))
        status = (await client.get("/api/status")).json()["targets"][0]
        metrics = (await client.get("/metrics")).text
    assert found is reason
    assert status["state"] == "degraded" and status["reason"] == reason.value
    assert status["detail"].startswith(detail)
    assert sample(metrics, "pantau_monitor_probes_total", reason=reason.value) == 1.0
    assert sample(metrics, "pantau_monitor_probe_success") == 0.0


async def test_numbers_that_stop_moving_in_the_data_are_not_frozen_before_the_threshold(
    sim: RunningSim, empty_database_url: str
) -> None:
    settings = settings_for(sim, empty_database_url, stale_after_seconds=3600, frozen_after_seconds=2 * 3600)
    clock = Wall(wita("2020-12-10T10:30"))
    app = create_app(settings, clock=Clock(wall=clock), run_loop=False)
    async with serving_here(app):
        sim.add_fault("freeze", start="2020-12-10T10:30")
        reasons = [await probe_at(app, sim, clock, wita("2020-12-10T10:30") + i * 15 * MINUTE) for i in range(12)]
    # unchanged for 2 h at 12:30; frozen from the first probe past it, and it stays frozen
    assert reasons == [Reason.UP] * 9 + [Reason.FROZEN] * 3


async def test_alternating_failures_below_the_threshold_open_no_incident(
    sim: RunningSim, empty_database_url: str
) -> None:
    clock = Wall(wita("2020-12-10T11:00"))
    app = create_app(settings_for(sim, empty_database_url), clock=Clock(wall=clock), run_loop=False)
    failing = [True, True, False, True, False, True, True, False, True, True, False, False]
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        states = []
        for i, fails in enumerate(failing):
            fault = sim.add_fault("error", status=503) if fails else None
            reason = await probe_at(app, sim, clock, wita("2020-12-10T11:00") + i * MINUTE)
            assert reason is (Reason.DOWN if fails else Reason.UP)
            states.append((await client.get("/api/status")).json()["targets"][0]["state"])
            if fault is not None:
                sim.remove_fault(fault)
        assert (await client.get("/api/incidents")).json()["incidents"] == []
        metrics = (await client.get("/metrics")).text
    assert "down" not in states and states.count("degraded") == failing.count(True)
    assert sample(metrics, "pantau_monitor_incidents_total") == 0.0
    assert sample(metrics, "pantau_monitor_probes_total", reason="down") == failing.count(True)


async def test_a_restart_during_the_outage_continues_the_incident_and_the_gap_is_unknown(
    sim: RunningSim, empty_database_url: str
) -> None:
    settings = settings_for(sim, empty_database_url)
    clock = Wall(wita("2020-12-09T14:03"))
    first = create_app(settings, clock=Clock(wall=clock), run_loop=False)
    async with serving_here(first):
        for i in range(4):
            await probe_at(first, sim, clock, wita("2020-12-09T14:03") + i * MINUTE)
        (opened,) = first.state.monitor.open_incidents()
    # the monitor is down for 40 minutes, Sirekap still is too
    second = create_app(settings, clock=Clock(wall=clock), run_loop=False)
    async with serving_here(second) as base, httpx.AsyncClient(base_url=base) as client:
        for i in range(3):
            await probe_at(second, sim, clock, wita("2020-12-09T14:46") + i * MINUTE)
        (still,) = second.state.monitor.open_incidents()
        assert still.id == opened.id and still.started_at == opened.started_at == wita("2020-12-09T14:03")
        incidents = (await client.get("/api/incidents")).json()["incidents"]
        assert len(incidents) == 1 and incidents[0]["ended_at"] is None
        hour = (await client.get("/api/status")).json()["targets"][0]["availability"]["1h"]
        metrics = (await client.get("/metrics")).text
    # the hour to 14:48 saw 14:03 to 14:06 plus what the last probe vouches for (two intervals and a timeout), and
    # 14:46 to 14:48, all of it down; the rest is unknown, neither up nor down
    seen = 3 * MINUTE + settings.vouch() + 2 * MINUTE
    assert hour["ratio"] == 0.0
    assert hour["unknown_seconds"] == pytest.approx(3600 - seen.total_seconds())
    assert hour["coverage"] == pytest.approx(seen / timedelta(hours=1))
    assert sample(metrics, "pantau_monitor_availability_coverage_ratio", window="1h") == pytest.approx(hour["coverage"])
    assert sample(metrics, "pantau_monitor_incidents_total") == 1.0  # not a second one


async def test_maintenance_in_local_time_is_left_out_of_availability(sim: RunningSim, empty_database_url: str) -> None:
    maintenance = maintenance_from("2020-12-09T14:10/2020-12-09T14:40", WITA)
    settings = settings_for(sim, empty_database_url, maintenance=maintenance)
    clock = Wall(wita("2020-12-09T13:50"))
    app = create_app(settings, clock=Clock(wall=clock), run_loop=False)
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        for i in range(61):
            await probe_at(app, sim, clock, wita("2020-12-09T13:50") + i * MINUTE)
        hour = (await client.get("/api/status")).json()["targets"][0]["availability"]["1h"]
    # 13:50-14:50 less 30 min of maintenance: up 13:50-14:02, down 14:02-14:10 and 14:40-14:50
    assert hour["coverage"] == 1.0 and hour["unknown_seconds"] == 0.0
    assert hour["ratio"] == pytest.approx(12 / 30)


async def test_metrics_pass_promtool(sim: RunningSim, empty_database_url: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install promtool (Debian package prometheus)")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    clock = Wall(wita("2020-12-09T13:58"))
    app = create_app(settings_for(sim, empty_database_url), clock=Clock(wall=clock), run_loop=False)
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
        for i in range(6):
            await probe_at(app, sim, clock, wita("2020-12-09T13:58") + i * MINUTE)
        for i in range(3):  # close it, so the duration histogram has an observation
            await probe_at(app, sim, clock, wita("2020-12-10T10:00") + i * MINUTE)
        text = (await client.get("/metrics")).text
    checked = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    names = {family.name for family in text_string_to_metric_families(text)}
    documented = {"probe_success", "probe_duration_seconds", "probe_http_status", "probes", "incident_open",
                  "incident_start_timestamp_seconds", "incident_info", "incidents", "incident_duration_seconds",
                  "upstream_timestamp_seconds", "progress_ratio", "last_success_timestamp_seconds",
                  "availability_ratio", "availability_coverage_ratio"}  # fmt: skip
    assert {f"pantau_monitor_{name}" for name in documented} <= names
