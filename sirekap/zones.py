"""The local time zone of a region, from its province: WIB, WITA or WIT (Indonesia has no daylight saving).

Pure and tiny: the province is the first two digits of any region code. The national root (`""`) speaks WIB, as
KPU's national systems do.
"""

from __future__ import annotations

WIB = "Asia/Jakarta"  # UTC+7
WITA = "Asia/Makassar"  # UTC+8
WIT = "Asia/Jayapura"  # UTC+9

#: Provinces outside WIB, by Kemendagri code; every other province is WIB (Sumatra, Java, West/Central Kalimantan).
_NOT_WIB: dict[str, str] = {
    "51": WITA,  # BALI
    "52": WITA,  # NUSA TENGGARA BARAT
    "53": WITA,  # NUSA TENGGARA TIMUR
    "63": WITA,  # KALIMANTAN SELATAN
    "64": WITA,  # KALIMANTAN TIMUR
    "65": WITA,  # KALIMANTAN UTARA
    "71": WITA,  # SULAWESI UTARA
    "72": WITA,  # SULAWESI TENGAH
    "73": WITA,  # SULAWESI SELATAN
    "74": WITA,  # SULAWESI TENGGARA
    "75": WITA,  # GORONTALO
    "76": WITA,  # SULAWESI BARAT
    "81": WIT,  # MALUKU
    "82": WIT,  # MALUKU UTARA
    "91": WIT,  # PAPUA BARAT
    "92": WIT,  # PAPUA BARAT DAYA
    "93": WIT,  # PAPUA SELATAN
    "94": WIT,  # PAPUA TENGAH
    "95": WIT,  # PAPUA PEGUNUNGAN
    "96": WIT,  # PAPUA
}


def zone_of(region_code: str) -> str:
    """The IANA zone of a region: `zone_of("5304")` is "Asia/Makassar" (WITA); the national root is WIB."""
    if region_code and (len(region_code) < 2 or not region_code[:2].isdigit()):
        raise ValueError(f"{region_code!r} is not a region code")
    return _NOT_WIB.get(region_code[:2], WIB)
