"""`pantau demo`, the README's main command, as a user runs it: the whole stack on SQLite, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from tests.servers import free_port

REGION = '{ region(code: "5304") { status results(source: SIREKAP) { coverage { reported expected } } } }'


def read_until(stream: IO[str], pattern: str, deadline: float) -> list[str]:
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(lines))


def test_the_demo_replays_the_night_syncs_probes_and_takes_an_operator_entry(tmp_path: Path) -> None:
    api_port, monitor_port, sim_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PANTAU_DATABASE_URL": f"sqlite:///{tmp_path}/pantau.db",
        "PANTAU_SYNC_INTERVAL": "1",
        "PANTAU_PROBE_INTERVAL": "1",
    }
    argv = [sys.executable, "-m", "pantau.cli", "demo", "--api-port", str(api_port), "--monitor-port",
            str(monitor_port), "--sim-port", str(sim_port), "--speed", "120"]  # fmt: skip
    demo = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        printed = read_until(demo.stdout, r"mutation \{ submitChasil", time.monotonic() + 120)
        assert any("pkwkk-5304" in line and "loaded" in line for line in printed), printed
        token = printed[printed.index(next(x for x in printed if "operator token" in x)) + 1].strip()
        mutation = printed[-1].strip()
        api = f"http://127.0.0.1:{api_port}/graphql"

        deadline = time.monotonic() + 60
        while True:
            region = httpx.post(api, json={"query": REGION}).json()["data"]["region"]
            coverage = region["results"] and region["results"]["coverage"]
            if coverage and coverage["reported"] > 0:
                break
            assert time.monotonic() < deadline, region
            time.sleep(0.5)
            # the loaded dataset holds the published plenos, so the official result stands beside the replayed night
        assert coverage["expected"] == 426 and region["status"] == "OFFICIAL"

        entry = httpx.post(api, json={"query": mutation}, headers={"Authorization": f"Bearer {token}"}).json()
        assert entry == {"data": {"submitChasil": {"__typename": "WriteAccepted", "version": 1}}}, entry
        refused = httpx.post(api, json={"query": mutation}).json()["data"]["submitChasil"]
        assert refused["__typename"] != "WriteAccepted"

        page = httpx.get(f"http://127.0.0.1:{monitor_port}/")
        assert page.status_code == 200 and "Sirekap" in page.text
        assert httpx.get(f"http://127.0.0.1:{monitor_port}/api/status").json()["targets"]
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=30)
    assert code == 0
