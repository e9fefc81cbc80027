"""Announcing changed results to every API worker: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, or in-process.

A write publishes one `Change` after its transaction commits; each worker keeps one listening connection and fans
the changes out to its subscribers' queues. A subscriber that falls behind loses the oldest changes, never blocks
the writers. With SQLite (one process) the in-process broadcast is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)

#: Queued changes per subscriber before the oldest are dropped.
QUEUE_SIZE = 256


@dataclass(frozen=True)
class Change:
    """A new version of one source's numbers for a TPS or region of a race."""

    race_id: int
    race: str  # slug
    source: str
    subject_code: str
    claimant: int
    version: int
    at: str  # ISO 8601 UTC

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Change:
        return cls(**json.loads(raw))

    def concerns(self, race_id: int, region_code: str) -> bool:
        """Whether the change may move a result of this region: it lies in the region (or is the region), or the
        region lies in it (a sync pass announces whole kecamatan, so their desa hear it too)."""
        return self.race_id == race_id and (
            self.subject_code.startswith(region_code) or region_code.startswith(self.subject_code)
        )


class Broadcast(Protocol):
    async def publish(self, change: Change) -> None: ...

    def subscribe(self) -> Subscription: ...

    async def close(self) -> None: ...


#: Changes as they arrive, for as long as the context is open.
Subscription = AbstractAsyncContextManager[AsyncIterator[Change]]


class _FanOut:
    """The subscriber queues of one worker."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[Change]] = set()

    def deliver(self, change: Change) -> None:
        for queue in self.queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(change)

    @asynccontextmanager
    async def queue(self, on_first: Callable[[], Awaitable[None]]) -> AsyncIterator[AsyncIterator[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue(QUEUE_SIZE)
        await on_first()
        self.queues.add(queue)

        async def changes() -> AsyncIterator[Change]:
            while True:
                yield await queue.get()

        try:
            yield changes()
        finally:
            self.queues.discard(queue)


class LocalBroadcast:
    """Within one process only."""

    def __init__(self) -> None:
        self.fan_out = _FanOut()

    async def publish(self, change: Change) -> None:
        self.fan_out.deliver(change)

    def subscribe(self) -> Subscription:
        return self.fan_out.queue(_nothing)

    async def close(self) -> None:
        pass


async def _nothing() -> None:
    pass


class RedisBroadcast:
    """Through a Redis channel: every worker of every API process subscribed to it receives every change."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        self.fan_out = _FanOut()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, change: Change) -> None:
        await self.redis.publish(self.channel, change.to_json())

    def subscribe(self) -> Subscription:
        return self.fan_out.queue(self._start)

    async def _start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        await self._ready.wait()

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.fan_out.deliver(Change.from_json(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Redis subscription to %s lost; reconnecting", self.channel)
                await asyncio.sleep(1)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener


class PostgresBroadcast:
    """Through PostgreSQL NOTIFY on a channel that one connection per worker LISTENs to."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self.fan_out = _FanOut()
        self._listening: Any = None
        self._notifying: Any = None
        self._lock = asyncio.Lock()

    async def publish(self, change: Change) -> None:
        import asyncpg

        async with self._lock:
            for attempt in (1, 2):
                try:
                    if self._notifying is None or self._notifying.is_closed():
                        self._notifying = await asyncpg.connect(self.dsn)
                    await self._notifying.execute("SELECT pg_notify($1, $2)", self.channel, change.to_json())
                    return
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                    self._notifying = None
                    if attempt == 2:
                        raise

    def subscribe(self) -> Subscription:
        return self.fan_out.queue(self._start)

    async def _start(self) -> None:
        import asyncpg

        async with self._lock:
            if self._listening is None or self._listening.is_closed():
                self._listening = await asyncpg.connect(self.dsn)
                await self._listening.add_listener(self.channel, self._received)

    def _received(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.fan_out.deliver(Change.from_json(payload))

    async def close(self) -> None:
        for connection in (self._listening, self._notifying):
            if connection is not None and not connection.is_closed():
                await connection.close()


def broadcast_for(database_url: str, redis: Redis | None, prefix: str) -> Broadcast:
    """Redis when configured, else PostgreSQL's own LISTEN/NOTIFY, else in-process (SQLite: one process)."""
    from sqlalchemy.engine import make_url

    if redis is not None:
        return RedisBroadcast(redis, f"{prefix}:changes")
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresBroadcast(dsn, f"{prefix}_changes")
    return LocalBroadcast()
