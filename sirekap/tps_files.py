"""The TPS file (one polling station's C.Hasil as Sirekap read it), Pemilu 2024 and Pilkada 2024 shapes. Pure.

Quirks survived rather than rejected: the spurious `"null": null` chart key; `chart`, `images` or `administrasi`
null or missing before upload; `psu` null; administrasi keys that a shape may omit (Pilkada 2024 TPS files publish
no `pengguna_total_*`, `pengguna_dptb_*` or `pengguna_non_dpt_*`): a missing key is None, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sirekap.decoding import (
    DocumentError,
    as_object,
    candidate_votes,
    decode,
    flag,
    optional_count,
    record,
    required,
    shape_error,
    text,
    timestamp,
)

__all__ = [
    "ADMINISTRASI_KEYS",
    "OPTIONAL_ADMINISTRASI_KEYS",
    "Administrasi",
    "DocumentError",
    "TpsFile",
    "parse_tps_file",
]

Shape = Literal["pemilu", "pilkada"]


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
#: Keys the real upstream may leave out of a published page (every Pilkada 2024 TPS file does): voters who came,
#: by group. Their absence is a note about completeness, never an anomaly.
OPTIONAL_ADMINISTRASI_KEYS: frozenset[str] = frozenset(
    key for key in ADMINISTRASI_KEYS if key.startswith(("pengguna_dptb_", "pengguna_non_dpt_", "pengguna_total_"))
)


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


def parse_tps_file(raw: bytes, *, source_zone: ZoneInfo) -> TpsFile:
    """One TPS file, Pemilu 2024 shape or Pilkada 2024 shape (`chart` and `administrasi` under `tungsura`)."""
    doc = decode(raw)
    if type(doc) is not dict:
        raise shape_error("$", "an object", doc)
    mode = doc.get("mode")
    if type(mode) is not str:
        mode = text(required(doc, "mode", "$"), "$.mode")
    shape: Shape
    if "tungsura" in doc:
        shape, base = "pilkada", "$.tungsura"
        body = doc["tungsura"]
        if body is None:
            body = {}
        elif type(body) is not dict:
            raise shape_error(base, "an object", body)
    else:
        shape, base, body = "pemilu", "$", doc

    chart = body.get("chart")
    votes: dict[str, int] | None = None
    if chart is not None:
        votes = candidate_votes(as_object(chart, f"{base}.chart"), f"{base}.chart") or None

    page = body.get("administrasi")
    administrasi = None if page is None else _administrasi(as_object(page, f"{base}.administrasi"), base)

    images, image_pages = _images(doc.get("images"))
    status_suara = doc.get("status_suara")
    status_adm = doc.get("status_adm")
    psu = doc.get("psu")
    return record(
        TpsFile,
        {
            "ts": timestamp(doc, source_zone, "$.ts"),
            "mode": mode,
            "psu": psu if psu is None or type(psu) is str else text(psu, "$.psu"),
            "shape": shape,
            "votes": votes,
            "administrasi": administrasi,
            "images": images,
            "status_suara": status_suara if type(status_suara) is bool else flag(status_suara, "$.status_suara"),
            "status_adm": status_adm if type(status_adm) is bool else flag(status_adm, "$.status_adm"),
            "image_pages": image_pages,
        },
    )


def _images(pages: Any) -> tuple[list[str], tuple[str | None, ...]]:
    if pages is None:
        return [], ()
    if type(pages) is not list:
        raise shape_error("$.images", "a list", pages)
    images: list[str] = []
    for index, url in enumerate(pages):
        if type(url) is str:
            images.append(url)
        elif url is not None:
            raise shape_error(f"$.images[{index}]", "an image URL or null", url)
    return images, tuple(pages)


def _administrasi(page: dict[str, Any], base: str) -> Administrasi:
    values = page.values()
    # the common case, a complete page of plain counts, is checked with a few C-level passes
    if page.keys() == _ADMINISTRASI_KEYSET and set(map(type, values)) == _INT_ONLY and min(values) >= 0:
        return record(Administrasi, page)
    where = f"{base}.administrasi"
    return record(Administrasi, {key: optional_count(page.get(key), f"{where}.{key}") for key in ADMINISTRASI_KEYS})


_ADMINISTRASI_KEYSET = frozenset(ADMINISTRASI_KEYS)
_INT_ONLY = {int}
