"""Two listeners in one event loop: data (the Sirekap paths) and admin (`/_sim/…`, never faulted).

A `refused` fault stops the data listener's server, so clients see a refused TCP connection, and starts a new one on
the same port when the fault ends; the gate follows the scenario clock (checked every 50 ms, and at once after an
admin change). Both are plain `uvicorn.Server`s driven through uvicorn's public API (`serve(sockets=…)`,
`should_exit`); closing waits until every connection is closed, so a client never finds a half-closed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from dataclasses import dataclass, field

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
        self._admin = uvicorn.Server(self._config(self.admin_app, self.listeners.admin_port))
        self._data: tuple[uvicorn.Server, asyncio.Task[None]] | None = None

    def _config(self, app: ASGIApp, port: int) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            host=self.listeners.host,
            port=port,
            http="httptools",
            lifespan="off",
            access_log=False,
            proxy_headers=False,
            log_level=self.listeners.log_level,
            timeout_graceful_shutdown=1,
        )

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
            await self._close()

    async def apply_gate(self) -> None:
        """Open or close the data listener as the faults in force say, now."""
        refused = self.faults.refused(self.clock.now())
        if refused and self._data is not None:
            await self._close()
        elif not refused and self._data is None:
            await self._open(_bind(self.listeners.host, self.port))

    @property
    def data_open(self) -> bool:
        return self._data is not None

    async def _follow_clock(self) -> None:
        while True:
            await self.apply_gate()
            await asyncio.sleep(0.05)

    async def _open(self, sock: socket.socket) -> None:
        server = uvicorn.Server(self._config(self.data_app, self.port))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task  # raises what made it fail
                raise RuntimeError("the data listener did not start")
            await asyncio.sleep(0.005)
        self._data = (server, task)

    async def _close(self) -> None:
        if self._data is None:
            return
        server, task = self._data
        self._data = None
        server.should_exit = True
        await task  # returns once the listener and every connection are closed


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
