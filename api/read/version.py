"""A cheap token that changes whenever the data behind any answer changes: it keys HTTP ETags and the answer cache.

Every write and sync pass adds a tally version, every bootstrap adds TPS or races, and a sync pass that finds a
document unreadable (or readable again) changes `sync_unreadable`: the token is made of the newest of each. What it
does not cover is what no answer is made of stored data alone (the monitor's view of Sirekap, `upstream`): such
answers are never cached by version (`api.graphql.answer_cache`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.storage.models import Race, Tally, Tps
from api.sync.models import SyncUnreadable


async def data_version(session: AsyncSession) -> str:
    """Newest tally, TPS and race ids, and the unreadable documents' count and newest try, in one statement."""
    newest = [select(func.max(model.id)).scalar_subquery() for model in (Tally, Tps, Race)]
    unreadable = [
        select(func.count()).select_from(SyncUnreadable).scalar_subquery(),
        select(func.max(SyncUnreadable.seen_at)).scalar_subquery(),
    ]
    *ids, count, tried = (await session.execute(select(*newest, *unreadable))).one()
    parts = [str(value or 0) for value in ids]
    parts.append(f"{count}@{tried.isoformat() if tried is not None else 0}")
    return "-".join(parts)


class CurrentVersion:
    """The data version as one worker knows it, read at most once per `seconds` (0: on every call)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.seconds = seconds
        self.clock = clock
        self._known: tuple[float, str] | None = None

    async def get(self) -> str:
        now = self.clock()
        if self._known is not None and now - self._known[0] < self.seconds:
            return self._known[1]
        async with self.sessions() as session:
            version = await data_version(session)
        self._known = (now, version)
        return version

    def fresh(self) -> str | None:
        """The version read less than `seconds` ago, without reading it; None when it is due to be read."""
        known = self._known
        return known[1] if known is not None and self.clock() - known[0] < self.seconds else None

    def forget(self) -> None:
        """The next `get` reads the version again (this worker has just written)."""
        self._known = None
