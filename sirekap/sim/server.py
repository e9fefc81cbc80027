"""Two listeners in one event loop: data (the Sirekap paths) and admin (`/_sim/…`, never faulted).

A `refused` fault closes the data listener, so clients see a refused TCP connection, and reopens it on the same port
when the fault ends; the gate follows the scenario clock (checked every 50 ms, and at once after an admin change).
Both listeners run uvicorn's httptools protocol; the admin listener is a regular `uvicorn.Server`, whose state (Date
header, connection set, graceful shutdown) the data listener shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from sirekap.sim.clock import ScenarioClock
from sirekap.sim.faults import FaultBook

logger = logging.getLogger(__name__)


@dataclass
class Listeners:
    host: str = "127.0.0.1"
    port: int = 8002
    admin_port: int = 8003
    log_level: str = "warning"


@dataclass
class SimServer:
    data_app: ASGIApp
    admin_app: ASGIApp
    clock: ScenarioClock
    faults: FaultBook
    listeners: Listeners = field(default_factory=Listeners)
    started: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    admin_port: int = 0

    def __post_init__(self) -> None:
        common: dict[str, Any] = {
            "host": self.listeners.host,
            "http": "httptools",
            "lifespan": "off",
            "access_log": False,
            "proxy_headers": False,
            "log_level": self.listeners.log_level,
            "timeout_graceful_shutdown": 1,
        }
        self._admin = uvicorn.Server(uvicorn.Config(self.admin_app, port=self.listeners.admin_port, **common))
        self._data_config = uvicorn.Config(self.data_app, port=self.listeners.port, **common)
        self._data_config.load()
        self._listener: asyncio.Server | None = None
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()

    def stop(self) -> None:
        """Ask the server to shut down (safe from another thread)."""
        self._admin.should_exit = True

    async def serve(self) -> None:
        first = _bind(self.listeners.host, self.listeners.port)
        self.port = first.getsockname()[1]
        admin = asyncio.create_task(self._admin.serve())
        while not self._admin.started:
            if admin.done():
                first.close()
                await admin  # raises what made startup fail
                return
            await asyncio.sleep(0.01)
        self.admin_port = self._admin.servers[0].sockets[0].getsockname()[1]
        await self._open(first)
        gate = asyncio.create_task(self._follow_clock())
        self.started.set()
        logger.info("simulator data on port %d, admin on port %d", self.port, self.admin_port)
        try:
            await admin
        finally:
            gate.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gate
            self._close()

    async def apply_gate(self) -> None:
        """Open or close the data listener as the faults in force say, now."""
        refused = self.faults.refused(self.clock.now())
        if refused and self._listener is not None:
            self._close()
        elif not refused and self._listener is None:
            await self._open(_bind(self.listeners.host, self.port))

    @property
    def data_open(self) -> bool:
        return self._listener is not None

    async def _follow_clock(self) -> None:
        while True:
            await self.apply_gate()
            await asyncio.sleep(0.05)

    async def _open(self, sock: socket.socket) -> None:
        config = self._data_config
        state = self._admin.server_state

        def protocol() -> asyncio.Protocol:
            connection = config.http_protocol_class(config=config, server_state=state, app_state={})  # type: ignore[call-arg]
            self._connections.add(connection)
            return connection

        self._listener = await asyncio.get_running_loop().create_server(protocol, sock=sock, backlog=config.backlog)

    def _close(self) -> None:
        if self._listener is None:
            return
        self._listener.close()
        self._listener = None
        for connection in list(self._connections):
            connection.shutdown()


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
