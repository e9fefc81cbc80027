"""One notion of "now" for every process: the wall clock, or the clock of a drill that every process shares.

Outside drills it is the wall clock. A drill (the demo, a compose profile, an exercise for on-call) replays a night
at some speed, and every process of it (simulator, API, sync, monitor) reads its time from the same three settings:

    PANTAU_CLOCK_START   the drill's instant at EPOCH, ISO 8601 with its offset: 2020-12-09T13:45+08:00
    PANTAU_CLOCK_SPEED   drill seconds per real second (default 1)
    PANTAU_CLOCK_EPOCH   the Unix time at which the drill stood at START, e.g. `$(date +%s)` when it is started

now = START + (wall time - EPOCH) × SPEED, so processes started seconds apart agree to the millisecond (as far as
their wall clocks agree), however late each one starts. Before EPOCH the clock stands at START: a drill can be set up
ahead of its start (the demo starts its processes, and the night begins once they are up).

Durations the night is configured in (probe and sync intervals, backoff) are drill durations: at 60× a sync every
60 s runs every real second. `real_seconds` turns one into the real time to wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

VARIABLES = ("PANTAU_CLOCK_START", "PANTAU_CLOCK_SPEED", "PANTAU_CLOCK_EPOCH")
#: The shortest real wait between two rounds of work, however fast a drill runs: a loop never spins.
MIN_REAL_WAIT = 0.05


class ClockError(ValueError):
    """A clock setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Clock:
    """`start` is None for the wall clock. `wall` (Unix seconds) is injected so tests drive time by hand."""

    start: datetime | None = None
    epoch: float = 0.0
    speed: float = 1.0
    wall: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if self.start is not None and self.start.tzinfo is None:
            raise ClockError(f"the drill start {self.start.isoformat()} has no UTC offset")
        if not self.speed > 0:
            raise ClockError("the clock speed must be greater than 0")

    @classmethod
    def drill(
        cls, start: datetime, speed: float, *, epoch: float | None = None, wall: Callable[[], float] = time.time
    ) -> Clock:
        """A drill clock that leaves `start` now, or at the Unix time `epoch` (standing at `start` until then)."""
        return cls(start.astimezone(UTC), wall() if epoch is None else epoch, speed, wall)

    @property
    def is_drill(self) -> bool:
        return self.start is not None

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        if self.start is None:
            return datetime.fromtimestamp(self.wall(), UTC)
        return self.start + timedelta(seconds=max(0.0, self.wall() - self.epoch) * self.speed)

    def real_seconds(self, seconds: float) -> float:
        """How long to wait in real time for `seconds` of this clock to pass (never less than MIN_REAL_WAIT)."""
        return max(MIN_REAL_WAIT, seconds / self.speed)

    def clock_seconds(self, real_seconds: float) -> float:
        """How much of this clock's time passes in `real_seconds` of real time."""
        return real_seconds * self.speed

    def environ(self) -> dict[str, str]:
        """The settings that give another process this same clock."""
        if self.start is None:
            return {}
        return {
            "PANTAU_CLOCK_START": self.start.isoformat(),
            "PANTAU_CLOCK_SPEED": repr(self.speed),
            "PANTAU_CLOCK_EPOCH": repr(self.epoch),
        }

    def describe(self) -> str:
        if self.start is None:
            return "wall clock"
        return f"drill clock at {self.speed:g}x, {self.start.isoformat()} at Unix time {self.epoch:.3f}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, wall: Callable[[], float] = time.time) -> Clock:
        """The wall clock, or the drill clock the `PANTAU_CLOCK_*` variables describe."""
        start_text = environ.get("PANTAU_CLOCK_START", "").strip()
        speed_text = environ.get("PANTAU_CLOCK_SPEED", "").strip()
        epoch_text = environ.get("PANTAU_CLOCK_EPOCH", "").strip()
        if not start_text:
            extra = [name for name, value in zip(VARIABLES[1:], (speed_text, epoch_text), strict=True) if value]
            if extra:
                raise ClockError(f"{extra[0]} is set but PANTAU_CLOCK_START is not: a drill needs its start")
            return cls(wall=wall)
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            raise ClockError(f"PANTAU_CLOCK_START={start_text!r} is not an ISO 8601 time") from None
        if start.tzinfo is None:
            raise ClockError(f"PANTAU_CLOCK_START={start_text!r} needs its UTC offset, e.g. {start_text}+08:00")
        if not epoch_text:
            raise ClockError(
                "PANTAU_CLOCK_EPOCH is not set: give the Unix time at which the drill stood at PANTAU_CLOCK_START, "
                "the same for every process of the drill (e.g. $(date +%s))"
            )
        speed = _number("PANTAU_CLOCK_SPEED", speed_text or "1")
        if not speed > 0:
            raise ClockError(f"PANTAU_CLOCK_SPEED={speed_text!r} must be greater than 0")
        return cls(start.astimezone(UTC), _number("PANTAU_CLOCK_EPOCH", epoch_text), speed, wall)


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ClockError(f"{name}={text!r} is not a number") from None
