"""A PostgreSQL server of the test's own (`initdb` and `pg_ctl` in a temporary directory, on a free port), so a test
can stop and restart it without touching the shared server. As root, the server runs as the `postgres` user.
Without PostgreSQL's server binaries the test is skipped, except in CI (`CI` set), where that fails the run."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.servers import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: CI must install PostgreSQL's server binaries")
        pytest.skip(f"{name} is not installed")
    return found[-1]


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    async def create_database(self) -> str:
        """A new empty database on this server; its URL."""
        import asyncpg

        name = f"pantau_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return f"{self.url.rsplit('/', 1)[0]}/{name}"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def init(self) -> None:
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c fsync=off"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: its parents are private to root, and the server may run as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="pantau-pg-"))
    server = PrivatePostgres(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with suppress(RuntimeError):  # already stopped by the test
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
