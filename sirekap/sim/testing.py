"""Run the simulator inside a test: a real HTTP server on 127.0.0.1 (ephemeral ports) in a background thread.

    from sirekap.sim.testing import running_simulator

    with running_simulator("belu-2020", at=datetime(2020, 12, 9, 14, tzinfo=WITA)) as sim:
        r = httpx.get(f"{sim.base_url}/pilkada/hhcw/pkwkk/53/5304.json")
        sim.set_clock(at="2020-12-11T18:15")          # naive times are the scenario's local zone (WITA here)
        fault = sim.add_fault("denied", path="/pilkada/hhcw", status=200)
        sim.remove_fault(fault)
        sim.clear_faults()                            # the scheduled 14:02 outage too
    with running_simulator("national", tps=20_000, seed=7) as sim:
        batch = sim.national_changes(0.01)            # {"batch": 1, "changed": 200, "ts": …}

`speed` defaults to 0 (a paused clock: nothing moves unless the test moves it); other keyword options are those of
`SimOptions` (schedule=False drops the scenario's outage, outage="refused", tps=, seed=, reporting=, source_zone=,
faults=["slow,delay_s=1"]). The helpers call the admin API over HTTP, exactly as an operator would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from sirekap.sim.server import Listeners, SimServer
from sirekap.sim.simulator import SimOptions, create_simulator


@dataclass
class RunningSim:
    base_url: str  # the data listener: Sirekap's paths
    admin_url: str  # the admin listener: /_sim/…
    server: SimServer

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.admin_url}{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def state(self) -> dict[str, Any]:
        return dict(self._admin("GET", "/_sim/state"))

    def set_clock(self, at: datetime | str | None = None, speed: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"speed": speed}
        if at is not None:
            body["at"] = at.isoformat() if isinstance(at, datetime) else at
        return dict(self._admin("PUT", "/_sim/clock", body))

    def add_fault(self, kind: str, path: str = "/", **params: Any) -> str:
        """Add a fault (see `sirekap.sim.faults`); returns its id."""
        for key in ("start", "until"):
            if isinstance(params.get(key), datetime):
                params[key] = params[key].isoformat()
        return str(self._admin("POST", "/_sim/faults", {"kind": kind, "path": path, **params})["id"])

    def remove_fault(self, fault_id: str) -> None:
        self._admin("DELETE", f"/_sim/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._admin("DELETE", "/_sim/faults")

    def national_changes(self, fraction: float) -> dict[str, Any]:
        return dict(self._admin("POST", "/_sim/national/changes", {"fraction": fraction}))


@contextmanager
def running_simulator(
    scenario: str = "belu-2020", *, at: datetime | None = None, speed: float = 0.0, **options: Any
) -> Iterator[RunningSim]:
    listeners = Listeners(host="127.0.0.1", port=0, admin_port=0)
    server = create_simulator(SimOptions(scenario=scenario, at=at, speed=speed, listeners=listeners, **options))
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:  # reported to the test thread below
            failure.append(exc)
            server.started.set()

    thread = threading.Thread(target=serve, name=f"sirekap-sim-{scenario}", daemon=True)
    thread.start()
    server.started.wait(timeout=120)
    if failure or not server.started.is_set():
        raise RuntimeError(f"the simulator did not start: {failure[:1]}")
    try:
        yield RunningSim(f"http://127.0.0.1:{server.port}", f"http://127.0.0.1:{server.admin_port}", server)
    finally:
        server.stop()
        thread.join(timeout=10)
