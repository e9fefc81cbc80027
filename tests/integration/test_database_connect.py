"""A database host that accepts connections and never answers fails a request in seconds, not in a minute."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from api.storage.db import CONNECT_TIMEOUT_SECONDS, create_engine


async def test_a_silent_database_host_fails_within_the_connect_timeout() -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # the startup message is never answered

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_engine(f"postgresql://pantau@127.0.0.1:{port}/pantau")
    started = time.monotonic()
    try:
        with pytest.raises((TimeoutError, OSError)):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        waited = time.monotonic() - started
        await engine.dispose()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert CONNECT_TIMEOUT_SECONDS - 1 <= waited <= CONNECT_TIMEOUT_SECONDS + 5
