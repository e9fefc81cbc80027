"""`pantau monitor` / `python -m monitor`: run the monitor with uvicorn."""

from __future__ import annotations

import argparse
import os

import uvicorn

from monitor.app import create_app
from monitor.settings import Settings, SettingsError
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
    app = create_app(settings, clock=clock)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=args.access_log)
    return 0
