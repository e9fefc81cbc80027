"""The simulator's admin API, on its own listener (`--admin-port`, default data port + 1), never faulted.

Times are ISO 8601; a time without an offset is read in the scenario's local zone (WITA for belu-2020, WIB for
national). Answers are JSON; a bad request gets 400 `{"error": "…"}`.

GET    /_sim/state               {"scenario", "now" (local, ISO), "now_utc", "speed", "source_zone", "data_open",
                                  "faults": [fault…], "status": {…scenario progress…}}
PUT    /_sim/clock               body {"at": "2020-12-09T14:00", "speed": 0}; either key may be left out. → state
GET    /_sim/faults              [fault…]
POST   /_sim/faults              body {"kind": "error|refused|hang|denied|truncated|slow|stale|freeze",
                                       "path": "/" (a path prefix; default every path),
                                       "status": 503 (error: 5xx) | 403 or 200 (denied),
                                       "delay_s": 2.5 (slow), "truncate_at": 0.5 (truncated),
                                       "drop_charts": true (freeze), "start": time (default now),
                                       "until": time | "duration_s": scenario seconds (default: until removed)}
                                 → 201 fault {"id": "f1", "kind", "path", "start", "until", …}
DELETE /_sim/faults              remove every fault, the scenario's scheduled outage included → 204
DELETE /_sim/faults/{id}         remove one (the belu-2020 outage has id "belu-outage") → 204, or 404
POST   /_sim/national/changes    body {"fraction": 0.01}: a new batch in which that fraction of TPS get new numbers;
                                 the clock jumps to the next 30-minute snapshot, which stamps the batch's `ts`.
                                 → {"batch": 1, "changed": 8232, "files_above": 12345, "ts": "2024-02-15 10:30:00",
                                 "at": …} (`files_above`: the region files the batch changed); 404 if the scenario
                                 is not national

The semantics of each fault kind are in `faults.py`.

    curl -s localhost:8003/_sim/state
    curl -s -X PUT localhost:8003/_sim/clock -d '{"at": "2020-12-11T18:15", "speed": 0}'
    curl -s -X POST localhost:8003/_sim/faults -d '{"kind": "denied", "status": 200, "path": "/pilkada/hhcw"}'
    curl -s -X DELETE localhost:8003/_sim/faults
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sirekap.sim.clock import ScenarioClock
from sirekap.sim.faults import FaultBook, FaultError, make_fault
from sirekap.sim.national import National
from sirekap.sim.scenario import Scenario


class BadRequest(ValueError):
    pass


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadRequest(f"{text!r} is not an ISO 8601 time") from None
    return at if at.tzinfo else at.replace(tzinfo=zone)


def create_admin_app(
    scenario: Scenario,
    clock: ScenarioClock,
    faults: FaultBook,
    *,
    changed: Callable[[], Awaitable[None]],
    data_open: Callable[[], bool],
    source_zone: ZoneInfo,
) -> Starlette:
    """`changed` is awaited after every change to the clock or the faults (it opens or closes the data listener)."""
    zone = scenario.local_zone

    def state() -> dict[str, Any]:
        now = clock.now()
        return {
            "scenario": scenario.name,
            "now": now.astimezone(zone).isoformat(),
            "now_utc": now.astimezone(UTC).isoformat(),
            "speed": clock.speed,
            "source_zone": str(source_zone),
            "data_open": data_open(),
            "faults": [f.to_json() for f in faults.all()],
            "status": scenario.status(now),
        }

    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise BadRequest(f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        return data

    async def get_state(request: Request) -> Response:
        return JSONResponse(state())

    async def put_clock(request: Request) -> Response:
        data = await body(request)
        at = parse_time(data["at"], zone) if data.get("at") is not None else None
        speed = data.get("speed")
        if speed is not None and not isinstance(speed, int | float):
            raise BadRequest("speed must be a number")
        try:
            clock.set(at, None if speed is None else float(speed))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        await changed()
        return JSONResponse(state())

    async def list_faults(request: Request) -> Response:
        return JSONResponse([f.to_json() for f in faults.all()])

    async def add_fault(request: Request) -> Response:
        data = await body(request)
        known = {"kind", "path", "status", "delay_s", "truncate_at", "drop_charts", "start", "until", "duration_s"}
        if unknown := set(data) - known:
            raise BadRequest(f"unknown keys: {', '.join(sorted(unknown))}")
        start = parse_time(data["start"], zone) if data.get("start") else clock.now()
        until = parse_time(data["until"], zone) if data.get("until") else None
        if data.get("duration_s") is not None:
            until = start + timedelta(seconds=float(data["duration_s"]))
        options = {k: data[k] for k in ("path", "status", "delay_s", "truncate_at", "drop_charts") if k in data}
        try:
            fault = faults.add(make_fault(str(data.get("kind")), start=start, until=until, **options))
        except (FaultError, TypeError) as exc:
            raise BadRequest(str(exc)) from None
        await changed()
        return JSONResponse(fault.to_json(), status_code=201)

    async def clear_faults(request: Request) -> Response:
        faults.clear()
        await changed()
        return Response(status_code=204)

    async def remove_fault(request: Request) -> Response:
        if not faults.remove(request.path_params["fault_id"]):
            return JSONResponse({"error": "no such fault"}, status_code=404)
        await changed()
        return Response(status_code=204)

    async def national_changes(request: Request) -> Response:
        if not isinstance(scenario, National):
            return JSONResponse({"error": f"scenario {scenario.name} has no changes"}, status_code=404)
        fraction = (await body(request)).get("fraction")
        if not isinstance(fraction, int | float) or not 0 < fraction <= 1:
            raise BadRequest("fraction must be a number in (0, 1]")
        batch = scenario.publish_changes(float(fraction), clock.now())
        clock.set(batch.at)
        await changed()
        return JSONResponse(batch.to_json(source_zone))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    routes = [
        Route("/_sim/state", get_state, methods=["GET"]),
        Route("/_sim/clock", put_clock, methods=["PUT"]),
        Route("/_sim/faults", list_faults, methods=["GET"]),
        Route("/_sim/faults", add_fault, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        Route("/_sim/faults/{fault_id}", remove_fault, methods=["DELETE"]),
        Route("/_sim/national/changes", national_changes, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={BadRequest: bad_request})
