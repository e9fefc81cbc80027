"""Live updates within one API worker: who listens to which region, changes coalesced per region, one payload per
region shared by all its subscribers, and an explicit resync wherever an event could not be delivered.

- A topic is a (race, region): a change concerns it when the change lies in the region (a TPS, a desa, a kecamatan
  pleno) or the region lies in the change's subject (a kabupaten pleno; a sync pass announces whole kecamatan).
- Coalescing: the first change after a quiet spell goes out at once; changes arriving within `window_seconds` of the
  last flush wait for the window's end and go out together, one event per region listing all of its changes. A burst
  becomes at most one event per region per window.
- One payload per flush: `prepare()` is called once per flush, and what it builds (the subscription's loaders and the
  data version) is handed to every subscriber of every region in it. None of them reads alone: the first to resolve
  a field reads it, for all the regions at once (the loaders batch), and the others find it there.
- A subscriber that reads more slowly than events come (its client, or this worker, is busy) never queues them up:
  a new event is merged into the one it has not read yet (the changes of both, the newer payload), so it does no
  work for states already superseded, and catches up in one step.
- Resync, never a silent gap: an event that would list more than `max_changes` changes becomes a RESYNC with the
  region as it stands (for a region's pending changes, or a slow subscriber's merged ones); and when the worker's
  listening connection was lost and is back (`Listener.connected(again=True)`), every subscriber gets a RESYNC, since
  changes published meanwhile never reached this worker.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from api.live.broadcast import Change, Transport

log = logging.getLogger(__name__)

WINDOW_SECONDS = 0.25
#: Changes one event may list; beyond, it becomes a resync.
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
    #: What `prepare()` built for this event's flush, shared by every subscriber of every region in it.
    snapshot: Any


Prepare = Callable[[], Awaitable[Any]]


class _Mailbox:
    """One subscriber's unread events: at most the SUBSCRIBED one and one more, into which later ones merge."""

    def __init__(self, max_changes: int) -> None:
        self.max_changes = max_changes
        self.unread: deque[LiveEvent] = deque()
        self.wakeup = asyncio.Event()

    def put(self, event: LiveEvent) -> None:
        if self.unread and self.unread[-1].resync is not ResyncReason.SUBSCRIBED:
            event = self._merged(self.unread.pop(), event)
        self.unread.append(event)
        self.wakeup.set()

    def _merged(self, older: LiveEvent, newer: LiveEvent) -> LiveEvent:
        resync = older.resync or newer.resync
        changes = older.changes + newer.changes
        if resync is None and len(changes) > self.max_changes:
            resync = ResyncReason.BEHIND
        return LiveEvent(newer.topic, () if resync else changes, resync, newer.snapshot)

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

    def take(self) -> tuple[tuple[Change, ...], ResyncReason | None]:
        changes, resync = tuple(self.pending), self.resync
        self.pending, self.resync = [], None
        return changes, resync

    def add(self, change: Change, max_changes: int) -> None:
        if self.resync is None:  # a resync to come covers it
            self.pending.append(change)
            self._bound(max_changes)

    def put_back(self, changes: tuple[Change, ...], resync: ResyncReason | None, max_changes: int) -> None:
        self.pending[:0] = changes
        self.resync = self.resync or resync
        self._bound(max_changes)

    def _bound(self, max_changes: int) -> None:
        if len(self.pending) > max_changes:
            self.pending.clear()
            self.resync = ResyncReason.BEHIND


class LiveUpdates:
    """Publishes through `transport` (the `Broadcast` writers use) and serves subscriptions from what it hears."""

    def __init__(
        self,
        transport: Transport,
        prepare: Prepare,
        *,
        window_seconds: float = WINDOW_SECONDS,
        max_changes: int = MAX_CHANGES,
        retry_seconds: float = PREPARE_RETRY_SECONDS,
    ) -> None:
        self.transport = transport
        self.prepare = prepare
        self.window_seconds = window_seconds
        self.max_changes = max_changes
        self.retry_seconds = retry_seconds
        self._regions: dict[int, dict[str, _Region]] = {}
        #: Regions with changes or a resync waiting for the next flush.
        self._due: dict[Topic, _Region] = {}
        self._flushing: asyncio.Task[None] | None = None
        self._last_flush = -math.inf
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def publish(self, change: Change) -> None:
        await self.transport.publish(change)

    async def publish_many(self, changes: Sequence[Change]) -> None:
        await self.transport.publish_many(changes)

    @asynccontextmanager
    async def subscribe(self, topic: Topic, *, initial: bool = False) -> AsyncIterator[AsyncIterator[LiveEvent]]:
        """Events for `topic` for as long as the context is open, from the moment it is entered. With `initial`,
        the first event is a SUBSCRIBED resync with the region as it stands once the subscription listens."""
        if self._listener is None:
            self._listener = asyncio.create_task(self.transport.listen(self), name="pantau-live-updates")
        await self._connected.wait()
        mailbox = _Mailbox(self.max_changes)
        region = self._regions.setdefault(topic.race_id, {}).setdefault(topic.region_code, _Region(topic))
        region.subscribers.add(mailbox)
        try:
            if initial:
                mailbox.put_first(LiveEvent(topic, (), ResyncReason.SUBSCRIBED, await self.prepare()))
            yield mailbox.events()
        finally:
            region.subscribers.discard(mailbox)
            self._forget_if_idle(region)

    # the listener's side

    def received(self, change: Change) -> None:
        for region in self._concerned(change):
            region.add(change, self.max_changes)
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
        self._due[region.topic] = region
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._due:
                wait = self._last_flush + self.window_seconds - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._last_flush = loop.time()
                due = [r for r in self._due.values() if r.subscribers]
                self._due = {}
                taken = [(region, *region.take()) for region in due]
                if not taken:
                    continue
                try:
                    snapshot = await self.prepare()
                except Exception:
                    log.exception("live updates: could not read the regions of %d events; trying again", len(taken))
                    for region, changes, resync in taken:
                        region.put_back(changes, resync, self.max_changes)
                        self._due[region.topic] = region
                    await asyncio.sleep(self.retry_seconds)
                    continue
                for region, changes, resync in taken:
                    event = LiveEvent(region.topic, changes, resync, snapshot)
                    for mailbox in list(region.subscribers):
                        mailbox.put(event)
        finally:
            self._flushing = None

    def _forget_if_idle(self, region: _Region) -> None:
        if region.subscribers:
            return
        self._due.pop(region.topic, None)
        regions = self._regions.get(region.topic.race_id, {})
        if regions.get(region.topic.region_code) is region:
            del regions[region.topic.region_code]

    async def close(self) -> None:
        tasks = [task for task in (self._flushing, self._listener) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await self.transport.close()
