"""GraphQL over HTTP: POST and GET (queries only), ETags and Cache-Control on GET, rate limits, GraphiQL."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from api.graphql.context import Context
from api.graphql.ratelimit import RateLimiter, query_cost
from api.read.version import data_version
from api.settings import Settings


class PantauGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.development else None,
            allow_queries_via_get=True,
            allowed_origins=settings.allowed_origins,
        )
        self.sessions = sessions
        self.settings = settings

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(sessions=self.sessions, settings=self.settings, request=request, response=response)


class CachedGet:
    """ETag and Cache-Control for GET queries.

    The ETag hashes the query with the data version, so a matching If-None-Match is answered 304 and a repeated
    query is answered from memory, both without executing, until the data changes. The data version itself is
    read at most once per `version_seconds` (well inside the max-age that clients may cache anyway).
    """

    def __init__(
        self,
        app: ASGIApp,
        sessions: async_sessionmaker[AsyncSession],
        max_age: int,
        version_seconds: float = 1.0,
        entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.max_age = max_age
        self.version_seconds = version_seconds
        self.entries = entries
        self.clock = clock
        self.answers: OrderedDict[str, bytes] = OrderedDict()
        self._version: tuple[float, str] | None = None

    async def _data_version(self) -> str:
        now = self.clock()
        if self._version is not None and now - self._version[0] < self.version_seconds:
            return self._version[1]
        async with self.sessions() as session:
            version = await data_version(session)
        self._version = (now, version)
        return version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        version = await self._data_version()
        digest = hashlib.sha256(f"{version}\n".encode() + scope["query_string"]).hexdigest()[:32]
        etag = f'W/"{digest}"'
        headers = {"ETag": etag, **self._cache_headers()}
        if etag in Headers(scope=scope).get("if-none-match", ""):
            await Response(status_code=304, headers=headers)(scope, receive, send)
            return
        cached = self.answers.get(etag)
        if cached is not None:
            self.answers.move_to_end(etag)
            await Response(cached, media_type="application/json", headers=headers)(scope, receive, send)
            return
        status = 0
        body: list[bytes] = []

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 200:
                    MutableHeaders(scope=message).update(headers)
            elif message["type"] == "http.response.body" and status == 200:
                body.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, tagged)
        answer = b"".join(body)
        if status == 200 and answer.startswith(b'{"data"') and b'"errors"' not in answer:
            self.answers[etag] = answer
            while len(self.answers) > self.entries:
                self.answers.popitem(last=False)

    def _cache_headers(self) -> dict[str, str]:
        return {"Cache-Control": f"public, max-age={self.max_age}", "Vary": "Accept"}


class RateLimited:
    """Charges each request its query cost against the client's budget; over budget: 429 with Retry-After."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.limiter = limiter
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        body = await request.body()
        cost = _cost(request, body)
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
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _cost(request: Request, body: bytes) -> int:
    if request.method == "GET":
        return query_cost(request.query_params.get("query", ""))
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return 1
    operations = payload if isinstance(payload, list) else [payload]
    return sum(
        query_cost(op["query"]) if isinstance(op, dict) and isinstance(op.get("query"), str) else 1 for op in operations
    )
