"""A `pantau sync` process killed with SIGKILL in the middle of a pass leaves consistent rollups; the next run
finishes the work exactly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.storage.db import create_engine, sessionmaker
from api.storage.models import Source, Tally
from api.tallies.rollup_check import rollup_mismatches
from sirekap.sim.belu_timeline import WITA
from sirekap.sim.testing import running_simulator
from tests.integration.test_sync_support import assert_matches_simulator, race_info

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
END_OF_NIGHT = datetime(2020, 12, 13, 13, 0, tzinfo=WITA)


def sync_process(database_url: str, base_url: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "PANTAU_DATABASE_URL": database_url,
        "PANTAU_SIREKAP_URL": base_url,
        "PANTAU_SYNC_RACES": "pkwkk 5304 2020",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.sync", "--concurrency", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def sirekap_tallies(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count()).select_from(Tally).where(Tally.source == Source.SIREKAP, Tally.is_current)
            )
            return count or 0
    except Exception:  # the schema may not exist yet while the process migrates
        return 0
    finally:
        await engine.dispose()


async def test_a_sync_killed_mid_pass_leaves_consistent_rollups_and_the_rerun_is_exact(database_url: str) -> None:
    with running_simulator("belu-2020", at=END_OF_NIGHT, schedule=False) as sim:
        # slow TPS files (only TPS paths have 13-digit codes after a desa's directory)
        sim.add_fault("slow", path="/pilkada/hhcw/pkwkk/53/5304/", delay_s=0.15)
        process = sync_process(database_url, sim.base_url)
        try:
            deadline = time.monotonic() + 120
            written = 0
            while time.monotonic() < deadline:
                written = await sirekap_tallies(database_url)
                if written >= 30 or process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            assert process.poll() is None, process.stdout.read() if process.stdout else b""
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == -signal.SIGKILL
        written = await sirekap_tallies(database_url)
        assert 0 < written < 426

        engine = create_engine(database_url)
        try:
            async with sessionmaker(engine)() as session:
                assert await rollup_mismatches(session, await race_info(session)) == []
        finally:
            await engine.dispose()

        sim.clear_faults()
        rerun = sync_process(database_url, sim.base_url)
        output, _ = rerun.communicate(timeout=180)
        assert rerun.returncode == 0, output.decode()
        assert b"pkwkk-5304: success" in output
        assert await sirekap_tallies(database_url) == 426
        engine = create_engine(database_url)
        try:
            await assert_matches_simulator(sessionmaker(engine), sim.base_url)
        finally:
            await engine.dispose()
