"""The `national` scenario: a synthetic presidential race (`ppwp`) in the Pemilu 2024 layout, generated on demand.

Paths: `/pemilu/ppwp.json` (candidates), `/wilayah/pemilu/ppwp/0.json` and `…/{p}.json` … `…/{desa}.json` (region
lists), `/pemilu/hhcw/ppwp.json` and `…/{p}.json` … (aggregated files), `…/{p}/{kk}/{kec}/{desa}/{tps}.json` (TPS).

A TPS's numbers are a keyed hash of its code and version: no TPS is stored, a document is built when asked for.
Region sums are computed lazily and cached per region (the whole country once takes a few seconds). Change
batches (`publish_changes`, the admin API's `/_sim/national/changes`) give a fraction of TPS new numbers stamped with
the batch's time; each batch keeps the per-TPS deltas, so cached sums are brought up to date without a rescan.
A fraction `reporting` of TPS (deterministic) has data from the start; a change batch also brings in missing ones.
Snapshots come every 30 minutes, as in Pemilu 2024; candidate names are placeholders (SIMULASI …).
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sirekap.codes import LENGTHS, Level, level_of
from sirekap.races import RaceTarget
from sirekap.sim import shapes
from sirekap.sim.clock import floor_to
from sirekap.sim.faults import Fault
from sirekap.sim.national_tree import NationalTree, build_tree
from sirekap.sim.scenario import Document
from sirekap.timestamps import WIB, format_ts

SNAPSHOT = timedelta(minutes=30)
START = datetime(2024, 2, 15, 10, 0, tzinfo=WIB)
#: First uploads of election night; version-0 TPS files are stamped between this and 36 snapshots later.
FIRST_UPLOADS = datetime(2024, 2, 14, 15, 0, tzinfo=WIB)
CANDIDATES_SET = datetime(2023, 11, 13, 10, 0, tzinfo=WIB)
CANDIDATES = (
    ("100025", "SIMULASI CALON 01 - SIMULASI WAKIL 01", "#8CB9BD", 1),
    ("100026", "SIMULASI CALON 02 - SIMULASI WAKIL 02", "#ECB159", 2),
    ("100027", "SIMULASI CALON 03 - SIMULASI WAKIL 03", "#B67352", 3),
)
IDS = tuple(c[0] for c in CANDIDATES)
#: The race this scenario publishes (its paths come from `sirekap.races`).
RACE = RaceTarget.parse("ppwp")
TINGKAT = {Level.PROVINSI: 1, Level.KABUPATEN: 2, Level.KECAMATAN: 3, Level.DESA: 4, Level.TPS: 5}
Sums = tuple[int, int, int, int]  # votes of the three candidates, TPS with data


@dataclass(frozen=True)
class Batch:
    number: int
    at: datetime
    codes: tuple[str, ...]  # changed TPS, sorted
    deltas: tuple[Sums, ...]  # per changed TPS: new minus previous numbers

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "batch": self.number,
            "changed": len(self.codes),
            "files_above": self.files_above(),
            "ts": format_ts(self.at, zone),
            "at": str(self.at),
        }

    def files_above(self) -> int:
        """Region files whose numbers the batch changed: every level's file above a changed TPS, the national one
        included. With the changed TPS themselves, the least an incremental pass can fetch to see the batch."""
        lengths = [LENGTHS[level] for level in TINGKAT if level is not Level.TPS]
        return 1 + len({code[:length] for code in self.codes for length in lengths})


class National:
    name = "national"
    local_zone = WIB

    def __init__(
        self, *, tps: int = 823_236, seed: int = 2024, reporting: float = 1.0, source_zone: ZoneInfo = WIB
    ) -> None:
        self.tree: NationalTree = build_tree(tps, seed)
        self.seed = seed
        self.key = seed.to_bytes(8, "little", signed=True)
        self.reporting_below = int(reporting * 2**32)
        self.source_zone = source_zone
        self.batches: list[Batch] = []
        self._changed: list[set[str]] = []
        self._base: dict[str, Sums] = {}
        self._sums = lru_cache(maxsize=100_000)(self._sums_after)
        self._ids = {code: i for i, code in enumerate(self._regions(""), start=1)}

    # the scenario protocol

    def schedule(self) -> list[Fault]:
        return []

    def status(self, at: datetime) -> dict[str, Any]:
        return {"tps_total": self.tree.tps_total, "batches": [b.to_json(self.source_zone) for b in self.batches]}

    def document(self, path: str, at: datetime) -> Document | None:
        found = RACE.document_at(path)
        if found is None:
            return None
        what, code = found
        if what == "candidates":
            ts = format_ts(CANDIDATES_SET, self.source_zone)
            return Document(
                {i: shapes.candidate(ts, nama, warna, n) for i, nama, warna, n in CANDIDATES}, CANDIDATES_SET
            )
        known = code == "" or code in self.tree.children or code in self.tree.tps_in_desa
        if what == "list":
            return self._region_list(code) if known else None
        if len(code) == 13:
            return self._tps_file(code, at) if self.tree.has_tps(code) else None
        return self._region_file(code, at) if known else None

    # changes

    def publish_changes(self, fraction: float, now: datetime) -> Batch:
        """A new batch giving `fraction` of all TPS new numbers, published at the next snapshot after `now`."""
        at = floor_to(now, SNAPSHOT) + SNAPSHOT
        if self.batches:
            at = max(at, self.batches[-1].at + SNAPSHOT)
        number = len(self.batches) + 1
        rng = random.Random(f"{self.seed}:batch:{number}")
        count = max(1, round(fraction * self.tree.tps_total))
        codes = sorted(self.tree.tps_at(i) for i in rng.sample(range(self.tree.tps_total), count))
        deltas = []
        for code in codes:
            old, new = self._numbers(code, self._version(code, number - 1)), self._numbers(code, number)
            deltas.append((new[0] - old[0], new[1] - old[1], new[2] - old[2], new[3] - old[3]))
        self.batches.append(Batch(number, at, tuple(codes), tuple(deltas)))
        self._changed.append(set(codes))
        return self.batches[-1]

    def _visible(self, at: datetime) -> int:
        return bisect.bisect_right([b.at for b in self.batches], at) if self.batches else 0

    def _version(self, code: str, visible: int) -> int:
        for number in range(visible, 0, -1):
            if code in self._changed[number - 1]:
                return number
        return 0

    # numbers

    def _hash(self, code: str, version: int) -> int:
        digest = hashlib.blake2b(f"{code}:{version}".encode(), digest_size=16, key=self.key).digest()
        return int.from_bytes(digest, "little")

    def _reported(self, code: str, version: int, h: int) -> bool:
        return version > 0 or (h >> 96) < self.reporting_below

    def _numbers(self, code: str, version: int) -> Sums:
        """Votes of the three candidates and 1 if the TPS has data (0, 0, 0, 0 if not)."""
        h = self._hash(code, version)
        if not self._reported(code, version, h):
            return (0, 0, 0, 0)
        first, second, third = self._votes(code, h, self._administrasi(code, h)[5])
        return (first, second, third, 1)

    def _administrasi(self, code: str, h: int) -> tuple[int, int, int, int, int, int]:
        """Registered, voters from DPT, DPTb and non-DPT, invalid and valid votes."""
        registered = 150 + (int(code) * 2_654_435_761 + self.seed) % 151
        dpt = registered * (70 + h % 23) // 100
        dptb, non_dpt = (h >> 8) % 4, (h >> 12) % 6
        total = dpt + dptb + non_dpt
        invalid = (h >> 16) % (total // 40 + 1)
        return registered, dpt, dptb, non_dpt, invalid, total - invalid

    def _votes(self, code: str, h: int, valid: int) -> tuple[int, int, int]:
        lean = int(code[:4]) * 7919 % 30
        weights = (20 + lean + (h >> 24) % 15, 45 - lean // 2 + (h >> 32) % 15, 15 + (h >> 40) % 10)
        first = valid * weights[0] // sum(weights)
        second = valid * weights[1] // sum(weights)
        return first, second, valid - first - second

    def _tps_file(self, code: str, at: datetime) -> Document:
        version = self._version(code, self._visible(at))
        h = self._hash(code, version)
        if not self._reported(code, version, h):
            ts = format_ts(FIRST_UPLOADS, self.source_zone)
            return Document(shapes.pemilu_tps_file(ts, IDS, None), FIRST_UPLOADS)
        published = self.batches[version - 1].at if version else FIRST_UPLOADS + SNAPSHOT * ((h >> 56) % 37)
        registered, dpt, dptb, non_dpt, invalid, valid = self._administrasi(code, h)
        page = shapes.administrasi(registered, dpt, dptb, non_dpt, valid, invalid, h >> 48)
        images = shapes.image_urls(code, published, self.source_zone, h)
        sheet = shapes.Sheet(self._votes(code, h, valid), page, images)
        return Document(shapes.pemilu_tps_file(format_ts(published, self.source_zone), IDS, sheet), published)

    # regions

    def _regions(self, code: str) -> Iterator[str]:
        for child in self.tree.children.get(code, ()):
            yield child
            yield from self._regions(child)

    def _region_list(self, code: str) -> Document:
        if code in self.tree.tps_in_desa:
            entries = [(tps, f"TPS {tps[-3:]}", int(tps)) for tps in self.tree.tps_codes(code)]
            return Document(shapes.region_list(entries, 5), FIRST_UPLOADS)
        children = self.tree.children[code]
        tingkat = TINGKAT[level_of(children[0])]
        entries = [(child, self.tree.name(child), self._ids[child]) for child in children]
        return Document(shapes.region_list(entries, tingkat), FIRST_UPLOADS)

    def _region_file(self, code: str, at: datetime) -> Document:
        snapshot = floor_to(at, SNAPSHOT)
        visible = self._visible(snapshot)
        is_desa = code in self.tree.tps_in_desa
        children = self.tree.tps_codes(code) if is_desa else list(self.tree.children[code])
        rows = []
        for child in children:
            if is_desa:
                numbers = self._numbers(child, self._version(child, visible))
                rows.append((child, shapes.Totals(numbers[:3], numbers[3], 1)))
            else:
                rows.append((child, self._totals(child, visible)))
        chart = self._totals(code, visible)
        body = shapes.pemilu_region_file(format_ts(snapshot, self.source_zone), IDS, chart, rows)
        return Document(body, snapshot)

    def _totals(self, code: str, visible: int) -> shapes.Totals:
        sums = self._sums(code, visible)
        return shapes.Totals(sums[:3], sums[3], self._tps_below(code))

    def _tps_below(self, code: str) -> int:
        first = bisect.bisect_left(self.tree.desa, code)
        last = bisect.bisect_left(self.tree.desa, code + "~")
        return self.tree.first_tps[last] - self.tree.first_tps[first]

    def _sums_after(self, code: str, visible: int) -> Sums:
        """Sums below a region once `visible` batches are out: the base sums plus each batch's deltas below it."""
        total = list(self._base_sums(code))
        for batch in self.batches[:visible]:
            first = bisect.bisect_left(batch.codes, code)
            last = bisect.bisect_left(batch.codes, code + "~")
            for delta in batch.deltas[first:last]:
                for i in range(4):
                    total[i] += delta[i]
        return (total[0], total[1], total[2], total[3])

    def _base_sums(self, code: str) -> Sums:
        if code in self._base:
            return self._base[code]
        if code in self.tree.tps_in_desa:
            parts = [self._numbers(tps, 0) for tps in self.tree.tps_codes(code)]
        else:
            parts = [self._base_sums(child) for child in self.tree.children[code]]
        sums = (sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts), sum(p[3] for p in parts))
        if len(code) < 10:  # desa sums are cheap to redo; keeping them would hold 84k entries for little gain
            self._base[code] = sums
        return sums
