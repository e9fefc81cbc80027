"""Pilkada Belu 2020: the published facts, and the synthetic per-TPS detail that fills in what was never published.

The race, its paslon, the pleno kecamatan rows, the kabupaten result and the posko claims are public facts
(`data/belu-2020.json`); the region tree is Belu's real one (`data/belu-5304-regions.json`, 2024 TPS codes).
SYNTHETIC: which 426 of the 2024 TPS codes existed in 2020, the registered voters (DPT) of each TPS and every per-TPS
count. They are allocated deterministically so that per-kecamatan TPS and DPT match the synthetic allocation in the
data file and per-kecamatan votes sum exactly to the official pleno rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from sirekap.codes import Level

SYNTHETIC_NOTE = "SYNTHETIC: per-TPS registered voters and counts are allocated, not published figures"
#: The days of the PPK (kecamatan) plenos: "PPK (kecamatan) plenos begin, through 14 Dec" (the data's timeline). The
#: day of each kecamatan's pleno is not published.
PLENO_KECAMATAN_DAYS = (date(2020, 12, 12), date(2020, 12, 14))


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: Level
    parent_code: str | None


@dataclass(frozen=True)
class Paslon:
    number: int
    calon: str
    wakil: str
    short_name: str
    colour: str


@dataclass(frozen=True)
class TpsCount:
    """A TPS's C.Hasil (SYNTHETIC): votes by ballot number and the administrasi numbers."""

    votes: dict[int, int]
    invalid: int
    voters_dptb: int
    voters_non_dpt: int

    @property
    def valid(self) -> int:
        return sum(self.votes.values())

    @property
    def total(self) -> int:
        return self.valid + self.invalid

    @property
    def voters_dpt(self) -> int:
        return self.total - self.voters_dptb - self.voters_non_dpt


@dataclass(frozen=True)
class Tps:
    code: str
    number: int
    desa_code: str
    kecamatan_code: str
    registered_voters: int  # SYNTHETIC
    count: TpsCount  # SYNTHETIC


@dataclass(frozen=True)
class PlenoRow:
    kecamatan_code: str
    name: str
    votes: dict[int, int]


@dataclass(frozen=True)
class PoskoClaim:
    claimant: int  # ballot number of the paslon whose post made the claim
    short_name: str
    at_local: str  # ISO local time, date only when only the day is known
    tps_claimed: int
    votes: dict[int, int]
    invalid: int | None


@dataclass(frozen=True)
class Belu2020:
    kind: str
    title: str
    region_code: str
    voting_day: date
    time_zone: str
    voter_cap_per_tps: int
    paslon: tuple[Paslon, ...]
    regions: tuple[Region, ...]  # provinsi, kabupaten, kecamatan, desa: parents before children
    tps: tuple[Tps, ...]
    pleno_kecamatan: tuple[PlenoRow, ...]
    pleno_kabupaten: dict[int, int]
    pleno_kabupaten_at_local: str
    posko_claims: tuple[PoskoClaim, ...]
    timeline: tuple[tuple[str, str], ...]

    @property
    def registered_voters(self) -> int:
        return sum(t.registered_voters for t in self.tps)


COLOURS = {1: "#1f77b4", 2: "#d62728"}


def apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder), each at least `minimum`."""
    if total < minimum * len(weights):
        raise ValueError(f"cannot give {len(weights)} shares at least {minimum} from {total}")
    rest = total - minimum * len(weights)
    scale = rest / sum(weights)
    exact = [w * scale for w in weights]
    shares = [int(e) for e in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (exact[i] - shares[i], -i), reverse=True)
    for i in by_remainder[: rest - sum(shares)]:
        shares[i] += 1
    return [s + minimum for s in shares]


def _read(name: str) -> Any:
    return json.loads(resources.files("sirekap").joinpath("data", name).read_text(encoding="utf-8"))


@cache
def belu_2020() -> Belu2020:
    """The Belu 2020 race, built from the packaged data files (deterministic)."""
    return build(_read("belu-2020.json"), _read("belu-5304-regions.json"))


def build(facts: dict[str, Any], tree: dict[str, Any]) -> Belu2020:
    election = facts["election"]
    rng = random.Random("belu-2020")
    province = election["region"]["provinsi"]
    kabupaten = tree["kabupaten"]
    regions = [
        Region(province["kode"], province["nama"], Level.PROVINSI, None),
        Region(kabupaten["kode"], kabupaten["nama_sirekap"], Level.KABUPATEN, province["kode"]),
    ]
    allocation = {row["kode"]: row for row in facts["synthetic_allocation"]["rows"]}
    pleno = {row["kode"]: row for row in facts["official_pleno_kecamatan"]["rows"]}
    all_tps: list[Tps] = []
    for kecamatan in tree["kecamatan"]:
        code = kecamatan["kode"]
        regions.append(Region(code, kecamatan["nama_sirekap"], Level.KECAMATAN, kabupaten["kode"]))
        desas = kecamatan["desa"]
        for desa in desas:
            regions.append(Region(desa["kode"], desa["nama_sirekap"], Level.DESA, code))
        per_desa = apportion(allocation[code]["tps"], [d["tps_pemilu2024"] for d in desas], minimum=1)
        codes = [(d["kode"], tps) for d, n in zip(desas, per_desa, strict=True) for tps in d["tps_kode"][:n]]
        dpt = apportion(allocation[code]["dpt"], [rng.uniform(0.85, 1.15) for _ in codes])
        votes = {
            int(number): apportion(n, [v * rng.uniform(0.95, 1.05) for v in dpt])
            for number, n in pleno[code]["votes"].items()
        }
        for i, (desa_code, tps_code) in enumerate(codes):
            count = _count({number: shares[i] for number, shares in votes.items()}, dpt[i], rng)
            all_tps.append(Tps(tps_code, int(tps_code[-3:]), desa_code, code, dpt[i], count))
    return Belu2020(
        kind=election["kind"],
        title=election["title"],
        region_code=election["region"]["kode"],
        voting_day=date.fromisoformat(election["voting_day"]),
        time_zone=election["time_zone"],
        voter_cap_per_tps=election["max_voters_per_tps"],
        paslon=tuple(
            Paslon(p["nomor_urut"], p["calon"], p["wakil"], p["paket"], COLOURS.get(p["nomor_urut"], "#7f7f7f"))
            for p in facts["paslon"]
        ),
        regions=tuple(regions),
        tps=tuple(all_tps),
        pleno_kecamatan=tuple(
            PlenoRow(r["kode"], r["nama"], {int(k): v for k, v in r["votes"].items()})
            for r in facts["official_pleno_kecamatan"]["rows"]
        ),
        pleno_kabupaten={int(k): v for k, v in facts["official_pleno_kecamatan"]["total"].items() if k.isdigit()},
        pleno_kabupaten_at_local=f"{facts['official_pleno_kabupaten']['date']}T"
        f"{facts['official_pleno_kabupaten']['time_local']}",
        posko_claims=tuple(_claims(facts)),
        timeline=tuple((t["at_local"], t["what"]) for t in facts["timeline"]),
    )


def _count(votes: dict[int, int], registered: int, rng: random.Random) -> TpsCount:
    valid = sum(votes.values())
    if valid > registered:
        raise ValueError(f"allocation gave {valid} valid votes to a TPS of {registered} registered voters")
    invalid = min(round(valid * rng.uniform(0.005, 0.025)), registered - valid)
    # A few voters came with an ID card (non-DPT) or moved in (DPTb); the rest are on this TPS's DPT.
    return TpsCount(votes, invalid, voters_dptb=rng.choice((0, 0, 0, 1, 2)), voters_non_dpt=rng.choice((0, 0, 1, 2, 3)))


def _claims(facts: dict[str, Any]) -> list[PoskoClaim]:
    numbers = {p["paket"]: p["nomor_urut"] for p in facts["paslon"]}
    return [
        PoskoClaim(
            numbers[c["paket"]],
            c["paket"],
            c["at_local"],
            c["tps_claimed"],
            {int(k): v for k, v in c["votes"].items()},
            c.get("invalid_votes"),
        )
        for c in facts["posko_claims"]
    ]
