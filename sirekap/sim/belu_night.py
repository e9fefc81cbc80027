"""The `belu-2020` scenario: Pilkada Belu 2020 served in the Pilkada 2024 layout (`pkwkk`, race region 5304).

Paths, exactly the real layout (`sirekap.races`; all ancestors spelled out, as Sirekap does):
  /pilkada/paslon/pkwkk.json                                    paslon of the race, keyed by race region
  /wilayah/pilkada/pkwkp/0.json, /wilayah/pilkada/pkwkp/53.json the provinces and NTT's kab/kota (the governor's
                                                                lists: a bupati race has none of its own)
  /wilayah/pilkada/pkwkk/53/5304.json, …/530412.json, …         the race's own lists, down to a desa's TPS
  /pilkada/hhcw/pkwkk/53.json                                   the province's overview of its kab/kota races
                                                                (progress only in its chart; votes in each row)
  /pilkada/hhcw/pkwkk/53/5304.json, …                           aggregated files (tungsura shape)
  /pilkada/hhcw/pkwkk/53/5304/530412/5304121003/5304121003001.json   one TPS
The lists name only what the scenario knows (NTT, Belu): a subset of the real lists, never a path they lack.

Sirekap publishes a snapshot every 15 minutes: at any instant the files show the last snapshot (`ts` on the quarter
hour, written in the source zone). Aggregated files are the sums of the TPS files of the same snapshot, misreads
included. The timeline is in `belu_timeline.py`; the outage of 9 Dec 14:02 to 10 Dec 10:00 WITA is a scheduled fault.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sirekap.belu import Belu2020, Tps, belu_2020
from sirekap.codes import Level, level_of, parent_of
from sirekap.races import PILKADA_2020, RaceTarget
from sirekap.sim import shapes
from sirekap.sim.belu_timeline import OUTAGE, WITA, BeluTimeline, belu_timeline
from sirekap.sim.clock import floor_to
from sirekap.sim.faults import Fault, make_fault
from sirekap.sim.scenario import Document
from sirekap.timestamps import WIB, format_ts

SNAPSHOT = timedelta(minutes=15)
#: The simulator's default start: polls have just closed.
START = datetime(2020, 12, 9, 13, 0, tzinfo=WITA)
#: When the files were first published, before any upload (the ts of a TPS file with no data).
OPENED = datetime(2020, 12, 9, 7, 0, tzinfo=WITA)
PASLON_SET = datetime(2020, 9, 23, 10, 0, tzinfo=WITA)
#: Upstream candidate ids by ballot number (invented, stable).
CANDIDATE_IDS = {1: "1000899", 2: "1000900"}
#: The race this scenario publishes.
RACE = RaceTarget("pkwkk", "5304", PILKADA_2020)
TINGKAT = {Level.PROVINSI: 1, Level.KABUPATEN: 2, Level.KECAMATAN: 3, Level.DESA: 4, Level.TPS: 5}


class BeluNight:
    name = "belu-2020"
    local_zone = WITA

    def __init__(
        self,
        *,
        source_zone: ZoneInfo = WIB,
        outage: str = "error",
        data: Belu2020 | None = None,
        timeline: BeluTimeline | None = None,
    ) -> None:
        self.data = data or belu_2020()
        self.timeline = timeline or belu_timeline()
        self.source_zone = source_zone
        self.outage = outage
        self.numbers = [p.number for p in self.data.paslon]
        self.ids = [CANDIDATE_IDS[n] for n in self.numbers]
        self.tps = {t.code: t for t in self.data.tps}
        self.names = {r.code: r.name for r in self.data.regions} | {
            t.code: f"TPS {t.number:03d}" for t in self.data.tps
        }
        self.children: dict[str, list[str]] = defaultdict(list)
        for code in [r.code for r in self.data.regions] + [t.code for t in self.data.tps]:
            self.children[parent_of(code) or ""].append(code)
        self.internal_ids = {code: i for i, code in enumerate(self.names, start=1)}
        self._totals = lru_cache(maxsize=32)(self._totals_at)

    def schedule(self) -> list[Fault]:
        start, until = OUTAGE
        return [make_fault(self.outage, start=start, until=until, origin="scenario", id="belu-outage")]

    def status(self, at: datetime) -> dict[str, Any]:
        snapshot = floor_to(at, SNAPSHOT)
        race = self._totals(snapshot)[self.data.region_code]
        return {"snapshot_ts": self._ts(snapshot), "tps_in": race.progres, "tps_total": race.total}

    def document(self, path: str, at: datetime) -> Document | None:
        found = RACE.document_at(path)
        if found is None:
            return None
        what, code = found
        snapshot = floor_to(at, SNAPSHOT)
        if what == "candidates":
            return Document(self._paslon(), PASLON_SET)
        if what == "list":
            return self._region_list(code) if code in self.children else None
        if code in self.tps:
            return self._tps_file(self.tps[code], snapshot)
        if code in self.children:
            totals = self._totals(snapshot)
            rows = ((child, totals[child]) for child in self.children[code])
            # above the race, the province's overview of its kab/kota races: no votes of its own in its chart
            above = len(code) < len(RACE.region_code)
            body = shapes.pilkada_region_file(self._ts(snapshot), self.ids, totals[code], rows, chart_votes=not above)
            return Document(body, snapshot)
        return None

    def _ts(self, at: datetime) -> str:
        return format_ts(at, self.source_zone)

    def _paslon(self) -> dict[str, Any]:
        ts = self._ts(PASLON_SET)
        return {
            self.data.region_code: {
                CANDIDATE_IDS[p.number]: shapes.candidate(ts, f"{p.calon} - {p.wakil}".upper(), p.colour, p.number)
                for p in self.data.paslon
            }
        }

    def _region_list(self, code: str) -> Document:
        children = self.children[code]
        tingkat = TINGKAT[level_of(children[0])]
        entries = ((child, self.names[child], self.internal_ids[child]) for child in children)
        return Document(shapes.region_list(entries, tingkat), OPENED)

    def _tps_file(self, tps: Tps, snapshot: datetime) -> Document:
        votes = self.timeline.votes(tps, snapshot)
        if votes is None:
            return Document(shapes.pilkada_tps_file(self._ts(OPENED), self.ids, None), OPENED)
        arrived = self.timeline.arrival[tps.code]
        misread = self.timeline.misreads.get(tps.code)
        changed = misread.corrected_at if misread and misread.corrected_at <= snapshot else arrived
        published = _ceil(changed)
        count = tps.count
        key = int(tps.code)
        page = shapes.administrasi(
            tps.registered_voters,
            count.voters_dpt,
            count.voters_dptb,
            count.voters_non_dpt,
            count.valid,
            count.invalid,
            key,
        )
        sheet = shapes.Sheet(
            tuple(votes[n] for n in self.numbers),
            page,
            shapes.image_urls(tps.code, arrived, self.local_zone, key * 7919),
        )
        return Document(shapes.pilkada_tps_file(self._ts(published), self.ids, sheet), published)

    def _totals_at(self, snapshot: datetime) -> dict[str, shapes.Totals]:
        votes: dict[str, list[int]] = defaultdict(lambda: [0] * len(self.numbers))
        progres: dict[str, int] = defaultdict(int)
        total: dict[str, int] = defaultdict(int)
        for tps in self.data.tps:
            counted = self.timeline.votes(tps, snapshot)
            for code in (tps.code, tps.desa_code, tps.kecamatan_code, tps.code[:4], tps.code[:2]):
                total[code] += 1
                if counted is not None:
                    progres[code] += 1
                    sums = votes[code]
                    for i, number in enumerate(self.numbers):
                        sums[i] += counted[number]
        return {code: shapes.Totals(tuple(votes[code]), progres[code], total[code]) for code in total}


def _ceil(at: datetime) -> datetime:
    floor = floor_to(at, SNAPSHOT)
    return floor if floor == at else floor + SNAPSHOT
