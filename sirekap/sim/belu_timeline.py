"""Election night in Belu, 9-13 December 2020, as Sirekap showed it: when each TPS arrived, which were misread.

All times are WITA (Asia/Makassar). Knots of the arrival curve (TPS in, linear in between):

    9 Dec 13:30    0   first uploads after polls closed at 13:00
    9 Dec 14:00   60   14% of 426 - the last batch out before the central server fails at 14:02
   10 Dec 10:00  100   service restored; uploads made during the outage appear at once
   11 Dec 18:15  163   "163 of 426 TPS (38.26%): SAHABAT 19,539, SEHATI 19,580" (the first 163 are chosen so)
   13 Dec 12:00  426   all TPS in; per-kecamatan totals equal the pleno rows

Three TPS are misread by the OCR (3 read as 8; 58 as 948, or 2 as 7 where no 58 is found): two among the first
uploads, corrected on 10 Dec 16:00, and one arriving after 11 Dec 18:15, corrected on 12 Dec 20:00, so their numbers
go down. Which TPS arrive when is SYNTHETIC (a seeded shuffle), like the counts themselves.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sirekap.belu import Belu2020, Tps, belu_2020

WITA = ZoneInfo("Asia/Makassar")


def wita(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of December 2020 in Belu's wall time, returned in UTC."""
    return datetime(2020, 12, day, hour, minute, tzinfo=WITA).astimezone(UTC)


ARRIVALS: tuple[tuple[datetime, int], ...] = (
    (wita(9, 13, 30), 0),
    (wita(9, 14), 60),
    (wita(10, 10), 100),
    (wita(11, 18, 15), 163),
    (wita(13, 12), 426),
)
OUTAGE = (wita(9, 14, 2), wita(10, 10))
REPORTED_AT_163 = {1: 19_539, 2: 19_580}
EARLY_CORRECTION = wita(10, 16)
LATE_CORRECTION = wita(12, 20)


@dataclass(frozen=True)
class Misread:
    votes: dict[int, int]  # as the OCR read them
    corrected_at: datetime


@dataclass(frozen=True)
class BeluTimeline:
    order: tuple[Tps, ...]  # arrival order
    arrival: dict[str, datetime]  # TPS code → when its sheet was uploaded
    misreads: dict[str, Misread]

    def votes(self, tps: Tps, at: datetime) -> dict[int, int] | None:
        """The votes Sirekap holds for a TPS at `at`: None before upload, misread until corrected."""
        if self.arrival[tps.code] > at:
            return None
        misread = self.misreads.get(tps.code)
        if misread is not None and at < misread.corrected_at:
            return misread.votes
        return tps.count.votes


@cache
def belu_timeline() -> BeluTimeline:
    """The timeline of the packaged Belu 2020 data (built once: the arrival order takes a moment to find)."""
    return build_timeline(belu_2020())


def build_timeline(data: Belu2020) -> BeluTimeline:
    order = _arrival_order(data.tps, random.Random("belu-2020-arrivals"))
    arrival = {tps.code: _arrival_time(rank) for rank, tps in enumerate(order, start=1)}
    misreads: dict[str, Misread] = {}
    for window, corrected_at, rules in (
        (order[:60], EARLY_CORRECTION, [("3", "8")]),
        (order[:100], EARLY_CORRECTION, [("58", "948"), ("2", "7")]),
        (order[163:250], LATE_CORRECTION, [("2", "7")]),
    ):
        code, votes = _misread(window, rules, set(misreads))
        misreads[code] = Misread(votes, corrected_at)
    return BeluTimeline(tuple(order), arrival, misreads)


def _arrival_time(rank: int) -> datetime:
    """When the `rank`-th TPS (1-based) arrives, on the piecewise linear curve, to the second."""
    for (t0, c0), (t1, c1) in itertools.pairwise(ARRIVALS):
        if c0 < rank <= c1:
            seconds = round((rank - c0) / (c1 - c0) * (t1 - t0).total_seconds())
            return t0 + timedelta(seconds=seconds)
    raise ValueError(f"no arrival for rank {rank}")


def _arrival_order(all_tps: tuple[Tps, ...], rng: random.Random) -> list[Tps]:
    """A shuffle whose first 163 TPS sum to the totals Sirekap showed on 11 Dec 18:15 (steepest-descent swaps)."""
    order = list(all_tps)
    rng.shuffle(order)
    shown, later = order[:163], order[163:]
    while True:
        err = [sum(t.count.votes[n] for t in shown) - REPORTED_AT_163[n] for n in (1, 2)]
        if err == [0, 0]:
            break
        best = (abs(err[0]) + abs(err[1]), -1, -1)
        for i, a in enumerate(shown):
            a1, a2 = a.count.votes[1], a.count.votes[2]
            for j, b in enumerate(later):
                cost = abs(err[0] - a1 + b.count.votes[1]) + abs(err[1] - a2 + b.count.votes[2])
                if cost < best[0]:
                    best = (cost, i, j)
        if best[1] < 0:
            break  # no swap helps: keep the closest order found
        _, i, j = best
        shown[i], later[j] = later[j], shown[i]
    # the first 60 are the TPS that made it before the outage: keep them as drawn, only the membership changed
    return shown + later


def _misread(
    window: tuple[Tps, ...] | list[Tps], rules: list[tuple[str, str]], taken: set[str]
) -> tuple[str, dict[int, int]]:
    for seen, read_as in rules:
        for tps in window:
            if tps.code in taken:
                continue
            for number, value in sorted(tps.count.votes.items()):
                if seen in str(value):
                    return tps.code, {**tps.count.votes, number: int(str(value).replace(seen, read_as, 1))}
    raise ValueError(f"no TPS to misread with {rules}")
