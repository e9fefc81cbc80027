"""Live updates within one API worker: who listens to which region, changes coalesced per region, one payload per
region shared by all its subscribers, and an explicit resync wherever an event could not be delivered.

- A topic is a (race, region): a change concerns it when the change lies in the region (a TPS, a desa, a kecamatan
  pleno) or the region lies in the change's subject (a kabupaten pleno; a sync pass announces whole kecamatan).
- Coalescing: a region's first change after a quiet spell goes out at once; changes arriving within `window_seconds`
  of its last event wait for the window's end and go out together, listed in one event. A burst becomes at most one
  event per region per window.
- One payload per region: for each event, `prepare(topic)` is called once and what it builds (the subscription's
  shared loaders and the data version) is handed to every subscriber of the region; none of them reads alone.
- Resync, never a silent gap: a subscriber whose unread events pass `backlog` (its client reads too slowly) has them
  replaced by one RESYNC event with the region as it stands; so has a region whose pending changes pass
  `max_changes`; and when the worker's listening connection was lost and is back (`Listener.connected(again=True)`),
  every subscriber gets a RESYNC, since changes published meanwhile never reached this worker.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from api.broadcast import Change, Transport

log = logging.getLogger(__name__)

WINDOW_SECONDS = 0.25
#: Unread events a subscriber may have before they are replaced by a resync.
BACKLOG = 32
#: Changes one event may list; beyond, the region's subscribers get a resync instead.
MAX_CHANGES = 1000
#: Wait before trying again to build a region's payload that could not be built (the database was away).
PREPARE_RETRY_SECONDS = 1.0
#: Lengths of region codes (provinsi, kabupaten/kota, kecamatan, desa) and of a TPS code.
CODE_LENGTHS = (2, 4, 6, 10, 13)


class ResyncReason(enum.Enum):
    SUBSCRIBED = "subscribed"
    BEHIND = "behind"
    RECONNECTED = "reconnected"


@dataclass(frozen=True)
class Topic:
    race_id: int
    region_code: str

    def concerns(self, change: Change) -> bool:
        return change.race_id == self.race_id and (
            change.subject_code.startswith(self.region_code) or self.region_code.startswith(change.subject_code)
        )


@dataclass(frozen=True)
class LiveEvent:
    topic: Topic
    #: Oldest first; empty on a resync.
    changes: tuple[Change, ...]
    resync: ResyncReason | None
    #: What `prepare(topic)` built for this event, shared by every subscriber of the topic.
    snapshot: Any


Prepare = Callable[[Topic], Awaitable[Any]]


class _Mailbox:
    """One subscriber's unread events."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.unread: deque[LiveEvent] = deque()
        self.wakeup = asyncio.Event()

    def put(self, event: LiveEvent) -> None:
        if len(self.unread) >= self.limit:
            self.unread.clear()
            event = LiveEvent(event.topic, (), ResyncReason.BEHIND, event.snapshot)
        self.unread.append(event)
        self.wakeup.set()

    def put_first(self, event: LiveEvent) -> None:
        self.unread.appendleft(event)
        self.wakeup.set()

    async def events(self) -> AsyncIterator[LiveEvent]:
        while True:
            while not self.unread:
                self.wakeup.clear()
                await self.wakeup.wait()
            yield self.unread.popleft()


class _Region:
    """A topic's subscribers and what waits to be sent to them."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        self.subscribers: set[_Mailbox] = set()
        self.pending: list[Change] = []
        self.resync: ResyncReason | None = None
        self.sending: asyncio.Task[None] | None = None
        self.last_sent = -math.inf


class LiveUpdates:
    """Publishes through `transport` (the `Broadcast` writers use) and serves subscriptions from what it hears."""

    def __init__(
        self,
        transport: Transport,
        prepare: Prepare,
        *,
        window_seconds: float = WINDOW_SECONDS,
        backlog: int = BACKLOG,
        max_changes: int = MAX_CHANGES,
        retry_seconds: float = PREPARE_RETRY_SECONDS,
    ) -> None:
        self.transport = transport
        self.prepare = prepare
        self.window_seconds = window_seconds
        self.backlog = backlog
        self.max_changes = max_changes
        self.retry_seconds = retry_seconds
        self._regions: dict[int, dict[str, _Region]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def publish(self, change: Change) -> None:
        await self.transport.publish(change)

    @asynccontextmanager
    async def subscribe(self, topic: Topic, *, initial: bool = False) -> AsyncIterator[AsyncIterator[LiveEvent]]:
        """Events for `topic` for as long as the context is open, from the moment it is entered. With `initial`,
        the first event is a SUBSCRIBED resync with the region as it stands once the subscription listens."""
        if self._listener is None:
            self._listener = asyncio.create_task(self.transport.listen(self), name="pantau-live-updates")
        await self._connected.wait()
        mailbox = _Mailbox(self.backlog)
        region = self._regions.setdefault(topic.race_id, {}).setdefault(topic.region_code, _Region(topic))
        region.subscribers.add(mailbox)
        try:
            if initial:
                mailbox.put_first(LiveEvent(topic, (), ResyncReason.SUBSCRIBED, await self.prepare(topic)))
            yield mailbox.events()
        finally:
            region.subscribers.discard(mailbox)
            self._forget_if_idle(region)

    # the listener's side

    def received(self, change: Change) -> None:
        for region in self._concerned(change):
            if region.resync is None:
                region.pending.append(change)
                if len(region.pending) > self.max_changes:
                    region.pending.clear()
                    region.resync = ResyncReason.BEHIND
            self._send_soon(region)

    def connected(self, *, again: bool) -> None:
        self._connected.set()
        if again:
            for regions in self._regions.values():
                for region in regions.values():
                    region.pending.clear()
                    region.resync = ResyncReason.RECONNECTED
                    self._send_soon(region)

    def _concerned(self, change: Change) -> list[_Region]:
        regions = self._regions.get(change.race_id)
        if not regions:
            return []
        code = change.subject_code
        found = [regions[code[:n]] for n in CODE_LENGTHS if n <= len(code) and code[:n] in regions]
        if len(code) < CODE_LENGTHS[-1]:  # a region-level change also reaches the regions inside it
            found += [r for c, r in regions.items() if len(c) > len(code) and c.startswith(code)]
        return found

    def _send_soon(self, region: _Region) -> None:
        if region.sending is None:
            region.sending = asyncio.create_task(self._send(region))

    async def _send(self, region: _Region) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (region.pending or region.resync) and region.subscribers:
                wait = region.last_sent + self.window_seconds - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                region.last_sent = loop.time()
                changes, region.pending = tuple(region.pending), []
                resync, region.resync = region.resync, None
                try:
                    snapshot = await self.prepare(region.topic)
                except Exception:
                    log.exception("live updates: could not read region %s; trying again", region.topic.region_code)
                    region.pending[:0] = changes
                    region.resync = region.resync or resync
                    if len(region.pending) > self.max_changes:
                        region.pending.clear()
                        region.resync = ResyncReason.BEHIND
                    await asyncio.sleep(self.retry_seconds)
                    continue
                event = LiveEvent(region.topic, changes, resync, snapshot)
                for mailbox in list(region.subscribers):
                    mailbox.put(event)
        finally:
            region.sending = None
            self._forget_if_idle(region)

    def _forget_if_idle(self, region: _Region) -> None:
        if region.subscribers or region.sending is not None:
            return
        regions = self._regions.get(region.topic.race_id, {})
        if regions.get(region.topic.region_code) is region:
            del regions[region.topic.region_code]

    async def close(self) -> None:
        tasks = [r.sending for regions in self._regions.values() for r in regions.values() if r.sending]
        if self._listener is not None:
            tasks.append(self._listener)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await self.transport.close()
