"""Wiring the simulator from its options: the composition root shared by `cli.py` and `testing.py`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sirekap.clock import Clock
from sirekap.sim import belu_night, national
from sirekap.sim.admin import BadRequest, create_admin_app, parse_time
from sirekap.sim.app import DataApp
from sirekap.sim.clock import ScenarioClock
from sirekap.sim.faults import Fault, FaultBook, make_fault
from sirekap.sim.scenario import Scenario
from sirekap.sim.server import Listeners, SimServer

SCENARIOS = ("belu-2020", "national")


@dataclass(frozen=True)
class SimOptions:
    scenario: str = "belu-2020"
    at: datetime | None = None  # scenario start; default: the scenario's own
    speed: float = 1.0
    source_zone: str = "Asia/Jakarta"
    schedule: bool = True  # install the scenario's scheduled faults (the belu-2020 outage)
    outage: str = "error"  # the kind of the scheduled outage: error, refused or hang
    seed: int = 2024  # national
    tps: int = 823_236  # national
    reporting: float = 1.0  # national: share of TPS with data before any change batch
    faults: Sequence[str] = ()  # faults from the start, in `parse_fault_spec` syntax
    listeners: Listeners = field(default_factory=Listeners)
    #: A drill's clock to keep (instead of `at` and `speed`), so the simulator agrees with the drill's other processes.
    drill: Clock | None = None


def create_scenario(options: SimOptions) -> tuple[Scenario, datetime]:
    """The scenario and its default start."""
    zone = ZoneInfo(options.source_zone)
    if options.scenario == "belu-2020":
        return belu_night.BeluNight(source_zone=zone, outage=options.outage), belu_night.START
    if options.scenario == "national":
        scenario = national.National(tps=options.tps, seed=options.seed, reporting=options.reporting, source_zone=zone)
        return scenario, national.START
    raise ValueError(f"unknown scenario {options.scenario!r}; one of {', '.join(SCENARIOS)}")


def parse_fault_spec(spec: str, *, start: datetime, zone: ZoneInfo) -> Fault:
    """`KIND[@PATH][,key=value…]`, e.g. `denied@/pilkada/hhcw,status=200` or `slow,delay_s=2`."""
    head, *pairs = spec.split(",")
    kind, _, path = head.partition("@")
    options: dict[str, Any] = {"path": path or "/"}
    until: datetime | None = None
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key in ("status",):
            options[key] = int(value)
        elif key in ("delay_s", "truncate_at"):
            options[key] = float(value)
        elif key == "drop_charts":
            options[key] = value.lower() in ("1", "true", "yes")
        elif key == "until":
            until = parse_time(value, zone)
        else:
            raise BadRequest(f"unknown fault option {key!r} in {spec!r}")
    return make_fault(kind, start=start, until=until, origin="start", **options)


def create_simulator(options: SimOptions, *, real: Callable[[], float] = time.monotonic) -> SimServer:
    scenario, default_start = create_scenario(options)
    if options.drill is not None and options.drill.is_drill:
        clock = ScenarioClock.following(options.drill)
    else:
        clock = ScenarioClock(options.at or default_start, options.speed, real)
    faults = FaultBook()
    if options.schedule:
        for fault in scenario.schedule():
            faults.add(fault)
    for spec in options.faults:
        faults.add(parse_fault_spec(spec, start=clock.now(), zone=scenario.local_zone))
    holder: list[SimServer] = []
    admin = create_admin_app(
        scenario,
        clock,
        faults,
        changed=lambda: holder[0].apply_gate(),
        data_open=lambda: holder[0].data_open,
        source_zone=ZoneInfo(options.source_zone),
    )
    server = SimServer(DataApp(scenario, clock, faults), admin, clock, faults, options.listeners)
    holder.append(server)
    return server
