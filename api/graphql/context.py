"""The per-request context: sessions, settings, the process's catalog and the request's DataLoaders."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.types import Info as StrawberryInfo

from api.graphql.loaders import Loaders
from api.read.catalog import Catalog
from api.settings import Settings

#: The loaders of the live event being resolved, shared by every subscriber of its region. A subscription operation
#: runs in a task of its own and sets this before each event it yields, so the event's fields read through them.
live_loaders: ContextVar[Loaders | None] = ContextVar("live_loaders", default=None)


@dataclass
class Context:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    request: Any = None
    response: Any = None
    #: Shared by the process's requests; a context made without one gets its own, so nothing outlives it.
    catalog: Catalog | None = None
    request_loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.request_loaders = Loaders(self.sessions, self.catalog)

    @property
    def loaders(self) -> Loaders:
        """The request's DataLoaders; within a live event, the event's (see `live_loaders`)."""
        return live_loaders.get() or self.request_loaders


Info = StrawberryInfo[Context, None]
