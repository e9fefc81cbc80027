"""HTTP request metrics for a Starlette app: rate, latency histogram and errors, on an explicit registry."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """ASGI middleware counting requests by handler (the route path), method and status."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, prefix: str = "pantau") -> None:
        self.app = app
        self.requests = Counter(
            f"{prefix}_http_requests", "HTTP requests served.", ["handler", "method", "status"], registry=registry
        )
        self.duration = Histogram(
            f"{prefix}_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["handler", "method"],
            buckets=BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            handler = _handler(scope)
            self.requests.labels(handler, scope["method"], str(status)).inc()
            self.duration.labels(handler, scope["method"]).observe(time.perf_counter() - started)


def _handler(scope: Scope) -> str:
    """The route's path, never the raw URL: label values stay a small fixed set."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "other"
