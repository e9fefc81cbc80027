"""Engines and sessions. The caller owns the session and the transaction; data functions never commit."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

P = ParamSpec("P")
T = TypeVar("T")

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str | URL) -> URL:
    """The same database with its asyncio driver: `sqlite:///x.db` → `sqlite+aiosqlite:///x.db`."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def plain_dsn(url: str | URL) -> str:
    """A PostgreSQL URL as asyncpg takes it, for the connections that live outside the engine's pool (LISTEN, the
    sync lock)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


#: Longest a new PostgreSQL connection may take to open, its handshake included (asyncpg's own default is 60 s): a
#: database host that stopped answering fails requests in seconds rather than holding them for a minute.
CONNECT_TIMEOUT_SECONDS = 10.0


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An engine for a PANTAU_DATABASE_URL. SQLite gets foreign keys, WAL and a busy timeout; PostgreSQL a pool of
    10 + 10 connections, each opened within `CONNECT_TIMEOUT_SECONDS`."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 30})
    else:
        kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT_SECONDS})
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(target, **kwargs)
    if target.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def shielded(read: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """A read that runs to its end in a task of its own, whatever befalls its caller.

    graphql-core cancels the sibling fields of a field that fails, and a read cancelled in the middle of a statement
    leaves its connection neither returned to the pool nor closed (the garbage collector finds it later). Shielded,
    the read finishes and closes its session; the cancelled caller just does not wait for it.
    """

    @functools.wraps(read)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(read(*args, **kwargs))
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    return run


async def shielded_read(sessions: async_sessionmaker[AsyncSession], read: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`read` in a session of its own, run to its end in a task of its own (see `shielded`)."""

    @shielded
    async def run() -> T:
        async with sessions() as session:
            return await read(session)

    return await run()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """An error of a read nobody waits for any more is not worth a 'never retrieved' warning."""
    if not task.cancelled():
        task.exception()
