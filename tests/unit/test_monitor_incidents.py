from datetime import UTC, datetime, timedelta

from monitor.incidents import Incident, TargetState, Transition, availability, step
from monitor.probe import ProbeResult, Reason

T0 = datetime(2020, 12, 9, 5, 55, tzinfo=UTC)  # 13:55 WITA
MINUTE = timedelta(minutes=1)


def run(reasons: list[Reason], state: TargetState | None = None) -> tuple[TargetState, list[Transition]]:
    state = state or TargetState()
    transitions = []
    for i, reason in enumerate(reasons):
        result = ProbeResult("belu", T0 + i * MINUTE, reason, reason.value)
        transition = step(state, result, failures_to_open=3, successes_to_close=2)
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
    assert state == TargetState()


def test_alternating_failures_below_the_threshold_open_nothing() -> None:
    state, transitions = run([DOWN, DOWN, UP, DOWN, UP, DOWN, DOWN, UP, Reason.STALE, Reason.ERROR_PAGE, UP])
    assert not any(t.opened for t in transitions)
    assert state.incident is None


def test_the_incident_reason_is_the_first_failure() -> None:
    _, transitions = run([Reason.ERROR_PAGE, DOWN, DOWN])
    assert transitions[-1].opened is not None and transitions[-1].opened.reason is Reason.ERROR_PAGE


def test_a_restarted_state_continues_the_open_incident() -> None:
    state, _ = run([DOWN, DOWN, DOWN])
    again, transitions = run([DOWN, DOWN], state)
    assert not any(t.opened for t in transitions)
    assert again.incident == state.incident


def test_availability_counts_unobserved_time_as_unknown() -> None:
    start, end = T0, T0 + 60 * MINUTE
    probes = [start + i * MINUTE for i in range(30)]  # observed for 30 min, then the monitor was stopped
    result = availability(probes, [], start=start, end=end, interval=MINUTE)
    # the last probe vouches for two intervals at most
    assert result.up_seconds == 31 * 60 and result.down_seconds == 0
    assert result.unknown_seconds == 29 * 60
    assert result.ratio == 1.0 and round(result.coverage, 3) == round(31 / 60, 3)


def test_availability_with_an_incident_and_maintenance() -> None:
    start, end = T0, T0 + 60 * MINUTE
    probes = [start + i * MINUTE for i in range(60)]
    incident = Incident("belu", Reason.DOWN, start + 10 * MINUTE, start + 25 * MINUTE)
    plain = availability(probes, [incident], start=start, end=end, interval=MINUTE)
    assert plain.down_seconds == 15 * 60 and plain.ratio == 45 / 60 and plain.coverage == 1.0
    maintenance = [(start + 20 * MINUTE, start + 40 * MINUTE)]  # half the incident falls in maintenance
    kept = availability(probes, [incident], start=start, end=end, interval=MINUTE, maintenance=maintenance)
    assert kept.down_seconds == 10 * 60
    assert kept.ratio == 30 / 40 and kept.coverage == 1.0


def test_an_open_incident_runs_to_the_end_of_the_window() -> None:
    start, end = T0, T0 + 10 * MINUTE
    probes = [start + i * MINUTE for i in range(10)]
    result = availability(probes, [Incident("b", DOWN, start + 6 * MINUTE)], start=start, end=end, interval=MINUTE)
    assert result.down_seconds == 4 * 60


def test_no_probes_means_no_coverage() -> None:
    result = availability([], [], start=T0, end=T0 + MINUTE, interval=MINUTE)
    assert result.ratio is None and result.coverage == 0.0 and result.unknown_seconds == 60
