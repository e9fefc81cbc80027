from datetime import UTC, datetime, timedelta

import pytest

from sirekap.sim.clock import ScenarioClock, floor_to
from sirekap.sim.faults import FaultBook, FaultError, FaultKind, make_fault

T0 = datetime(2020, 12, 9, 5, 0, tzinfo=UTC)


class FakeReal:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_clock_runs_at_its_speed_and_can_be_set_and_paused() -> None:
    real = FakeReal()
    clock = ScenarioClock(T0, speed=60, real=real)
    real.seconds += 10
    assert clock.now() == T0 + timedelta(minutes=10)
    clock.set(T0 + timedelta(hours=1), speed=0)
    real.seconds += 100
    assert clock.now() == T0 + timedelta(hours=1)
    clock.set(speed=2)
    real.seconds += 30
    assert clock.now() == T0 + timedelta(hours=1, minutes=1)


def test_clock_refuses_naive_times_and_negative_speed() -> None:
    with pytest.raises(ValueError):
        ScenarioClock(datetime(2020, 12, 9, 13))  # noqa: DTZ001
    with pytest.raises(ValueError):
        ScenarioClock(T0, speed=-1)


def test_floor_to_snapshot() -> None:
    assert floor_to(T0 + timedelta(minutes=29, seconds=59), timedelta(minutes=15)) == T0 + timedelta(minutes=15)


def test_most_specific_fault_wins_and_slow_delays_add_up() -> None:
    book = FaultBook()
    book.add(make_fault("error", start=T0))
    denied = book.add(make_fault("denied", start=T0, path="/pilkada/hhcw"))
    book.add(make_fault("slow", start=T0, delay_s=1.5))
    book.add(make_fault("slow", start=T0, path="/pilkada", delay_s=0.5))
    delay, fault = book.match("/pilkada/hhcw/pkwkk/53.json", T0)
    assert (delay, fault) == (2.0, denied)
    delay, fault = book.match("/wilayah/pilkada/pkwkk/53.json", T0)
    assert delay == 1.5 and fault is not None and fault.kind is FaultKind.ERROR and fault.status == 503


def test_faults_are_active_only_in_their_window() -> None:
    book = FaultBook()
    book.add(make_fault("refused", start=T0, until=T0 + timedelta(hours=1)))
    assert not book.refused(T0 - timedelta(seconds=1))
    assert book.refused(T0)
    assert not book.refused(T0 + timedelta(hours=1))
    assert book.match("/x", T0 - timedelta(seconds=1)) == (0.0, None)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("nonsense", {}),
        ("refused", {"path": "/pilkada"}),
        ("error", {"status": 404}),
        ("denied", {"status": 500}),
        ("slow", {}),
        ("truncated", {"truncate_at": 1.0}),
        ("error", {"path": "pilkada"}),
    ],
)
def test_nonsense_faults_are_refused_with_a_reason(kind: str, options: dict[str, object]) -> None:
    with pytest.raises(FaultError):
        make_fault(kind, start=T0, **options)  # type: ignore[arg-type]
