"""ETags and Cache-Control for GET queries, as middleware in front of the router.

The ETag hashes the query with the data version, so a matching If-None-Match is answered 304 and a repeated query
is answered from memory, both without executing, until the data changes. The data version itself is read at most
once per `cache_version_seconds` (`api.read.version.CurrentVersion`, shared with the answer cache; well inside the
max-age that clients may cache anyway). A hit is sent straight from prepared headers: on election night this is the
path most requests take, and `front` takes it before the rest of the stack whenever no CORS or Authorization is
involved.

Only a 200 answer without errors is cached, here or on the way (`public, max-age`); the GraphQL view marks every
other answer `no-store`, and this middleware leaves an answer that already says how to cache it alone (the view
says so for answers no data version covers, such as `upstream`). A request with an Authorization header is passed
through uncached and its answer marked private. If-None-Match follows RFC 9110 (13.1.2): a list of entity tags
compared weakly, or `*`, which matches whenever there is a current answer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.graphql.answers import content_type, database_unreachable, negotiate
from api.read.version import CurrentVersion
from api.storage.health import DatabaseOutage, unreachable_reason
from observability.http_metrics import RequestMetrics

log = logging.getLogger("pantau.api.http")

_ENTITY_TAG = re.compile(rb'(?:W/)?"([^"]*)"')


@dataclass(frozen=True)
class _Answer:
    version: str
    etag: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


class CachedGet:
    """The middleware (`wrap` puts it in front of an app), and `front`, the path a kept answer takes past the rest."""

    def __init__(
        self,
        version: CurrentVersion,
        max_age: int,
        entries: int = 256,
        path: str = "/graphql",
        route: Any = None,
        outage: DatabaseOutage | None = None,
    ) -> None:
        self.app: ASGIApp | None = None
        self.version = version
        self.max_age = max_age
        self.entries = entries
        self.path = path
        #: The route the answers belong to, for the request metrics' handler label.
        self.route = route
        self.outage = outage or DatabaseOutage()
        self.answers: OrderedDict[bytes, _Answer] = OrderedDict()
        self._cache_control = f"public, max-age={max_age}".encode()
        self._media: dict[bytes | None, str | None] = {}

    def wrap(self, app: ASGIApp) -> CachedGet:
        self.app = app
        return self

    def front(self, app: ASGIApp, metrics: RequestMetrics) -> ASGIApp:
        """An ASGI app answering what this cache holds before `app` (the whole stack) sees the request, counted in
        `metrics`. It takes only requests that need nothing of the stack: no Origin (CORS), no Authorization."""
        handler = getattr(self.route, "path", self.path)

        async def door(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == self.path:
                started = time.perf_counter()
                status = await self._answer_kept(scope, send)
                if status:
                    metrics.served(handler, "GET", status, time.perf_counter() - started)
                    return
            await app(scope, receive, send)

        return door

    async def _answer_kept(self, scope: Scope, send: Send) -> int:
        """Send the kept answer (200 or 304) and say its status; 0 when there is none to send."""
        query_string: bytes = scope["query_string"]
        accept = None
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
            elif name in (b"origin", b"authorization"):
                return 0
        media = self._negotiated(accept)
        if not query_string or media is None:
            return 0
        version = self.version.fresh()
        if version is None:
            return 0  # due to be read: the stack reads it (and says why when it cannot)
        return await self._send_kept(scope, send, media.encode() + b" " + query_string, version)

    async def _send_kept(self, scope: Scope, send: Send, key: bytes, version: str) -> int:
        """The answer kept under `key` for `version`, sent as 200 or 304; its status, or 0 when there is none."""
        answer = self.answers.get(key)
        if answer is None or answer.version != version:
            return 0
        self.answers.move_to_end(key)
        if _matches(scope, answer.etag, exists=True):
            await _send(send, 304, answer.headers[1:], b"")
            return 304
        await _send(send, 200, answer.headers, answer.body)
        return 200

    def _negotiated(self, accept: bytes | None) -> str | None:
        if accept in self._media:
            return self._media[accept]
        media = negotiate(accept)
        if len(self._media) < 64:
            self._media[accept] = media
        return media

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "CachedGet.wrap(app) first"
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
            version = await self.version.get()
        except (OSError, SQLAlchemyError) as error:
            reason = unreachable_reason(error)
            if reason is None:
                raise
            self.outage.failed(reason)
            await database_unreachable(scope, receive, send)
            return
        media = self._negotiated(_header(scope, b"accept"))
        if media is None:
            await self.app(scope, receive, send)  # answered 406 there
            return
        # One entry per representation (Vary: Accept).
        key = media.encode() + b" " + query_string
        if await self._send_kept(scope, send, key, version):
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
