"""`pantau api` / `python -m api`: serve the API with uvicorn."""

from __future__ import annotations

import argparse
import copy
import os
import sys
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from api.settings import Settings
from api.storage.health import database_state


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pantau api", description="Serve Pantau's GraphQL API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: request counts and latencies are in /metrics)",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except ValueError as error:  # a setting that cannot be read (ClockError names its variable)
        parser.error(str(error))
    # Refuse to start on a database that is missing, unreachable or not migrated: one line, not a traceback a request.
    state = database_state(settings.database_url)
    if not state.ok:
        print(f"pantau api: {state.detail}", file=sys.stderr)
        return 1
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        log_config=log_config(),
        access_log=args.access_log,
        proxy_headers=True,
        # A websocket message is held to the same size as a request body.
        ws_max_size=settings.max_body_bytes,
    )
    return 0


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with Pantau's own loggers (one line per expected error, outages) on its handler."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["pantau"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
