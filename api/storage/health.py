"""Is the database there? The start-up check, the one-line reason for an unreachable database, and outages.

An outage is a run of requests that failed because the database could not be reached: the first failure logs one
line, the first success after it logs one more, and nothing is logged in between.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.storage.db import create_engine
from api.storage.migrate import alembic_config

log = logging.getLogger("pantau.api.database")

#: Seconds a client is asked to wait (Retry-After) while the database is unreachable.
RETRY_AFTER_SECONDS = 5

#: Fragments of driver messages that mean the server is gone, shutting down or not accepting connections.
_GONE = (
    "connection is closed",
    "connection was closed",
    "connection refused",
    "terminating connection",
    "shutting down",
    "starting up",
    "not yet accepting connections",
    "server closed the connection",
    "unable to open database file",
    "connection reset",
    "broken pipe",
)


def shown_url(url: str) -> str:
    """The database URL with its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def unreachable_reason(error: BaseException) -> str | None:
    """A short reason ("connection refused") if `error` means the database cannot be reached, else None.

    Follows only the database's own chain (SQLAlchemy's wrapper, the driver's error and its cause), so an error of
    another kind caused by a refused connection elsewhere (the monitor's, say) is not taken for an outage.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = _reason(current)
        if reason is not None:
            return reason
        if isinstance(current, DBAPIError):
            current = current.orig
        elif _from_driver(current):
            current = current.__cause__ or current.__context__
        else:
            return None
    return None


def _from_driver(error: BaseException) -> bool:
    return type(error).__module__.split(".")[0] in {"asyncpg", "sqlalchemy", "sqlite3", "aiosqlite"}


def _reason(error: BaseException) -> str | None:
    if isinstance(error, ConnectionRefusedError) or getattr(error, "errno", None) == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, TimeoutError | PoolTimeout):
        return "timed out"
    if isinstance(error, ConnectionError):
        return "connection lost"
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "connection lost"
    message = str(error).lower()
    for fragment in _GONE:
        if fragment in message:
            return fragment
    if isinstance(error, OSError):
        return (error.strerror or type(error).__name__).lower()
    return None


class DatabaseOutage:
    """Tracks whether the database is reachable, logging one line when an outage starts and one when it ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.since: float | None = None
        self.reason: str | None = None

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, reason: str) -> None:
        if self.since is None:
            self.since = self.clock()
            self.reason = reason
            log.error("database unreachable: %s; answering 503 until it is back", reason)

    def succeeded(self) -> None:
        if self.since is not None:
            log.warning("database reachable again after %.1f s", self.clock() - self.since)
            self.since = None
            self.reason = None


@dataclass(frozen=True)
class DatabaseState:
    ok: bool
    detail: str


def database_state(url: str, seconds: float = 5.0) -> DatabaseState:
    """Reachable, migrated to the newest revision? `detail` is one line saying what is wrong (or "ok")."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not Path(path).exists():
            return DatabaseState(False, f"database {shown_url(url)} does not exist: run pantau db upgrade")
    return asyncio.run(_state(url, seconds))


async def _state(url: str, seconds: float) -> DatabaseState:
    shown = shown_url(url)
    # asyncpg's connect timeout; SQLite's is its busy timeout, which api.storage.db sets.
    engine = create_engine(url, connect_args={"timeout": seconds}) if _pg(url) else create_engine(url)
    try:
        async with asyncio.timeout(seconds), engine.connect() as conn:
            has_table = await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version"))
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version")) if has_table else None
    except (OSError, TimeoutError, SQLAlchemyError) as error:
        reason = unreachable_reason(error) or _first_line(error)
        return DatabaseState(False, f"database {shown} unreachable: {reason}")
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        return DatabaseState(False, f"database {shown} not migrated: run pantau db upgrade")
    if revision != head:
        return DatabaseState(False, f"database {shown} is at revision {revision}, not {head}: run pantau db upgrade")
    return DatabaseState(True, "ok")


def database_failure(url: str, error: BaseException) -> str:
    """One line for a command that failed on its database."""
    shown = shown_url(url)
    reason = unreachable_reason(error)
    if reason is not None:
        return f"database {shown} unreachable: {reason}"
    line = _first_line(error)
    if "no such table" in line or ("relation" in line and "does not exist" in line):
        return f"database {shown} not migrated: run pantau db upgrade"
    return f"database {shown}: {line}"


def _pg(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _first_line(error: BaseException) -> str:
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = lines[0]
    # SQLAlchemy prefixes the driver's class name: "(sqlalchemy…Error) database "x" does not exist".
    if line.startswith("(") and ") " in line:
        line = line.split(") ", 1)[1]
    return line[:200]
