"""Incident windows and availability, pure: probe results in, windows and ratios out; time is passed in.

An incident opens after `failures_to_open` consecutive failing probes, its start back-dated to the first of them,
and closes after `successes_to_close` consecutive good probes, its end at the first good one.

Streaks are counted in probe rounds, not in seconds, so they hold however fast a drill's clock runs: a streak goes on
from one round to the next of the same run of the monitor, and a missing round (the monitor was not running, or a
round could not be stored) breaks it. A failure seen before the monitor stopped therefore never back-dates an
incident over time nobody saw; an incident already open stays open across the gap.

Time the monitor did not observe is unknown: it counts neither as up nor as down, and shows as lost coverage. For
availability a probe vouches for the time until the next one, `vouch` at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.probe import ProbeResult, Reason

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Incident:
    target: str
    reason: Reason
    started_at: datetime
    ended_at: datetime | None = None
    detail: str = ""
    id: int | None = None

    def duration(self, now: datetime) -> timedelta:
        return (self.ended_at or now) - self.started_at


@dataclass(frozen=True)
class Round:
    """One probe round: its number within one run of the monitor (a run starts when the monitor starts)."""

    run: str
    number: int

    def follows(self, previous: Round | None) -> bool:
        return previous is not None and previous.run == self.run and previous.number + 1 == self.number


@dataclass(frozen=True)
class TargetState:
    """Per-target memory between probes, persisted so a restart carries on (the round is not: a restart is a gap)."""

    failures: int = 0
    first_failure: ProbeResult | None = None
    successes: int = 0
    first_success_at: datetime | None = None
    incident: Incident | None = None
    last_probe_at: datetime | None = None
    round: Round | None = None


@dataclass(frozen=True)
class Transition:
    state: TargetState
    opened: Incident | None = None
    closed: Incident | None = None


def step(
    state: TargetState,
    result: ProbeResult,
    round_: Round,
    *,
    failures_to_open: int,
    successes_to_close: int,
) -> Transition:
    """Apply the result of one round's probe to a target's state; a round that does not follow the last breaks
    the streaks."""
    if not round_.follows(state.round):
        state = replace(state, failures=0, first_failure=None, successes=0, first_success_at=None)
    state = replace(state, last_probe_at=result.at, round=round_)
    if not result.ok:
        first = state.first_failure or result
        failing = replace(state, failures=state.failures + 1, first_failure=first, successes=0, first_success_at=None)
        if failing.incident is None and failing.failures >= failures_to_open:
            opened = Incident(result.target, first.reason, first.at, detail=first.detail)
            return Transition(replace(failing, incident=opened), opened=opened)
        return Transition(failing)
    recovering = replace(state, failures=0, first_failure=None)
    if recovering.incident is None:
        return Transition(recovering)
    successes = recovering.successes + 1
    first_success = recovering.first_success_at or result.at
    if successes >= successes_to_close:
        closed = replace(recovering.incident, ended_at=first_success)
        return Transition(TargetState(last_probe_at=result.at, round=round_), closed=closed)
    return Transition(replace(recovering, successes=successes, first_success_at=first_success))


@dataclass(frozen=True)
class Availability:
    ratio: float | None  # up / observed, None when nothing was observed
    coverage: float  # observed / (window minus maintenance)
    up_seconds: float
    down_seconds: float
    unknown_seconds: float


def observed(probe_times: Iterable[datetime], *, end: datetime, vouch: timedelta) -> list[Span]:
    """The time the monitor saw: each probe vouches for the time until the next one, `vouch` at most."""
    times = sorted(probe_times)
    return _merge((t, min(n, t + vouch)) for t, n in zip(times, [*times[1:], end], strict=False))


def availability(
    probe_times: Sequence[datetime],
    incidents: Iterable[Incident],
    *,
    start: datetime,
    end: datetime,
    vouch: timedelta,
    maintenance: Iterable[Span] = (),
) -> Availability:
    """Availability over [start, end), less maintenance; time no probe vouches for is unknown, not up or down."""
    window = _subtract([(start, end)], maintenance)
    seen = _intersect(observed(probe_times, end=end, vouch=vouch), window)
    down = _intersect(seen, _merge((i.started_at, i.ended_at or end) for i in incidents))
    total, seen_s, down_s = _seconds(window), _seconds(seen), _seconds(down)
    return Availability(
        ratio=(seen_s - down_s) / seen_s if seen_s else None,
        coverage=seen_s / total if total else 0.0,
        up_seconds=seen_s - down_s,
        down_seconds=down_s,
        unknown_seconds=total - seen_s,
    )


def _merge(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for s, e in sorted(x for x in spans if x[0] < x[1]):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            s, e = max(s1, s2), min(e1, e2)
            if s < e:
                out.append((s, e))
    return _merge(out)


def _subtract(a: Sequence[Span], cuts: Iterable[Span]) -> list[Span]:
    remaining = list(a)
    for cs, ce in cuts:
        remaining = [piece for s, e in remaining for piece in ((s, min(e, cs)), (max(s, ce), e)) if piece[0] < piece[1]]
    return _merge(remaining)


def _seconds(spans: Iterable[Span]) -> float:
    return sum((e - s).total_seconds() for s, e in spans)
