"""The per-request context: sessions, settings, the process's catalog and the request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.types import Info as StrawberryInfo

from api.graphql.loaders import Loaders
from api.read.catalog import Catalog
from api.settings import Settings


@dataclass
class Context:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    request: Any = None
    response: Any = None
    #: Shared by the process's requests; a context made without one gets its own, so nothing outlives it.
    catalog: Catalog | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.sessions, self.catalog)


Info = StrawberryInfo[Context, None]
