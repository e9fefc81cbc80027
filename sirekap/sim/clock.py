"""The scenario clock: scenario time = anchor + real time elapsed since the anchor × speed.

Speed 0 pauses the clock; tests set it to any instant (14:00 WITA on election night) without waiting. The real
time source is injected (`real`, seconds as a float, monotonic), so a test can drive the clock by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sirekap.clock import Clock


class ScenarioClock:
    """`anchor_real`: the real time at which the scenario stood at `start` (default: now)."""

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        real: Callable[[], float] = time.monotonic,
        anchor_real: float | None = None,
    ) -> None:
        _require_aware(start)
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._real = real
        self._lock = threading.Lock()
        self._anchor = start.astimezone(UTC)
        self._anchor_real = real() if anchor_real is None else anchor_real
        self._speed = speed

    @classmethod
    def following(cls, clock: Clock) -> ScenarioClock:
        """A scenario clock that keeps a drill's clock (standing at its start until its epoch), until it is set."""
        assert clock.start is not None
        epoch, wall = clock.epoch, clock.wall
        return cls(clock.start, clock.speed, lambda: max(wall(), epoch), anchor_real=epoch)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        """The scenario's current instant, in UTC."""
        with self._lock:
            elapsed = (self._real() - self._anchor_real) * self._speed
            return self._anchor + timedelta(seconds=elapsed)

    def set(self, at: datetime | None = None, speed: float | None = None) -> None:
        """Jump to `at` (default: stay where it is) and run on at `speed` (default: unchanged)."""
        if at is not None:
            _require_aware(at)
        if speed is not None and speed < 0:
            raise ValueError("speed must be >= 0")
        current = self.now()
        with self._lock:
            self._anchor = (at or current).astimezone(UTC)
            self._anchor_real = self._real()
            if speed is not None:
                self._speed = speed


def floor_to(at: datetime, interval: timedelta) -> datetime:
    """The latest multiple of `interval` (counted from the Unix epoch) at or before `at`."""
    step = interval.total_seconds()
    return datetime.fromtimestamp((at.timestamp() // step) * step, tz=UTC)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError(f"{at.isoformat()} has no time zone")
