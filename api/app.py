"""The API's ASGI application: `create_app(settings)` wires everything once."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import event, text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from api.graphql import graphiql
from api.graphql.errors import shorten
from api.graphql.etag import CachedGet
from api.graphql.http import PantauGraphQL
from api.graphql.mutations import WORKER_HEADER
from api.graphql.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from api.graphql.schema import build_schema
from api.read.version import CurrentVersion
from api.services import Services
from api.settings import Settings
from api.storage.health import RETRY_AFTER_SECONDS, DatabaseOutage, unreachable_reason
from api.sync.metric_store import StoredSyncMetrics
from observability.http_metrics import HttpMetrics, RequestMetrics

log = logging.getLogger("pantau.api")

#: Something to run for the app's lifetime (the background sync), given the process's services.
Background = Callable[[Services], AbstractAsyncContextManager[None]]


def create_app(settings: Settings, *, background: Sequence[Background] = (), schema: Any = None) -> ASGIApp:
    services = Services.build(settings)
    reads, registry, redis = services.reads, services.registry, services.redis
    limiter: RateLimiter = (
        RedisRateLimiter(redis, settings.rate_limit_per_minute, f"{settings.redis_prefix}:rate")
        if redis is not None
        else LocalRateLimiter(settings.rate_limit_per_minute)
    )
    # What the syncer (this process or another) stored, measured against the one clock.
    sync_metrics = StoredSyncMetrics(reads, settings.clock.now)
    sync_metrics.register(registry)
    outage = DatabaseOutage()
    # A connection handed out of the pool means the database answers again: the outage, if any, is over.
    event.listen(services.engine.sync_engine, "checkout", lambda *_: outage.succeeded())
    # One reading of the data version per worker, for ETags and the answer cache alike.
    version = CurrentVersion(reads, settings.cache_version_seconds)
    graphql = PantauGraphQL(
        schema or build_schema(settings),
        services,
        limiter=limiter if settings.rate_limit_per_minute > 0 else None,
        outage=outage,
        version=version,
    )
    # Every method reaches the view, which answers the ones it does not serve with a GraphQL-shaped 405.
    graphql_route = Route("/graphql", graphql)
    http_metrics = RequestMetrics(registry)
    # Kept GET answers: in front of the router inside the stack (CORS, metrics), and before the whole stack for the
    # requests that need none of it (`front`, below).
    cached = CachedGet(version=version, max_age=settings.cache_max_age, route=graphql_route, outage=outage)
    front = [
        Middleware(HttpMetrics, metrics=http_metrics),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Retry-After", WORKER_HEADER],
            max_age=600,
        ),
        Middleware(cached.wrap),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for task in background:
                await stack.enter_async_context(task(services))
            try:
                yield
            finally:
                await services.close()

    async def healthz(request: Request) -> Response:
        """200 when the database answers and is migrated; 503 saying why not."""
        try:
            async with asyncio.timeout(3), reads() as session:
                await session.execute(text("SELECT version_num FROM alembic_version"))
        except Exception as error:
            reason = unreachable_reason(error)
            if reason is not None:
                outage.failed(reason)
                detail = f"unreachable: {reason}"
            else:
                log.error("health check failed: %s", shorten(str(error).splitlines()[0] if str(error) else repr(error)))
                detail = "not usable (not migrated? see the log)"
            return JSONResponse(
                {"status": "unavailable", "database": detail},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
            )
        return JSONResponse(
            {"status": "ok", "database": "ok", "now": settings.clock.now().isoformat()},
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(request: Request) -> Response:
        await sync_metrics.refresh()
        # Which worker answered: the HTTP metrics are the worker's own, the sync metrics the same from every worker.
        headers = {"Pantau-Worker": str(os.getpid())}
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST, headers=headers)

    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        graphql_route,
        WebSocketRoute("/graphql", graphql),
    ]
    if settings.development:
        routes.append(Route(graphiql.PREFIX + "{name}", graphiql.asset))
    app = Starlette(
        routes=routes,
        middleware=front,
        lifespan=lifespan,
    )
    return cached.front(app, http_metrics)


def app_from_env() -> ASGIApp:
    """The uvicorn factory: settings are read from the environment once per process.

    With PANTAU_SIREKAP_URL and PANTAU_SYNC_RACES set, the app follows Sirekap in the background, whenever it holds
    the deployment's sync lock (`api.sync.election`).
    """
    from api.sync.background import background_sync

    settings = Settings.from_env(os.environ)
    return create_app(settings, background=[background_sync] if settings.sirekap_url else [])
