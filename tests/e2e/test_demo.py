"""`pantau demo`, the README's main command, as a user runs it: the night told in time, stopped with Ctrl-C.

Two runs, as a user would make them. The night from 13:45 WITA at 120 drill seconds a real second: the status page
must read "Sirekap down since 14:0x WITA" with an open incident and availability under 100 % while Sirekap is down.
The week's end with `--start 2020-12-16T17:00` at 600x: the claims and plenos of the days before arrive first, with
their own times, the claims as claims, and Belu must end OFFICIAL with the KPU pleno's numbers at 18:00. Both speeds
leave a probe round and a sync pass every real second or less, so a busy machine shifts a moment by drill minutes,
not hours. What it printed is read as a user reads it.
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


class Demo:
    """`pantau demo` with the given options on free ports, in its own folder, without the caller's PANTAU_ settings."""

    def __init__(self, folder: Path, *options: str) -> None:
        self.api_port, self.monitor_port, sim_port, sim_admin_port = (free_port() for _ in range(4))
        argv = [sys.executable, "-m", "pantau.cli", "demo", "--api-port", str(self.api_port), "--monitor-port",
                str(self.monitor_port), "--sim-port", str(sim_port), "--sim-admin-port", str(sim_admin_port),
                *options]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
        folder.mkdir()
        self.process = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, so nothing it started outlives the test
            preexec_fn=_ctrl_c_as_in_a_terminal,
        )
        assert self.process.stdout is not None
        self.printed = Printed(self.process.stdout)
        self.api = f"http://127.0.0.1:{self.api_port}/graphql"
        self.monitor = f"http://127.0.0.1:{self.monitor_port}"

    def race(self) -> dict[str, Any]:
        region: dict[str, Any] = httpx.post(self.api, json={"query": RACE}).json()["data"]["region"]
        return region

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the demo stops its parts and exits. Whatever is left after a minute is killed
        (and the test fails)."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise


def _ctrl_c_as_in_a_terminal() -> None:
    """A test runner started in the background inherits SIGINT ignored; a user's terminal delivers it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_demo_tells_the_night_in_time(tmp_path: Path) -> None:
    # a busy machine may take half a minute to start three servers; the night waits for them
    demo = Demo(tmp_path / "night", "--speed", "120", "--warmup", "45")
    try:
        printed = demo.printed
        printed.wait_for(r"pkwkk-5304-2020 loaded as it stood before the night \(no results\)", 60)
        printed.wait_for(r"operator token", 60)
        token = printed.wait_for(r"^\s+pantau_", 5).strip()
        mutation = printed.wait_for(r"mutation \{ submitChasil", 5).strip()

        # before the night: no pleno and no claim; Sirekap's first uploads (30 TPS at 13:45) may be in already
        before = demo.race()
        assert before["status"] in ("WAITING", "PARTIAL"), before
        assert before["official"] is None and before["comparison"]["claims"] == []

        # the operator's entry works, and a second one says what is wrong with it
        operator = {"Authorization": f"Bearer {token}"}
        entry = httpx.post(demo.api, json={"query": mutation}, headers=operator).json()
        assert entry == {"data": {"submitChasil": {"__typename": "WriteAccepted", "version": 1}}}, entry
        again = httpx.post(demo.api, json={"query": mutation}, headers=operator).json()
        assert again["data"]["submitChasil"]["__typename"] == "VersionConflict"
        assert "already entered" in again["data"]["submitChasil"]["message"]
        anonymous = httpx.post(demo.api, json={"query": mutation}).json()["data"]["submitChasil"]
        assert anonymous["__typename"] == "NotAllowed" and anonymous["message"]

        printed.wait_for(r"09 Dec 13:45 WITA  the night starts", 90)
        printed.wait_for(r"Pantau: Sirekap \d+ of 426 TPS in", 60)
        line = printed.wait_for(r"status page: Sirekap down since 14:0\d WITA", 60)
        monitor = demo.monitor
        page = poll(lambda: (text := httpx.get(f"{monitor}/").text) and "down since 14:0" in text and text, 10, "page")
        assert re.search(r"Sirekap down since 14:0\d WITA \(09 Dec 2020\)", page), line
        status = httpx.get(f"{monitor}/api/status").json()["targets"][0]
        assert status["state"] == "down" and status["since_local"].startswith("2020-12-09 14:0"), status
        assert status["availability"]["1h"]["ratio"] < 1.0
        (incident,) = httpx.get(f"{monitor}/api/incidents").json()["incidents"]
        assert incident["ended_at"] is None and incident["started_local"] == status["since_local"]
        assert demo.race()["comparison"]["claims"] == []  # the posko claims come after midnight
    finally:
        code = demo.stop()
    assert code == 0


def test_the_demo_from_a_later_start_reaches_the_kpu_pleno(tmp_path: Path) -> None:
    demo = Demo(tmp_path / "week", "--speed", "600", "--start", "2020-12-16T17:00", "--warmup", "20")
    try:
        printed = demo.printed
        printed.wait_for(r"16 Dec 17:00 WITA  the night starts", 90)
        # what happened before the start is sent at once, each with its own time
        printed.wait_for(r"10 Dec 00:30 WITA  sent the SEHATI post claims .*: recorded", 30)
        printed.wait_for(r"10 Dec 23:59 WITA  sent the SAHABAT post claims .*: recorded", 30)
        printed.wait_for(r"14 Dec 23:59 WITA  sent PPK pleno of KOTA ATAMBUA: .*: recorded", 30)
        printed.wait_for(r"Belu is PLENO_KECAMATAN_DONE", 30)
        assert demo.race()["official"] is None
        printed.wait_for(r"16 Dec 18:00 WITA  sent KPU pleno of the kabupaten: SEHATI 50,623, SAHABAT 50,376", 60)
        printed.wait_for(r"Belu is OFFICIAL: SEHATI 50,623, SAHABAT 50,376, margin 247", 30)

        final = demo.race()
        assert final["status"] == "OFFICIAL" and final["comparison"]["official"] == {"source": "PLENO_KABUPATEN"}
        official = final["official"]
        assert official["isOfficial"] and official["margin"] == 247
        assert official["asOf"]["local"] == "2020-12-16 18:00 WITA"
        assert {v["paslon"]["shortName"]: v["votes"] for v in official["votes"]} == {"SAHABAT": 50376, "SEHATI": 50623}
        claims = final["comparison"]["claims"]
        assert sorted(c["claimant"]["shortName"] for c in claims) == ["SAHABAT", "SEHATI"]
        assert all(c["isClaim"] and not c["isOfficial"] for c in claims)
    finally:
        code = demo.stop()
    assert code == 0
