"""GETs against Sirekap's data host that never raise: every answer is a `Fetched` with a status and, when it failed,
a reason from a fixed set.

    Fetched.status   "ok" (a body), "not_modified" (304 to a conditional request), "failed"
    Fetched.reason   refused       the connection was refused (the host is down)
                     tls           the TLS handshake failed (an unverified certificate, say)
                     unknown_host  the host name is not known
                     timeout       no answer within the timeout (a hanging or very slow host)
                     transport     any other network error (reset, protocol error)
                     http_5xx      a server error status
                     http_4xx      a client error status other than 404 (a WAF's 403, say)
                     throttled     429: asked to slow down
                     not_found     404: object storage has no such document
                     circuit_open  not tried: too many failures in a row in this pass

Transient failures (refused, tls, unknown_host, timeout, transport, 5xx, 429) are retried with exponential backoff
and full jitter. After `circuit_threshold` failures in a row the circuit opens and the rest of the pass fails fast,
so a failing upstream sees a handful of requests per pass instead of one per document. `reset()` closes it for the
next pass.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from api.sync.transport import LeanTransport
from sirekap.reaching import connect_failure, environment_proxy

FetchStatus = Literal["ok", "not_modified", "failed"]
Sleep = Callable[[float], Awaitable[None]]

#: Failure reasons of a fetch (label values of `pantau_sync_failures_total`).
FETCH_REASONS = (
    "refused",
    "tls",
    "unknown_host",
    "timeout",
    "transport",
    "http_5xx",
    "http_4xx",
    "throttled",
    "not_found",
    "circuit_open",
)


@dataclass(frozen=True)
class Fetched:
    path: str
    status: FetchStatus
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None
    detail: str = ""
    attempts: int = 0


@dataclass(frozen=True)
class FetchPolicy:
    concurrency: int = 32
    timeout_seconds: float = 10.0
    retries: int = 3  # attempts after the first
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 8.0
    circuit_threshold: int = 5


class Fetcher:
    """Bounded-concurrency conditional GETs with retries and a per-pass circuit breaker."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: FetchPolicy = FetchPolicy(),
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(policy.concurrency)
        self._failures_in_a_row = 0
        self.requests = 0  # HTTP requests actually sent (retries included)

    @property
    def circuit_open(self) -> bool:
        return self._failures_in_a_row >= self.policy.circuit_threshold

    def reset(self) -> None:
        """Close the circuit: a new pass gives the upstream a new chance."""
        self._failures_in_a_row = 0

    async def get(self, path: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        headers = {}
        if etag:
            headers["if-none-match"] = etag
        if last_modified:
            headers["if-modified-since"] = last_modified
        attempt = 0
        while True:
            if self.circuit_open:
                return Fetched(path, "failed", reason="circuit_open", detail="upstream failing", attempts=attempt)
            async with self._slots:
                result = await self._once(path, headers)
            attempt += 1
            if result.status != "failed" or result.reason in ("not_found", "http_4xx"):
                if result.status != "failed":
                    self._failures_in_a_row = 0
                return _with_attempts(result, attempt)
            self._failures_in_a_row += 1
            if attempt > self.policy.retries or self.circuit_open:
                return _with_attempts(result, attempt)
            backoff = min(self.policy.backoff_cap_seconds, self.policy.backoff_base_seconds * 2 ** (attempt - 1))
            await self._sleep(backoff * self._rng.random())

    async def _once(self, path: str, headers: dict[str, str]) -> Fetched:
        self.requests += 1
        try:
            response = await self.client.get(path, headers=headers, timeout=self.policy.timeout_seconds)
        except httpx.ConnectError as error:
            return Fetched(path, "failed", reason=connect_failure(error)[0], detail=_short(error))
        except httpx.TimeoutException as error:
            return Fetched(path, "failed", reason="timeout", detail=type(error).__name__)
        except httpx.TransportError as error:
            return Fetched(path, "failed", reason="transport", detail=_short(error))
        status = response.status_code
        if status == 304:
            return Fetched(path, "not_modified", etag=etag_of(response), last_modified=modified_of(response))
        if status == 200:
            body = response.content
            return Fetched(path, "ok", body, etag_of(response), modified_of(response))
        if status == 404:
            return Fetched(path, "failed", reason="not_found", detail="404")
        if status >= 500:
            return Fetched(path, "failed", reason="http_5xx", detail=str(status))
        if status == 429:
            return Fetched(path, "failed", reason="throttled", detail="429")
        return Fetched(path, "failed", reason="http_4xx", detail=str(status))


def etag_of(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("etag")
    return value


def modified_of(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("last-modified")
    return value


def _with_attempts(result: Fetched, attempts: int) -> Fetched:
    return Fetched(
        result.path,
        result.status,
        result.body,
        result.etag,
        result.last_modified,
        result.reason,
        result.detail,
        attempts,
    )


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text[:200]


def create_client(base_url: str, policy: FetchPolicy) -> httpx.AsyncClient:
    """An HTTP/1.1 keep-alive client for the data host, sized for the policy's concurrency (`api.sync.transport`:
    httpcore's pool cost more CPU per document than the rest of the sync). Where the environment names a proxy for
    the host (`sirekap.reaching`), httpx's own transport, through that proxy."""
    proxy = environment_proxy(base_url)
    transport: httpx.AsyncBaseTransport = (
        LeanTransport(policy.concurrency)
        if proxy is None
        else httpx.AsyncHTTPTransport(proxy=proxy, limits=httpx.Limits(max_connections=policy.concurrency))
    )
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        transport=transport,
        timeout=policy.timeout_seconds,
        headers={"user-agent": "pantau-sync/0.1", "accept": "application/json"},
        follow_redirects=False,
    )
