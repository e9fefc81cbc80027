"""ETags and Cache-Control for GET queries, as middleware in front of the router.

The ETag hashes the query with the data version, so a matching If-None-Match is answered 304 and a repeated query
is answered from memory, both without executing, until the data changes. The data version itself is read at most
once per `version_seconds` (well inside the max-age that clients may cache anyway). A hit is sent straight from
prepared headers: on election night this is the path most requests take.

Only a 200 answer without errors is cached, here or on the way (`public, max-age`); the GraphQL view marks every
other answer `no-store`, and this middleware leaves an answer that already says how to cache it alone. A request with
an Authorization header is passed through uncached and its answer marked private. If-None-Match follows RFC 9110
(13.1.2): a list of entity tags compared weakly, or `*`, which matches whenever there is a current answer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.graphql.answers import content_type, database_unreachable, negotiate
from api.read.version import data_version
from api.storage.health import DatabaseOutage, unreachable_reason

log = logging.getLogger("pantau.api.http")

_ENTITY_TAG = re.compile(rb'(?:W/)?"([^"]*)"')


@dataclass(frozen=True)
class _Answer:
    version: str
    etag: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


class CachedGet:
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
        outage: DatabaseOutage | None = None,
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
        self.outage = outage or DatabaseOutage()
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
        try:
            version = await self._data_version()
        except (OSError, SQLAlchemyError) as error:
            reason = unreachable_reason(error)
            if reason is None:
                raise
            self.outage.failed(reason)
            await database_unreachable(scope, receive, send)
            return
        media = negotiate(_header(scope, b"accept"))
        if media is None:
            await self.app(scope, receive, send)  # answered 406 there
            return
        # One entry per representation (Vary: Accept).
        key = media.encode() + b" " + query_string
        answer = self.answers.get(key)
        if answer is not None and answer.version == version:
            self.answers.move_to_end(key)
            if _matches(scope, answer.etag, exists=True):
                await _send(send, 304, answer.headers[1:], b"")
            else:
                await _send(send, 200, answer.headers, answer.body)
            return
        digest = hashlib.sha256(f"{version}\n".encode() + key).hexdigest()[:32]
        etag = f'W/"{digest}"'.encode()
        headers = [
            (b"etag", etag),
            (b"cache-control", self._cache_control),
            (b"vary", b"Accept"),
        ]
        if _matches(scope, etag, exists=False):
            await _send(send, 304, headers, b"")
            return
        # `If-None-Match: *` is answered 304 only once the query turns out to have a cacheable answer.
        held = (_header(scope, b"if-none-match") or b"").strip() == b"*"
        status = 0
        kept: list[tuple[bytes, bytes]] = []
        body: list[bytes] = []
        messages: list[Message] = []

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                if status == 200 and "cache-control" not in response_headers:
                    response_headers.update({k.decode(): v.decode() for k, v in headers})
                kept.extend(message["headers"])
            elif message["type"] == "http.response.body" and status == 200:
                body.append(message.get("body", b""))
            if held:
                messages.append(message)
            else:
                await send(message)

        await self.app(scope, receive, tagged)
        data = b"".join(body)
        cacheable = status == 200 and any(k == b"etag" for k, _ in kept)
        if cacheable and data.startswith(b'{"data"') and b'"errors"' not in data:
            length = (b"content-length", str(len(data)).encode())
            # The 304 answer drops the content type: every header after it is valid on a 304.
            kept_headers = [(b"content-type", content_type(media).encode()), *headers, length]
            self.answers[key] = _Answer(version, etag, kept_headers, data)
            while len(self.answers) > self.entries:
                self.answers.popitem(last=False)
            if held:
                await _send(send, 304, headers, b"")
                return
        for message in messages:
            await send(message)


def _private(send: Send) -> Send:
    async def sent(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["cache-control"] = "private, no-store"
        await send(message)

    return sent


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    return next((value for name, value in scope["headers"] if name == wanted), None)


def _matches(scope: Scope, etag: bytes, *, exists: bool) -> bool:
    """If-None-Match against our (weak) ETag: weak comparison of each listed tag; `*` when an answer exists."""
    value = _header(scope, b"if-none-match")
    if value is None:
        return False
    if value.strip() == b"*":
        return exists
    ours = _ENTITY_TAG.fullmatch(etag)
    return ours is not None and any(tag == ours.group(1) for tag in _ENTITY_TAG.findall(value))


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if status == 304:
        headers = [h for h in headers if h[0] != b"content-length"]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
