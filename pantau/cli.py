"""The `pantau` command: the composition root that reads settings once and starts each part.

pantau api [--port 8000]          the GraphQL API (with background sync when PANTAU_SIREKAP_URL is set)
pantau monitor [--port 8001]      the monitor sidecar
pantau sim --scenario NAME        the Sirekap simulator (port 8002)
pantau sync [--follow]            sync the configured races from Sirekap
pantau db upgrade|downgrade       run the database migrations
pantau load NAME [--until T]      load a race (belu-2020), and its results known by T
pantau replay NAME --api URL      play a race's results through the write API at their times
pantau token create|list|revoke   write tokens and their roles
pantau demo                       the whole stack locally, on SQLite
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from api.settings import Settings
from api.storage.health import database_failure

#: Subcommands implemented by a service's own `run(argv) -> int`, imported only when used.
DELEGATED = {
    "api": "api.cli",
    "monitor": "monitor.cli",
    "sim": "sirekap.sim.cli",
    "sync": "api.sync.cli",
    "demo": "pantau.demo",
    "replay": "pantau.replay",
    "token": "api.auth.cli",
}


#: Commands that work on the API's database: a failure to reach or use it is answered in one line.
ON_DATABASE = {"db", "load", "token"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in DELEGATED:
            return _delegate(args[0], args[1:])
        parser = _parser()
        ns = parser.parse_args(args)
        handler: Callable[[argparse.Namespace], int] = ns.handler
        return handler(ns)
    except (OSError, TimeoutError, SQLAlchemyError) as error:
        if args[0] not in ON_DATABASE:
            raise
        # An unreachable or unusable database is an expected failure: one line, no traceback.
        print(f"pantau {' '.join(args[:2])}: {database_failure(_settings().database_url, error)}", file=sys.stderr)
        return 1


def _delegate(command: str, rest: list[str]) -> int:
    module = importlib.import_module(DELEGATED[command])
    run: Callable[[list[str]], int] = module.run
    return run(rest)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pantau", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in DELEGATED:
        sub.add_parser(name, help=f"see `pantau {name} --help`", add_help=False)
    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="action", required=True)
    up = db_sub.add_parser("upgrade", help="migrate to the newest schema (or --revision)")
    up.add_argument("--revision", default="head")
    up.set_defaults(handler=_db_upgrade)
    down = db_sub.add_parser("downgrade", help="migrate down to --revision (default: empty)")
    down.add_argument("--revision", default="base")
    down.set_defaults(handler=_db_downgrade)
    load = sub.add_parser(
        "load",
        help="load a race as it stood before its night (belu-2020); with --until, also its results known by then",
    )
    load.add_argument("name")
    load.add_argument(
        "--until",
        help="record the claims and plenos known by this moment, ISO 8601 (without an offset: the race's local time)",
    )
    load.set_defaults(handler=_load)
    return parser


def _settings() -> Settings:
    return Settings.from_env(os.environ)


def _db_upgrade(ns: argparse.Namespace) -> int:
    from api.storage.migrate import upgrade

    asyncio.run(upgrade(_settings().database_url, ns.revision))
    print(f"database at revision {ns.revision}")
    return 0


def _db_downgrade(ns: argparse.Namespace) -> int:
    from api.storage.migrate import downgrade

    asyncio.run(downgrade(_settings().database_url, ns.revision))
    print(f"database at revision {ns.revision}")
    return 0


def _load(ns: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from api.dataset.loader import DATASETS, LoadError, load_dataset

    if ns.name not in DATASETS:
        print(f"unknown dataset {ns.name!r}; known: {', '.join(sorted(DATASETS))}", file=sys.stderr)
        return 2
    zone = ZoneInfo(DATASETS[ns.name]().time_zone)
    until = None
    if ns.until:
        try:
            until = datetime.fromisoformat(ns.until)
        except ValueError:
            print(f"pantau load: --until {ns.until!r} is not an ISO 8601 time", file=sys.stderr)
            return 2
        until = until if until.tzinfo else until.replace(tzinfo=zone)
    try:
        result = asyncio.run(load_dataset(_settings().database_url, ns.name, until=until))
    except LoadError as error:
        print(f"pantau load {ns.name}: {error}; nothing more was loaded", file=sys.stderr)
        return 1
    if result.created:
        print(f"loaded {result.slug}: {result.tps} TPS, {result.regions} new regions, no results yet")
    else:
        print(f"{result.slug} is already loaded")
    if until is not None:
        local = until.astimezone(zone)
        print(
            f"results known by {local:%Y-%m-%d %H:%M} {local.tzname()}: {len(result.recorded)} recorded now, "
            f"{len(result.already)} recorded before"
        )
        for event in result.recorded:
            at = event.at.astimezone(zone)
            print(f"  {at:%Y-%m-%d %H:%M} {at.tzname()}  {event.what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
