"""One writer per pass: every database write of the sync goes through a queue into short transactions.

Fetching is concurrent, writing is not: SQLite has a single writer anyway, and one ordered stream of transactions
makes the sync's atomicity easy to state. A job is a coroutine function run on a session inside a transaction;
`submit` returns once that transaction has committed, so a caller that awaits its children's jobs before submitting
its own knows they are durable first. Jobs waiting together are committed together (group commit); if such a group
fails, each job is retried in its own transaction so one bad job cannot take its neighbours down with it. The tally
batches of a group (`api.sync.ingest.TallyBatch`, one per kecamatan) are written as one: up to 32 kecamatan in one
`record_tallies` call, which costs a few statements whatever its size. Between groups, the writer analyses the tables
when they have grown enough for the planner's picture of them to be wrong (`api.sync.statistics`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.sync.ingest import TallyBatch
from api.sync.statistics import PlannerStatistics

T = TypeVar("T")
Job = Callable[[AsyncSession], Awaitable[Any]]

log = logging.getLogger(__name__)


class Writer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        group: int = 32,
        backlog: int = 64,
        statistics: PlannerStatistics | None = None,
    ) -> None:
        self._sessions = sessions
        self._group = group
        self._statistics = statistics or PlannerStatistics()
        self._tallies_written = 0  # by the last group
        self._queue: asyncio.Queue[tuple[Job, asyncio.Future[Any]] | None] = asyncio.Queue(backlog)
        self._task: asyncio.Task[None] | None = None
        self.transactions = 0

    async def __aenter__(self) -> Writer:
        self._task = asyncio.create_task(self._run(), name="sync-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._queue.put(None)
        if self._task is not None:
            await self._task

    async def submit(self, job: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `job` in a transaction; returns its result once committed, or raises what the job raised."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((job, future))
        return await future

    async def _run(self) -> None:
        closing = False
        while not closing:
            item = await self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self._group and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    closing = True
                    break
                batch.append(more)
            self._tallies_written = 0
            await self._commit(batch)
            if self._statistics.wrote(self._tallies_written):
                await self._statistics.refresh(self._sessions)

    async def _commit(self, batch: list[tuple[Job, asyncio.Future[Any]]]) -> None:
        live = [(job, future) for job, future in batch if not future.cancelled()]
        if not live:
            return
        try:
            results = await self._transaction([job for job, _ in live])
        except Exception as error:
            if len(live) == 1:
                _fail(live[0][1], error)
                return
            for job, future in live:  # find the one that fails; commit the others
                try:
                    (result,) = await self._transaction([job])
                except Exception as single_error:
                    _fail(future, single_error)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(live, results, strict=True):
            _settle(future, result)

    async def _transaction(self, jobs: list[Job]) -> list[Any]:
        batches = [job for job in jobs if isinstance(job, TallyBatch)]
        if len({id(batch.race) for batch in batches}) > 1:
            batches = []
        async with self._sessions.begin() as session:
            together: dict[int, Any] = {}
            if len(batches) > 1:
                written = await TallyBatch.run_together(session, batches)
                together = {id(batch): codes for batch, codes in zip(batches, written, strict=True)}
            results = [together[id(job)] if id(job) in together else await job(session) for job in jobs]
        self.transactions += 1
        self._tallies_written += sum(len(r) for j, r in zip(jobs, results, strict=True) if isinstance(j, TallyBatch))
        return results


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: Exception) -> None:
    if not future.done():
        log.warning("sync write failed: %r", error)
        future.set_exception(error)
