"""`pantau api` / `python -m api`: serve the API with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn


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
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        access_log=args.access_log,
        proxy_headers=True,
    )
    return 0
