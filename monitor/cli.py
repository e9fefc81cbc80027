"""`pantau monitor` / `python -m monitor`: run the monitor with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvicorn

from monitor.app import create_app
from monitor.settings import Settings, SettingsError
from monitor.store import Store
from sirekap.clock import Clock, ClockError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pantau monitor", description="Probe Sirekap and keep incident windows.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--access-log", action="store_true", help="log every request (off by default: see /metrics)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        clock = Clock.from_env(os.environ)
    except (SettingsError, ClockError) as error:
        parser.error(str(error))
    if not settings.targets:
        parser.error("nothing to probe: set PANTAU_SIREKAP_URL and PANTAU_SYNC_RACES, or PANTAU_PROBE_TARGETS")
    problem = asyncio.run(_database_problem(settings.database_url))
    if problem is not None:
        print(f"pantau monitor: {problem}", file=sys.stderr)
        return 1
    app = create_app(settings, clock=clock)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=args.access_log)
    return 0


async def _database_problem(url: str) -> str | None:
    """None when the monitor's database answers (its tables are made if missing), else one line saying why not."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    store = Store(url)
    try:
        async with asyncio.timeout(10):
            await store.create()
    except (OSError, TimeoutError, SQLAlchemyError) as error:
        shown = make_url(url).render_as_string(hide_password=True)
        return f"database {shown} unreachable: {_reason(error)}"
    finally:
        await store.close()
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    orig = getattr(error, "orig", None)
    text = str(orig if orig is not None else error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
