"""Every Sirekap document shape (see docs/sirekap-format.md) parsed from the raw response bytes into typed records.

Pure: bytes in, records out, no I/O. Each parser decodes the JSON itself so a failure says what came back: a
`DocumentError` with a reason (html, truncated, not_json, shape) and where (`sirekap.decoding`). This module holds
the candidate file, the `/wilayah/…` region lists and the aggregated region files; the TPS file is
`sirekap.tps_files` (re-exported here).

Quirks survived rather than rejected: `ts` without a zone (read in the caller's source zone, returned as aware
UTC); the spurious `"null": null` chart key; `chart` null when charts are switched off; `persen` as int or float;
children without candidate keys or without progress; `psu` null.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sirekap.codes import TINGKAT, CodeError, Level, level_of
from sirekap.decoding import (
    DocumentError,
    as_object,
    candidate_votes,
    count,
    decode,
    flag,
    number,
    optional_text,
    required,
    shape_error,
    text,
    timestamp,
)
from sirekap.timestamps import WIB, format_ts, parse_ts
from sirekap.tps_files import ADMINISTRASI_KEYS, Administrasi, Shape, TpsFile, parse_tps_file

__all__ = [
    "ADMINISTRASI_KEYS",
    "Administrasi",
    "Candidate",
    "CandidateFile",
    "ChildRow",
    "DocumentError",
    "Progress",
    "RegionEntry",
    "RegionFile",
    "TpsFile",
    "format_ts",
    "parse_candidates",
    "parse_region_file",
    "parse_region_list",
    "parse_tps_file",
    "parse_ts",
]


@dataclass(frozen=True)
class Progress:
    """TPS reporting: `tps_in` of `tps_total`; `persen` is that share as the document states it, not a vote share."""

    tps_in: int
    tps_total: int
    persen: float | None


@dataclass(frozen=True)
class Candidate:
    """A paslon. `nama` is "CALON - WAKIL"; the empty box ("KOLOM KOSONG - ") has an empty `wakil`."""

    upstream_id: str
    nama: str
    calon: str
    wakil: str
    colour: str | None
    number: int
    ts: datetime | None


@dataclass(frozen=True)
class CandidateFile:
    """Candidates per race, each list sorted by ballot number: keyed by race region code (Pilkada), or `""` for the
    flat Pemilu file."""

    races: dict[str, list[Candidate]]


@dataclass(frozen=True)
class RegionEntry:
    """One entry of a `/wilayah/…` list. `upstream_id` is Sirekap's internal id: never key on it."""

    code: str
    name: str
    upstream_id: int
    level: Level


@dataclass(frozen=True)
class ChildRow:
    """One row of an aggregated file's table: a direct child of the region.

    `votes` is None when the row has no candidate keys (no data yet); `progress` is None when the row carries no
    TPS counts (always so in the Pemilu shape, which only has `persen`).
    """

    code: str
    votes: dict[str, int] | None
    progress: Progress | None
    status_progress: bool | None
    psu: str | None
    persen: float | None = None


@dataclass(frozen=True)
class RegionFile:
    """An aggregated region file: this region's totals (`votes`, empty when charts are switched off) and its rows."""

    ts: datetime | None
    mode: str
    psu: str | None
    shape: Shape
    votes: dict[str, int]
    progress: Progress
    children: dict[str, ChildRow]


# --- candidates and region lists -------------------------------------------------------------------------------------


def parse_candidates(raw: bytes, *, source_zone: ZoneInfo = WIB) -> CandidateFile:
    """`/pemilu/ppwp.json` (flat: one race keyed `""`) or `/pilkada/paslon/{race}.json` (keyed by race region)."""
    doc = as_object(decode(raw), "$")
    flat = any(type(entry) is dict and "nama" in entry for entry in doc.values())
    if flat:
        return CandidateFile({"": _candidate_list(doc, "$", source_zone)})
    races: dict[str, list[Candidate]] = {}
    for race, entries in doc.items():
        where = f"$.{race}"
        if not race.isdigit():
            raise shape_error(where, "a race region code", race)
        races[race] = _candidate_list(as_object(entries, where), where, source_zone)
    return CandidateFile(races)


def _candidate_list(entries: dict[str, Any], where: str, source_zone: ZoneInfo) -> list[Candidate]:
    candidates = [
        _candidate(key, as_object(entry, f"{where}.{key}"), f"{where}.{key}", source_zone)
        for key, entry in entries.items()
    ]
    candidates.sort(key=lambda candidate: candidate.number)
    return candidates


def _candidate(upstream_id: str, entry: dict[str, Any], where: str, source_zone: ZoneInfo) -> Candidate:
    nama = text(required(entry, "nama", where), f"{where}.nama")
    ballot = entry.get("nomor_urut")
    if type(ballot) is not int or ballot < 1:
        raise shape_error(f"{where}.nomor_urut", "a ballot number", ballot)
    calon, separator, wakil = nama.partition(" - ")
    if not separator and nama.rstrip().endswith(" -"):
        calon, wakil = nama.rstrip()[:-2], ""
    return Candidate(
        upstream_id=upstream_id,
        nama=nama,
        calon=calon.strip(),
        wakil=wakil.strip(),
        colour=optional_text(entry.get("warna"), f"{where}.warna") or None,
        number=ballot,
        ts=timestamp(entry, source_zone, f"{where}.ts"),
    )


def parse_region_list(raw: bytes) -> list[RegionEntry]:
    """A `/wilayah/…` list: `[{"nama", "id", "kode", "tingkat"}, …]`; the code's length must agree with `tingkat`."""
    doc = decode(raw)
    if type(doc) is not list:
        raise shape_error("$", "a list of regions", doc)
    entries = []
    for index, item in enumerate(doc):
        where = f"$[{index}]"
        entry = as_object(item, where)
        code = text(required(entry, "kode", where), f"{where}.kode")
        upstream_id = required(entry, "id", where)
        if type(upstream_id) is not int:
            raise shape_error(f"{where}.id", "an integer id", upstream_id)
        tingkat = required(entry, "tingkat", where)
        level = TINGKAT.get(tingkat) if type(tingkat) is int else None
        if level is None:
            raise shape_error(f"{where}.tingkat", "a tingkat 1..5", tingkat)
        try:
            code_level = level_of(code)
        except CodeError as error:
            raise DocumentError("shape", f"{where}.kode", str(error)) from None
        if code_level is not level:
            raise shape_error(f"{where}.kode", f"a {level} code (tingkat {tingkat})", code)
        entries.append(
            RegionEntry(
                code=code,
                name=text(required(entry, "nama", where), f"{where}.nama"),
                upstream_id=upstream_id,
                level=level,
            )
        )
    return entries


# --- aggregated region files ---------------------------------------------------------------------------------------


def parse_region_file(raw: bytes, *, source_zone: ZoneInfo) -> RegionFile:
    """An aggregated `hhcw`/`hr` region file, Pemilu 2024 shape or Pilkada 2024 (`tungsura`) shape."""
    doc = as_object(decode(raw), "$")
    mode = text(required(doc, "mode", "$"), "$.mode")
    shape: Shape
    if "tungsura" in doc:
        shape, base = "pilkada", "$.tungsura"
        body = as_object(doc["tungsura"], base)
    else:
        shape, base, body = "pemilu", "$", doc
    chart = body.get("chart")
    votes: dict[str, int] = {}
    chart_progress: Progress | None = None
    chart_persen: Any = None
    if chart is not None:
        chart = as_object(chart, f"{base}.chart")
        votes = candidate_votes(chart, f"{base}.chart")
        if shape == "pilkada" and chart.get("progres") is not None:
            chart_progress = _progress(chart["progres"], f"{base}.chart.progres")
        chart_persen = chart.get("persen")
    if doc.get("progres") is not None:
        progress = _progress(doc["progres"], "$.progres", chart_persen)
        if progress.persen is None and chart_progress is not None:
            progress = Progress(progress.tps_in, progress.tps_total, chart_progress.persen)
    elif chart_progress is not None:
        progress = chart_progress
    else:
        raise DocumentError("shape", "$.progres", "missing")
    table = as_object(required(body, "table", base), f"{base}.table")
    children = {code: _child_row(code, row, f"{base}.table.{code}") for code, row in table.items()}
    return RegionFile(
        ts=timestamp(doc, source_zone, "$.ts"),
        mode=mode,
        psu=optional_text(doc.get("psu"), "$.psu"),
        shape=shape,
        votes=votes,
        progress=progress,
        children=children,
    )


def _progress(section: Any, where: str, persen: Any = None) -> Progress:
    progres = as_object(section, where)
    return Progress(
        tps_in=count(required(progres, "progres", where), f"{where}.progres"),
        tps_total=count(required(progres, "total", where), f"{where}.total"),
        persen=number(progres.get("persen", persen), f"{where}.persen"),
    )


def _child_row(code: str, row: Any, where: str) -> ChildRow:
    row = as_object(row, where)
    progres = row.get("progres")
    progress = None if progres is None else _progress(progres, f"{where}.progres")
    persen = number(row.get("persen"), f"{where}.persen")
    return ChildRow(
        code=code,
        votes=candidate_votes(row, where) or None,
        progress=progress,
        status_progress=flag(row.get("status_progress"), f"{where}.status_progress"),
        psu=optional_text(row.get("psu"), f"{where}.psu"),
        persen=persen if persen is not None or progress is None else progress.persen,
    )
