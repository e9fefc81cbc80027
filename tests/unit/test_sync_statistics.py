"""When the sync analyses the tables it fills: each time they have doubled since the last analysis, never for less
than the floor."""

from api.sync.statistics import PlannerStatistics


def test_the_tables_are_analysed_again_each_time_they_double() -> None:
    stats = PlannerStatistics(floor=100)
    assert not stats.wrote(60)
    assert stats.wrote(40)  # 100 since the start: the floor
    stats.analysed()
    assert not stats.wrote(99)
    assert stats.wrote(1)  # as many again as before the last analysis


def test_nothing_written_asks_for_nothing() -> None:
    stats = PlannerStatistics(floor=1)
    assert not stats.wrote(0)
    assert stats.wrote(1)
    stats.analysed()
    assert not stats.wrote(0)
    assert stats.analyses == 1
