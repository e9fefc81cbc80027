"""The probes' HTTP client against scripted servers on loopback: every answer is classified exactly as it is when the
probe fetches with httpx, and the client keeps one connection per target."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvloop

from monitor.app import create_app
from monitor.client import ProbeClient
from monitor.probe import Client, ProbeResult, Reason, Thresholds, probe
from monitor.settings import Settings, Target
from sirekap.clock import Clock
from tests.servers import serving_here

NOW = datetime(2020, 12, 9, 7, 0, tzinfo=UTC)
THRESHOLDS = Thresholds(timedelta(hours=1), timedelta(hours=2), ZoneInfo("Asia/Jakarta"), timeout_seconds=2.0)
DOCUMENT = json.dumps(
    {
        "mode": "hhcw",
        "psu": "Reguler",
        "ts": "2020-12-09 13:45:00",
        "progres": {"total": 426, "progres": 60},
        "tungsura": {"chart": {"1000899": 7127, "1000900": 8939}, "table": {}},
    }
).encode()

#: What the server does with one request: write its answer (or not), then keep the connection or close it.
Action = Callable[[asyncio.StreamWriter], Awaitable[bool]]


def send(raw: bytes, *, keep: bool = True) -> Action:
    async def action(writer: asyncio.StreamWriter) -> bool:
        writer.write(raw)
        await writer.drain()
        return keep

    return action


def answer(status: int, body: bytes, *headers: str, keep: bool = True) -> Action:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers]
    return send(("\r\n".join(head) + "\r\n\r\n").encode() + body, keep=keep)


async def hang(writer: asyncio.StreamWriter) -> bool:
    await asyncio.sleep(30)
    return False


async def reset(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
    return False


async def close_without_answer(writer: asyncio.StreamWriter) -> bool:
    return False


def chunked(body: bytes) -> bytes:
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


@dataclass
class Scripted:
    """A raw HTTP/1.1 server: `script(n)` is the action for the n-th request (from 1)."""

    script: Callable[[int], Action]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    url: str = ""
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.requests.append(head)
                if not await self.script(len(self.requests))(writer):
                    return
        finally:
            writer.close()


async def scripted(script: Callable[[int], Action], tls: ssl.SSLContext | None = None) -> AsyncIterator[Scripted]:
    server = Scripted(script)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    server.url = f"{scheme}://localhost:{port}/pilkada/hhcw/pkwkk/53/5304.json?probe=1"
    try:
        yield server
    finally:
        listening.close()
        for handler in server.handlers:
            handler.cancel()
        await asyncio.gather(*server.handlers, return_exceptions=True)


async def probe_with(client: Client, url: str, thresholds: Thresholds = THRESHOLDS) -> ProbeResult:
    return await probe(client, Target("belu", url), now=NOW, thresholds=thresholds)


async def both_clients(action: Action, tls: ssl.SSLContext | None = None) -> tuple[ProbeResult, ProbeResult]:
    """The same answer probed with this client and with httpx."""
    async for server in scripted(lambda n: action, tls):
        client = ProbeClient(timeout=2.0)
        try:
            ours = await probe_with(client, server.url)
        finally:
            await client.aclose()
        async with httpx.AsyncClient(timeout=2.0) as reference:
            theirs = await probe_with(reference, server.url)
    return ours, theirs


def outcome(result: ProbeResult) -> tuple[Reason, str, int | None]:
    return result.reason, result.detail, result.status


ANSWERS: dict[str, tuple[Action, Reason, str]] = {
    "up": (answer(200, DOCUMENT, "Content-Type: application/json"), Reason.UP, "HTTP 200"),
    "chunked": (send(chunked(DOCUMENT)), Reason.UP, "HTTP 200"),
    "early-hints-first": (
        send(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + chunked(DOCUMENT)),
        Reason.UP,
        "HTTP 200",
    ),
    "gzip": (answer(200, gzip.compress(DOCUMENT), "Content-Encoding: gzip"), Reason.UP, "HTTP 200"),
    "body-until-close": (send(b"HTTP/1.0 200 OK\r\n\r\n" + DOCUMENT, keep=False), Reason.UP, "HTTP 200"),
    "5xx": (answer(503, b"<html>503</html>"), Reason.DOWN, "HTTP 503"),
    "html-403": (answer(403, b"<html>Access Denied</html>"), Reason.ERROR_PAGE, "HTTP 403: html body"),
    "redirect": (answer(302, b"", "Location: /elsewhere"), Reason.ERROR_PAGE, "HTTP 302: not json body"),
    "no-content": (send(b"HTTP/1.1 204 No Content\r\n\r\n"), Reason.ERROR_PAGE, "HTTP 204: not json body"),
    "truncated-json": (answer(200, DOCUMENT[:80]), Reason.INVALID, "HTTP 200: truncated"),
    "truncated-body": (
        send(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + DOCUMENT, keep=False),
        Reason.DOWN,
        "transport error: RemoteProtocolError",
    ),
    "closed-without-answer": (close_without_answer, Reason.DOWN, "transport error: RemoteProtocolError"),
    "not-http": (send(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", keep=False), Reason.DOWN, "transport error: RemoteProtocolError"),
    "bad-gzip": (
        answer(200, b"not gzip at all", "Content-Encoding: gzip"),
        Reason.DOWN,
        "transport error: DecodingError",
    ),
}


@pytest.mark.parametrize("case", list(ANSWERS))
async def test_each_answer_is_classified_as_with_httpx(case: str) -> None:
    action, reason, detail = ANSWERS[case]
    ours, theirs = await both_clients(action)
    assert ours.reason is reason and ours.detail.startswith(detail)
    assert outcome(ours) == outcome(theirs)


async def test_a_reset_connection_is_a_read_error_as_with_httpx() -> None:
    ours, theirs = await both_clients(reset)
    assert ours.reason is Reason.DOWN
    assert outcome(ours) == outcome(theirs)


async def test_refused_is_down_connection_refused() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connecting is refused
        client = ProbeClient(timeout=2.0)
        result = await probe_with(client, f"http://127.0.0.1:{port}/x.json")
        await client.aclose()
    assert outcome(result) == (Reason.DOWN, "connection refused", None)


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x.json", "http:///x.json", "ftp://sirekap.test/x.json"])
async def test_a_url_that_cannot_be_fetched_is_down_not_raised(url: str) -> None:
    client = ProbeClient(timeout=2.0)
    result = await probe_with(client, url)
    assert outcome(result) == (Reason.DOWN, "transport error: UnsupportedProtocol", None)


async def test_the_deadline_covers_a_silent_server_and_the_connection_is_dropped() -> None:
    script = {1: hang, 2: answer(200, DOCUMENT)}
    async for server in scripted(lambda n: script[n]):
        client = ProbeClient(timeout=5.0)
        slow = await probe_with(client, server.url, replace(THRESHOLDS, timeout_seconds=0.3))
        assert outcome(slow) == (Reason.DOWN, "timeout", None)
        assert slow.duration_seconds < 1.0
        again = await probe_with(client, server.url)  # not read from the connection the late answer may still arrive on
        await client.aclose()
    assert again.reason is Reason.UP
    assert server.connections == 2


async def test_the_clients_own_timeout_applies_without_a_probe_deadline() -> None:
    async for server in scripted(lambda n: hang):
        client = ProbeClient(timeout=0.3)
        result = await probe_with(client, server.url, replace(THRESHOLDS, timeout_seconds=None))
        await client.aclose()
    assert outcome(result) == (Reason.DOWN, "timeout", None)


async def test_a_trickling_answer_is_down_at_the_deadline() -> None:
    async def trickle(writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(DOCUMENT))
        for start in range(0, len(DOCUMENT), 20):
            writer.write(DOCUMENT[start : start + 20])
            await writer.drain()
            await asyncio.sleep(0.1)  # each read is quick, the whole answer is not
        return True

    async for server in scripted(lambda n: trickle):
        client = ProbeClient(timeout=5.0)
        result = await probe_with(client, server.url, replace(THRESHOLDS, timeout_seconds=0.3))
        await client.aclose()
    assert outcome(result) == (Reason.DOWN, "timeout", None)


async def test_one_kept_alive_connection_serves_every_probe() -> None:
    async for server in scripted(lambda n: answer(200, DOCUMENT)):
        client = ProbeClient(timeout=2.0)
        results = [await probe_with(client, server.url) for _ in range(3)]
        await client.aclose()
    assert [r.reason for r in results] == [Reason.UP] * 3
    assert server.connections == 1
    request = server.requests[0].decode()
    assert request.startswith("GET /pilkada/hhcw/pkwkk/53/5304.json?probe=1 HTTP/1.1\r\n")
    port = server.url.split(":")[2].split("/")[0]
    assert f"\r\nHost: localhost:{port}\r\n" in request
    assert "\r\nUser-Agent: pantau-monitor\r\n" in request


async def test_a_kept_alive_connection_the_server_closed_is_retried_on_a_fresh_one() -> None:
    async for server in scripted(lambda n: answer(200, DOCUMENT, keep=n != 1)):  # closes after its first answer
        client = ProbeClient(timeout=2.0)
        first = await probe_with(client, server.url)
        await asyncio.sleep(0.05)  # the close reaches the client while the connection sits idle
        second = await probe_with(client, server.url)
        await client.aclose()
    assert (first.reason, second.reason) == (Reason.UP, Reason.UP)
    assert server.connections == 2


async def test_connection_close_from_the_server_is_honoured() -> None:
    async for server in scripted(lambda n: answer(200, DOCUMENT, "Connection: close", keep=False)):
        client = ProbeClient(timeout=2.0)
        results = [await probe_with(client, server.url) for _ in range(2)]
        await client.aclose()
    assert [r.reason for r in results] == [Reason.UP] * 2
    assert server.connections == 2


async def test_concurrent_gets_on_one_client_each_get_their_answer() -> None:
    async def slow_numbered(writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        return await answer(200, DOCUMENT)(writer)

    async for server in scripted(lambda n: slow_numbered):
        client = ProbeClient(timeout=2.0)
        answers = await asyncio.gather(*(client.get(server.url) for _ in range(3)))
        later = await client.get(server.url)
        await client.aclose()
    assert [a.content for a in [*answers, later]] == [DOCUMENT] * 4
    assert server.connections == 3  # one kept, the concurrent ones closed after their answer


def test_under_uvloop_as_the_monitor_runs() -> None:
    async def main() -> list[Reason]:
        async for server in scripted(lambda n: answer(200, DOCUMENT)):
            client = ProbeClient(timeout=2.0)
            results = [await probe_with(client, server.url) for _ in range(2)]
            await client.aclose()
            assert server.connections == 1
        return [r.reason for r in results]

    assert uvloop.run(main()) == [Reason.UP, Reason.UP]


async def test_a_proxy_set_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = "http://sirekap.invalid/pilkada/hhcw/pkwkk/53/5304.json"
    async for proxy in scripted(lambda n: answer(200, DOCUMENT)):
        monkeypatch.setenv("HTTP_PROXY", proxy.url.split("/pilkada")[0])
        for variable in ("http_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(variable, raising=False)
        settings = Settings(targets=(Target("belu", url),), database_url=f"sqlite:///{tmp_path}/monitor.db")
        app = create_app(settings, clock=Clock(wall=NOW.timestamp), run_loop=False)
        async with serving_here(app):
            (result,) = await app.state.monitor.probe_all()
    assert result.reason is Reason.UP
    assert proxy.requests[0].startswith(f"GET {url} HTTP/1.1\r\n".encode())


async def test_https_is_verified_and_kept_alive(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    serving_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving_tls.load_cert_chain(cert, key)
    async for server in scripted(lambda n: answer(200, DOCUMENT), tls=serving_tls):
        client = ProbeClient(timeout=2.0, ssl_context=ssl.create_default_context(cafile=str(cert)))
        results = [await probe_with(client, server.url) for _ in range(2)]
        await client.aclose()
        ours, theirs = await both_clients(answer(200, DOCUMENT), tls=serving_tls)  # a certificate nobody vouches for
    assert [r.reason for r in results] == [Reason.UP] * 2
    assert server.connections == 1
    assert outcome(ours) == outcome(theirs) == (Reason.DOWN, "TLS handshake failed (CERTIFICATE_VERIFY_FAILED)", None)
