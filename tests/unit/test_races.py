"""Race targets as configured (PANTAU_SYNC_RACES), their elections, labels and slugs, and the real layout's paths."""

from __future__ import annotations

from datetime import date

import pytest

from sirekap.races import (
    PEMILU_2024,
    PILKADA_2020,
    PILKADA_2024,
    RaceError,
    RaceTarget,
    parse_targets,
    race_file_url,
)

BELU = RaceTarget.parse("pkwkk 5304")


def test_a_target_without_an_election_is_the_newest_known_election_of_its_kind() -> None:
    assert RaceTarget("pkwkk", "5304", PILKADA_2024) == BELU
    assert (BELU.label, BELU.slug, BELU.election.day, BELU.election.voter_cap) == (
        "pkwkk-5304",
        "pkwkk-5304-2024",
        date(2024, 11, 27),
        600,
    )
    assert RaceTarget.parse("ppwp").election == PEMILU_2024
    assert RaceTarget.parse("pkwkp 53").election == PILKADA_2024


def test_the_election_is_a_year_or_a_voting_day() -> None:
    belu_2020 = RaceTarget.parse("pkwkk 5304 2020")
    assert (belu_2020.election, belu_2020.slug, belu_2020.election.voter_cap) == (PILKADA_2020, "pkwkk-5304-2020", 500)
    assert RaceTarget.parse("pkwkk 5304 2024-11-27") == BELU
    future = RaceTarget.parse("pkwkk 5304 2029-11-28")
    assert (future.election.day, future.slug, future.election.voter_cap) == (date(2029, 11, 28), "pkwkk-5304-2029", 600)
    assert RaceTarget.parse("ppwp 0 2024").election == PEMILU_2024
    # the label names the race in both services' metrics, whatever the election
    assert belu_2020.label == future.label == "pkwkk-5304"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "an empty race"),
        ("pilkada 5304", "unknown race 'pilkada' in 'pilkada 5304': the kinds are ppwp, pkwkp, pkwkk"),
        ("pkwkk", "race 'pkwkk': pkwkk needs a kabupaten code, e.g. 'pkwkk 5304'"),
        ("pkwkk 53", "race 'pkwkk 53': pkwkk needs a kabupaten code (4 digits), not '53'"),
        ("pkwkp 5304", "race 'pkwkp 5304': pkwkp needs a provinsi code (2 digits), not '5304'"),
        ("ppwp 53", "race 'ppwp 53': ppwp covers the whole country: write 'ppwp' or 'ppwp 0'"),
        ("pkwkk 53x4", "race 'pkwkk 53x4': region code '53x4' must be digits only"),
        ("pkwkk 5304 2019", "race 'pkwkk 5304 2019': no known Pilkada in 2019 (known: 2020, 2024)"),
        ("ppwp 0 2020", "no known Pemilu in 2020 (known: 2024)"),
        ("pkwkk 5304 2024-11-28", "Pilkada 2024 voted on 2024-11-27, not 2024-11-28"),
        ("pkwkk 5304 soon", "'soon' is neither a year nor a voting day (YYYY-MM-DD)"),
        ("pkwkk 5304 2020 extra", "too many words"),
    ],
)
def test_a_bad_target_is_refused_with_what_to_write(text: str, message: str) -> None:
    with pytest.raises(RaceError) as refused:
        RaceTarget.parse(text)
    assert message in str(refused.value)


def test_a_list_of_targets_names_each_race_once() -> None:
    assert parse_targets("pkwkk 5304, ppwp ,, pkwkp 53 2020") == (
        BELU,
        RaceTarget.parse("ppwp"),
        RaceTarget("pkwkp", "53", PILKADA_2020),
    )
    assert parse_targets("") == ()
    with pytest.raises(RaceError, match="race 'ppwp 0': ppwp 0 is listed twice"):
        parse_targets("ppwp, ppwp 0")


def test_a_bupati_race_names_its_province_and_kabupaten_from_the_governors_lists() -> None:
    assert [BELU.region_list_path(code) for code in ("", "53", "5304", "530412", "5304121003")] == [
        "/wilayah/pilkada/pkwkp/0.json",
        "/wilayah/pilkada/pkwkp/53.json",
        "/wilayah/pilkada/pkwkk/53/5304.json",
        "/wilayah/pilkada/pkwkk/53/5304/530412.json",
        "/wilayah/pilkada/pkwkk/53/5304/530412/5304121003.json",
    ]
    assert BELU.candidates_path() == "/pilkada/paslon/pkwkk.json"
    assert BELU.race_file_path() == "/pilkada/hhcw/pkwkk/53/5304.json"
    assert BELU.region_file_path("53") == "/pilkada/hhcw/pkwkk/53.json"  # the province's overview
    assert BELU.region_file_path("5304121003001") == "/pilkada/hhcw/pkwkk/53/5304/530412/5304121003/5304121003001.json"
    governor = RaceTarget.parse("pkwkp 53")
    assert governor.region_list_path("5304") == "/wilayah/pilkada/pkwkp/53/5304.json"
    president = RaceTarget.parse("ppwp")
    assert president.candidates_path() == "/pemilu/ppwp.json"
    assert (president.region_list_path(""), president.race_file_path()) == (
        "/wilayah/pemilu/ppwp/0.json",
        "/pemilu/hhcw/ppwp.json",
    )
    assert race_file_url("http://sim:8002/", BELU) == "http://sim:8002/pilkada/hhcw/pkwkk/53/5304.json"


def test_document_at_is_the_inverse_of_the_paths_and_knows_no_invented_one() -> None:
    for code in ("", "53", "5304", "530412", "5304121003"):
        assert BELU.document_at(BELU.region_list_path(code)) == ("list", code)
    for code in ("53", "5304", "530412", "5304121003", "5304121003001"):
        assert BELU.document_at(BELU.region_file_path(code)) == ("file", code)
    assert BELU.document_at("/pilkada/paslon/pkwkk.json") == ("candidates", "")
    for invented in (
        "/wilayah/pilkada/pkwkk/0.json",
        "/wilayah/pilkada/pkwkk/53.json",
        "/wilayah/pilkada/pkwkp/53/5304.json",  # the governor's tree, not this race's
        "/wilayah/pilkada/pkwkk/53/5304/530412/5304121003/5304121003001.json",  # no list below a TPS
        "/pilkada/hhcw/pkwkk.json",
        "/pilkada/hhcw/pkwkk/0.json",
        "/pilkada/hhcw/pkwkk/5304.json",  # ancestors missing
    ):
        assert BELU.document_at(invented) is None, invented
    president = RaceTarget.parse("ppwp")
    assert president.document_at("/pemilu/hhcw/ppwp.json") == ("file", "")
    assert president.document_at("/wilayah/pemilu/ppwp/0.json") == ("list", "")


def test_titles_and_zones() -> None:
    assert BELU.title("BELU") == "Pemilihan Bupati BELU"
    assert RaceTarget.parse("pkwkk 5371").title("KOTA KUPANG") == "Pemilihan Walikota KOTA KUPANG"
    assert RaceTarget.parse("ppwp").title("") == "Pemilihan Presiden"
    assert (BELU.zone, RaceTarget.parse("ppwp").zone, RaceTarget.parse("pkwkp 94").zone) == (
        "Asia/Makassar",
        "Asia/Jakarta",
        "Asia/Jayapura",
    )


def test_the_shared_format_code_imports_only_the_standard_library() -> None:
    """What both services import from `sirekap` (races, codes, documents, checks, …) drags in no dependency; the
    simulator (`sirekap.sim`, an HTTP server) is the only part that uses one."""
    import ast
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2] / "sirekap"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "sirekap", f"{path.name} imports {name}"
