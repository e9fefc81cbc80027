"""`pantau demo`, the README's main command, as a user runs it: the night told in time, stopped with Ctrl-C.

It runs fast here (8,000 drill seconds a real second): the status page must read "Sirekap down since 14:0x WITA"
with an open incident and availability under 100 % while Sirekap is down, the claims arrive as claims, and Belu must
end OFFICIAL with the KPU pleno's numbers. What it printed is read as a user reads it.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.servers import free_port

pytestmark = pytest.mark.e2e

SPEED = 8000  # the week in 78 s; a probe round at least every 400 s of the night, so 14:02 still reads 14:0x
RACE = """{ region(code: "5304") { status
  official: results(source: PLENO_KABUPATEN) { isOfficial votes { paslon { shortName } votes } margin asOf { local } }
  comparison { official { source } claims { isClaim isOfficial claimant { shortName } } } } }"""


class Printed:
    """What the demo prints, read line by line in the background so a wait never blocks on the pipe."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self._queue.put(line.rstrip("\n")) for line in stream], daemon=True).start()

    def wait_for(self, pattern: str, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {seconds} s in:\n" + "\n".join(self.lines))


def poll(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = check()
        except (httpx.HTTPError, KeyError, TypeError, IndexError):
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)


def test_the_demo_tells_the_night_in_time(tmp_path: Path) -> None:
    api_port, monitor_port, sim_port = free_port(), free_port(), free_port()
    argv = [sys.executable, "-m", "pantau.cli", "demo", "--api-port", str(api_port), "--monitor-port",
            str(monitor_port), "--sim-port", str(sim_port), "--speed", str(SPEED), "--warmup", "20"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    demo = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    api = f"http://127.0.0.1:{api_port}/graphql"
    monitor = f"http://127.0.0.1:{monitor_port}"
    try:
        assert demo.stdout is not None
        printed = Printed(demo.stdout)
        printed.wait_for(r"pkwkk-5304-2020 loaded as it stood before the night \(no results\)", 60)
        printed.wait_for(r"operator token", 60)
        token = printed.wait_for(r"^\s+pantau_", 5).strip()
        mutation = printed.wait_for(r"mutation \{ submitChasil", 5).strip()

        # before the night: the race without a single result
        before = httpx.post(api, json={"query": RACE}).json()["data"]["region"]
        assert before["status"] == "WAITING" and before["official"] is None and before["comparison"]["claims"] == []

        # the operator's entry works, and a second one says what is wrong with it
        entry = httpx.post(api, json={"query": mutation}, headers={"Authorization": f"Bearer {token}"}).json()
        assert entry == {"data": {"submitChasil": {"__typename": "WriteAccepted", "version": 1}}}, entry
        again = httpx.post(api, json={"query": mutation}, headers={"Authorization": f"Bearer {token}"}).json()
        assert again["data"]["submitChasil"]["__typename"] == "VersionConflict"
        assert "already entered" in again["data"]["submitChasil"]["message"]
        anonymous = httpx.post(api, json={"query": mutation}).json()["data"]["submitChasil"]
        assert anonymous["__typename"] == "NotAllowed" and anonymous["message"]

        printed.wait_for(r"09 Dec 13:45 WITA  the night starts", 60)
        line = printed.wait_for(r"status page: Sirekap down since 14:0\d WITA", 30)
        page = poll(lambda: (text := httpx.get(f"{monitor}/").text) and "down since 14:0" in text and text, 10, "page")
        assert re.search(r"Sirekap down since 14:0\d WITA \(09 Dec 2020\)", page), line
        status = httpx.get(f"{monitor}/api/status").json()["targets"][0]
        assert status["state"] == "down" and status["since_local"].startswith("2020-12-09 14:0"), status
        assert status["availability"]["1h"]["ratio"] < 1.0
        incidents = httpx.get(f"{monitor}/api/incidents").json()["incidents"]
        opened = [i for i in incidents if i["ended_at"] is None]
        assert len(opened) == 1 and opened[0]["started_local"] == status["since_local"], incidents

        # the rest of the week takes some 78 s at this speed
        printed.wait_for(r"10 Dec 00:30 WITA  sent the SEHATI post claims .*: recorded", 120)
        printed.wait_for(r"10 Dec 23:59 WITA  sent the SAHABAT post claims .*: recorded", 120)
        printed.wait_for(r"14 Dec 23:59 WITA  sent PPK pleno of KOTA ATAMBUA: .*: recorded", 120)
        printed.wait_for(r"16 Dec 18:00 WITA  sent KPU pleno of the kabupaten: SEHATI 50,623, SAHABAT 50,376", 120)
        printed.wait_for(r"Belu is OFFICIAL: SEHATI 50,623, SAHABAT 50,376, margin 247", 60)

        final = httpx.post(api, json={"query": RACE}).json()["data"]["region"]
        assert final["status"] == "OFFICIAL" and final["comparison"]["official"] == {"source": "PLENO_KABUPATEN"}
        official = final["official"]
        assert official["isOfficial"] and official["margin"] == 247
        assert official["asOf"]["local"] == "2020-12-16 18:00 WITA"
        assert {v["paslon"]["shortName"]: v["votes"] for v in official["votes"]} == {"SAHABAT": 50376, "SEHATI": 50623}
        claims = final["comparison"]["claims"]
        assert sorted(c["claimant"]["shortName"] for c in claims) == ["SAHABAT", "SEHATI"]
        assert all(c["isClaim"] and not c["isOfficial"] for c in claims)
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=30)
    assert code == 0
