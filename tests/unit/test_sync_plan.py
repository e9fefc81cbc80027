"""Which regions and TPS a pass looks at, decided without I/O."""

import pytest

from api.sync.plan import changed_children, changed_tps, chart_fingerprint, row_fingerprint
from api.sync.pool import bounded_map
from sirekap.documents import ChildRow, Progress, RegionFile
from sirekap.zones import zone_of


def row(code: str, votes: dict[str, int] | None, tps_in: int, tps_total: int) -> ChildRow:
    return ChildRow(code, votes, Progress(tps_in, tps_total, None), tps_in == tps_total, "Reguler")


def region(*rows: ChildRow) -> RegionFile:
    votes: dict[str, int] = {}
    for r in rows:
        for k, v in (r.votes or {}).items():
            votes[k] = votes.get(k, 0) + v
    progress = Progress(sum(r.progress.tps_in for r in rows if r.progress), 0, None)
    return RegionFile(None, "hhcw", "Reguler", "pilkada", votes, progress, {r.code: r for r in rows})


def test_only_children_whose_numbers_or_progress_moved_are_descended_into() -> None:
    a, b, c = row("530401", {"1": 5, "2": 7}, 2, 4), row("530402", None, 0, 3), row("530403", {"1": 1}, 1, 1)
    doc = region(a, b, c)
    synced = {r.code: row_fingerprint(r) for r in (a, b, c)}
    assert changed_children(doc, synced) == []
    moved = region(row("530401", {"1": 5, "2": 7}, 3, 4), b, row("530403", {"1": 2}, 1, 1))
    assert [r.code for r in changed_children(moved, synced)] == ["530401", "530403"]
    assert [r.code for r in changed_children(doc, {})] == ["530401", "530402", "530403"]  # never synced
    assert len(changed_children(doc, synced, full=True)) == 3
    assert chart_fingerprint(doc) != chart_fingerprint(moved)


def test_fingerprints_ignore_key_order_but_not_numbers() -> None:
    assert row_fingerprint(row("1", {"1": 1, "2": 2}, 1, 1)) == row_fingerprint(row("1", {"2": 2, "1": 1}, 1, 1))
    assert row_fingerprint(row("1", {"1": 1, "2": 2}, 1, 1)) != row_fingerprint(row("1", {"1": 2, "2": 1}, 1, 1))


def test_tps_files_are_fetched_only_when_the_desa_row_differs_from_the_current_tally() -> None:
    doc = region(
        row("5304121003001", {"1": 10, "2": 20}, 1, 1),  # unchanged
        row("5304121003002", {"1": 9, "2": 20}, 1, 1),  # corrected down
        row("5304121003003", {"1": 1, "2": 2}, 1, 1),  # new
        row("5304121003004", None, 0, 1),  # nothing uploaded yet (or taken down upstream): keep what we have
    )
    current = {
        "5304121003001": {"1": 10, "2": 20},
        "5304121003002": {"1": 90, "2": 20},
        "5304121003004": {"1": 3, "2": 4},
    }
    fetch, empty = changed_tps(doc, current)
    assert fetch == ["5304121003002", "5304121003003"]
    assert empty == ["5304121003004"]
    assert changed_tps(doc, current, full=True)[0] == ["5304121003001", "5304121003002", "5304121003003"]


def test_zones_follow_the_province() -> None:
    assert zone_of("5304") == "Asia/Makassar"  # NTT: WITA
    assert zone_of("3171") == "Asia/Jakarta"
    assert zone_of("9471") == "Asia/Jayapura"
    assert zone_of("") == "Asia/Jakarta"  # the national race speaks WIB
    with pytest.raises(ValueError):
        zone_of("x")


async def test_bounded_map_keeps_order_and_limits_concurrency() -> None:
    import asyncio

    running = peak = 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return n * n

    assert await bounded_map(work, range(20), 3) == [n * n for n in range(20)]
    assert peak == 3
    assert await bounded_map(work, [], 3) == []
