"""The end-to-end drill: real simulator, API (on PostgreSQL when configured), monitor, Prometheus loading the
repository's rules, Alertmanager with the repository's routes, and a webhook receiver on loopback.

A Sirekap outage fires "Sirekap down since HH:MM WITA" and resolves after recovery; an API that cannot reach
Sirekap fires "sync failing". Scrape and evaluation run every second and the routes' waits are shortened, so the
whole drill takes about a minute and a half.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.databases import PostgresDatabases, SqliteDatabases
from tests.e2e.test_api_workers import free_port
from tests.e2e.test_monitor_page import process

ROOT = Path(__file__).parents[2]
PROMETHEUS, ALERTMANAGER = shutil.which("prometheus"), shutil.which("prometheus-alertmanager")


class Receiver:
    """A webhook receiver that keeps every notification Alertmanager sends."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, name: str, status: str) -> list[dict[str, Any]]:
        return [
            {**alert, "route": n["path"]}
            for n in self.notifications
            for alert in n["alerts"]
            if alert["labels"]["alertname"] == name and alert["status"] == status
        ]


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def drill_database_url(database_servers: dict[str, SqliteDatabases | PostgresDatabases]) -> str:
    """PostgreSQL when the run has it (as CI does), else SQLite: the drill runs once."""
    return database_servers["postgresql" if "postgresql" in database_servers else "sqlite"].create("belu")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.mark.skipif(PROMETHEUS is None and not os.environ.get("CI"), reason="Debian prometheus is not installed")
def test_outage_and_sync_failure_fire_and_resolve(tmp_path: Path, drill_database_url: str, receiver: Receiver) -> None:
    assert PROMETHEUS and ALERTMANAGER, "CI must install Debian's prometheus and prometheus-alertmanager"
    ports = {name: free_port() for name in ("sim", "admin", "api", "monitor", "prometheus", "alertmanager")}
    admin = f"http://127.0.0.1:{ports['admin']}"

    alertmanager_config = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    alertmanager_config["route"].update(group_wait="1s", group_interval="2s")
    for route in alertmanager_config["route"]["routes"]:
        route.update(group_wait="1s", group_interval="2s")
    for receiver_config in alertmanager_config["receivers"]:
        for hook in receiver_config["webhook_configs"]:
            hook["url"] = receiver.url + "/" + receiver_config["name"]
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager_config))

    prometheus_config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    prometheus_config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    prometheus_config["rule_files"] = [str(ROOT / "deploy/prometheus/rules/pantau.yml")]
    prometheus_config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{ports['alertmanager']}"
    ]
    for job in prometheus_config["scrape_configs"]:
        service = "api" if job["job_name"] == "pantau-api" else "monitor"
        job["static_configs"][0]["targets"] = [f"127.0.0.1:{ports[service]}"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config))

    python = sys.executable
    sim = [python, "-m", "pantau.cli", "sim", "--scenario", "belu-2020", "--speed", "0", "--start", "2020-12-09T13:58",
           "--no-schedule", "--port", str(ports["sim"]), "--admin-port", str(ports["admin"])]  # fmt: skip
    api_env = {
        "PANTAU_DATABASE_URL": drill_database_url,
        "PANTAU_SIREKAP_URL": f"http://127.0.0.1:{free_port()}",  # the API cannot reach Sirekap: its sync fails
        "PANTAU_SYNC_RACES": "pkwkk 5304",
        "PANTAU_SYNC_INTERVAL": "1",
    }
    monitor_env = {
        "PANTAU_SIREKAP_URL": f"http://127.0.0.1:{ports['sim']}",
        "PANTAU_SYNC_RACES": "pkwkk 5304",
        "PANTAU_PROBE_INTERVAL": "0.5",
        "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/monitor.db",
        "PANTAU_CLOCK_START": "2020-12-09T14:02",  # the monitor keeps the scenario's time
        "PANTAU_STALE_AFTER": str(10 * 365 * 86400),
    }
    with (
        process(sim, {}, f"{admin}/_sim/state"),
        process([python, "-m", "api", "--port", str(ports["api"])], api_env, f"http://127.0.0.1:{ports['api']}/healthz"),
        process([python, "-m", "monitor", "--port", str(ports["monitor"])], monitor_env,
                f"http://127.0.0.1:{ports['monitor']}/healthz"),
        process([ALERTMANAGER, f"--config.file={tmp_path}/alertmanager.yml", f"--storage.path={tmp_path}/am",
                 f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address="], {},
                f"http://127.0.0.1:{ports['alertmanager']}/-/ready"),
        process([PROMETHEUS, f"--config.file={tmp_path}/prometheus.yml", f"--storage.tsdb.path={tmp_path}/tsdb",
                 f"--web.listen-address=127.0.0.1:{ports['prometheus']}"], {},
                f"http://127.0.0.1:{ports['prometheus']}/-/ready"),
    ):  # fmt: skip
        httpx.put(f"{admin}/_sim/clock", json={"at": "2020-12-09T14:05"})
        fault = httpx.post(f"{admin}/_sim/faults", json={"kind": "error", "status": 503}).json()["id"]
        (down,) = wait_for(lambda: receiver.alerts("SirekapDown", "firing"), 60, "SirekapDown to fire")[:1]
        summary = down["annotations"]["summary"]
        assert re.fullmatch(r"Sirekap down since 14:0\d WITA", summary), summary
        assert down["route"] == "/page"
        since = httpx.get(f"http://127.0.0.1:{ports['monitor']}/api/status").json()["targets"][0]["since_local"]
        assert summary.endswith(since.split(" ", 1)[1])  # the same HH:MM WITA as the monitor's own API

        httpx.delete(f"{admin}/_sim/faults/{fault}")  # Sirekap recovers
        resolved = wait_for(lambda: receiver.alerts("SirekapDown", "resolved"), 60, "SirekapDown to resolve")
        assert resolved[0]["annotations"]["summary"] == summary

        failing = wait_for(lambda: receiver.alerts("SyncFailing", "firing"), 120, "SyncFailing to fire")
        assert failing[0]["labels"]["race"] == "pkwkk-5304" and failing[0]["route"] == "/page"
        assert failing[0]["annotations"]["summary"] == "Sync of pkwkk-5304 is failing"
