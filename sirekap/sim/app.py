"""The data side of the simulator: a raw ASGI app that answers GETs for Sirekap paths, faults applied.

Every answer is computed from the scenario at the clock's current instant. JSON answers carry an ETag (a hash of the
body) and Last-Modified (when the content last changed) and honour If-None-Match / If-Modified-Since with 304.
Unknown paths get object storage's 404. The request path is kept short: it serves thousands of TPS files a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from sirekap.sim import shapes
from sirekap.sim.clock import ScenarioClock
from sirekap.sim.faults import Fault, FaultBook, FaultKind
from sirekap.sim.scenario import Document, Scenario

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = (b"content-type", b"application/json")
HTML_TYPE = (b"content-type", b"text/html")
NOT_FOUND = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
    b"<Message>The specified key does not exist.</Message></Error>"
)
ACCESS_DENIED = (
    b"<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n \n"
    b"You don't have permission to access this resource on this server.<P>\n"
    b"Reference&#32;&#35;18&#46;5c3c1602&#46;1707900000&#46;2a9f1e\n</BODY>\n</HTML>\n"
)


def error_page(status: int) -> bytes:
    title = f"{status} Service Temporarily Unavailable" if status == 503 else f"{status} Server Error"
    return f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>".encode()


class DataApp:
    def __init__(self, scenario: Scenario, clock: ScenarioClock, faults: FaultBook) -> None:
        self.scenario = scenario
        self.clock = clock
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        now = self.clock.now()
        delay, fault = self.faults.match(path, now)
        if delay:
            await asyncio.sleep(delay)
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, b"", HTML_TYPE)
            return
        if fault is None:
            document = self.scenario.document(path, now)
        elif fault.kind is FaultKind.HANG:
            await _wait_for_disconnect(receive)
            return
        elif fault.kind in (FaultKind.ERROR, FaultKind.REFUSED):
            status = fault.status or 503
            await _respond(send, status, error_page(status), HTML_TYPE)
            return
        elif fault.kind is FaultKind.DENIED:
            await _respond(send, fault.status or 403, ACCESS_DENIED, HTML_TYPE)
            return
        else:
            document = self._faulty_document(path, now, fault)
        if document is None:
            await _respond(send, 404, NOT_FOUND, (b"content-type", b"application/xml"))
            return
        body = json.dumps(document.body, separators=(",", ":"), ensure_ascii=False).encode()
        if fault is not None and fault.kind is FaultKind.TRUNCATED:
            await _respond(send, 200, body[: int(len(body) * fault.truncate_at)], JSON_TYPE)
            return
        etag = b'"' + hashlib.blake2b(body, digest_size=8).hexdigest().encode() + b'"'
        modified = document.modified.astimezone(UTC).replace(microsecond=0)
        headers = [JSON_TYPE, (b"etag", etag), (b"last-modified", format_datetime(modified, usegmt=True).encode())]
        if _not_modified(scope, etag, modified):
            await send({"type": "http.response.start", "status": 304, "headers": headers[1:]})
            await send({"type": "http.response.body", "body": b""})
            return
        await _respond(send, 200, body, *headers)

    def _faulty_document(self, path: str, now: datetime, fault: Fault) -> Document | None:
        if fault.kind is FaultKind.STALE:
            return self.scenario.document(path, fault.start)
        current = self.scenario.document(path, now)
        if fault.kind is not FaultKind.FREEZE or current is None:
            return current
        then = self.scenario.document(path, fault.start)
        if then is None or not isinstance(then.body, dict) or "ts" not in current.body:
            return then
        return Document(shapes.frozen(then.body, current.body["ts"], drop_charts=fault.drop_charts), current.modified)


def _not_modified(scope: Scope, etag: bytes, modified: datetime) -> bool:
    if_none_match = if_modified_since = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            if_none_match = value
        elif name == b"if-modified-since":
            if_modified_since = value
    if if_none_match is not None:
        return etag in [tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")] or if_none_match == b"*"
    if if_modified_since is not None:
        try:
            return modified <= parsedate_to_datetime(if_modified_since.decode("latin-1"))
        except (TypeError, ValueError):
            return False
    return False


async def _respond(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
