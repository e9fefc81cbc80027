"""HTTP request metrics for an ASGI app: rate, latency histogram and errors, on an explicit registry.

Counted in plain dictionaries and turned into Prometheus families when scraped, so a request costs a few dictionary
operations: the API answers a cached GET in a few microseconds (`api.graphql.etag`), and the metrics must not cost
more than the answer. Everything runs on the event loop's thread, scrapes included.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BOUNDS = [repr(float(b)) for b in BUCKETS] + ["+Inf"]  # as Prometheus writes them: 0.005, 1.0, +Inf


class _Latency:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one: above every bound
        self.total = 0.0


class RequestMetrics:
    """Requests by handler (the route path), method and status, and their durations; a collector of `registry`."""

    def __init__(self, registry: CollectorRegistry, prefix: str = "pantau") -> None:
        self.prefix = prefix
        self.counts: dict[tuple[str, str, int], int] = {}
        self.latencies: dict[tuple[str, str], _Latency] = {}
        registry.register(self)

    def served(self, handler: str, method: str, status: int, seconds: float) -> None:
        key = (handler, method, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        latency = self.latencies.get((handler, method))
        if latency is None:
            latency = self.latencies[(handler, method)] = _Latency()
        latency.counts[bisect_left(BUCKETS, seconds)] += 1  # bucket i holds durations <= BUCKETS[i]
        latency.total += seconds

    def collect(self) -> Iterator[Metric]:
        prefix = self.prefix
        requests = CounterMetricFamily(
            f"{prefix}_http_requests", "HTTP requests served.", labels=["handler", "method", "status"]
        )
        for (handler, method, status), count in sorted(self.counts.items()):
            requests.add_metric([handler, method, str(status)], count)
        yield requests
        durations = HistogramMetricFamily(
            f"{prefix}_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            labels=["handler", "method"],
        )
        for (handler, method), latency in sorted(self.latencies.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(_BOUNDS, latency.counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            durations.add_metric([handler, method], buckets, latency.total)
        yield durations


class HttpMetrics:
    """ASGI middleware counting requests by handler (the route path), method and status."""

    def __init__(
        self,
        app: ASGIApp,
        registry: CollectorRegistry | None = None,
        prefix: str = "pantau",
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.app = app
        if metrics is None:
            assert registry is not None, "HttpMetrics needs a registry or the metrics to count in"
            metrics = RequestMetrics(registry, prefix)
        self.metrics = metrics

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
            self.metrics.served(handler_of(scope), scope["method"], status, time.perf_counter() - started)


def handler_of(scope: Scope) -> str:
    """The route's path, never the raw URL: label values stay a small fixed set."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "other"
