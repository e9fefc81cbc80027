"""`pantau sync [--follow]`: sync the configured races from Sirekap (or `pantau sim`) into the database.

Settings come from the environment (PANTAU_DATABASE_URL, PANTAU_SIREKAP_URL, PANTAU_SIREKAP_ZONE, PANTAU_SYNC_RACES,
PANTAU_SYNC_INTERVAL, and PANTAU_REDIS_URL / PANTAU_REDIS_PREFIX for live updates); the options below override them.
The database is migrated first if it needs to be.

--follow syncs only while this process holds the deployment's sync lock: run it as the one sync service, and any
number of API workers and replicas beside it (they then do not sync; if it stops, one of them takes over when
configured with a Sirekap URL). Each pass is announced to the API's subscribers through PostgreSQL NOTIFY, or Redis
when PANTAU_REDIS_URL is set (on SQLite without Redis, only the API's own passes reach its subscribers).

A single pass waits for nothing: if another process holds the sync lock it says so and exits with status 3.
Exit status of a single pass: 0 when every race's pass walked its tree (success or partial), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from dataclasses import replace

import uvloop
from redis.asyncio import Redis

from api.live.broadcast import broadcast_for
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.migrate import upgrade
from api.sync.election import sync_lock_for
from api.sync.fetcher import FetchPolicy
from api.sync.service import SyncConfig, SyncService

#: Exit status of a single pass that found another process syncing.
BUSY = 3


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pantau sync", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--follow", action="store_true", help="keep syncing, one pass every --interval seconds")
    parser.add_argument("--full", action="store_true", help="fetch every document, changed or not (one pass)")
    parser.add_argument("--url", help="Sirekap base URL (default: PANTAU_SIREKAP_URL)")
    parser.add_argument(
        "--race", action="append", help="'KIND REGION [ELECTION]', e.g. 'pkwkk 5304 2024' (default: PANTAU_SYNC_RACES)"
    )
    parser.add_argument("--interval", type=float, help="seconds between passes (default: PANTAU_SYNC_INTERVAL)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a request is given up (default 10)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except ValueError as error:  # a setting that cannot be read (ClockError names its variable)
        parser.error(str(error))
    settings = replace(
        settings,
        sirekap_url=args.url or settings.sirekap_url,
        sync_races=tuple(args.race) if args.race else settings.sync_races,
        sync_interval_seconds=args.interval if args.interval is not None else settings.sync_interval_seconds,
    )
    try:
        config = SyncConfig.from_settings(
            settings, policy=FetchPolicy(concurrency=args.concurrency, timeout_seconds=args.timeout)
        )
    except ValueError as error:
        print(f"pantau sync: {error}")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvloop, as the API's workers, the monitor and the simulator run: a national pass is CPU-bound in this process
    return uvloop.run(_main(settings, config, follow=args.follow, full=args.full))


async def _main(settings: Settings, config: SyncConfig, *, follow: bool, full: bool) -> int:
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    broadcast = broadcast_for(settings.database_url, redis, settings.redis_prefix)
    lock = sync_lock_for(settings.database_url)
    clock = settings.clock  # the drill's, when one runs: lag, staleness and the wait between passes in its time
    service = SyncService(
        config,
        sessionmaker(engine),
        clock=clock.now,
        sleep=lambda seconds: asyncio.sleep(clock.real_seconds(seconds)),
        broadcast=broadcast,
        lock=lock,
    )
    try:
        if follow:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            service.start()
            await stop.wait()
            return 0
        if not await lock.held():
            print("pantau sync: another process is syncing this database (the sync service or an API worker)")
            return BUSY
        results = await service.run_pass(full=full)
        for label, result in results.items():
            summary = result.summary()
            progress = f"{result.tps_in} of {result.tps_total} TPS in upstream"
            print(
                f"{label}: {result.outcome}{f' ({summary})' if summary else ''}; {result.tps_written} TPS written,"
                f" {progress}",
                flush=True,
            )
        return 0 if all(r.outcome != "failure" for r in results.values()) else 1
    finally:
        await service.stop()
        await broadcast.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
