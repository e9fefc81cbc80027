"""`pantau demo`: the whole stack locally on SQLite, started as real processes, stopped with Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

from api.loader import load_dataset
from api.settings import Settings


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pantau demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="API port")
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ)
    result = asyncio.run(load_dataset(settings.database_url, "belu-2020", now=datetime.now(UTC)))
    print(f"database {settings.database_url}: {result.slug} {'loaded' if result.created else 'already loaded'}")
    print(f"API:      http://127.0.0.1:{args.port}/graphql")
    api = subprocess.Popen([sys.executable, "-m", "api", "--port", str(args.port)])
    try:
        return api.wait()
    except KeyboardInterrupt:
        api.terminate()
        return api.wait()
