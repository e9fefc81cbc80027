"""A recorded set of Sirekap documents (tests/fixtures/sirekap-belu-2024.json) served as the real data host serves
them: exactly the recorded paths, each body as recorded (JSON, an HTML page with status 200, a body cut short),
object storage's 404 for anything else. Nothing of the simulator is involved, so a layout the simulator invented
cannot pass here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parent / "fixtures/sirekap-belu-2024.json"
NOT_FOUND = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>'

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@cache
def recorded() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text())
    return loaded


def documents(snapshot: str) -> dict[str, dict[str, Any]]:
    """Every document of a snapshot by path: the morning set, with the evening's own documents over it."""
    snapshots = recorded()["snapshots"]
    found = dict(snapshots["morning"])
    if snapshot != "morning":
        found |= snapshots[snapshot]
    return found


def quirks() -> dict[str, Any]:
    """Which TPS carry the recorded quirks: html_200, truncated, anomaly, not_uploaded."""
    found: dict[str, Any] = recorded()["label"]["quirks"]
    return found


def tps_path(code: str) -> str:
    return "/pilkada/hhcw/pkwkk/" + "/".join(code[:n] for n in (2, 4, 6, 10, 13) if n <= len(code)) + ".json"


class RecordedSirekap:
    """The ASGI app; `snapshot` and `overrides` (path → recorded entry) can change between passes."""

    def __init__(self, snapshot: str = "morning") -> None:
        self.snapshot = snapshot
        self.overrides: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []

    def entry(self, path: str) -> dict[str, Any] | None:
        return self.overrides.get(path) or documents(self.snapshot).get(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests.append(scope["path"])
        entry = self.entry(scope["path"])
        if entry is None:
            status, content_type, body = 404, "application/xml", NOT_FOUND
        elif "json" in entry:
            status, content_type = 200, "application/json"
            body = json.dumps(entry["json"], ensure_ascii=False, separators=(",", ":")).encode()
        else:
            status, content_type, body = entry["status"], entry["content_type"], entry["raw"].encode()
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
