"""Electing the one process of a deployment that syncs: every `pantau sync --follow`, and every API worker or replica
with a Sirekap URL, contends; the one holding the lock syncs, the others stand by and take over when it goes.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own. It is held exactly as
  long as that connection lives: a syncer that dies, is killed or loses its database loses the lock with it, and
  PostgreSQL frees it at once. Advisory locks belong to one database, so deployments on one server do not collide.
- SQLite (one machine): an exclusive `flock` on a file beside the database (`pantau.db.sync-lock`). The kernel frees
  it when the holder's process ends, however it ends; no lease to renew, no clock involved. An in-memory database
  belongs to one process: that process is always elected.

`held()` never blocks: it says whether this process holds the lock now, taking it if it is free.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from api.storage.db import plain_dsn

log = logging.getLogger("api.sync")

#: The advisory lock's key: b"pantausy" read as a big-endian 64-bit integer.
ADVISORY_KEY = int.from_bytes(b"pantausy", "big")
#: How long to wait for the database when checking or taking the lock.
TIMEOUT_SECONDS = 10.0


class SyncLock(Protocol):
    async def held(self) -> bool:
        """Whether this process holds the lock now, taking it if it is free. Raises OSError (or the driver's error)
        when the database cannot be reached: the caller counts that as a failed pass."""
        ...

    async def release(self) -> None: ...


class PostgresLock:
    def __init__(self, dsn: str, key: int = ADVISORY_KEY) -> None:
        self.dsn = dsn
        self.key = key
        self._connection: Any = None

    async def held(self) -> bool:
        import asyncpg

        if self._connection is not None:
            try:
                # The lock lives as long as its session: a live connection still holds it.
                await self._connection.fetchval("SELECT 1", timeout=TIMEOUT_SECONDS)
                return True
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("the connection holding the sync lock was lost; this process no longer syncs")
                await self._drop()
        connection = await asyncpg.connect(self.dsn, timeout=TIMEOUT_SECONDS)
        try:
            taken = await connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key, timeout=TIMEOUT_SECONDS)
        except BaseException:
            await _close(connection)
            raise
        if not taken:
            await _close(connection)
            return False
        self._connection = connection
        log.info("this process (pid %d) holds the sync lock: it syncs", os.getpid())
        return True

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection)

    async def release(self) -> None:
        await self._drop()


async def _close(connection: Any) -> None:
    try:
        await asyncio.wait_for(connection.close(), timeout=2)
    except Exception:
        connection.terminate()


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def held(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        log.info("this process (pid %d) holds the sync lock %s: it syncs", os.getpid(), self.path)
        return True

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class AlwaysHeld:
    """For a database only one process can see (in-memory SQLite)."""

    async def held(self) -> bool:
        return True

    async def release(self) -> None:
        pass


def sync_lock_for(database_url: str) -> SyncLock:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLock(plain_dsn(url))
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file::memory:"):
        return AlwaysHeld()
    return FileLock(Path(f"{database}.sync-lock"))
