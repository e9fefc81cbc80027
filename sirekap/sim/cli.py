"""`pantau sim`: run the Sirekap simulator.

    pantau sim --scenario belu-2020 --speed 60            election night in Belu, an hour a minute, from 13:00 WITA
    pantau sim --scenario national --tps 823236 --seed 2024
    pantau sim --scenario belu-2020 --fault denied@/pilkada/hhcw,status=200 --fault slow,delay_s=2

Without --start and --speed the simulator keeps the drill clock of PANTAU_CLOCK_START, PANTAU_CLOCK_SPEED and
PANTAU_CLOCK_EPOCH when they are set (see `sirekap/clock.py`), so it agrees with the API and the monitor of the drill.

Data on --port (8002), the admin API on --admin-port (default: port + 1); see `sirekap/sim/admin.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from datetime import datetime

from sirekap.clock import Clock, ClockError
from sirekap.sim.belu_timeline import WITA
from sirekap.sim.faults import FaultKind
from sirekap.sim.server import Listeners
from sirekap.sim.simulator import SCENARIOS, SimOptions, create_simulator
from sirekap.timestamps import WIB

LOCAL_ZONES = {"belu-2020": WITA, "national": WIB}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pantau sim", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scenario", required=True, choices=SCENARIOS)
    parser.add_argument(
        "--speed", type=float, help="scenario seconds per real second; 0 pauses (default: the drill clock's, else 1)"
    )
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        help="scenario start, ISO; without an offset it is local time (WITA for belu-2020, WIB for national)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--admin-port", type=int, help="default: --port + 1")
    parser.add_argument("--source-zone", default="Asia/Jakarta", help="zone of the ts strings (default WIB)")
    parser.add_argument("--no-schedule", action="store_true", help="without the scenario's scheduled outage")
    parser.add_argument(
        "--outage", default="error", choices=[FaultKind.ERROR, FaultKind.REFUSED, FaultKind.HANG], help="belu-2020"
    )
    parser.add_argument("--fault", action="append", default=[], help="KIND[@PATH][,key=value…], repeatable")
    parser.add_argument("--tps", type=int, default=823_236, help="national: number of TPS")
    parser.add_argument("--seed", type=int, default=2024, help="national: seed of the tree and the numbers")
    parser.add_argument("--reporting", type=float, default=1.0, help="national: share of TPS with data at start")
    parser.add_argument("--log-level", default="info")
    return parser


def run(argv: list[str]) -> int:
    parser = _parser()
    ns = parser.parse_args(argv)
    if ns.start is not None and ns.start.tzinfo is None:
        ns.start = ns.start.replace(tzinfo=LOCAL_ZONES[ns.scenario])
    try:
        clock = Clock.from_env(os.environ)
    except ClockError as error:
        parser.error(str(error))
    drill = clock if clock.is_drill and ns.start is None and ns.speed is None else None
    logging.basicConfig(level=ns.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = SimOptions(
        scenario=ns.scenario,
        at=ns.start,
        speed=1.0 if ns.speed is None else ns.speed,
        source_zone=ns.source_zone,
        schedule=not ns.no_schedule,
        outage=ns.outage,
        seed=ns.seed,
        tps=ns.tps,
        reporting=ns.reporting,
        faults=tuple(ns.fault),
        listeners=Listeners(ns.host, ns.port, ns.admin_port or ns.port + 1, ns.log_level.lower()),
        drill=drill,
    )
    server = create_simulator(options)
    try:
        import uvloop

        uvloop.run(server.serve())
    except ImportError:
        asyncio.run(server.serve())
    return 0


def main() -> None:  # `python -m sirekap.sim.cli`
    raise SystemExit(run(__import__("sys").argv[1:]))


if __name__ == "__main__":
    main()
