"""The sync inside `pantau api`: with `PANTAU_SIREKAP_URL` and `PANTAU_SYNC_RACES` set, the API follows Sirekap in the
background, taking turns for the deployment's sync lock with every other process (`api.sync.election`), on the
process's clock, announcing each pass to subscribers through the process's live updates.

    create_app(settings, background=[background_sync])
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.live.broadcast import Broadcast
from api.settings import Settings
from api.sync.election import sync_lock_for
from api.sync.service import Clock, Sleep, SyncConfig, SyncService, utc_now

if TYPE_CHECKING:
    from api.services import Services


async def start_background_sync(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock = utc_now,
    broadcast: Broadcast | None = None,
    sleep: Sleep = asyncio.sleep,
) -> SyncService | None:
    """Start following the configured races in the background; None (and nothing started) when
    `PANTAU_SIREKAP_URL` or `PANTAU_SYNC_RACES` is unset. What it syncs and reports goes to the database, where the
    API's `/metrics` reads it."""
    if not settings.sirekap_url or not settings.sync_races:
        return None
    service = SyncService(
        SyncConfig.from_settings(settings),
        sessions,
        clock=clock,
        sleep=sleep,
        broadcast=broadcast,
        lock=sync_lock_for(settings.database_url),
    )
    service.start()
    return service


@asynccontextmanager
async def background_sync(services: Services) -> AsyncIterator[None]:
    """The sync runs while the app does."""
    clock = services.settings.clock
    service = await start_background_sync(
        services.settings,
        services.sessions,
        clock=clock.now,
        sleep=lambda seconds: asyncio.sleep(clock.real_seconds(seconds)),
        broadcast=services.live,
    )
    try:
        yield
    finally:
        if service is not None:
            await service.stop()
