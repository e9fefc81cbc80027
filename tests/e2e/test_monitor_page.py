"""A person opens the status page in a real browser during a simulated outage and reads "down since HH:MM WITA"."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium")


@contextmanager
def process(argv: list[str], env: dict[str, str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()
            try:
                if httpx.get(ready_url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{argv} did not start"
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def poll(check: object, seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = check()  # type: ignore[operator]
        if value:
            return value
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.2)


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian chromium is not installed")
def test_status_page_shows_the_outage(tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI must install Debian's chromium"
    sim_port, admin_port, monitor_port = free_port(), free_port(), free_port()
    sim_cmd = [sys.executable, "-m", "pantau.cli", "sim", "--scenario", "belu-2020", "--speed", "0",
               "--start", "2020-12-09T13:58", "--port", str(sim_port), "--admin-port", str(admin_port)]  # fmt: skip
    monitor_env = {
        "PANTAU_SIREKAP_URL": f"http://127.0.0.1:{sim_port}",
        "PANTAU_SYNC_RACES": "pkwkk 5304",
        "PANTAU_PROBE_INTERVAL": "0.3",
        "PANTAU_STALE_AFTER": str(10 * 365 * 86400),  # the scenario's data is from 2020; the clock here is real
        "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/monitor.db",
    }
    base = f"http://127.0.0.1:{monitor_port}"
    with (
        process(sim_cmd, {}, f"http://127.0.0.1:{admin_port}/_sim/state"),
        process([sys.executable, "-m", "monitor", "--port", str(monitor_port)], monitor_env, f"{base}/healthz"),
    ):
        poll(lambda: httpx.get(f"{base}/api/status").json()["targets"][0]["state"] == "up")
        httpx.put(f"http://127.0.0.1:{admin_port}/_sim/clock", json={"at": "2020-12-09T14:05"})  # Sirekap fails
        status = poll(lambda: (s := httpx.get(f"{base}/api/status").json()["targets"][0])["state"] == "down" and s)
        assert isinstance(status, dict)
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path}/chromium",
             "--window-size=412,915", "--dump-dom", f"{base}/"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
    banner = re.search(r"<div class=\"banner down\">([^<]*)</div>", dom)
    assert banner is not None, dom[:2000]
    text = banner.group(1)
    assert re.fullmatch(r"Sirekap down since \d\d:\d\d WITA \(\d\d \w{3} \d{4}\)", text), text
    assert status["since_local"].split()[1] in text  # the same HH:MM as the JSON API
    assert "Incidents, last 24 h" in dom and "Incidents, last 7 days" in dom
    assert re.search(r"\d+% of TPS in at \d{4}-\d\d-\d\d \d\d:\d\d WITA", dom)  # the progress chart's caption
    assert 'aria-label="TPS progress over time"' in dom
