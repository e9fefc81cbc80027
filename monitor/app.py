"""The monitor's ASGI app: the probe loop in its lifespan, /metrics, /api/status, /api/incidents, /healthz, /."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from monitor import page, views
from monitor.client import ProbeClient
from monitor.metrics import MonitorCollector
from monitor.runner import Monitor
from monitor.settings import Settings
from monitor.store import Store
from observability.http_metrics import HttpMetrics
from sirekap.clock import Clock
from sirekap.reaching import environment_proxy


def create_app(settings: Settings, *, clock: Clock | None = None, run_loop: bool = True) -> Starlette:
    """The monitor app. With `run_loop=False` nothing probes by itself: tests call `app.state.monitor.probe_all()`."""
    store = Store(settings.database_url)
    clients = {target.name: _client(settings, target.url) for target in settings.targets}
    registry = CollectorRegistry()
    monitor = Monitor(settings, store, clients, clock=clock, registry=registry)
    registry.register(MonitorCollector(monitor))
    zone = settings.display_zone
    clock = monitor.clock

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await monitor.start()
        task = asyncio.create_task(monitor.run()) if run_loop else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for client in clients.values():
                await client.aclose()
            await store.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "targets": len(monitor.views), "now": clock.now().isoformat()})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def status(request: Request) -> Response:
        return JSONResponse({"targets": [views.status(v, zone) for v in monitor.views.values()]})

    async def incidents(request: Request) -> Response:
        params = request.query_params
        try:
            start = _time(params.get("from"))
            end = _time(params.get("to"))
        except ValueError:
            return JSONResponse({"error": "from and to must be ISO 8601 times with an offset"}, status_code=400)
        found = await store.incidents(target=params.get("target"), start=start, end=end)
        records = [views.incident_record(i, zone) for i in found]
        if params.get("format") == "csv":
            return PlainTextResponse(
                views.incidents_csv(records),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'inline; filename="incidents.csv"'},
            )
        return JSONResponse({"incidents": records})

    async def home(request: Request) -> Response:
        now = clock.now()
        week = now - timedelta(days=7)
        times = await store.probe_times(week - monitor.vouch, now + timedelta(microseconds=1))
        targets = [
            page.TargetPage(
                view,
                await store.incidents(target=name, start=week, end=now),
                await store.probes(name, now - timedelta(hours=24), now + timedelta(microseconds=1)),
                times.get(name, []),
            )
            for name, view in monitor.views.items()
        ]
        html = page.render(targets, now, zone, vouch=monitor.vouch, maintenance=settings.maintenance_spans)
        return HTMLResponse(html)

    app = Starlette(
        middleware=[Middleware(HttpMetrics, registry=registry, prefix="pantau_monitor")],
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/api/status", status),
            Route("/api/incidents", incidents),
        ],
        lifespan=lifespan,
    )
    app.state.monitor = monitor
    app.state.registry = registry
    return app


def _client(settings: Settings, url: str) -> ProbeClient | httpx.AsyncClient:
    """One client, so one connection, per target: a hanging target never holds up the others. httpx only where a
    proxy is configured for the URL (the probe client connects directly)."""
    if environment_proxy(url) is None:
        return ProbeClient()  # no timeout of its own: the probe's deadline (Thresholds.timeout_seconds) covers it all
    return httpx.AsyncClient(
        timeout=settings.timeout_seconds,
        headers={"User-Agent": "pantau-monitor"},
        limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
    )


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment
