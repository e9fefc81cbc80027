from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.storage.db import create_engine, sessionmaker
from tests.databases import PG_URL_VARIABLE, PostgresDatabases, SqliteDatabases, backends


@pytest.fixture(scope="session")
def database_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, SqliteDatabases | PostgresDatabases]]:
    servers: dict[str, SqliteDatabases | PostgresDatabases] = {
        "sqlite": SqliteDatabases(Path(tmp_path_factory.mktemp("sqlite")))
    }
    pg_url = os.environ.get(PG_URL_VARIABLE)
    if pg_url:
        servers["postgresql"] = PostgresDatabases(pg_url)
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture(params=backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(backend: str, database_servers: dict[str, SqliteDatabases | PostgresDatabases]) -> str:
    """A database with nothing in it, not even the schema."""
    return database_servers[backend].create("empty")


@pytest.fixture
def database_url(backend: str, database_servers: dict[str, SqliteDatabases | PostgresDatabases]) -> str:
    """A migrated, empty database."""
    return database_servers[backend].create("schema")


@pytest.fixture
def belu_database_url(backend: str, database_servers: dict[str, SqliteDatabases | PostgresDatabases]) -> str:
    """A migrated database with the Belu 2020 race and every claim and pleno of its night (no TPS numbers)."""
    return database_servers[backend].create("belu")


@pytest.fixture
def belu_race_database_url(backend: str, database_servers: dict[str, SqliteDatabases | PostgresDatabases]) -> str:
    """A migrated database with the Belu 2020 race as it stood before its night: no results at all."""
    return database_servers[backend].create("belu-race")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def belu_engine(belu_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(belu_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return sessionmaker(engine)


@pytest.fixture
def belu_sessions(belu_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return sessionmaker(belu_engine)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for localhost: (certificate, key)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    yield cert, key
