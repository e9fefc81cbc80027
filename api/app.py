"""The API's ASGI application: `create_app(settings)` wires everything once."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.db import create_engine, sessionmaker
from api.settings import Settings


def create_app(settings: Settings) -> Starlette:
    engine = create_engine(settings.database_url)
    sessions = sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    async def healthz(request: Request) -> Response:
        async with sessions() as session:
            await session.connection()
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/healthz", healthz)], lifespan=lifespan)
    app.state.settings = settings
    app.state.sessions = sessions
    return app


def app_from_env() -> Starlette:
    """The uvicorn factory: settings are read from the environment once per process."""
    return create_app(Settings.from_env(os.environ))
