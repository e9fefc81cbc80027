"""The per-request context: sessions, settings, the process's catalog and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info as StrawberryInfo

from api.graphql.limits import Edge
from api.graphql.loaders import Loaders
from api.read.catalog import Catalog
from api.settings import Settings

if TYPE_CHECKING:
    from api.services import Services

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
    #: Who asks and their budget; None outside HTTP and websockets (tests executing the schema directly).
    edge: Edge | None = None
    #: The payload of a websocket's connection_init (its Authorization, for writes over the websocket).
    connection_params: dict[str, Any] | None = None
    #: The process's services (writes, live updates); None when a test executes the schema on sessions alone.
    services: Services | None = None
    #: The request's DataLoaders, made when a field first needs them (a write needs none).
    request_loaders: Loaders | None = field(default=None, init=False, repr=False)

    @property
    def loaders(self) -> Loaders:
        """The request's DataLoaders; within a live event, the event's (see `live_loaders`)."""
        live = live_loaders.get()
        if live is not None:
            return live
        if self.request_loaders is None:
            self.request_loaders = Loaders(self.sessions, self.catalog)
        return self.request_loaders

    def authorization(self) -> str | None:
        """The Authorization header, or over a websocket the one given in connection_init."""
        params = self.connection_params or {}
        nested = params.get("headers")  # Apollo and graphql-ws clients often nest them
        for found in (params, nested if isinstance(nested, dict) else {}):
            for name in ("Authorization", "authorization"):
                value = found.get(name)
                if isinstance(value, str):
                    return value
        headers = getattr(self.request, "headers", None)
        return headers.get("authorization") if headers is not None else None


Info = StrawberryInfo[Context, None]


class FreshLoaders(SchemaExtension):
    """A websocket connection has one context for all its operations: each operation gets its own DataLoaders, so a
    query after a write on the same connection reads the write, as it would over HTTP."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and isinstance(context.request, WebSocket):
            context.request_loaders = None  # the operation's first field makes new ones
        yield
