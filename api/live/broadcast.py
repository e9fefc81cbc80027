"""Announcing changed results to every API worker: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, or in-process.

A write (or a sync pass, from whichever process syncs) publishes one `Change` after its transaction commits. Each API
worker keeps one listening connection (`listen`), which hands every change to the worker's live updates
(`api.live.updates`). A listening connection that drops is opened again by itself, and the listener is told that it
is connected *again*: changes published meanwhile were missed, and the subscribers must hear so (a resync), never a
silent gap. That includes Redis's own silent reconnects: redis-py re-subscribes a dropped pub/sub connection inside
its retry loop, and the connect callback registered here turns that into a reconnect the listener hears of.

With SQLite (one process) the in-process broadcast is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from api.storage.db import plain_dsn

log = logging.getLogger(__name__)

#: The first wait before opening a lost listening connection again; it doubles up to RETRY_CAP_SECONDS.
RETRY_FIRST_SECONDS = 0.2
RETRY_CAP_SECONDS = 5.0
#: How often an idle PostgreSQL listening connection is checked, so a half-open one is noticed.
KEEPALIVE_SECONDS = 10.0


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


class Broadcast(Protocol):
    """What writers need: publish a committed change to every worker."""

    async def publish(self, change: Change) -> None: ...

    async def publish_many(self, changes: Sequence[Change]) -> None:
        """Publish several changes, in order, at the cost of about one."""
        ...

    async def close(self) -> None: ...


class Listener(Protocol):
    def received(self, change: Change) -> None: ...

    def connected(self, *, again: bool) -> None:
        """The listening connection is up; `again`: after a loss, so changes may have been missed meanwhile."""
        ...


class Transport(Broadcast, Protocol):
    async def listen(self, listener: Listener) -> None:
        """Hand every change to `listener` until cancelled, reconnecting by itself."""
        ...


class LocalBroadcast:
    """Within one process only."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    async def publish(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener.received(change)

    async def publish_many(self, changes: Sequence[Change]) -> None:
        for change in changes:
            await self.publish(change)

    async def listen(self, listener: Listener) -> None:
        self._listeners.add(listener)
        try:
            listener.connected(again=False)
            await asyncio.Event().wait()
        finally:
            self._listeners.discard(listener)

    async def close(self) -> None:
        pass


class _Retry:
    """Waits between attempts to open a listening connection: short at first, doubling, reset once connected."""

    def __init__(self) -> None:
        self.delay = RETRY_FIRST_SECONDS

    async def wait(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(RETRY_CAP_SECONDS, self.delay * 2)

    def reset(self) -> None:
        self.delay = RETRY_FIRST_SECONDS


class RedisBroadcast:
    """Through a Redis channel: every worker of every API process subscribed to it receives every change."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self.redis = redis
        self.channel = channel

    async def publish(self, change: Change) -> None:
        await self.redis.publish(self.channel, change.to_json())

    async def publish_many(self, changes: Sequence[Change]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for change in changes:
                pipe.publish(self.channel, change.to_json())
            await pipe.execute()

    async def listen(self, listener: Listener) -> None:
        watch = _Reconnects(listener)
        retry = _Retry()
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    watch.up()
                    retry.reset()
                    # Called on every later (re)connect of this connection, the silent ones inside redis-py too.
                    connection: Any = pubsub.connection
                    connection.register_connect_callback(watch.reconnected)
                    try:
                        async for message in pubsub.listen():
                            if message.get("type") == "message":
                                listener.received(Change.from_json(message["data"]))
                    finally:
                        # The pool hands this connection out again once the subscription is over.
                        connection.deregister_connect_callback(watch.reconnected)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("Redis subscription to %s lost (%s); reconnecting", self.channel, error)
            watch.down()
            await retry.wait()

    async def close(self) -> None:
        pass


class _Reconnects:
    """Tells the listener of each (re)connection, once per connection."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.ever = False
        self.is_up = False

    def up(self) -> None:
        if not self.is_up:
            self.is_up = True
            self.listener.connected(again=self.ever)
            self.ever = True

    def down(self) -> None:
        self.is_up = False

    async def reconnected(self, _connection: Any) -> None:
        log.warning("the Redis subscription reconnected: changes published meanwhile were missed")
        self.listener.connected(again=True)


_NOTIFY_ALL = "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS n(p, i) ORDER BY i"


class PostgresBroadcast:
    """Through PostgreSQL NOTIFY on a channel that one connection per worker LISTENs to."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self._notifying: Any = None
        self._lock = asyncio.Lock()

    async def publish(self, change: Change) -> None:
        await self.publish_many([change])

    async def publish_many(self, changes: Sequence[Change]) -> None:
        import asyncpg

        payloads = [change.to_json() for change in changes]
        async with self._lock:
            for attempt in (1, 2):
                try:
                    if self._notifying is None or self._notifying.is_closed():
                        self._notifying = await asyncpg.connect(self.dsn, timeout=10)
                    # One statement, one transaction: delivered together, in order.
                    await self._notifying.execute(_NOTIFY_ALL, self.channel, payloads)
                    return
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                    self._notifying = None
                    if attempt == 2:
                        raise

    async def listen(self, listener: Listener) -> None:
        import asyncpg

        watch = _Reconnects(listener)
        retry = _Retry()

        def received(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
            listener.received(Change.from_json(payload))

        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(self.dsn, timeout=10)
                lost = asyncio.Event()
                connection.add_termination_listener(_setter(lost))
                await connection.add_listener(self.channel, received)
                watch.up()
                retry.reset()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), KEEPALIVE_SECONDS)
                    if not lost.is_set():
                        await connection.fetchval("SELECT 1", timeout=KEEPALIVE_SECONDS)
                log.warning("the connection listening on %s was closed; reconnecting", self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("listening on %s failed (%s: %s); reconnecting", self.channel, type(error).__name__, error)
            finally:
                if connection is not None:
                    connection.terminate()
            watch.down()
            await retry.wait()

    async def close(self) -> None:
        if self._notifying is not None and not self._notifying.is_closed():
            await self._notifying.close()


def _setter(event: asyncio.Event) -> Callable[[Any], None]:
    return lambda _connection: event.set()


def broadcast_for(database_url: str, redis: Redis | None, prefix: str) -> Transport:
    """Redis when configured, else PostgreSQL's own LISTEN/NOTIFY, else in-process (SQLite: one process)."""
    from sqlalchemy.engine import make_url

    if redis is not None:
        return RedisBroadcast(redis, f"{prefix}:changes")
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresBroadcast(plain_dsn(database_url), f"{prefix}_changes")
    return LocalBroadcast()
