"""Every Sirekap document shape (see docs/sirekap-format.md) parsed from the raw response bytes into typed records.

Pure: bytes in, records out, no I/O. Each parser decodes the JSON itself so a failure says what came back:

    DocumentError(ValueError)      .reason, .where (a JSON path, "$" for the whole body)
      reason "html"       an HTML error or WAF page ("access is denied") served instead of JSON
      reason "truncated"  JSON cut off before its end
      reason "not_json"   any other body that is not JSON, the empty body included
      reason "shape"      JSON, but not a Sirekap document of that kind (wrong type, missing required key)

Quirks survived rather than rejected: `ts` without a zone (read in the caller's source zone, returned as aware
UTC); the spurious `"null": null` chart key; `chart`, `images` or `administrasi` null or missing before upload;
`persen` as int or float; children without candidate keys or without progress; `psu` null.

Counts are non-negative integers. A float with an integral value (`12.0`) is accepted as that integer, since JSON
does not distinguish the two and some serializers write every number as a float; `12.5`, booleans, strings and
negative numbers are rejected as "shape". A candidate key whose count is null is dropped like the `"null"` key, so
a consistency check reports the candidate as missing instead of the whole document failing. Candidate ids are the
all-digit keys of a chart or row; other keys (`persen`, `progres`, `psu`, …) are never read as candidates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from sirekap.codes import TINGKAT, CodeError, Level, level_of
from sirekap.timestamps import WIB, format_ts, parse_ts

__all__ = [
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

Reason = Literal["html", "truncated", "not_json", "shape"]
Shape = Literal["pemilu", "pilkada"]


class DocumentError(ValueError):
    """A response body that is not the Sirekap document asked for; `reason` says why, `where` says where."""

    def __init__(self, reason: Reason, where: str, detail: str) -> None:
        super().__init__(f"{reason}: {where}: {detail}")
        self.reason: Reason = reason
        self.where = where
        self.detail = detail


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


@dataclass(frozen=True)
class Administrasi:
    """The administrasi page of a C.Hasil sheet. `_j` total, `_l` men, `_p` women; None where the key is missing."""

    suara_sah: int | None
    suara_tidak_sah: int | None
    suara_total: int | None
    pemilih_dpt_j: int | None
    pemilih_dpt_l: int | None
    pemilih_dpt_p: int | None
    pengguna_dpt_j: int | None
    pengguna_dpt_l: int | None
    pengguna_dpt_p: int | None
    pengguna_dptb_j: int | None
    pengguna_dptb_l: int | None
    pengguna_dptb_p: int | None
    pengguna_non_dpt_j: int | None
    pengguna_non_dpt_l: int | None
    pengguna_non_dpt_p: int | None
    pengguna_total_j: int | None
    pengguna_total_l: int | None
    pengguna_total_p: int | None


#: The administrasi keys, in field order (the JSON keys are the field names).
ADMINISTRASI_KEYS: tuple[str, ...] = tuple(Administrasi.__dataclass_fields__)


@dataclass(frozen=True)
class TpsFile:
    """One TPS. `votes` is None before upload; `images` the scan URLs present, `image_pages` every page slot as
    published (None where a page is missing), so `image_pages[1]` is the vote page when there is one."""

    ts: datetime | None
    mode: str
    psu: str | None
    shape: Shape
    votes: dict[str, int] | None
    administrasi: Administrasi | None
    images: list[str]
    status_suara: bool | None
    status_adm: bool | None
    image_pages: tuple[str | None, ...] = ()


# --- decoding ------------------------------------------------------------------------------------------------------

_PARTIAL_TOKEN = re.compile(r"-?(\d+(\.\d*)?([eE][+-]?\d*)?)?|t(r(u)?)?|f(a(l(s)?)?)?|n(u(l)?)?")


def decode(raw: bytes) -> Any:
    """The JSON value of a response body, or DocumentError "html" / "truncated" / "not_json"."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as error:
        if _looks_like_html(raw):
            raise DocumentError("html", "$", "an HTML page instead of JSON") from None
        if error.end >= len(raw) and "end of data" in error.reason:
            raise DocumentError("truncated", "$", "body ends inside a UTF-8 character") from None
        raise DocumentError("not_json", "$", f"not UTF-8 ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise _classify(raw, error) from None


def _looks_like_html(raw: bytes) -> bool:
    start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start == b"<" or b"access is denied" in raw[:4096].lower()


def _classify(raw: bytes, error: json.JSONDecodeError) -> DocumentError:
    if _looks_like_html(raw):
        return DocumentError("html", "$", "an HTML page instead of JSON")
    text: str = error.doc
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        return DocumentError("not_json", "$", "empty body")
    if body[0] in "{[":
        rest = text[error.pos :].rstrip()
        if (
            not rest
            or error.msg.startswith("Unterminated string")
            or (error.msg.startswith("Invalid \\uXXXX") and len(rest) <= 5)
            or _PARTIAL_TOKEN.fullmatch(rest)
        ):
            return DocumentError("truncated", "$", f"JSON ends early ({error.msg} at char {error.pos})")
    preview = body[:40]
    return DocumentError("not_json", "$", f"{error.msg} at char {error.pos}: {preview!r}")


# --- field readers (the slow paths: the fast path is inline `type(x) is int` tests) -----------------------------------


def _shape(where: str, expected: str, got: Any) -> DocumentError:
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return DocumentError("shape", where, f"expected {expected}, got {shown}")


def _object(value: Any, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _shape(where, "an object", value)
    return value


def _count(value: Any, where: str) -> int:
    """A non-negative integer count; an integral float is taken as that integer."""
    if type(value) is int and value >= 0:
        return value
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    raise _shape(where, "a non-negative integer count", value)


def _optional_count(value: Any, where: str) -> int | None:
    return None if value is None else _count(value, where)


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        return float(value)
    raise _shape(where, "a number", value)


def _text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise _shape(where, "a string", value)
    return value


def _optional_text(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _flag(value: Any, where: str) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise _shape(where, "true, false or null", value)


def _ts(doc: dict[str, Any], source_zone: ZoneInfo, where: str) -> datetime | None:
    value = doc.get("ts")
    if value is None or value == "":
        return None
    try:
        return parse_ts(value, source_zone)
    except ValueError as error:
        raise DocumentError("shape", where, str(error)) from None


def _required(doc: dict[str, Any], key: str, where: str) -> Any:
    try:
        return doc[key]
    except KeyError:
        raise DocumentError("shape", f"{where}.{key}", "missing") from None


def _votes(section: dict[str, Any], where: str) -> dict[str, int]:
    """Candidate counts of a chart or table row: its all-digit keys; null counts (and the "null" key) dropped."""
    votes: dict[str, int] = {}
    for key, value in section.items():
        if type(value) is int and value >= 0 and key.isdigit():
            votes[key] = value
        elif value is not None and key.isdigit():
            votes[key] = _count(value, f"{where}.{key}")
    return votes


def _progress(section: Any, where: str, persen: Any = None) -> Progress:
    progres = _object(section, where)
    return Progress(
        tps_in=_count(_required(progres, "progres", where), f"{where}.progres"),
        tps_total=_count(_required(progres, "total", where), f"{where}.total"),
        persen=_number(progres.get("persen", persen), f"{where}.persen"),
    )


# --- candidates and region lists -------------------------------------------------------------------------------------


def parse_candidates(raw: bytes, *, source_zone: ZoneInfo = WIB) -> CandidateFile:
    """`/pemilu/ppwp.json` (flat: one race keyed `""`) or `/pilkada/paslon/{race}.json` (keyed by race region)."""
    doc = _object(decode(raw), "$")
    flat = any(type(entry) is dict and "nama" in entry for entry in doc.values())
    if flat:
        return CandidateFile({"": _candidate_list(doc, "$", source_zone)})
    races: dict[str, list[Candidate]] = {}
    for race, entries in doc.items():
        where = f"$.{race}"
        if not race.isdigit():
            raise _shape(where, "a race region code", race)
        races[race] = _candidate_list(_object(entries, where), where, source_zone)
    return CandidateFile(races)


def _candidate_list(entries: dict[str, Any], where: str, source_zone: ZoneInfo) -> list[Candidate]:
    candidates = [
        _candidate(key, _object(entry, f"{where}.{key}"), f"{where}.{key}", source_zone)
        for key, entry in entries.items()
    ]
    candidates.sort(key=lambda candidate: candidate.number)
    return candidates


def _candidate(upstream_id: str, entry: dict[str, Any], where: str, source_zone: ZoneInfo) -> Candidate:
    nama = _text(_required(entry, "nama", where), f"{where}.nama")
    number = entry.get("nomor_urut")
    if type(number) is not int or number < 1:
        raise _shape(f"{where}.nomor_urut", "a ballot number", number)
    calon, separator, wakil = nama.partition(" - ")
    if not separator and nama.rstrip().endswith(" -"):
        calon, wakil = nama.rstrip()[:-2], ""
    return Candidate(
        upstream_id=upstream_id,
        nama=nama,
        calon=calon.strip(),
        wakil=wakil.strip(),
        colour=_optional_text(entry.get("warna"), f"{where}.warna") or None,
        number=number,
        ts=_ts(entry, source_zone, f"{where}.ts"),
    )


def parse_region_list(raw: bytes) -> list[RegionEntry]:
    """A `/wilayah/…` list: `[{"nama", "id", "kode", "tingkat"}, …]`; the code's length must agree with `tingkat`."""
    doc = decode(raw)
    if type(doc) is not list:
        raise _shape("$", "a list of regions", doc)
    entries = []
    for index, item in enumerate(doc):
        where = f"$[{index}]"
        entry = _object(item, where)
        code = _text(_required(entry, "kode", where), f"{where}.kode")
        upstream_id = _required(entry, "id", where)
        if type(upstream_id) is not int:
            raise _shape(f"{where}.id", "an integer id", upstream_id)
        tingkat = _required(entry, "tingkat", where)
        level = TINGKAT.get(tingkat) if type(tingkat) is int else None
        if level is None:
            raise _shape(f"{where}.tingkat", "a tingkat 1..5", tingkat)
        try:
            code_level = level_of(code)
        except CodeError as error:
            raise DocumentError("shape", f"{where}.kode", str(error)) from None
        if code_level is not level:
            raise _shape(f"{where}.kode", f"a {level} code (tingkat {tingkat})", code)
        entries.append(
            RegionEntry(
                code=code,
                name=_text(_required(entry, "nama", where), f"{where}.nama"),
                upstream_id=upstream_id,
                level=level,
            )
        )
    return entries


# --- aggregated region files ---------------------------------------------------------------------------------------


def parse_region_file(raw: bytes, *, source_zone: ZoneInfo) -> RegionFile:
    """An aggregated `hhcw`/`hr` region file, Pemilu 2024 shape or Pilkada 2024 (`tungsura`) shape."""
    doc = _object(decode(raw), "$")
    mode = _text(_required(doc, "mode", "$"), "$.mode")
    shape: Shape
    if "tungsura" in doc:
        shape, base = "pilkada", "$.tungsura"
        body = _object(doc["tungsura"], base)
    else:
        shape, base, body = "pemilu", "$", doc
    chart = body.get("chart")
    votes: dict[str, int] = {}
    chart_progress: Progress | None = None
    chart_persen: Any = None
    if chart is not None:
        chart = _object(chart, f"{base}.chart")
        votes = _votes(chart, f"{base}.chart")
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
    table = _object(_required(body, "table", base), f"{base}.table")
    children = {code: _child_row(code, row, f"{base}.table.{code}") for code, row in table.items()}
    return RegionFile(
        ts=_ts(doc, source_zone, "$.ts"),
        mode=mode,
        psu=_optional_text(doc.get("psu"), "$.psu"),
        shape=shape,
        votes=votes,
        progress=progress,
        children=children,
    )


def _child_row(code: str, row: Any, where: str) -> ChildRow:
    row = _object(row, where)
    progres = row.get("progres")
    progress = None if progres is None else _progress(progres, f"{where}.progres")
    persen = _number(row.get("persen"), f"{where}.persen")
    return ChildRow(
        code=code,
        votes=_votes(row, where) or None,
        progress=progress,
        status_progress=_flag(row.get("status_progress"), f"{where}.status_progress"),
        psu=_optional_text(row.get("psu"), f"{where}.psu"),
        persen=persen if persen is not None or progress is None else progress.persen,
    )


# --- TPS files -----------------------------------------------------------------------------------------------------


def parse_tps_file(raw: bytes, *, source_zone: ZoneInfo) -> TpsFile:
    """One TPS file, Pemilu 2024 shape or Pilkada 2024 shape (`chart` and `administrasi` under `tungsura`)."""
    doc = decode(raw)
    if type(doc) is not dict:
        raise _shape("$", "an object", doc)
    mode = doc.get("mode")
    if type(mode) is not str:
        mode = _text(_required(doc, "mode", "$"), "$.mode")
    shape: Shape
    if "tungsura" in doc:
        shape, base = "pilkada", "$.tungsura"
        body = doc["tungsura"]
        if body is None:
            body = {}
        elif type(body) is not dict:
            raise _shape(base, "an object", body)
    else:
        shape, base, body = "pemilu", "$", doc

    chart = body.get("chart")
    votes: dict[str, int] | None = None
    if chart is not None:
        if type(chart) is not dict:
            raise _shape(f"{base}.chart", "an object", chart)
        votes = _votes(chart, f"{base}.chart") or None

    page = body.get("administrasi")
    administrasi: Administrasi | None = None
    if page is not None:
        if type(page) is not dict:
            raise _shape(f"{base}.administrasi", "an object", page)
        administrasi = _administrasi(page, f"{base}.administrasi")

    pages = doc.get("images")
    images: list[str] = []
    image_pages: tuple[str | None, ...] = ()
    if pages is not None:
        if type(pages) is not list:
            raise _shape("$.images", "a list", pages)
        for index, url in enumerate(pages):
            if type(url) is str:
                images.append(url)
            elif url is not None:
                raise _shape(f"$.images[{index}]", "an image URL or null", url)
        image_pages = tuple(pages)

    status_suara = doc.get("status_suara")
    status_adm = doc.get("status_adm")
    psu = doc.get("psu")
    return _record(
        TpsFile,
        {
            "ts": _ts(doc, source_zone, "$.ts"),
            "mode": mode,
            "psu": psu if psu is None or type(psu) is str else _text(psu, "$.psu"),
            "shape": shape,
            "votes": votes,
            "administrasi": administrasi,
            "images": images,
            "status_suara": status_suara if type(status_suara) is bool else _flag(status_suara, "$.status_suara"),
            "status_adm": status_adm if type(status_adm) is bool else _flag(status_adm, "$.status_adm"),
            "image_pages": image_pages,
        },
    )


def _administrasi(page: dict[str, Any], where: str) -> Administrasi:
    values = page.values()
    # the common case, a complete page of plain counts, is checked with a few C-level passes
    if page.keys() == _ADMINISTRASI_KEYSET and set(map(type, values)) == _INT_ONLY and min(values) >= 0:
        return _record(Administrasi, page)
    return _record(Administrasi, {key: _optional_count(page.get(key), f"{where}.{key}") for key in ADMINISTRASI_KEYS})


_ADMINISTRASI_KEYSET = frozenset(ADMINISTRASI_KEYS)
_INT_ONLY = {int}
_R = TypeVar("_R")


def _record(cls: type[_R], fields: dict[str, Any]) -> _R:
    """A frozen dataclass instance built without its generated __init__, which sets each field through
    object.__setattr__ and costs more than JSON-decoding the whole TPS file (4 µs for Administrasi alone).
    `fields` must name every field exactly once; the result compares, hashes and prints like any other instance."""
    record: _R = object.__new__(cls)
    record.__dict__.update(fields)
    return record
