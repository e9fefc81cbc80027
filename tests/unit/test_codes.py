"""Region codes: levels, parents, ancestors, URL paths, TPS codes, and the strings that are not codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sirekap.codes import (
    TINGKAT,
    CodeError,
    Level,
    ancestors_of,
    child_level,
    is_kelurahan,
    level_of,
    parent_of,
    tps_code,
    url_path,
)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("", Level.NATIONAL),
        ("53", Level.PROVINSI),
        ("5304", Level.KABUPATEN),
        ("530412", Level.KECAMATAN),
        ("5304121003", Level.DESA),
        ("5304121003001", Level.TPS),
    ],
)
def test_level_follows_the_length(code: str, level: Level) -> None:
    assert level_of(code) is level


@pytest.mark.parametrize("bad", ["5", "53041", "53.04", "5304x", "53041210030011", " 53"])
def test_strings_that_are_not_codes_are_rejected(bad: str) -> None:
    with pytest.raises(CodeError):
        level_of(bad)


def test_parents_and_ancestors_are_prefixes() -> None:
    assert parent_of("5304121003001") == "5304121003"
    assert parent_of("5304121003") == "530412"
    assert parent_of("53") == ""
    assert parent_of("") is None
    assert ancestors_of("5304121003001") == ["53", "5304", "530412", "5304121003"]
    assert ancestors_of("53") == []
    assert ancestors_of("") == []


def test_url_path_repeats_every_ancestor() -> None:
    assert url_path("5304121003001") == "53/5304/530412/5304121003/5304121003001"
    assert url_path("5304") == "53/5304"
    assert url_path("") == ""
    with pytest.raises(CodeError):
        url_path("530")


def test_tps_code_pads_the_number() -> None:
    assert tps_code("5304121003", 1) == "5304121003001"
    assert tps_code("5304121003", 123) == "5304121003123"
    with pytest.raises(CodeError):
        tps_code("530412", 1)
    with pytest.raises(CodeError):
        tps_code("5304121003", 0)
    with pytest.raises(CodeError):
        tps_code("5304121003", 1000)


def test_kelurahan_and_desa_by_the_seventh_digit() -> None:
    assert is_kelurahan("5304121003")
    assert not is_kelurahan("5304122001")
    assert not is_kelurahan("530412")


def test_tingkat_and_child_levels() -> None:
    assert [TINGKAT[t] for t in range(1, 6)] == [
        Level.PROVINSI,
        Level.KABUPATEN,
        Level.KECAMATAN,
        Level.DESA,
        Level.TPS,
    ]
    assert child_level(Level.NATIONAL) is Level.PROVINSI
    assert child_level(Level.DESA) is Level.TPS
    assert child_level(Level.TPS) is None


@given(st.from_regex(r"[0-9]{10}", fullmatch=True), st.integers(1, 999))
def test_a_tps_code_walks_back_up_to_its_desa(desa: str, number: int) -> None:
    code = tps_code(desa, number)
    assert level_of(code) is Level.TPS
    assert parent_of(code) == desa
    assert ancestors_of(code)[-1] == desa
    assert url_path(code).split("/") == [*ancestors_of(code), code]
