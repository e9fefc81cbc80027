"""The end-to-end drill: real simulator, API (on PostgreSQL when configured), monitor, Prometheus loading the
repository's rules, Alertmanager with the repository's routes and inhibitions, and a webhook receiver on loopback.

The simulator's scheduled election-night outage (14:02 WITA) pages "Sirekap down since 14:02 WITA"; while it lasts,
the API's failing sync is held back by the inhibition; once Sirekap recovers, "Sirekap down" resolves and the sync
failure (this API cannot reach Sirekap at all) pages "sync failing". Then a second API follows the simulator while
one TPS file is an HTML page served with status 200: its passes complete with that one document unreadable, which
files a ticket "Sync of pkwkk-5304 is partial: 1 unreadable document" and never pages. Scrape and evaluation run
every second and the routes' waits are shortened, so the whole drill takes about two and a half minutes.
"""

from __future__ import annotations

import json
import os
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

from sirekap.codes import url_path
from sirekap.sim.belu_timeline import belu_timeline
from tests.databases import PostgresDatabases, SqliteDatabases
from tests.e2e.test_monitor_page import process
from tests.servers import free_port

pytestmark = pytest.mark.e2e

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
            {**alert, "route": n["path"], "received": index}
            for index, n in enumerate(self.notifications)
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
def drill_databases(database_servers: dict[str, SqliteDatabases | PostgresDatabases]) -> tuple[str, str]:
    """Two databases, one per API: PostgreSQL when the run has it (as CI does), else SQLite: the drill runs once."""
    server = database_servers["postgresql" if "postgresql" in database_servers else "sqlite"]
    return server.create("belu"), server.create("belu")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.mark.skipif(PROMETHEUS is None and not os.environ.get("CI"), reason="Debian prometheus is not installed")
def test_outage_and_sync_failure_fire_and_resolve(
    tmp_path: Path, drill_databases: tuple[str, str], receiver: Receiver
) -> None:
    assert PROMETHEUS and ALERTMANAGER, "CI must install Debian's prometheus and prometheus-alertmanager"
    names = ("sim", "admin", "api", "partial_api", "monitor", "prometheus", "alertmanager")
    ports = {name: free_port() for name in names}
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
    prometheus_config["rule_files"] = [str(quicker_rules(tmp_path))]
    prometheus_config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{ports['alertmanager']}"
    ]
    for job in prometheus_config["scrape_configs"]:
        service = "api" if job["job_name"] == "pantau-api" else "monitor"
        job["static_configs"][0]["targets"] = [f"127.0.0.1:{ports[service]}"]
    # the API of the last phase, scraped as a job of its own so that it is not "down" before it starts
    partial_target = f"127.0.0.1:{ports['partial_api']}"
    prometheus_config["scrape_configs"].append(
        {"job_name": "pantau-api-partial", "static_configs": [{"targets": [partial_target]}]}
    )
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config))

    python = sys.executable
    # Paused just before the scheduled outage (9 Dec 14:02 to 10 Dec 10:00 WITA); the drill moves the clock into it.
    sim = [python, "-m", "pantau.cli", "sim", "--scenario", "belu-2020", "--speed", "0", "--start", "2020-12-09T14:01",
           "--port", str(ports["sim"]), "--admin-port", str(ports["admin"])]  # fmt: skip
    api_env = {
        "PANTAU_DATABASE_URL": drill_databases[0],
        "PANTAU_SIREKAP_URL": f"http://127.0.0.1:{free_port()}",  # this API cannot reach Sirekap: its sync fails
        "PANTAU_SYNC_RACES": "pkwkk 5304 2020",
        "PANTAU_SYNC_INTERVAL": "1",
    }
    monitor_env = {
        "PANTAU_SIREKAP_URL": f"http://127.0.0.1:{ports['sim']}",
        "PANTAU_SYNC_RACES": "pkwkk 5304",
        "PANTAU_PROBE_INTERVAL": "0.5",
        "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/monitor.db",
        # The monitor keeps the night's time from 14:02:00 as the processes start; the outage starts a few seconds in.
        "PANTAU_CLOCK_START": "2020-12-09T14:02+08:00",
        "PANTAU_CLOCK_EPOCH": str(time.time()),
        "PANTAU_STALE_AFTER": str(10 * 365 * 86400),
    }
    prometheus_url = f"http://127.0.0.1:{ports['prometheus']}"
    alertmanager_url = f"http://127.0.0.1:{ports['alertmanager']}"
    with (
        process(sim, {}, f"{admin}/_sim/state"),
        process([python, "-m", "api", "--port", str(ports["api"])], api_env, f"http://127.0.0.1:{ports['api']}/healthz"),
        process([python, "-m", "monitor", "--port", str(ports["monitor"])], monitor_env,
                f"http://127.0.0.1:{ports['monitor']}/healthz"),
        process([ALERTMANAGER, f"--config.file={tmp_path}/alertmanager.yml", f"--storage.path={tmp_path}/am",
                 f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address="], {},
                f"{alertmanager_url}/-/ready"),
        process([PROMETHEUS, f"--config.file={tmp_path}/prometheus.yml", f"--storage.tsdb.path={tmp_path}/tsdb",
                 f"--web.listen-address=127.0.0.1:{ports['prometheus']}"], {}, f"{prometheus_url}/-/ready"),
    ):  # fmt: skip
        # Before the outage Prometheus sees Sirekap up through the monitor.
        wait_for(lambda: query(prometheus_url, "pantau_monitor_probe_success == 1"), 30, "the monitor's first probe")

        httpx.put(f"{admin}/_sim/clock", json={"at": "2020-12-09T14:03"})  # into the scheduled outage
        (down,) = wait_for(lambda: receiver.alerts("SirekapDown", "firing"), 60, "SirekapDown to fire")[:1]
        assert down["annotations"]["summary"] == "Sirekap down since 14:02 WITA"
        assert down["route"] == "/page" and down["labels"]["target"] == "pkwkk-5304"
        since = httpx.get(f"http://127.0.0.1:{ports['monitor']}/api/status").json()["targets"][0]["since_local"]
        assert since.endswith("14:02 WITA"), since  # the monitor's own page agrees with the alert

        # The sync has been failing all along; while Sirekap is down Alertmanager holds it back.
        held = wait_for(lambda: am_alerts(alertmanager_url, "SyncFailing"), 120, "SyncFailing to reach Alertmanager")
        assert held[0]["status"]["state"] == "suppressed" and held[0]["status"]["inhibitedBy"], held
        assert not receiver.alerts("SyncFailing", "firing"), "no sync page while Sirekap is down"

        lifted = len(receiver.notifications)
        httpx.delete(f"{admin}/_sim/faults/belu-outage").raise_for_status()  # Sirekap recovers
        resolved = wait_for(lambda: receiver.alerts("SirekapDown", "resolved"), 60, "SirekapDown to resolve")
        assert resolved[0]["annotations"]["summary"] == "Sirekap down since 14:02 WITA"

        failing = wait_for(lambda: receiver.alerts("SyncFailing", "firing"), 60, "SyncFailing to page")
        assert failing[0]["labels"]["race"] == "pkwkk-5304" and failing[0]["route"] == "/page"
        assert failing[0]["annotations"]["summary"] == "Sync of pkwkk-5304 is failing"
        assert failing[0]["received"] >= lifted, "the sync page only comes once Sirekap is back"

        # One TPS file that has data becomes a WAF page served with status 200; another API follows Sirekap.
        tps = belu_timeline().order[0].code  # among the first uploads: in the 14:00 snapshot
        fault = {"kind": "denied", "status": 200, "path": f"/pilkada/hhcw/pkwkk/{url_path(tps)}.json"}
        httpx.post(f"{admin}/_sim/faults", json=fault).raise_for_status()
        partial_env = api_env | {
            "PANTAU_DATABASE_URL": drill_databases[1],
            "PANTAU_SIREKAP_URL": f"http://127.0.0.1:{ports['sim']}",
        }
        partial_api = [python, "-m", "api", "--port", str(ports["partial_api"])]
        with process(partial_api, partial_env, f"http://{partial_target}/healthz"):
            ticket = wait_for(lambda: receiver.alerts("SyncPartial", "firing"), 120, "SyncPartial to file a ticket")
            assert ticket[0]["labels"]["instance"] == partial_target and ticket[0]["route"] == "/ticket"
            assert ticket[0]["annotations"]["summary"] == "Sync of pkwkk-5304 is partial: 1 unreadable document"
            # passes that complete with one unreadable TPS never page
            assert query(prometheus_url, f'pantau_sync_up{{instance="{partial_target}"}} == 1')
            assert not [
                a for a in receiver.alerts("SyncFailing", "firing") if a["labels"]["instance"] == partial_target
            ]
            assert not am_alerts(alertmanager_url, "SyncFailing", instance=partial_target)


def quicker_rules(tmp_path: Path) -> Path:
    """The alert rules as deployed, each `for` six times shorter (1m: 10s): the drill checks the wiring from the
    services through Prometheus and Alertmanager to the pager; promtool's tests check each rule's timing."""
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules/pantau.yml").read_text())
    units = {"s": 1, "m": 60, "h": 3600}
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                seconds = int(rule["for"][:-1]) * units[rule["for"][-1]]
                rule["for"] = f"{max(1, seconds // 6)}s"
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


def query(prometheus_url: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}).json()
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def am_alerts(alertmanager_url: str, name: str, **labels: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager holds under that name (and labels), with their status (active, suppressed) and
    inhibitors."""
    matchers = [f'alertname="{name}"', *(f'{label}="{value}"' for label, value in labels.items())]
    answer: list[dict[str, Any]] = httpx.get(f"{alertmanager_url}/api/v2/alerts", params={"filter": matchers}).json()
    return answer
