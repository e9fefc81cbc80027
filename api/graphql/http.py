"""GraphQL over HTTP: POST and GET (queries only), ETags and Cache-Control on GET, rate limits, GraphiQL."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from api.graphql.context import Context
from api.graphql.ratelimit import RateLimiter, query_cost
from api.read.catalog import Catalog
from api.read.version import data_version
from api.settings import Settings


class PantauGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        catalog: Catalog | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.development else None,
            allow_queries_via_get=True,
            allowed_origins=settings.allowed_origins,
        )
        self.sessions = sessions
        self.settings = settings
        self.catalog = catalog

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            sessions=self.sessions, settings=self.settings, request=request, response=response, catalog=self.catalog
        )


@dataclass(frozen=True)
class _Answer:
    version: str
    etag: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


class CachedGet:
    """ETag and Cache-Control for GET queries on `path`, as middleware in front of the router.

    The ETag hashes the query with the data version, so a matching If-None-Match is answered 304 and a repeated
    query is answered from memory, both without executing, until the data changes. The data version itself is
    read at most once per `version_seconds` (well inside the max-age that clients may cache anyway). A hit is
    sent straight from prepared headers: on election night this is the path most requests take. A request with an
    Authorization header is passed through uncached and its answer marked private.
    """

    def __init__(
        self,
        app: ASGIApp,
        sessions: async_sessionmaker[AsyncSession],
        max_age: int,
        version_seconds: float = 1.0,
        entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
        path: str = "/graphql",
        route: Any = None,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.max_age = max_age
        self.version_seconds = version_seconds
        self.entries = entries
        self.clock = clock
        self.path = path
        #: The route the answers belong to, for the request metrics' handler label.
        self.route = route
        self.answers: OrderedDict[bytes, _Answer] = OrderedDict()
        self._version: tuple[float, str] | None = None
        self._cache_control = f"public, max-age={max_age}".encode()

    async def _data_version(self) -> str:
        now = self.clock()
        if self._version is not None and now - self._version[0] < self.version_seconds:
            return self._version[1]
        async with self.sessions() as session:
            version = await data_version(session)
        self._version = (now, version)
        return version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        query_string: bytes = scope["query_string"]
        if not query_string:
            await self.app(scope, receive, send)
            return
        if self.route is not None:
            scope["route"] = self.route
        if any(name == b"authorization" for name, _ in scope["headers"]):
            # The answer may depend on who asks (the audit log does): never cached, here or on the way.
            await self.app(scope, receive, _private(send))
            return
        version = await self._data_version()
        answer = self.answers.get(query_string)
        if answer is not None and answer.version == version:
            self.answers.move_to_end(query_string)
            if _matches(scope, answer.etag):
                await _send(send, 304, answer.headers[1:], b"")
            else:
                await _send(send, 200, answer.headers, answer.body)
            return
        digest = hashlib.sha256(f"{version}\n".encode() + query_string).hexdigest()[:32]
        etag = f'W/"{digest}"'.encode()
        headers = [
            (b"etag", etag),
            (b"cache-control", self._cache_control),
            (b"vary", b"Accept"),
        ]
        if _matches(scope, etag):
            await _send(send, 304, headers, b"")
            return
        status = 0
        body: list[bytes] = []

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 200:
                    MutableHeaders(scope=message).update({k.decode(): v.decode() for k, v in headers})
            elif message["type"] == "http.response.body" and status == 200:
                body.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, tagged)
        data = b"".join(body)
        if status == 200 and data.startswith(b'{"data"') and b'"errors"' not in data:
            length = (b"content-length", str(len(data)).encode())
            kept = [(b"content-type", b"application/json"), *headers, length]
            # The 304 answer drops the content type: every header after it is valid on a 304.
            self.answers[query_string] = _Answer(version, etag, kept, data)
            while len(self.answers) > self.entries:
                self.answers.popitem(last=False)


def _private(send: Send) -> Send:
    async def sent(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["cache-control"] = "private, no-store"
        await send(message)

    return sent


def _matches(scope: Scope, etag: bytes) -> bool:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return etag in value
    return False


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if status == 304:
        headers = [h for h in headers if h[0] != b"content-length"]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RateLimited:
    """Charges each request on `path` its query cost against the client's budget; over: 429 with Retry-After."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        clock: Callable[[], float] = time.time,
        path: str = "/graphql",
        route: Any = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.clock = clock
        self.path = path
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if self.route is not None:
            scope["route"] = self.route
        replay = receive
        if scope["method"] == "GET":
            cost = _get_cost(scope["query_string"])
        else:
            body = await Request(scope, receive).body()
            cost = _post_cost(body)
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

        client = scope["client"][0] if scope.get("client") else "unknown"
        retry_after = await self.limiter.spend(client, cost, self.clock())
        if retry_after is not None:
            response = JSONResponse(
                {"errors": [{"message": f"rate limit exceeded: this query costs {cost}; retry later"}]},
                status_code=429,
                headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, replay, send)


@lru_cache(maxsize=1024)
def _get_cost(query_string: bytes) -> int:
    return query_cost(parse_qs(query_string.decode("latin-1")).get("query", [""])[0])


def _post_cost(body: bytes) -> int:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return 1
    operations = payload if isinstance(payload, list) else [payload]
    return sum(
        query_cost(op["query"]) if isinstance(op, dict) and isinstance(op.get("query"), str) else 1 for op in operations
    )
