"""Live updates within one worker, over the in-process broadcast: coalescing per region, one payload per region,
explicit resyncs when a subscriber falls behind or the feed was lost. No database: the payload is a counted token."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

from api.live.broadcast import Change, Listener, LocalBroadcast
from api.live.updates import LiveEvent, LiveUpdates, ResyncReason, Topic

RACE = 1
KOTA = Topic(RACE, "530412")
BELU = Topic(RACE, "5304")
TPS = [f"530412100{n:01d}{t:03d}" for n in range(1, 4) for t in range(1, 40)]


def change(subject: str, version: int = 1, race_id: int = RACE, source: str = "chasil") -> Change:
    return Change(race_id, "pkwkk-5304-2020", source, subject, 0, version, "2020-12-09T06:00:00+00:00")


class Payloads:
    """`prepare`: a new numbered payload per call, so a test sees how often the regions were read."""

    def __init__(self, failures: int = 0) -> None:
        self.numbers = itertools.count(1)
        self.calls = 0
        self.failures = failures

    async def __call__(self) -> int:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise OSError("the database went away")
        return next(self.numbers)


class Feed(LocalBroadcast):
    """The in-process broadcast, with a feed the test can cut and restore."""

    def __init__(self) -> None:
        super().__init__()
        self.listener: Listener | None = None

    async def listen(self, listener: Listener) -> None:
        self.listener = listener
        await super().listen(listener)

    def reconnect(self) -> None:
        assert self.listener is not None
        self.listener.connected(again=True)


async def first(events: AsyncIterator[LiveEvent]) -> LiveEvent:
    return await asyncio.wait_for(anext(events), 5)


def subjects(event: LiveEvent) -> list[str]:
    return [c.subject_code for c in event.changes]


async def test_a_burst_is_one_event_per_region_all_built_once_and_shared() -> None:
    payloads = Payloads()
    live = LiveUpdates(LocalBroadcast(), payloads)
    async with AsyncExitStack() as stack:
        kota = [await stack.enter_async_context(live.subscribe(KOTA)) for _ in range(3)]
        belu = await stack.enter_async_context(live.subscribe(BELU))
        for code in TPS:
            await live.publish(change(code))
        events = [await first(s) for s in kota]
        whole = await first(belu)
    assert {tuple(subjects(e)) for e in events} == {tuple(TPS)}  # every change, in order, in one event
    assert subjects(whole) == TPS
    assert {e.resync for e in [*events, whole]} == {None}
    assert payloads.calls == 1 and {e.snapshot for e in [*events, whole]} == {1}  # one read for every region
    await live.close()


async def test_changes_within_the_window_wait_for_its_end_and_go_out_together() -> None:
    live = LiveUpdates(LocalBroadcast(), Payloads(), window_seconds=0.2)
    async with live.subscribe(KOTA) as events:
        await live.publish(change(TPS[0]))
        assert subjects(await first(events)) == TPS[:1]  # the first after a quiet spell goes out at once
        await live.publish(change(TPS[1]))
        await live.publish(change(TPS[2]))
        assert subjects(await first(events)) == TPS[1:3]
    await live.close()


async def test_a_change_reaches_the_regions_it_lies_in_and_a_region_change_the_regions_inside_it() -> None:
    live = LiveUpdates(LocalBroadcast(), Payloads(), window_seconds=0)
    desa = Topic(RACE, TPS[0][:10])
    async with live.subscribe(KOTA) as kota, live.subscribe(desa) as in_desa, live.subscribe(BELU) as belu:
        await live.publish(change("5304012001001"))  # another kecamatan: Belu only
        await live.publish(change(TPS[0], race_id=2))  # another race: nobody
        await live.publish(change("530412", source="sirekap", version=0))  # a sync pass moved the kecamatan
        await live.publish(change("5304", source="pleno_kabupaten"))  # the kabupaten pleno
        assert subjects(await first(belu)) == ["5304012001001", "530412", "5304"]
        assert subjects(await first(kota)) == ["530412", "5304"]
        assert subjects(await first(in_desa)) == ["530412", "5304"]
    await live.close()


async def test_a_subscriber_that_falls_behind_gets_what_it_missed_in_one_event() -> None:
    live = LiveUpdates(LocalBroadcast(), Payloads(), window_seconds=0)
    async with live.subscribe(KOTA) as slow, live.subscribe(KOTA) as prompt:
        for code in TPS[:3]:
            await live.publish(change(code))
            assert subjects(await first(prompt)) == [code]  # one event per change: the slow one reads none
        caught_up = await first(slow)
        assert (subjects(caught_up), caught_up.resync, caught_up.snapshot) == (TPS[:3], None, 3)  # the newest state
    await live.close()


async def test_a_subscriber_too_far_behind_gets_a_resync_not_a_gap() -> None:
    live = LiveUpdates(LocalBroadcast(), Payloads(), window_seconds=0, max_changes=3)
    async with live.subscribe(KOTA) as slow, live.subscribe(KOTA) as prompt:
        for code in TPS[:5]:
            await live.publish(change(code))
            assert subjects(await first(prompt)) == [code]
        resync = await first(slow)
        assert (resync.resync, resync.changes) == (ResyncReason.BEHIND, ())
        assert resync.snapshot == 5  # the region as it stands: nothing before it is missed
        await live.publish(change(TPS[5]))
        assert subjects(await first(slow)) == TPS[5:6]
    await live.close()


async def test_more_changes_than_an_event_lists_become_a_resync() -> None:
    live = LiveUpdates(LocalBroadcast(), Payloads(), max_changes=10)
    async with live.subscribe(KOTA) as events:
        for code in TPS[:11]:
            await live.publish(change(code))
        event = await first(events)
    assert (event.resync, event.changes) == (ResyncReason.BEHIND, ())
    await live.close()


async def test_after_the_feed_is_lost_and_back_every_subscriber_gets_a_resync() -> None:
    feed = Feed()
    live = LiveUpdates(feed, Payloads(), window_seconds=0)
    async with live.subscribe(KOTA) as kota, live.subscribe(BELU) as belu:
        feed.reconnect()
        assert (await first(kota)).resync is ResyncReason.RECONNECTED
        assert (await first(belu)).resync is ResyncReason.RECONNECTED
        await live.publish(change(TPS[0]))
        assert subjects(await first(kota)) == TPS[:1]
    await live.close()


async def test_initial_starts_with_the_region_as_it_stands() -> None:
    live = LiveUpdates(LocalBroadcast(), Payloads())
    async with live.subscribe(KOTA, initial=True) as events:
        event = await first(events)
        assert (event.resync, event.snapshot) == (ResyncReason.SUBSCRIBED, 1)
        await live.publish(change(TPS[0]))
        assert subjects(await first(events)) == TPS[:1]
    await live.close()


async def test_changes_wait_while_the_region_cannot_be_read_and_none_is_lost() -> None:
    payloads = Payloads(failures=2)
    live = LiveUpdates(LocalBroadcast(), payloads, window_seconds=0, retry_seconds=0.01)
    async with live.subscribe(KOTA) as events:
        await live.publish(change(TPS[0]))
        await live.publish(change(TPS[1]))
        event = await first(events)
    assert subjects(event) == TPS[:2] and payloads.calls == 3
    await live.close()
