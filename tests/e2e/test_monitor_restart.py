"""The monitor process is killed (SIGKILL, no shutdown) during an outage and started again: it carries on with the
same incident, and the time it was dead is unknown, neither up nor down."""

from __future__ import annotations

import re
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_monitor_page import poll, process
from tests.servers import free_port

pytestmark = pytest.mark.e2e

INTERVAL, TIMEOUT = 0.2, 1.0
GAP = 3.0


def target(base: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/api/status").json()["targets"][0])


def test_a_killed_monitor_continues_the_incident_and_the_gap_is_unknown(tmp_path: Path) -> None:
    sim_port, admin_port = free_port(), free_port()
    sim_cmd = [sys.executable, "-m", "pantau.cli", "sim", "--scenario", "belu-2020", "--speed", "0",
               "--start", "2020-12-09T13:58", "--port", str(sim_port), "--admin-port", str(admin_port)]  # fmt: skip
    env = {
        "PANTAU_SIREKAP_URL": f"http://127.0.0.1:{sim_port}",
        "PANTAU_SYNC_RACES": "pkwkk 5304",
        "PANTAU_PROBE_INTERVAL": str(INTERVAL),
        "PANTAU_PROBE_TIMEOUT": str(TIMEOUT),
        "PANTAU_STALE_AFTER": str(10 * 365 * 86400),  # the scenario's data is from 2020; the clock here is real
        "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/monitor.db",
    }
    with process(sim_cmd, {}, f"http://127.0.0.1:{admin_port}/_sim/state"):
        first_port = free_port()
        first = f"http://127.0.0.1:{first_port}"
        with process([sys.executable, "-m", "monitor", "--port", str(first_port)], env, f"{first}/healthz") as dying:
            poll(lambda: target(first)["state"] == "up")
            httpx.put(f"http://127.0.0.1:{admin_port}/_sim/clock", json={"at": "2020-12-09T14:05"})  # Sirekap fails
            poll(lambda: target(first)["state"] == "down")
            (opened,) = httpx.get(f"{first}/api/incidents").json()["incidents"]
            dying.send_signal(signal.SIGKILL)
            dying.wait(timeout=10)
            killed_at = datetime.now().astimezone()
        time.sleep(GAP)  # the monitor is dead for a while; Sirekap is still down

        second_port = free_port()
        second = f"http://127.0.0.1:{second_port}"
        with process([sys.executable, "-m", "monitor", "--port", str(second_port)], env, f"{second}/healthz"):
            after_restart = target(second)  # availability as of the start, before the next refresh
            status = poll(lambda: (s := target(second))["last_probe_at"] and s["state"] == "down" and s)
            assert isinstance(status, dict)
            incidents = httpx.get(f"{second}/api/incidents").json()["incidents"]
            metrics = httpx.get(f"{second}/metrics").text
            page = httpx.get(f"{second}/").text

    assert [i["id"] for i in incidents] == [opened["id"]]  # the same incident, not a second one
    assert incidents[0]["started_at"] == opened["started_at"] and incidents[0]["ended_at"] is None
    assert status["since"] == opened["started_at"]
    assert 'pantau_monitor_incidents_total{target="pkwkk-5304"} 1.0' in metrics
    assert 'pantau_monitor_incident_open{target="pkwkk-5304"} 1.0' in metrics

    # the restarted monitor knows the outage from before it died, and counts the dead time as unknown, not down
    since = datetime.fromisoformat(opened["started_at"])
    hour = after_restart["availability"]["1h"]
    vouch = 2 * INTERVAL + TIMEOUT
    down_before_kill = (killed_at - since).total_seconds()
    assert down_before_kill - 1 <= hour["down_seconds"] <= down_before_kill + vouch + 0.5
    # on the page, the incident's red bar is broken by the grey of the time nobody observed
    day = page.split("Incidents, last 24 h", 1)[1].split("Incidents, last 7 days", 1)[0]
    assert len(re.findall(r"<title>down</title>", day)) == 2
    assert datetime.fromisoformat(status["last_probe_at"]) > killed_at + timedelta(seconds=GAP)
