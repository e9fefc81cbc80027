"""The sync's HTTP transport against a server on loopback that answers as told: lengths, chunks, gzip, 304s, keep-alive
connections the server closes, answers cut short, and answers that never come."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import uvloop

from api.sync.fetcher import Fetcher, FetchPolicy, create_client
from api.sync.transport import LeanTransport

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # request head → keep the connection open?


def answer(status: str, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith("transfer-encoding") for h in headers):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                if not await self.handler(head, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Start = Callable[[Handler], Awaitable[tuple[Server, str]]]


@pytest.fixture
async def serve() -> AsyncIterator[Start]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> tuple[Server, str]:
        server = Server(handler)
        listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
        servers.append(listening)
        port = listening.sockets[0].getsockname()[1]
        return server, f"http://127.0.0.1:{port}"

    yield start
    for listening in servers:
        listening.close()
        await listening.wait_closed()


def path_of(head: bytes) -> str:
    return head.split(b" ", 2)[1].decode()


async def test_answers_of_every_shape_on_kept_connections(serve: Start) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        path = path_of(head)
        if path == "/gzip":
            writer.write(answer("200 OK", gzip.compress(b'{"a": 1}'), "content-encoding: gzip"))
        elif path == "/chunked":
            writer.write(answer("200 OK", b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "transfer-encoding: chunked"))
        elif b'if-none-match: "v1"' in head:
            writer.write(answer("304 Not Modified", b"", 'etag: "v1"'))
        else:
            writer.write(answer("200 OK", path.encode() * 1000, 'etag: "v1"', "last-modified: Wed, 14 Feb 2024"))
        return True

    server, url = await serve(handler)
    async with create_client(url, FetchPolicy(concurrency=4)) as client:
        fetcher = Fetcher(client)
        many = await asyncio.gather(*(fetcher.get(f"/doc/{i}.json") for i in range(40)))
        assert [f.body for f in many] == [f"/doc/{i}.json".encode() * 1000 for i in range(40)]
        assert {(f.status, f.etag, f.last_modified) for f in many} == {("ok", '"v1"', "Wed, 14 Feb 2024")}
        assert (await fetcher.get("/doc/1.json", etag='"v1"')).status == "not_modified"
        assert (await client.get("/gzip")).json() == {"a": 1}
        assert (await client.get("/chunked")).content == b"abcde"
    assert server.connections <= 4  # kept alive and reused
    assert b"user-agent: pantau-sync/0.1" in server.requests[0]


async def test_a_kept_connection_the_server_closed_is_replaced(serve: Start) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer("200 OK", b"fine"))
        return False  # answers, then closes without saying so

    server, url = await serve(handler)
    async with create_client(url, FetchPolicy(concurrency=2)) as client:
        for _ in range(5):
            assert (await client.get("/x")).content == b"fine"
    assert server.connections == 5


async def test_cut_short_slow_refused_and_closed_without_answer(serve: Start) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        path = path_of(head)
        if path == "/cut":
            writer.write(answer("200 OK", b"0123456789")[:-4])
            return False
        if path == "/slow":
            await asyncio.sleep(5)
        if path == "/silent":
            return False
        writer.write(answer("200 OK", b"ok"))
        return True

    _, url = await serve(handler)
    policy = FetchPolicy(concurrency=2, timeout_seconds=0.3, retries=0)
    async with create_client(url, policy) as client:
        fetcher = Fetcher(client, policy)
        cut, slow, silent = [await fetcher.get(p) for p in ("/cut", "/slow", "/silent")]
        assert (cut.status, cut.reason) == ("failed", "transport")
        assert (slow.status, slow.reason) == ("failed", "timeout")
        assert (silent.status, silent.reason) == ("failed", "transport")
        assert (await fetcher.get("/fine")).body == b"ok"  # the failures cost their connections only
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.post("/fine", content=b"x")
    async with create_client("http://127.0.0.1:9", policy) as client:  # discard port: nobody listens
        refused = await Fetcher(client, policy).get("/x")
    assert (refused.status, refused.reason) == ("failed", "refused")


def test_on_uvloop_as_the_services_run() -> None:
    async def main() -> list[bytes]:
        async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(answer("200 OK", path_of(head).encode()))
            return True

        server = Server(handler)
        listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
        try:
            async with create_client(url, FetchPolicy(concurrency=2)) as client:
                fetched = await asyncio.gather(*(Fetcher(client).get(f"/{i}") for i in range(6)))
        finally:
            listening.close()
            await listening.wait_closed()
        assert server.connections <= 2
        return [f.body for f in fetched]

    assert uvloop.run(main()) == [f"/{i}".encode() for i in range(6)]


async def test_a_proxy_set_in_the_environment_is_used(serve: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer("200 OK", b"through the proxy"))
        return True

    proxy, proxy_url = await serve(handler)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    for variable in ("http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    async with create_client("http://sirekap.invalid/pilkada", FetchPolicy(concurrency=2)) as client:
        fetched = await Fetcher(client).get("/hhcw/pkwkk/53/5304.json")
    assert (fetched.status, fetched.body) == ("ok", b"through the proxy")
    assert proxy.requests[0].startswith(b"GET http://sirekap.invalid/pilkada/hhcw/pkwkk/53/5304.json HTTP/1.1\r\n")

    monkeypatch.setenv("NO_PROXY", "sirekap.invalid")  # listed: straight to the host, which does not exist
    policy = FetchPolicy(concurrency=2, retries=0)
    async with create_client("http://sirekap.invalid/pilkada", policy) as client:
        direct = await Fetcher(client, policy).get("/hhcw/pkwkk/53/5304.json")
    assert (direct.status, direct.reason) == ("failed", "unknown_host") and len(proxy.requests) == 1


async def test_https_is_verified_and_kept_alive(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    serving_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving_tls.load_cert_chain(cert, key)

    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer("200 OK", path_of(head).encode()))
        return True

    server = Server(handler)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=serving_tls)
    url = f"https://localhost:{listening.sockets[0].getsockname()[1]}"
    try:
        trusting = LeanTransport(2, ssl_context=ssl.create_default_context(cafile=str(cert)))
        async with httpx.AsyncClient(base_url=url, transport=trusting) as client:
            fetcher = Fetcher(client)
            got = [await fetcher.get(f"/{i}.json") for i in range(3)]
        assert [(f.status, f.body) for f in got] == [("ok", f"/{i}.json".encode()) for i in range(3)]
        assert server.connections == 1
        # The default context trusts no self-signed certificate: the fetch fails, and nothing is read.
        policy = FetchPolicy(concurrency=2, retries=0)
        async with create_client(url, policy) as client:
            refused = await Fetcher(client, policy).get("/0.json")
        assert (refused.status, refused.reason, refused.body) == ("failed", "tls", b"")
        assert "CERTIFICATE_VERIFY_FAILED" in (refused.detail or "") and len(server.requests) == 3
    finally:
        listening.close()
        await listening.wait_closed()
