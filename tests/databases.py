"""Throwaway test databases on SQLite and PostgreSQL, made from migrated templates.

Every database test runs on SQLite, and on PostgreSQL too when `PANTAU_TEST_DATABASE_URL` is set. A run that was
told to use PostgreSQL and cannot reach it fails: nothing here skips.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from api.dataset.loader import load_dataset
from api.storage.migrate import upgrade

PG_URL_VARIABLE = "PANTAU_TEST_DATABASE_URL"
#: After the last event of the Belu night (the KPU pleno of 16 Dec 18:00 WITA).
AFTER_THE_NIGHT = datetime(2020, 12, 31, tzinfo=UTC)


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_URL_VARIABLE) else ["sqlite"]


async def _migrate(url: str) -> None:
    await upgrade(url)


async def _belu_race(url: str) -> None:
    await load_dataset(url, "belu-2020")


async def _belu_night(url: str) -> None:
    await load_dataset(url, "belu-2020", until=AFTER_THE_NIGHT)


TEMPLATES: dict[str, Callable[[str], Awaitable[None]] | None] = {
    "empty": None,
    "schema": _migrate,
    "belu-race": _belu_race,  # the race as it stood before its night: no results
    "belu": _belu_night,  # the race with every claim and pleno of its night recorded at its time
}


class SqliteDatabases:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[str, Path] = {}

    def create(self, template: str) -> str:
        target = self.root / f"{uuid.uuid4().hex}.db"
        prepare = TEMPLATES[template]
        if prepare is not None:
            if template not in self.templates:
                path = self.root / f"template-{template}.db"
                asyncio.run(prepare(f"sqlite:///{path}"))
                self.templates[template] = path
            shutil.copyfile(self.templates[template], target)
        return f"sqlite:///{target}"

    def close(self) -> None:
        pass


class PostgresDatabases:
    """Databases named `pantau_t_<run>_<n>` on the server of PANTAU_TEST_DATABASE_URL, dropped at the end."""

    def __init__(self, url: str) -> None:
        self.admin_url = make_url(url)
        self.run = uuid.uuid4().hex[:8]
        self.made: list[str] = []
        self.templates: dict[str, str] = {}
        asyncio.run(self._sql("SELECT 1"))  # fail now, loudly, if the server is unreachable

    def _dsn(self, database: str | None = None) -> str:
        url = self.admin_url.set(drivername="postgresql")
        if database is not None:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    async def _sql(self, *statements: str) -> None:
        conn = await asyncpg.connect(self._dsn(), timeout=10)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    def create(self, template: str) -> str:
        name = f"pantau_t_{self.run}_{len(self.made)}"
        prepare = TEMPLATES[template]
        source = ""
        if prepare is not None:
            if template not in self.templates:
                base = f"pantau_t_{self.run}_tpl_{template}"
                asyncio.run(self._sql(f'CREATE DATABASE "{base}"'))
                self.made.append(base)
                asyncio.run(prepare(self._dsn(base)))
                self.templates[template] = base
            source = f' TEMPLATE "{self.templates[template]}"'
        asyncio.run(self._sql(f'CREATE DATABASE "{name}"{source}'))
        self.made.append(name)
        return self._dsn(name)

    def close(self) -> None:
        asyncio.run(self._sql(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in reversed(self.made))))
