"""Parsing every Sirekap shape of sirekap-format.md, its quirks, and the bodies that must be rejected."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sirekap.codes import Level
from sirekap.documents import (
    Administrasi,
    ChildRow,
    DocumentError,
    Progress,
    parse_candidates,
    parse_region_file,
    parse_region_list,
    parse_tps_file,
    parse_ts,
)
from sirekap.timestamps import format_ts

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")

PEMILU_CANDIDATES = b"""{
 "100025": {"ts": "2024-02-14 23:00:00", "nama": "H. ANIES RASYID BASWEDAN, Ph.D. - Dr. (H.C.) H. A. MUHAIMIN ISKANDAR",
            "warna": "#8CB9BD", "nomor_urut": 1},
 "100027": {"ts": "2024-02-14 23:00:00", "nama": "H. GANJAR PRANOWO, S.H., M.I.P. - Prof. Dr. H. M. MAHFUD MD",
            "warna": "#ECB159", "nomor_urut": 3},
 "100026": {"ts": "2024-02-14 23:00:00", "nama": "H. PRABOWO SUBIANTO - GIBRAN RAKABUMING RAKA",
            "warna": "#B67352", "nomor_urut": 2}
}"""

PILKADA_CANDIDATES = b"""{
 "5304": {"1000900": {"ts": "2024-11-27 20:00:00", "nama": "AGUS TARU - VICENTE HORNAI", "warna": "#B67352",
                      "nomor_urut": 2},
          "1000899": {"ts": "2024-11-27 20:00:00", "nama": "WILLYBRODUS LAY - JUSTINA HALE", "warna": "#8CB9BD",
                      "nomor_urut": 1}},
 "5301": {"1000701": {"ts": "2024-11-27 20:00:00", "nama": "TUNGGAL CALON - WAKIL TUNGGAL", "warna": "#8CB9BD",
                      "nomor_urut": 1},
          "1000702": {"ts": "2024-11-27 20:00:00", "nama": "KOLOM KOSONG - ", "warna": null, "nomor_urut": 2}}
}"""

REGION_LIST = b"""[{"nama": "KOTA ATAMBUA", "id": 63180, "kode": "530412", "tingkat": 3},
 {"nama": "TASIFETOTIMUR", "id": 63182, "kode": "530405", "tingkat": 3}]"""

PEMILU_REGION = b"""{"ts": "2024-02-26 09:00:15", "psu": "Reguler", "mode": "hhcw",
 "chart": {"100025": 111762, "100026": 20829, "100027": 2372, "persen": 91.39},
 "table": {"110101": {"psu": "Reguler", "100025": 2883, "100026": 458, "100027": 46, "persen": 100.0,
                      "status_progress": true},
           "110102": {"psu": "Reguler", "persen": 0.0, "status_progress": false}},
 "progres": {"total": 697, "progres": 637}}"""

PILKADA_REGION = b"""{"mode": "hhcw", "psu": "Reguler", "ts": "2024-11-28 10:00:05",
 "progres": {"total": 374, "progres": 367},
 "tungsura": {"chart": {"1000899": 45053, "1000900": 33558, "progres": {"total": 374, "persen": 98.13, "progres": 367}},
              "table": {"530401": {"psu": "Reguler", "1000899": 1601, "1000900": 2115,
                                   "progres": {"total": 24, "persen": 100.0, "progres": 24},
                                   "status_progress": true}}}}"""

PEMILU_TPS = b"""{"mode": "hhcw", "chart": {"null": null, "100025": 202, "100026": 38, "100027": 7},
 "images": ["https://sirekap-obj-data.kpu.go.id/pemilu/c1/11/01/01/2001/1101012001003-20240218-163000--0f4c.jpg",
            "https://example.invalid/page2.jpg", "https://example.invalid/page3.jpg"],
 "administrasi": {"suara_sah": 247, "suara_tidak_sah": 6, "suara_total": 253,
                  "pemilih_dpt_j": 293, "pemilih_dpt_l": 138, "pemilih_dpt_p": 155,
                  "pengguna_dpt_j": 248, "pengguna_dpt_l": 118, "pengguna_dpt_p": 130,
                  "pengguna_dptb_j": 1, "pengguna_dptb_l": 0, "pengguna_dptb_p": 1,
                  "pengguna_non_dpt_j": 4, "pengguna_non_dpt_l": 2, "pengguna_non_dpt_p": 2,
                  "pengguna_total_j": 253, "pengguna_total_l": 120, "pengguna_total_p": 133},
 "psu": null, "ts": "2024-02-22 17:00:00", "status_suara": true, "status_adm": true}"""

EXAMPLE_ADMINISTRASI = Administrasi(
    suara_sah=247,
    suara_tidak_sah=6,
    suara_total=253,
    pemilih_dpt_j=293,
    pemilih_dpt_l=138,
    pemilih_dpt_p=155,
    pengguna_dpt_j=248,
    pengguna_dpt_l=118,
    pengguna_dpt_p=130,
    pengguna_dptb_j=1,
    pengguna_dptb_l=0,
    pengguna_dptb_p=1,
    pengguna_non_dpt_j=4,
    pengguna_non_dpt_l=2,
    pengguna_non_dpt_p=2,
    pengguna_total_j=253,
    pengguna_total_l=120,
    pengguna_total_p=133,
)


def pilkada_tps(**changes: Any) -> dict[str, Any]:
    """The Pemilu example moved into the Pilkada shape (chart and administrasi under tungsura)."""
    pemilu = json.loads(PEMILU_TPS)
    doc = {
        "mode": "hhcw",
        "psu": None,
        "ts": "2024-11-27 16:45:00",
        "tungsura": {"chart": {"null": None, "1000899": 150, "1000900": 97}, "administrasi": pemilu["administrasi"]},
        "images": pemilu["images"],
        "status_suara": True,
        "status_adm": False,
    }
    return doc | changes


def pemilu_tps(**changes: Any) -> dict[str, Any]:
    return dict(json.loads(PEMILU_TPS)) | changes


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def rejected(parse: Any, raw: bytes) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse(raw)
    return caught.value


def parse_tps(raw: bytes) -> Any:
    return parse_tps_file(raw, source_zone=WIB)


def parse_region(raw: bytes) -> Any:
    return parse_region_file(raw, source_zone=WIB)


# --- candidates ----------------------------------------------------------------------------------------------------


def test_pemilu_candidates_form_one_race_sorted_by_ballot_number() -> None:
    candidates = parse_candidates(PEMILU_CANDIDATES).races
    assert list(candidates) == [""]
    race = candidates[""]
    assert [(c.upstream_id, c.number) for c in race] == [("100025", 1), ("100026", 2), ("100027", 3)]
    prabowo = race[1]
    assert prabowo.calon == "H. PRABOWO SUBIANTO"
    assert prabowo.wakil == "GIBRAN RAKABUMING RAKA"
    assert prabowo.colour == "#B67352"
    assert prabowo.ts == datetime(2024, 2, 14, 16, 0, tzinfo=UTC)


def test_pilkada_candidates_are_keyed_by_race_and_kolom_kosong_has_no_wakil() -> None:
    races = parse_candidates(PILKADA_CANDIDATES, source_zone=WITA).races
    assert sorted(races) == ["5301", "5304"]
    assert [c.upstream_id for c in races["5304"]] == ["1000899", "1000900"]
    assert races["5304"][0].calon == "WILLYBRODUS LAY"
    empty_box = races["5301"][1]
    assert (empty_box.nama, empty_box.calon, empty_box.wakil, empty_box.colour) == (
        "KOLOM KOSONG - ",
        "KOLOM KOSONG",
        "",
        None,
    )
    assert empty_box.ts == datetime(2024, 11, 27, 12, 0, tzinfo=UTC)


def test_candidate_without_nama_or_with_a_text_ballot_number_is_rejected() -> None:
    error = rejected(parse_candidates, b'{"5304": {"1000899": {"nomor_urut": 1}}}')
    assert (error.reason, error.where) == ("shape", "$.5304.1000899.nama")
    error = rejected(parse_candidates, b'{"100025": {"nama": "A - B", "nomor_urut": "1"}}')
    assert (error.reason, error.where) == ("shape", "$.100025.nomor_urut")


# --- region lists --------------------------------------------------------------------------------------------------


def test_region_list_keeps_codes_names_and_levels() -> None:
    entries = parse_region_list(REGION_LIST)
    assert [(e.code, e.name, e.upstream_id, e.level) for e in entries] == [
        ("530412", "KOTA ATAMBUA", 63180, Level.KECAMATAN),
        ("530405", "TASIFETOTIMUR", 63182, Level.KECAMATAN),
    ]


def test_region_list_rejects_a_code_that_contradicts_its_tingkat() -> None:
    error = rejected(parse_region_list, b'[{"nama": "BELU", "id": 1, "kode": "5304", "tingkat": 3}]')
    assert (error.reason, error.where) == ("shape", "$[0].kode")
    error = rejected(parse_region_list, b'[{"nama": "X", "id": 1, "kode": "53", "tingkat": 9}]')
    assert (error.reason, error.where) == ("shape", "$[0].tingkat")
    error = rejected(parse_region_list, b'{"nama": "X"}')
    assert (error.reason, error.where) == ("shape", "$")


# --- aggregated region files ---------------------------------------------------------------------------------------


def test_pemilu_region_file() -> None:
    doc = parse_region(PEMILU_REGION)
    assert doc.shape == "pemilu"
    assert (doc.mode, doc.psu) == ("hhcw", "Reguler")
    assert doc.ts == datetime(2024, 2, 26, 2, 0, 15, tzinfo=UTC)
    assert doc.votes == {"100025": 111762, "100026": 20829, "100027": 2372}
    assert doc.progress == Progress(tps_in=637, tps_total=697, persen=91.39)
    assert doc.children["110101"] == ChildRow(
        code="110101",
        votes={"100025": 2883, "100026": 458, "100027": 46},
        progress=None,
        status_progress=True,
        psu="Reguler",
        persen=100.0,
    )
    silent = doc.children["110102"]
    assert silent.votes is None
    assert (silent.status_progress, silent.persen) == (False, 0.0)


def test_pilkada_region_file_reads_progress_from_chart_and_rows() -> None:
    doc = parse_region(PILKADA_REGION)
    assert doc.shape == "pilkada"
    assert doc.ts == datetime(2024, 11, 28, 3, 0, 5, tzinfo=UTC)
    assert doc.votes == {"1000899": 45053, "1000900": 33558}
    assert doc.progress == Progress(tps_in=367, tps_total=374, persen=98.13)
    row = doc.children["530401"]
    assert row.votes == {"1000899": 1601, "1000900": 2115}
    assert row.progress == Progress(tps_in=24, tps_total=24, persen=100.0)
    assert row.persen == 100.0


def test_region_file_survives_int_persen_missing_row_progress_and_switched_off_charts() -> None:
    doc = json.loads(PILKADA_REGION)
    doc["tungsura"]["chart"] = None
    doc["tungsura"]["table"]["530402"] = {"psu": None, "status_progress": False}
    doc["tungsura"]["table"]["530401"]["progres"]["persen"] = 100
    parsed = parse_region(body(doc))
    assert parsed.votes == {}
    assert parsed.progress == Progress(tps_in=367, tps_total=374, persen=None)
    assert parsed.children["530401"].progress == Progress(24, 24, 100.0)
    assert parsed.children["530402"] == ChildRow("530402", None, None, False, None, None)


def test_region_file_rejects_a_text_persen_with_its_path() -> None:
    doc = json.loads(PEMILU_REGION)
    doc["table"]["110101"]["persen"] = "abc"
    error = rejected(parse_region, body(doc))
    assert (error.reason, error.where) == ("shape", "$.table.110101.persen")
    assert str(error) == "shape: $.table.110101.persen: expected a number, got 'abc'"


def test_region_file_rejects_bad_counts_with_their_path() -> None:
    doc = json.loads(PILKADA_REGION)
    doc["tungsura"]["chart"]["1000899"] = -1
    error = rejected(parse_region, body(doc))
    assert (error.reason, error.where) == ("shape", "$.tungsura.chart.1000899")
    doc = json.loads(PEMILU_REGION)
    del doc["progres"]
    error = rejected(parse_region, body(doc))
    assert (error.reason, error.where) == ("shape", "$.progres")
    doc = json.loads(PEMILU_REGION)
    doc["table"] = []
    assert rejected(parse_region, body(doc)).where == "$.table"


# --- TPS files -----------------------------------------------------------------------------------------------------


def test_pemilu_tps_file_drops_the_null_chart_key() -> None:
    doc = parse_tps(PEMILU_TPS)
    assert doc.shape == "pemilu"
    assert doc.votes == {"100025": 202, "100026": 38, "100027": 7}
    assert doc.administrasi == EXAMPLE_ADMINISTRASI
    assert doc.ts == datetime(2024, 2, 22, 10, 0, tzinfo=UTC)
    assert (doc.mode, doc.psu, doc.status_suara, doc.status_adm) == ("hhcw", None, True, True)
    assert len(doc.images) == 3
    assert doc.images[1] == "https://example.invalid/page2.jpg"
    # the records are built without __init__ on the hot path: they must still be whole, equal and hashable
    assert doc == dataclasses.replace(doc)
    assert hash(doc.administrasi) == hash(EXAMPLE_ADMINISTRASI)
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.mode = "hr"


def test_pilkada_tps_file_reads_counts_under_tungsura() -> None:
    doc = parse_tps(body(pilkada_tps()))
    assert doc.shape == "pilkada"
    assert doc.votes == {"1000899": 150, "1000900": 97}
    assert doc.administrasi == EXAMPLE_ADMINISTRASI
    assert (doc.status_suara, doc.status_adm) == (True, False)


@pytest.mark.parametrize(
    "doc",
    [
        pemilu_tps(chart=None, administrasi=None, images=None, status_suara=False, status_adm=False),
        {"mode": "hhcw", "psu": None, "ts": "2024-02-14 13:00:00"},
        pilkada_tps(tungsura={"chart": None, "administrasi": None}, images=[None, None, None]),
        pilkada_tps(tungsura=None, images=[]),
        pemilu_tps(chart={"null": None}, administrasi=None, images=[]),
    ],
    ids=["pemilu-nulls", "pemilu-missing", "pilkada-nulls", "pilkada-no-tungsura", "only-null-key"],
)
def test_tps_file_before_upload_has_no_votes_and_no_page(doc: dict[str, Any]) -> None:
    parsed = parse_tps(body(doc))
    assert parsed.votes is None
    assert parsed.administrasi is None
    assert parsed.images == []


def test_tps_file_keeps_image_page_positions() -> None:
    parsed = parse_tps(body(pemilu_tps(images=[None, "https://x.invalid/2.jpg", None])))
    assert parsed.images == ["https://x.invalid/2.jpg"]
    assert parsed.image_pages == (None, "https://x.invalid/2.jpg", None)


def test_partial_administrasi_page_keeps_missing_keys_as_none() -> None:
    parsed = parse_tps(body(pemilu_tps(administrasi={"suara_sah": 247, "suara_total": None})))
    assert parsed.administrasi is not None
    assert parsed.administrasi.suara_sah == 247
    assert parsed.administrasi.suara_total is None
    assert parsed.administrasi.pengguna_total_p is None


def test_integral_float_counts_are_taken_as_integers() -> None:
    parsed = parse_tps(body(pemilu_tps(chart={"100025": 12.0})))
    assert parsed.votes == {"100025": 12}
    assert type(parsed.votes["100025"]) is int


def test_null_count_for_a_candidate_is_dropped() -> None:
    parsed = parse_tps(body(pemilu_tps(chart={"100025": None, "100026": 38})))
    assert parsed.votes == {"100026": 38}


@pytest.mark.parametrize(
    ("chart", "where"),
    [
        ({"100025": "202"}, "$.chart.100025"),
        ({"100025": -1}, "$.chart.100025"),
        ({"100025": True}, "$.chart.100025"),
        ({"100025": 12.5}, "$.chart.100025"),
        ([202, 38], "$.chart"),
    ],
    ids=["string", "negative", "bool", "fraction", "list"],
)
def test_tps_file_rejects_bad_vote_counts(chart: Any, where: str) -> None:
    error = rejected(parse_tps, body(pemilu_tps(chart=chart)))
    assert (error.reason, error.where) == ("shape", where)


def test_tps_file_rejects_bad_administrasi_and_flags_with_their_path() -> None:
    page = dict(json.loads(PEMILU_TPS)["administrasi"], pengguna_dpt_l=False)
    error = rejected(parse_tps, body(pemilu_tps(administrasi=page)))
    assert (error.reason, error.where) == ("shape", "$.administrasi.pengguna_dpt_l")
    page = dict(page, pengguna_dpt_l="118")
    error = rejected(parse_tps, body(pilkada_tps(tungsura={"chart": None, "administrasi": page})))
    assert (error.reason, error.where) == ("shape", "$.tungsura.administrasi.pengguna_dpt_l")
    assert rejected(parse_tps, body(pemilu_tps(status_suara="ya"))).where == "$.status_suara"
    assert rejected(parse_tps, body(pemilu_tps(images="x.jpg"))).where == "$.images"
    assert rejected(parse_tps, body(pemilu_tps(images=["a.jpg", 3]))).where == "$.images[1]"
    assert rejected(parse_tps, body(pemilu_tps(psu=1))).where == "$.psu"
    assert rejected(parse_tps, body(pemilu_tps(ts="kemarin"))).where == "$.ts"


def test_a_json_object_that_is_not_a_tps_file_is_a_shape_error() -> None:
    error = rejected(parse_tps, b'{"error": "not found"}')
    assert (error.reason, error.where) == ("shape", "$.mode")
    error = rejected(parse_tps, b"[1, 2, 3]")
    assert (error.reason, error.where) == ("shape", "$")
    assert "expected an object" in str(error)


# --- bodies that are not JSON ------------------------------------------------------------------------------------

HTML_PAGE = b"""\xef\xbb\xbf
  <!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"""
ACCESS_DENIED = (
    b"Access Denied\r\nYou don't have permission to access this server. Reference #18.6b2d. Access is denied"
)


@pytest.mark.parametrize("parse", [parse_tps, parse_region, parse_candidates, parse_region_list])
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (HTML_PAGE, "html"),
        (ACCESS_DENIED, "html"),
        (PEMILU_TPS[:100], "truncated"),
        (PEMILU_REGION[:-1], "truncated"),
        (b'{"mode": "hhcw", "chart": {"100025": 20', "truncated"),
        (b'{"mode": "hhcw", "status_suara": tr', "truncated"),
        (b'{"mode": "hhcw", "nama": "FATUBA\xe2\x80', "truncated"),
        (b"", "not_json"),
        (b"  \n", "not_json"),
        (b"Service Unavailable", "not_json"),
        (b'{"mode": "hhcw"} trailing', "not_json"),
        (b"\xff\xfe\x00garbage", "not_json"),
    ],
    ids=[
        "html-200",
        "access-denied",
        "cut-tps",
        "cut-region",
        "cut-number",
        "cut-literal",
        "cut-utf8",
        "empty",
        "blank",
        "plain-text",
        "extra-data",
        "binary",
    ],
)
def test_bodies_that_are_not_documents_are_told_apart(parse: Any, raw: bytes, reason: str) -> None:
    error = rejected(parse, raw)
    assert (error.reason, error.where) == (reason, "$")
    assert str(error).startswith(f"{reason}: $: ")


# --- timestamps ----------------------------------------------------------------------------------------------------


def test_parse_ts_reads_wall_time_in_the_source_zone() -> None:
    assert parse_ts("2024-02-26 09:00:15", WIB) == datetime(2024, 2, 26, 2, 0, 15, tzinfo=UTC)
    assert parse_ts("2020-12-09 14:00:00", WITA) == datetime(2020, 12, 9, 6, 0, tzinfo=UTC)
    assert parse_ts("2024-02-26T02:00:15+00:00", WITA) == datetime(2024, 2, 26, 2, 0, 15, tzinfo=UTC)
    for bad in ("", "2024-02-26", "26/02/2024 09:00", "kemarin"):
        with pytest.raises(ValueError):
            parse_ts(bad, WIB)


@given(
    # hypothesis wants naive bounds and adds the zone itself
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    zone=st.sampled_from([WIB, WITA, ZoneInfo("Asia/Jayapura"), ZoneInfo("UTC")]),
)
def test_parse_ts_inverts_format_ts(at: datetime, zone: ZoneInfo) -> None:
    at = at.replace(microsecond=0)
    written = format_ts(at, zone)
    assert len(written) == 19
    assert parse_ts(written, zone) == at
