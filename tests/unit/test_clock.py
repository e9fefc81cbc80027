"""One clock for every process: the wall clock, or a drill's, set once in the environment."""

from datetime import UTC, datetime

import pytest

from sirekap.clock import MIN_REAL_WAIT, Clock, ClockError

START = "2020-12-09T13:45+08:00"
EPOCH = 1_000_000.0


class Wall:
    """A wall clock driven by hand (Unix seconds)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_without_settings_it_is_the_wall_clock() -> None:
    wall = Wall(EPOCH)
    clock = Clock.from_env({}, wall=wall)
    assert not clock.is_drill and clock.speed == 1.0
    assert clock.now() == datetime.fromtimestamp(EPOCH, UTC)
    assert clock.environ() == {}


def test_processes_started_apart_agree_on_a_drill_clock() -> None:
    environ = {"PANTAU_CLOCK_START": START, "PANTAU_CLOCK_SPEED": "60", "PANTAU_CLOCK_EPOCH": str(EPOCH)}
    wall = Wall(EPOCH + 1)
    early = Clock.from_env(environ, wall=wall)
    wall.at = EPOCH + 10  # a process started nine seconds later
    late = Clock.from_env(environ, wall=wall)
    assert early.now() == late.now() == datetime(2020, 12, 9, 5, 55, tzinfo=UTC)  # 14:00 less 5 min, in UTC
    assert early.now().tzinfo is UTC
    # a second process given the first one's settings reads the same time
    assert Clock.from_env(early.environ(), wall=wall).now() == early.now()


def test_before_its_epoch_a_drill_clock_stands_at_its_start() -> None:
    wall = Wall(EPOCH - 30)
    clock = Clock.drill(datetime.fromisoformat(START), 60, epoch=EPOCH, wall=wall)
    assert clock.now() == datetime(2020, 12, 9, 5, 45, tzinfo=UTC)
    wall.at = EPOCH + 60
    assert clock.now() == datetime(2020, 12, 9, 6, 45, tzinfo=UTC)  # a real minute is a drill hour


def test_drill_durations_are_waited_in_real_time_at_the_clock_speed() -> None:
    clock = Clock.drill(datetime.fromisoformat(START), 60, epoch=EPOCH)
    assert clock.real_seconds(60) == 1.0
    assert clock.clock_seconds(1.0) == 60
    assert Clock.drill(datetime.fromisoformat(START), 1e6).real_seconds(60) == MIN_REAL_WAIT  # never spins


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PANTAU_CLOCK_START": "2020-12-09T13:45", "PANTAU_CLOCK_EPOCH": "1"}, "needs its UTC offset"),
        ({"PANTAU_CLOCK_START": START}, "PANTAU_CLOCK_EPOCH is not set"),
        ({"PANTAU_CLOCK_START": "yesterday", "PANTAU_CLOCK_EPOCH": "1"}, "not an ISO 8601 time"),
        ({"PANTAU_CLOCK_START": START, "PANTAU_CLOCK_EPOCH": "1", "PANTAU_CLOCK_SPEED": "0"}, "greater than 0"),
        ({"PANTAU_CLOCK_START": START, "PANTAU_CLOCK_EPOCH": "soon"}, "PANTAU_CLOCK_EPOCH='soon' is not a number"),
        ({"PANTAU_CLOCK_SPEED": "60"}, "PANTAU_CLOCK_SPEED is set but PANTAU_CLOCK_START is not"),
    ],
)
def test_unusable_settings_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ClockError, match=message):
        Clock.from_env(environ)
