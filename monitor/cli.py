"""`pantau monitor` / `python -m monitor`: run the monitor with uvicorn."""

from __future__ import annotations

import argparse
import os

import uvicorn

from monitor.app import create_app
from monitor.runner import drill_clock, utc_now
from monitor.settings import Settings, SettingsError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pantau monitor", description="Probe Sirekap and keep incident windows.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as error:
        parser.error(str(error))
    if not settings.targets:
        parser.error("nothing to probe: set PANTAU_SIREKAP_URL and PANTAU_SYNC_RACES, or PANTAU_PROBE_TARGETS")
    clock = drill_clock(settings.clock_start, settings.clock_speed) if settings.clock_start else utc_now
    uvicorn.run(create_app(settings, clock=clock), host=args.host, port=args.port, log_level="info")
    return 0
