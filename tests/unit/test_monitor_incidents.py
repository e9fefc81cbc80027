import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.incidents import Incident, Round, TargetState, Transition, availability, step
from monitor.probe import ProbeResult, Reason
from monitor.settings import DailyMaintenance, Settings, SettingsError

T0 = datetime(2020, 12, 9, 5, 55, tzinfo=UTC)  # 13:55 WITA
MINUTE = timedelta(minutes=1)


def run(
    reasons: list[Reason],
    state: TargetState | None = None,
    start: datetime = T0,
    *,
    every: timedelta = MINUTE,
    run_id: str = "first run",
    first_round: int = 1,
) -> tuple[TargetState, list[Transition]]:
    """Probe rounds `every` apart on the clock, numbered on from `first_round` in one run of the monitor."""
    state = state or TargetState()
    transitions = []
    for i, reason in enumerate(reasons):
        result = ProbeResult("belu", start + i * every, reason, reason.value)
        transition = step(state, result, Round(run_id, first_round + i), failures_to_open=3, successes_to_close=2)
        transitions.append(transition)
        state = transition.state
    return state, transitions


UP, DOWN = Reason.UP, Reason.DOWN


def test_three_failures_open_an_incident_back_dated_to_the_first() -> None:
    state, transitions = run([UP, DOWN, DOWN, DOWN, DOWN])
    opened = [t.opened for t in transitions if t.opened]
    assert opened == [Incident("belu", Reason.DOWN, T0 + MINUTE, detail="down")]
    assert state.incident is not None and state.incident.started_at == T0 + MINUTE


def test_two_good_probes_close_it_at_the_first_good_one() -> None:
    state, transitions = run([DOWN, DOWN, DOWN, UP, DOWN, UP, UP, UP])
    closed = [t.closed for t in transitions if t.closed]
    assert len(closed) == 1
    assert closed[0] is not None and closed[0].ended_at == T0 + 5 * MINUTE
    assert closed[0].started_at == T0
    assert state == TargetState(last_probe_at=T0 + 7 * MINUTE, round=Round("first run", 8))


def test_alternating_failures_below_the_threshold_open_nothing() -> None:
    state, transitions = run([DOWN, DOWN, UP, DOWN, UP, DOWN, DOWN, UP, Reason.STALE, Reason.ERROR_PAGE, UP])
    assert not any(t.opened for t in transitions)
    assert state.incident is None


def test_the_incident_reason_is_the_first_failure() -> None:
    _, transitions = run([Reason.ERROR_PAGE, DOWN, DOWN])
    assert transitions[-1].opened is not None and transitions[-1].opened.reason is Reason.ERROR_PAGE


def test_a_restarted_monitor_continues_the_open_incident() -> None:
    state, _ = run([DOWN, DOWN, DOWN])
    again, transitions = run([DOWN, DOWN], state, start=T0 + 3 * MINUTE, run_id="second run")
    assert not any(t.opened for t in transitions)
    assert again.incident == state.incident


def test_a_failure_streak_does_not_reach_across_a_restart() -> None:
    # two failures, then the monitor is stopped for an hour; Sirekap fails again when it is back
    state, _ = run([DOWN, DOWN])
    state, transitions = run([DOWN, DOWN, DOWN], state, start=T0 + 61 * MINUTE, run_id="second run")
    (opened,) = [t.opened for t in transitions if t.opened]
    assert opened.started_at == T0 + 61 * MINUTE  # not back-dated to before the gap
    assert transitions[1].opened is None


def test_a_missed_round_breaks_a_streak() -> None:
    # round 3 could not be stored: what happened then is unknown
    state, _ = run([DOWN, DOWN])
    state, transitions = run([DOWN, DOWN], state, start=T0 + 3 * MINUTE, first_round=4)
    assert not any(t.opened for t in transitions)
    assert state.failures == 2


def test_a_recovery_streak_does_not_reach_across_a_restart_either() -> None:
    state, _ = run([DOWN, DOWN, DOWN, UP])
    state, transitions = run([UP, UP], state, start=T0 + 30 * MINUTE, run_id="second run")
    (closed,) = [t.closed for t in transitions if t.closed]
    assert closed.ended_at == T0 + 30 * MINUTE


@pytest.mark.parametrize(
    "every",
    [timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=30)],
    ids=["1x: rounds 30 s apart", "60x: rounds 5 min apart", "3600x: rounds 30 min apart"],
)
def test_an_outage_is_one_incident_from_its_first_failing_probe_however_fast_the_clock_runs(every: timedelta) -> None:
    # the same outage seen by probe rounds of a monitor on a clock at 1x, 60x and 3600x: streaks count rounds
    failing_from = T0 + 4 * every
    state, transitions = run([UP] * 4 + [DOWN] * 40 + [UP] * 3, every=every)
    opened = [t.opened for t in transitions if t.opened]
    closed = [t.closed for t in transitions if t.closed]
    assert opened == [Incident("belu", Reason.DOWN, failing_from, detail="down")]
    assert len(closed) == 1 and closed[0] is not None and closed[0].ended_at == T0 + 44 * every
    assert state.incident is None


def test_availability_counts_unobserved_time_as_unknown() -> None:
    start, end = T0, T0 + 60 * MINUTE
    probes = [start + i * MINUTE for i in range(30)]  # observed for 30 min, then the monitor was stopped
    result = availability(probes, [], start=start, end=end, vouch=2 * MINUTE)
    # the last probe vouches for two intervals at most
    assert result.up_seconds == 31 * 60 and result.down_seconds == 0
    assert result.unknown_seconds == 29 * 60
    assert result.ratio == 1.0 and round(result.coverage, 3) == round(31 / 60, 3)


def test_availability_with_an_incident_and_maintenance() -> None:
    start, end = T0, T0 + 60 * MINUTE
    probes = [start + i * MINUTE for i in range(60)]
    incident = Incident("belu", Reason.DOWN, start + 10 * MINUTE, start + 25 * MINUTE)
    plain = availability(probes, [incident], start=start, end=end, vouch=2 * MINUTE)
    assert plain.down_seconds == 15 * 60 and plain.ratio == 45 / 60 and plain.coverage == 1.0
    maintenance = [(start + 20 * MINUTE, start + 40 * MINUTE)]  # half the incident falls in maintenance
    kept = availability(probes, [incident], start=start, end=end, vouch=2 * MINUTE, maintenance=maintenance)
    assert kept.down_seconds == 10 * 60
    assert kept.ratio == 30 / 40 and kept.coverage == 1.0


def test_an_open_incident_runs_to_the_end_of_the_window() -> None:
    start, end = T0, T0 + 10 * MINUTE
    probes = [start + i * MINUTE for i in range(10)]
    result = availability(probes, [Incident("b", DOWN, start + 6 * MINUTE)], start=start, end=end, vouch=2 * MINUTE)
    assert result.down_seconds == 4 * 60


def test_no_probes_means_no_coverage() -> None:
    result = availability([], [], start=T0, end=T0 + MINUTE, vouch=2 * MINUTE)
    assert result.ratio is None and result.coverage == 0.0 and result.unknown_seconds == 60


def test_a_daily_maintenance_window_in_local_time_is_excluded_every_day() -> None:
    settings = Settings.from_env({"PANTAU_MAINTENANCE": "23:30/00:30", "PANTAU_DISPLAY_ZONE": "Asia/Makassar"})
    assert settings.maintenance == (DailyMaintenance(time(23, 30), time(0, 30), ZoneInfo("Asia/Makassar")),)
    start = datetime(2020, 12, 9, 12, 0, tzinfo=UTC)  # 20:00 WITA
    end = start + timedelta(hours=24)
    spans = settings.maintenance_spans(start, end)
    assert spans == [(datetime(2020, 12, 9, 15, 30, tzinfo=UTC), datetime(2020, 12, 9, 16, 30, tzinfo=UTC))]
    probes = [start + i * MINUTE for i in range(24 * 60)]
    outage = Incident("belu", DOWN, spans[0][0], spans[0][1])  # down only while in maintenance
    result = availability(probes, [outage], start=start, end=end, vouch=2 * MINUTE, maintenance=spans)
    assert result.ratio == 1.0 and result.coverage == 1.0 and result.unknown_seconds == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PANTAU_PROBE_INTERVAL", "soon", "PANTAU_PROBE_INTERVAL='soon'"),
        ("PANTAU_PROBE_TIMEOUT", "0", "must be greater than 0"),
        ("PANTAU_DISPLAY_ZONE", "WITA", "PANTAU_DISPLAY_ZONE='WITA'"),
        ("PANTAU_MAINTENANCE", "2020-12-09T03:00/2020-12-09T01:00", "ends before it starts"),
        ("PANTAU_PROBE_TARGETS", "belu", "PANTAU_PROBE_TARGETS: 'belu' is not name=http(s)://url"),
        ("PANTAU_SYNC_RACES", "pilkada 5304", "unknown race 'pilkada'"),
    ],
)
def test_a_bad_setting_is_named_in_the_error(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({"PANTAU_SIREKAP_URL": "http://sim", variable: value})
