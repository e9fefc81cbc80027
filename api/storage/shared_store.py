"""A Redis key space that workers and replicas share where a miss is always acceptable (persisted queries, kept
answers): a Redis that is not configured, down, or slower than TIMEOUT_SECONDS is a miss, logged, never an error."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("pantau.api.shared_store")

#: How long one call may take before the request goes on without it.
TIMEOUT_SECONDS = 0.25


class SharedStore:
    def __init__(self, redis: Redis | None, prefix: str, what: str) -> None:
        self.redis = redis
        self.prefix = prefix
        #: What the keys hold, for the log ("persisted queries").
        self.what = what

    async def get(self, key: str) -> bytes | None:
        if self.redis is None:
            return None
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                found = await self.redis.get(self.prefix + key)
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("%s: the shared store was not read: %s", self.what, type(error).__name__)
            return None
        if found is None:
            return None
        return found if isinstance(found, bytes) else str(found).encode()

    async def set(self, key: str, value: bytes | str, ttl_seconds: int) -> None:
        if self.redis is None:
            return
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                await self.redis.set(self.prefix + key, value, ex=ttl_seconds)
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("%s: the shared store was not written: %s", self.what, type(error).__name__)
