"""The probes' HTTP client: one GET at a time on one kept-alive HTTP/1.1 connection, the answer parsed by httptools.

A probe asks one thing: can a client read this document now. httpx answers that too, but its request and response
models, connection pool and anyio layers cost several times the probe's own work; this client writes one request
prepared once per URL and parses the answer with llhttp (through httptools, the parser the services already run).
What it leaves out, a probe does not need: redirects are answered as they are (httpx's default too), no cookies, no
HTTP/2, no proxies (`create_app` keeps httpx when a proxy is configured).

Failures are raised as httpx's own exceptions, so the probe classifies them the same whichever client it is handed:
`ConnectError` (refused, name not found, TLS handshake), `RemoteProtocolError` (closed before or within the answer,
or a malformed answer), `ReadError` (reset while reading), `DecodingError` (a bad gzip body). The per-request
timeout is a deadline for the whole answer (`TimeoutError`), and a connection a request was cut short on is closed.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

import httptools
import httpx


@dataclass(frozen=True, slots=True)
class Answer:
    """What a probe reads of an answer: an httpx.Response offers the same two attributes."""

    status_code: int
    content: bytes


@dataclass(frozen=True, slots=True)
class _Origin:
    host: str
    port: int
    tls: bool
    request: bytes


class ProbeClient:
    """GETs for one target: at most one idle connection is kept; a concurrent GET opens its own."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        user_agent: str = "pantau-monitor",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.user_agent = user_agent
        self._ssl_context = ssl_context
        self._origins: dict[str, _Origin] = {}
        self._idle: _Connection | None = None

    async def get(self, url: str) -> Answer:
        if self.timeout is None:
            return await self._get(url)
        async with asyncio.timeout(self.timeout):
            return await self._get(url)

    async def _get(self, url: str) -> Answer:
        origin = self._origins.get(url) or self._origin(url)
        connection, self._idle = self._idle, None
        if connection is None or not connection.usable:
            if connection is not None:
                connection.close()
            connection = await self._connect(origin)
        try:
            answer = await connection.exchange(origin.request)
        except BaseException:  # a timeout or a failure leaves the connection mid-answer: it cannot be reused
            connection.close()
            raise
        if connection.usable and self._idle is None:
            self._idle = connection
        else:
            connection.close()
        return answer

    async def aclose(self) -> None:
        connection, self._idle = self._idle, None
        if connection is not None:
            connection.close()

    def _origin(self, url: str) -> _Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{parts.scheme}://'.")
        tls = parts.scheme == "https"
        try:
            port = parts.port or (443 if tls else 80)
            host = (parts.hostname or "").encode("idna").decode("ascii")
        except (ValueError, UnicodeError) as error:  # a port out of range, a host IDNA rejects: still a result
            raise httpx.UnsupportedProtocol(f"Request URL cannot be used: {error}") from error
        if not host:
            raise httpx.UnsupportedProtocol(f"Request URL is missing a host: {url!r}")
        authority = f"[{host}]" if ":" in host else host
        if parts.port is not None and port != (443 if tls else 80):
            authority = f"{authority}:{port}"
        target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
        if parts.query:
            target += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {authority}\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
            f"Connection: keep-alive\r\nUser-Agent: {self.user_agent}\r\n\r\n"
        ).encode("ascii")
        origin = self._origins[url] = _Origin(host, port, tls, request)
        return origin

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if origin.tls:
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()  # the CA bundle httpx verifies against
            context = self._ssl_context
        try:
            _, connection = await loop.create_connection(
                _Connection, origin.host, origin.port, ssl=context, server_hostname=origin.host if context else None
            )
        except OSError as error:  # refused, unreachable, name not found, TLS handshake (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(error) or type(error).__name__) from error
        return connection


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request in flight, its answer collected by the parser's callbacks."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.body: list[bytes] = []
        self.encoding = b""
        self.delimited = False  # by Content-Length or chunks; otherwise the body ends when the server closes
        self.headers_done = False
        self.received = False
        self.keep_alive = False
        self.lost = False

    @property
    def usable(self) -> bool:
        return self.keep_alive and not self.lost and self.transport is not None and not self.transport.is_closing()

    def exchange(self, request: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.body, self.encoding, self.delimited = [], b"", False
        self.headers_done = self.received = self.keep_alive = False
        if self.lost:
            self.waiter.set_exception(httpx.RemoteProtocolError("Server disconnected without sending a response."))
        else:
            self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():  # nothing asked: a server talking out of turn
            self.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {error}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost settles the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is None or self.waiter.done():
            return
        if self.headers_done and not self.delimited and exc is None:
            self._complete()  # a body read until the server closed
        elif isinstance(exc, OSError):
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
        elif self.received:
            self._fail(httpx.RemoteProtocolError("peer closed connection without sending complete message body"))
        else:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            self.delimited = True
        elif name == b"content-encoding":
            self.encoding = value.strip().lower()

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # an interim answer (103 Early Hints): the real one follows
            self.body, self.encoding, self.delimited, self.headers_done = [], b"", False, False
            return
        self.delimited = True
        self._complete(self.parser.should_keep_alive())

    def _complete(self, keep_alive: bool = False) -> None:
        assert self.waiter is not None
        content = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        if self.encoding in (b"gzip", b"x-gzip", b"deflate"):
            try:
                content = _decompress(content, self.encoding)
            except zlib.error as error:
                self._fail(httpx.DecodingError(f"{self.encoding.decode(errors='replace')}: {error}"))
                return
        self.keep_alive = keep_alive
        self.waiter.set_result(Answer(self.parser.get_status_code(), content))

    def _fail(self, error: Exception) -> None:
        assert self.waiter is not None
        self.close()
        if not self.waiter.done():
            self.waiter.set_exception(error)


def _decompress(content: bytes, encoding: bytes) -> bytes:
    if encoding != b"deflate":
        return zlib.decompress(content, zlib.MAX_WBITS | 16)
    try:
        return zlib.decompress(content)
    except zlib.error:  # servers send raw deflate as often as zlib-wrapped
        return zlib.decompress(content, -zlib.MAX_WBITS)
