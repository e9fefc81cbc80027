"""A lean HTTP/1.1 keep-alive transport for the sync's GETs: httpx's client in front, asyncio and httptools below.

httpcore's connection pool spends more CPU per request than the sync spends on everything else: for every request
it scans each pooled connection and asks each idle one whether its socket is readable (a `getpeername` and a `poll`
through anyio's attribute lookups). Here idle connections wait in a list and a connection the server closes drops
itself from it when the event loop reports the close; a reused connection that turns out to be closed before any
byte of the answer came is replaced once by a new one (GET is idempotent). The parser is httptools, the one the
services already run. Only GET, over plain HTTP or TLS, answers with a length or chunked (not ended by the close);
proxies named by the environment are left to httpx's own transport (`api.sync.fetcher.create_client`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from typing import cast

import httptools
import httpx

Origin = tuple[str, str, int]


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: defaultdict[Origin, list[_Connection]] = defaultdict(list)
        self._ssl = ssl_context
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            raise httpx.UnsupportedProtocol(f"{request.method} is not supported here, only GET")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}")
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        head = _head(request)
        async with self._slots:
            idle = self._idle[origin]
            while idle:
                connection = idle.pop()
                if not connection.usable:
                    self._open.discard(connection)
                else:
                    try:
                        return await self._exchange(connection, origin, head, request, timeouts.get("read"))
                    except _ClosedBeforeAnswer:
                        break  # the server had closed it: once more on a new connection
            connection = await self._connect(origin, timeouts.get("connect"))
            try:
                return await self._exchange(connection, origin, head, request, timeouts.get("read"))
            except _ClosedBeforeAnswer as error:
                raise httpx.RemoteProtocolError("the server closed the connection without answering") from error

    async def _connect(self, origin: Origin, seconds: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(seconds):
                _, connection = await loop.create_connection(_Connection, host, port, ssl=context)
        except TimeoutError as error:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from error
        except OSError as error:
            raise httpx.ConnectError(str(error) or type(error).__name__) from error
        self._open.add(connection)
        return connection

    async def _exchange(
        self, connection: _Connection, origin: Origin, head: bytes, request: httpx.Request, seconds: float | None
    ) -> httpx.Response:
        try:
            status, headers, body, keep_alive = await connection.exchange(head, seconds)
        except BaseException:
            connection.close()
            self._open.discard(connection)
            raise
        if keep_alive and connection.usable:
            self._idle[origin].append(connection)
        else:
            connection.close()
            self._open.discard(connection)
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(body), request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )  # fmt: skip

    async def aclose(self) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()


def _head(request: httpx.Request) -> bytes:
    url = request.url
    target = url.raw_path
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    lines.extend(name + b": " + value for name, value in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


class _ClosedBeforeAnswer(Exception):
    """The connection closed before the first byte of the answer."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one exchange at a time, parsed as the bytes come."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._received = False
        self._keep_alive = False
        self._status = 0
        self._closed = False

    @property
    def usable(self) -> bool:
        return not self._closed

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is one without being an asyncio.Transport

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(httpx.RemoteProtocolError("unexpected upgrade"))
        except httptools.HttpParserError as error:
            self._finish(httpx.RemoteProtocolError(f"malformed answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._waiter is None or self._waiter.done():
            return
        if not self._received:
            self._finish(_ClosedBeforeAnswer())
        else:
            self._finish(httpx.ReadError("the server closed the connection in the middle of the answer"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()  # asked later, it tells of the next message
        self._finish(None)

    # the exchange

    def _finish(self, error: BaseException | None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)

    async def exchange(self, head: bytes, seconds: float | None) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        assert self._transport is not None
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._headers, self._body = [], []
        self._received = self._keep_alive = False
        self._transport.write(head)
        timer = None if seconds is None else loop.call_later(seconds, self._timed_out)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None
        return self._status, self._headers, b"".join(self._body), self._keep_alive

    def _timed_out(self) -> None:
        self._finish(httpx.ReadTimeout("no complete answer in time"))

    def close(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()
