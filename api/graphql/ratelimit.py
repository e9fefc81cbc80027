"""Per-client rate limiting weighted by query cost, in fixed one-minute windows.

With Redis the windows are shared by every worker; without it each process keeps its own. What a query costs, and
when it is charged, is `api.graphql.limits`'s business.
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

WINDOW_SECONDS = 60


class RateLimiter(Protocol):
    async def spend(self, client: str, cost: int, now: float) -> float | None:
        """Spend `cost` for `client`; None when allowed, else seconds until the window resets."""
        ...


class LocalRateLimiter:
    def __init__(self, per_window: int) -> None:
        self.per_window = per_window
        self.windows: dict[str, tuple[int, int]] = {}

    async def spend(self, client: str, cost: int, now: float) -> float | None:
        window = int(now // WINDOW_SECONDS)
        start, spent = self.windows.get(client, (window, 0))
        if start != window:
            spent = 0
            if len(self.windows) > 100_000:  # forget old windows instead of growing without bound
                self.windows.clear()
        spent += cost
        self.windows[client] = (window, spent)
        return None if spent <= self.per_window else (window + 1) * WINDOW_SECONDS - now


class RedisRateLimiter:
    def __init__(self, redis: Redis, per_window: int, prefix: str = "pantau:rate") -> None:
        self.redis = redis
        self.per_window = per_window
        self.prefix = prefix

    async def spend(self, client: str, cost: int, now: float) -> float | None:
        window = int(now // WINDOW_SECONDS)
        key = f"{self.prefix}:{client}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, cost)
            pipe.expire(key, WINDOW_SECONDS * 2)
            spent, _ = await pipe.execute()
        return None if int(spent) <= self.per_window else (window + 1) * WINDOW_SECONDS - now
