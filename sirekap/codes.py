"""Kemendagri region codes as Sirekap uses them (no dots).

A code's length says its level: 2 provinsi, 4 kabupaten/kota, 6 kecamatan, 10 desa/kelurahan, 13 TPS.
Every code starts with its parent's code, so ancestors are prefixes.
"""

from __future__ import annotations

import enum


class Level(enum.StrEnum):
    """A level of the region tree, TPS included."""

    NATIONAL = "nasional"
    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    KECAMATAN = "kecamatan"
    DESA = "desa"
    TPS = "tps"


#: Code length per level; the national root has the empty code.
LENGTHS: dict[Level, int] = {
    Level.NATIONAL: 0,
    Level.PROVINSI: 2,
    Level.KABUPATEN: 4,
    Level.KECAMATAN: 6,
    Level.DESA: 10,
    Level.TPS: 13,
}
_BY_LENGTH = {length: level for level, length in LENGTHS.items()}
_ORDER = list(LENGTHS)

#: Sirekap's `tingkat` in region lists: 1 provinsi … 5 TPS.
TINGKAT: dict[int, Level] = {
    1: Level.PROVINSI,
    2: Level.KABUPATEN,
    3: Level.KECAMATAN,
    4: Level.DESA,
    5: Level.TPS,
}


class CodeError(ValueError):
    """A string that is not a region code."""


def level_of(code: str) -> Level:
    """The level of a region or TPS code."""
    if not code.isdigit() and code != "":
        raise CodeError(f"region code {code!r} must be digits only")
    try:
        return _BY_LENGTH[len(code)]
    except KeyError:
        raise CodeError(f"region code {code!r} has {len(code)} digits; expected 2, 4, 6, 10 or 13") from None


def parent_of(code: str) -> str | None:
    """The parent's code, `""` for a provinsi (the national root), None for the root itself."""
    level = level_of(code)
    if level is Level.NATIONAL:
        return None
    return code[: LENGTHS[_ORDER[_ORDER.index(level) - 1]]]


def ancestors_of(code: str) -> list[str]:
    """Codes of every ancestor below the national root, top first: `5304121003001` → 53, 5304, 530412, 5304121003."""
    level = level_of(code)
    return [code[: LENGTHS[lv]] for lv in _ORDER[1 : _ORDER.index(level)]]


def child_level(level: Level) -> Level | None:
    """The level directly below, None below TPS."""
    index = _ORDER.index(level)
    return _ORDER[index + 1] if index + 1 < len(_ORDER) else None


def url_path(code: str) -> str:
    """The path segments Sirekap puts in a URL for a code: every ancestor, then the code itself.

    >>> url_path("5304121003001")
    '53/5304/530412/5304121003/5304121003001'
    """
    return "/".join([*ancestors_of(code), code]) if code else ""


def is_kelurahan(code: str) -> bool:
    """A desa-level code whose 7th digit is 1 is a kelurahan, 2 a desa."""
    return level_of(code) is Level.DESA and code[6] == "1"


def tps_code(desa_code: str, number: int) -> str:
    """The 13-digit code of TPS `number` in a desa."""
    if level_of(desa_code) is not Level.DESA:
        raise CodeError(f"{desa_code!r} is not a desa/kelurahan code")
    if not 1 <= number <= 999:
        raise CodeError(f"TPS number {number} out of range 1..999")
    return f"{desa_code}{number:03d}"
