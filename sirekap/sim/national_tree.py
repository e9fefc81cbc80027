"""A synthetic national region tree, deterministic from a seed and a TPS count (SYNTHETIC names and sizes).

With the default 823,236 TPS it has Pemilu 2024's shape: 38 provinsi (real codes and names), 514 kab/kota,
7,277 kecamatan, 83,731 desa/kelurahan; smaller counts scale every level down (at least two provinsi). Only the
regions are held in memory (a few MB); TPS are numbered 001… inside their desa and never stored one by one.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

from sirekap.belu import apportion

_Codes = Callable[[str, int], list[str]]

PEMILU_2024 = {"tps": 823_236, "kabupaten": 514, "kecamatan": 7_277, "desa": 83_731}
PROVINSI = (
    ("11", "ACEH"), ("12", "SUMATERA UTARA"), ("13", "SUMATERA BARAT"), ("14", "RIAU"), ("15", "JAMBI"),
    ("16", "SUMATERA SELATAN"), ("17", "BENGKULU"), ("18", "LAMPUNG"), ("19", "KEPULAUAN BANGKA BELITUNG"),
    ("21", "KEPULAUAN RIAU"), ("31", "DKI JAKARTA"), ("32", "JAWA BARAT"), ("33", "JAWA TENGAH"),
    ("34", "DAERAH ISTIMEWA YOGYAKARTA"), ("35", "JAWA TIMUR"), ("36", "BANTEN"), ("51", "BALI"),
    ("52", "NUSA TENGGARA BARAT"), ("53", "NUSA TENGGARA TIMUR"), ("61", "KALIMANTAN BARAT"),
    ("62", "KALIMANTAN TENGAH"), ("63", "KALIMANTAN SELATAN"), ("64", "KALIMANTAN TIMUR"), ("65", "KALIMANTAN UTARA"),
    ("71", "SULAWESI UTARA"), ("72", "SULAWESI TENGAH"), ("73", "SULAWESI SELATAN"), ("74", "SULAWESI TENGGARA"),
    ("75", "GORONTALO"), ("76", "SULAWESI BARAT"), ("81", "MALUKU"), ("82", "MALUKU UTARA"), ("91", "PAPUA BARAT"),
    ("92", "PAPUA BARAT DAYA"), ("93", "PAPUA SELATAN"), ("94", "PAPUA TENGAH"), ("95", "PAPUA PEGUNUNGAN"),
    ("96", "PAPUA"),
)  # fmt: skip
SYLLABLES = (
    "ba",
    "lu",
    "ma",
    "ta",
    "si",
    "ra",
    "ngi",
    "ko",
    "pa",
    "we",
    "du",
    "ka",
    "ne",
    "so",
    "ri",
    "wa",
    "tu",
    "le",
)


@dataclass(frozen=True)
class NationalTree:
    children: dict[str, tuple[str, ...]]  # "" → provinsi, provinsi → kab/kota, … kecamatan → desa
    tps_in_desa: dict[str, int]
    desa: tuple[str, ...]  # every desa code, in code order
    first_tps: tuple[int, ...]  # index of each desa's first TPS (same order), then the TPS count

    @property
    def tps_total(self) -> int:
        return self.first_tps[-1]

    def name(self, code: str) -> str:
        if len(code) == 2:
            return dict(PROVINSI)[code]
        digest = hashlib.blake2b(code.encode(), digest_size=4).digest()
        word = "".join(SYLLABLES[b % len(SYLLABLES)] for b in digest[: 2 + digest[3] % 2]).upper()
        return f"KOTA {word}" if len(code) == 4 and int(code[2:]) >= 71 else word

    def has_tps(self, code: str) -> bool:
        return 1 <= int(code[10:]) <= self.tps_in_desa.get(code[:10], 0)

    def tps_codes(self, desa: str) -> list[str]:
        return [f"{desa}{n:03d}" for n in range(1, self.tps_in_desa[desa] + 1)]

    def tps_at(self, index: int) -> str:
        """The code of the `index`-th TPS of the country (0-based, in code order)."""
        i = bisect.bisect_right(self.first_tps, index) - 1
        return f"{self.desa[i]}{index - self.first_tps[i] + 1:03d}"


def build_tree(tps: int, seed: int) -> NationalTree:
    scale = tps / PEMILU_2024["tps"]
    n_provinsi = min(len(PROVINSI), max(2, math.ceil(len(PROVINSI) * scale)))
    n_kab = max(n_provinsi, round(PEMILU_2024["kabupaten"] * scale))
    n_kec = max(n_kab, round(PEMILU_2024["kecamatan"] * scale))
    n_desa = max(n_kec, round(PEMILU_2024["desa"] * scale))
    if tps < n_desa:
        raise ValueError(f"{tps} TPS cannot fill {n_desa} desa")
    rng = random.Random(seed)
    provinsi = sorted(rng.sample([code for code, _ in PROVINSI], n_provinsi))
    children: dict[str, tuple[str, ...]] = {"": tuple(provinsi)}
    kabupaten = _split(children, provinsi, n_kab, rng, _kab_codes)
    kecamatan = _split(children, kabupaten, n_kec, rng, lambda parent, n: _sparse(parent, n, 99, 2, rng))
    desa = _split(children, kecamatan, n_desa, rng, _desa_codes)
    per_desa = apportion(tps, [rng.uniform(0.5, 1.5) for _ in desa], minimum=1)
    return NationalTree(children, dict(zip(desa, per_desa, strict=True)), tuple(desa), (0, *accumulate(per_desa)))


def _split(
    children: dict[str, tuple[str, ...]], parents: list[str], n: int, rng: random.Random, codes: _Codes
) -> list[str]:
    below: list[str] = []
    for parent, count in zip(parents, apportion(n, [rng.uniform(0.5, 1.5) for _ in parents], minimum=1), strict=True):
        children[parent] = tuple(codes(parent, count))
        below.extend(children[parent])
    return below


def _kab_codes(provinsi: str, n: int) -> list[str]:
    kota = n // 5
    return [f"{provinsi}{i:02d}" for i in range(1, n - kota + 1)] + [f"{provinsi}{71 + i:02d}" for i in range(kota)]


def _desa_codes(kecamatan: str, n: int) -> list[str]:
    kelurahan = n // 8
    return [f"{kecamatan}1{i:03d}" for i in range(1, kelurahan + 1)] + [
        f"{kecamatan}2{i:03d}" for i in range(1, n - kelurahan + 1)
    ]


def _sparse(parent: str, n: int, highest: int, digits: int, rng: random.Random) -> list[str]:
    """`n` codes below `parent`, not contiguous (as real kecamatan codes are not)."""
    if n > highest:
        raise ValueError(f"{parent} cannot have {n} children")
    return [f"{parent}{number:0{digits}d}" for number in sorted(rng.sample(range(1, highest + 1), n))]
