"""The API relays the monitor's view of Sirekap, and says clearly when the monitor is not there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.settings import Settings
from monitor.app import create_app as create_monitor
from monitor.settings import Settings as MonitorSettings
from monitor.settings import Target
from sirekap.clock import Clock
from sirekap.races import RaceTarget, race_file_url
from sirekap.sim.testing import running_simulator
from tests.servers import free_port, serving_here

QUERY = (
    "{ upstream { targets { target state reason headline sinceLocal } incidents { reason startedLocal endedLocal } } }"
)


async def test_banner_from_the_monitor(belu_sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    now = datetime(2020, 12, 9, 6, 3, tzinfo=UTC)  # 14:03 WITA, Sirekap down
    with running_simulator("belu-2020", speed=0.0) as sim:
        sim.set_clock(at="2020-12-09T14:03")
        target = Target("pkwkk-5304", race_file_url(sim.base_url, RaceTarget.parse("pkwkk 5304")))
        settings = MonitorSettings(
            targets=(target,), database_url=f"sqlite:///{tmp_path}/m.db", stale_after_seconds=1e9
        )
        wall = {"now": now.timestamp()}
        monitor = create_monitor(settings, clock=Clock(wall=lambda: wall["now"]), run_loop=False)
        async with serving_here(monitor) as base:
            for minute in range(3):
                wall["now"] = (now + timedelta(minutes=minute)).timestamp()
                await monitor.state.monitor.probe_all()
            api = Settings(monitor_url=base)
            result = await build_schema(api).execute(QUERY, context_value=Context(belu_sessions, api))
    assert result.errors is None, result.errors
    assert result.data is not None
    (shown,) = result.data["upstream"]["targets"]
    assert shown["state"] == "down" and shown["reason"] == "down" and shown["sinceLocal"] == "2020-12-09 14:03 WITA"
    assert shown["headline"] == "Sirekap down since 14:03 WITA (09 Dec 2020)"
    assert result.data["upstream"]["incidents"] == [
        {"reason": "down", "startedLocal": "2020-12-09 14:03 WITA", "endedLocal": None}
    ]


async def test_a_clear_error_when_the_monitor_is_unreachable_or_unset(
    belu_sessions: async_sessionmaker[AsyncSession],
) -> None:
    gone = Settings(monitor_url=f"http://127.0.0.1:{free_port()}")
    result = await build_schema(gone).execute(QUERY, context_value=Context(belu_sessions, gone))
    assert result.errors is not None
    assert result.errors[0].message == "the upstream status is not available: the monitor did not answer"
    unset = Settings()
    result = await build_schema(unset).execute(QUERY, context_value=Context(belu_sessions, unset))
    assert result.errors is not None and "no monitor is configured" in result.errors[0].message


async def test_a_monitor_answering_half_is_not_answering(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    asked: list[str] = []

    async def status(request: Request) -> JSONResponse:
        asked.append(request.url.path)
        return JSONResponse({"targets": []})

    async def incidents(request: Request) -> JSONResponse:
        asked.append(request.url.path)
        return JSONResponse({"error": "store unavailable"}, status_code=500)

    half = Starlette(routes=[Route("/api/status", status), Route("/api/incidents", incidents)])
    async with serving_here(half) as base:
        settings = Settings(monitor_url=base)
        result = await build_schema(settings).execute(QUERY, context_value=Context(belu_sessions, settings))
    assert result.errors is not None
    assert result.errors[0].message == "the upstream status is not available: the monitor did not answer"
    assert sorted(asked) == ["/api/incidents", "/api/status"]
