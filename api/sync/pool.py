"""Run a coroutine function over many items with at most `limit` running at once, without making a task per item.

The national tree has 915,000 documents: a task per document would cost more memory than the documents themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded_map(fn: Callable[[T], Awaitable[R]], items: Iterable[T], limit: int) -> list[R]:
    """`[await fn(item) for item in items]`, `limit` at a time; results in the order of `items`.

    An exception in one call is raised once the calls already running have finished; no new call starts after it.
    """
    pending = list(enumerate(items))
    results: dict[int, R] = {}
    cursor = 0
    failure: list[BaseException] = []

    async def worker() -> None:
        nonlocal cursor
        while cursor < len(pending) and not failure:
            index, item = pending[cursor]
            cursor += 1
            try:
                results[index] = await fn(item)
            except Exception as error:
                failure.append(error)

    workers = min(limit, len(pending))
    if workers:
        await asyncio.gather(*(worker() for _ in range(workers)))
    if failure:
        raise failure[0]
    return [results[i] for i in range(len(pending))]
