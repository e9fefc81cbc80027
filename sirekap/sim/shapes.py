"""Sirekap's JSON documents as plain dicts, in the Pemilu 2024 and Pilkada 2024 shapes (see sirekap-format.md).

Pure builders: the scenarios decide the numbers and the times, these decide the shape, quirks included: `ts` without
a zone, the spurious `"null": null` chart key of TPS files, no candidate keys at all for a child without data,
`persen` as an int in the rows of TPS children (a float everywhere else), Pilkada TPS pages without the optional
`pengguna_dptb_*`, `pengguna_non_dpt_*` and `pengguna_total_*`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]


@dataclass(frozen=True)
class Totals:
    """Votes per candidate id (in the race's candidate order) and how many TPS of how many reported."""

    votes: tuple[int, ...]
    progres: int
    total: int


@dataclass(frozen=True)
class Sheet:
    """What a TPS file carries once uploaded: votes in candidate order (as read), the administrasi page, images."""

    votes: tuple[int, ...]
    administrasi: dict[str, int]
    images: tuple[str, ...]


def persen(progres: int, total: int) -> float:
    return round(progres * 100 / total, 2) if total else 0.0


def region_list(entries: Iterable[tuple[str, str, int]], tingkat: int) -> list[Json]:
    """A `/wilayah/…` list from (code, name, internal id) entries."""
    return [{"nama": name, "id": internal_id, "kode": code, "tingkat": tingkat} for code, name, internal_id in entries]


def candidate(ts: str, nama: str, warna: str, nomor_urut: int) -> Json:
    return {"ts": ts, "nama": nama, "warna": warna, "nomor_urut": nomor_urut}


def administrasi(
    registered: int, dpt: int, dptb: int, non_dpt: int, valid: int, invalid: int, key: int
) -> dict[str, int]:
    """The administrasi page; `key` (any int) decides the split between men (`_l`) and women (`_p`)."""
    page: dict[str, int] = {"suara_sah": valid, "suara_tidak_sah": invalid, "suara_total": valid + invalid}
    groups = {"pemilih_dpt": registered, "pengguna_dpt": dpt, "pengguna_dptb": dptb, "pengguna_non_dpt": non_dpt}
    groups["pengguna_total"] = dpt + dptb + non_dpt
    for i, (name, total) in enumerate(groups.items()):
        men = min(total, max(0, total // 2 + (key >> (3 * i)) % 5 - 2))
        page |= {f"{name}_j": total, f"{name}_l": men, f"{name}_p": total - men}
    return page


def _counts(ids: Sequence[str], totals: Totals) -> Json:
    return dict(zip(ids, totals.votes, strict=True)) if totals.progres else {}


def pemilu_region_file(ts: str, ids: Sequence[str], chart: Totals, rows: Iterable[tuple[str, Totals]]) -> Json:
    table: Json = {}
    for code, row in rows:
        table[code] = {"psu": "Reguler", **_counts(ids, row), "persen": _row_persen(row), "status_progress": _done(row)}
    return {
        "ts": ts,
        "psu": "Reguler",
        "mode": "hhcw",
        "chart": {**_counts(ids, chart), "persen": persen(chart.progres, chart.total)},
        "table": table,
        "progres": {"total": chart.total, "progres": chart.progres},
    }


def pilkada_region_file(
    ts: str, ids: Sequence[str], chart: Totals, rows: Iterable[tuple[str, Totals]], *, chart_votes: bool = True
) -> Json:
    """A Pilkada 2024 aggregated file; `chart_votes` False for a province's overview of its kab/kota races, whose
    chart has only the progress (each race has its own candidates, in its row)."""
    table: Json = {}
    for code, row in rows:
        progres = {"total": row.total, "persen": _row_persen(row), "progres": row.progres}
        table[code] = {"psu": "Reguler", **_counts(ids, row), "progres": progres, "status_progress": _done(row)}
    chart_progres = {"total": chart.total, "persen": persen(chart.progres, chart.total), "progres": chart.progres}
    counts = _counts(ids, chart) if chart_votes else {}
    return {
        "mode": "hhcw",
        "psu": "Reguler",
        "ts": ts,
        "progres": {"total": chart.total, "progres": chart.progres},
        "tungsura": {"chart": {**counts, "progres": chart_progres}, "table": table},
    }


def _row_persen(row: Totals) -> float | int:
    # Rows of single TPS carry an int persen (0 or 100): one of the quirks clients must survive.
    return int(persen(row.progres, row.total)) if row.total == 1 else persen(row.progres, row.total)


def _done(row: Totals) -> bool:
    return row.total > 0 and row.progres == row.total


def _tps_parts(ids: Sequence[str], sheet: Sheet | None) -> tuple[Json | None, dict[str, int] | None, list[Any]]:
    if sheet is None:
        return None, None, [None, None, None]
    return {"null": None, **dict(zip(ids, sheet.votes, strict=True))}, dict(sheet.administrasi), list(sheet.images)


def pemilu_tps_file(ts: str, ids: Sequence[str], sheet: Sheet | None) -> Json:
    chart, page, images = _tps_parts(ids, sheet)
    uploaded = sheet is not None
    return {
        "mode": "hhcw",
        "chart": chart,
        "images": images,
        "administrasi": page,
        "psu": None,
        "ts": ts,
        "status_suara": uploaded,
        "status_adm": uploaded,
    }


#: What a Pilkada 2024 TPS page publishes: no voters-who-came figures but those of the DPT (`pengguna_dpt_*`).
PILKADA_ADMINISTRASI = frozenset(
    {"suara_sah", "suara_tidak_sah", "suara_total"}
    | {f"{group}_{part}" for group in ("pemilih_dpt", "pengguna_dpt") for part in "jlp"}
)


def pilkada_tps_file(ts: str, ids: Sequence[str], sheet: Sheet | None) -> Json:
    chart, page, images = _tps_parts(ids, sheet)
    if page is not None:
        page = {key: value for key, value in page.items() if key in PILKADA_ADMINISTRASI}
    uploaded = sheet is not None
    return {
        "mode": "hhcw",
        "psu": None,
        "ts": ts,
        "tungsura": {"chart": chart, "administrasi": page},
        "images": images,
        "status_suara": uploaded,
        "status_adm": uploaded,
    }


def image_urls(tps: str, uploaded_at: datetime, zone: ZoneInfo, key: int) -> tuple[str, ...]:
    """Three scan URLs named like Sirekap's (`<tps>-<date>-<time>--<uuid>.jpg`), derived from `key`."""
    stamp = uploaded_at.astimezone(zone).strftime("%Y%m%d-%H%M%S")
    hexes = f"{key & (2**128 - 1):032x}"
    uuid = f"{hexes[:8]}-{hexes[8:12]}-4{hexes[13:16]}-a{hexes[17:20]}-{hexes[20:32]}"
    return tuple(f"https://sirekap-sim.invalid/scan/{tps}-{stamp}--{uuid}-{page}.jpg" for page in (1, 2, 3))


def frozen(then: Json, now_ts: str, *, drop_charts: bool) -> Json:
    """A policy freeze: the document as it was, stamped with the current `ts`, charts switched off if asked."""
    result = {**then, "ts": now_ts} if "ts" in then else dict(then)
    if drop_charts and "table" in result:
        result["chart"] = None
    if drop_charts and isinstance(result.get("tungsura"), dict) and "table" in result["tungsura"]:
        result["tungsura"] = {**result["tungsura"], "chart": None}
    return result
