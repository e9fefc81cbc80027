"""The auditors' consistency checks: each rule firing and not firing, OCR misreads caught, missing data reported."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sirekap.checks import Finding, check_region, check_tally, check_tps, with_reserve
from sirekap.documents import Administrasi, ChildRow, Progress, RegionFile, TpsFile, parse_tps_file
from sirekap.timestamps import WIB

# The TPS example of sirekap-format.md: every rule holds.
VOTES = {"100025": 202, "100026": 38, "100027": 7}
PAGE = Administrasi(
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
CANDIDATES = ("100025", "100026", "100027")


def tps(votes: dict[str, int] | None = VOTES, **page: int | None) -> TpsFile:
    return TpsFile(
        ts=None,
        mode="hhcw",
        psu=None,
        shape="pemilu",
        votes=votes,
        administrasi=dataclasses.replace(PAGE, **page),
        images=[],
        status_suara=True,
        status_adm=True,
    )


def checks(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.check, f.kind) for f in findings}


def test_the_example_sheet_passes_every_check() -> None:
    assert check_tps(tps(), candidate_ids=CANDIDATES, voter_cap=300) == []


def test_a_3_read_as_8_breaks_the_vote_sum() -> None:
    findings = check_tps(tps({**VOTES, "100026": 88}))  # 38 read as 88
    assert checks(findings) == {("votes_sum_valid", "invalid")}
    assert findings[0].message == "candidate votes 202 + 88 + 7 = 297, but suara_sah is 247"
    two_as_seven = check_tps(tps({**VOTES, "100025": 707}))  # 202 read as 707
    assert ("votes_sum_valid", "invalid") in checks(two_as_seven)


def test_58_read_as_948_is_caught_by_the_sum_and_the_caps() -> None:
    votes = {"1000899": 948, "1000900": 80}
    findings = check_tally(
        votes=votes, valid=1028, invalid=3, total=1031, voters_total=141, registered_voters=300, voter_cap=600
    )
    assert checks(findings) >= {
        ("total_within_voters", "invalid"),
        ("within_registered_reserve", "invalid"),
        ("within_tps_cap", "invalid"),
    }
    # valid and total read consistently with the misread vote: the sum alone cannot see it, the caps do
    assert ("votes_sum_valid", "invalid") not in checks(findings)
    fixed = check_tally(
        votes={"1000899": 58, "1000900": 80},
        valid=138,
        invalid=3,
        total=141,
        voters_total=141,
        voters_dpt=141,
        voters_dptb=0,
        voters_non_dpt=0,
        registered_voters=300,
        voter_cap=600,
    )
    assert fixed == []


def test_valid_plus_invalid_must_make_the_total() -> None:
    findings = check_tps(tps(suara_tidak_sah=8))
    assert checks(findings) == {("valid_invalid_total", "invalid")}
    assert "suara_sah 247 + suara_tidak_sah 8 = 255, but suara_total is 253" in findings[0].message


def test_more_ballots_than_voters_who_came() -> None:
    findings = check_tps(tps(suara_total=258, suara_tidak_sah=11))
    assert checks(findings) == {("total_within_voters", "invalid")}


def test_voter_groups_must_add_up() -> None:
    findings = check_tps(tps(pengguna_dptb_j=7, pengguna_dptb_l=6))
    assert checks(findings) == {("voters_groups_sum", "invalid")}
    assert "= 259, but pengguna_total_j is 253" in findings[0].message


def test_men_and_women_must_make_each_group_total() -> None:
    findings = check_tps(tps(pemilih_dpt_l=188))
    assert checks(findings) == {("gender_split", "invalid")}
    assert findings[0].message == "pemilih_dpt_l 188 + pemilih_dpt_p 155 = 343, but pemilih_dpt_j is 293"


def test_dpt_voters_cannot_exceed_the_registered() -> None:
    findings = check_tps(tps(pemilih_dpt_j=240, pemilih_dpt_l=110, pemilih_dpt_p=130))
    assert ("dpt_users_within_registered", "invalid") in checks(findings)


def test_registered_voters_plus_reserve_rounds_up() -> None:
    assert with_reserve(293, 0.02) == 299
    assert with_reserve(300, 0.02) == 306
    assert with_reserve(0, 0.02) == 0
    at_limit = check_tally(votes={"1": 306}, valid=306, invalid=0, total=306, registered_voters=300)
    assert "within_registered_reserve" not in {f.check for f in at_limit}
    over = check_tally(votes={"1": 307}, valid=307, invalid=0, total=307, registered_voters=300)
    assert ("within_registered_reserve", "invalid") in checks(over)


def test_a_trusted_registered_count_overrides_the_sheet() -> None:
    findings = check_tps(tps(), registered_voters=200)
    assert checks(findings) == {("dpt_users_within_registered", "invalid"), ("within_registered_reserve", "invalid")}
    assert "suara_total 253 is more than 204 (200 registered voters plus 2% reserve)" in findings[-1].message


def test_the_per_tps_voter_cap() -> None:
    assert check_tps(tps(), voter_cap=300) == []
    findings = check_tps(tps(), voter_cap=240)
    assert checks(findings) == {("within_tps_cap", "invalid")}
    assert "245" in findings[0].message
    assert check_tps(tps(), voter_cap=240, reserve=0.06) == []


def test_counts_outside_0_to_9999_are_invalid() -> None:
    findings = check_tally(votes={"1": 10_000, "2": -3}, valid=9997, invalid=0, total=9997)
    assert ("count_range", "invalid") in checks(findings)
    message = next(f.message for f in findings if f.check == "count_range")
    assert "votes[1] = 10000" in message
    assert "votes[2] = -3" in message
    assert checks(check_tally(votes={"1": True}, valid=1, invalid=0, total=1)) >= {("count_range", "invalid")}


def test_missing_inputs_make_each_check_incomplete_not_a_crash() -> None:
    findings = check_tally(votes={"1": 5, "2": None}, valid=None, invalid=0, total=5)
    assert checks(findings) == {
        ("votes_sum_valid", "incomplete"),
        ("valid_invalid_total", "incomplete"),
        ("total_within_voters", "incomplete"),
        ("voters_groups_sum", "incomplete"),
        ("dpt_users_within_registered", "incomplete"),
    }
    assert all(f.kind == "incomplete" for f in findings)
    votes_sum = next(f for f in findings if f.check == "votes_sum_valid")
    assert votes_sum.message == "cannot check: votes[2], suara_sah missing"


def test_a_partial_sheet_reports_missing_keys_as_incomplete() -> None:
    findings = check_tps(tps(pengguna_dpt_p=None, suara_tidak_sah=None))
    assert checks(findings) == {("valid_invalid_total", "incomplete"), ("gender_split", "incomplete")}
    gender = next(f for f in findings if f.check == "gender_split")
    assert gender.as_dict() == {
        "check": "gender_split",
        "kind": "incomplete",
        "severity": "incomplete",
        "message": "cannot check: pengguna_dpt_p missing",
    }
    assert {f.severity for f in findings} == {"incomplete"}


#: A Pilkada 2024 TPS page: no voters-who-came figures but those of the DPT (pengguna_dpt_*).
WITHOUT_OPTIONAL = {
    f"{group}_{part}": None for group in ("pengguna_total", "pengguna_dptb", "pengguna_non_dpt") for part in "jlp"
}


def test_a_page_without_the_optional_voter_use_fields_gets_notes_not_anomalies() -> None:
    findings = check_tps(tps(**WITHOUT_OPTIONAL), candidate_ids=CANDIDATES, voter_cap=600)
    assert checks(findings) == {
        ("total_within_voters", "incomplete"),
        ("voters_groups_sum", "incomplete"),
        ("gender_split", "incomplete"),
    }
    assert {f.severity for f in findings} == {"note"}


def test_a_contradiction_is_an_anomaly_beside_the_notes() -> None:
    # the real anomaly of Belu 2024: candidate votes sum to 178 while suara_sah says 185
    votes = {"100025": 100, "100026": 70, "100027": 8}
    page = WITHOUT_OPTIONAL | {"suara_sah": 185, "suara_tidak_sah": 3, "suara_total": 188}
    findings = check_tps(tps(votes, **page), candidate_ids=CANDIDATES, voter_cap=600)
    anomalies = [f for f in findings if f.severity == "anomaly"]
    assert [(f.check, f.kind) for f in anomalies] == [("votes_sum_valid", "invalid")]
    assert "= 178, but suara_sah is 185" in anomalies[0].message
    assert {f.severity for f in findings if f not in anomalies} == {"note"}


def test_a_missing_required_field_beside_optional_ones_is_incomplete() -> None:
    findings = check_tps(tps(**WITHOUT_OPTIONAL | {"pemilih_dpt_l": None}))
    gender = next(f for f in findings if f.check == "gender_split")
    assert gender.severity == "incomplete"


def test_a_tps_with_nothing_uploaded_yields_one_incomplete_finding() -> None:
    doc = dataclasses.replace(tps(), votes=None, administrasi=None)
    assert checks(check_tps(doc, voter_cap=300)) == {("missing_field", "incomplete")}


def test_votes_without_the_administrasi_page() -> None:
    doc = dataclasses.replace(tps(), administrasi=None)
    findings = check_tps(doc)
    assert {f.kind for f in findings} == {"incomplete"}
    assert "votes_sum_valid" in {f.check for f in findings}


def test_candidates_of_the_race_must_all_have_counts_and_nothing_else() -> None:
    missing = check_tps(tps({"100025": 202, "100026": 45}), candidate_ids=CANDIDATES)
    assert ("missing_field", "incomplete") in checks(missing)
    assert "100027" in next(f.message for f in missing if f.check == "missing_field")
    extra = check_tps(tps({**VOTES, "999": 0}), candidate_ids=CANDIDATES)
    assert checks(extra) == {("unknown_candidate", "invalid")}


@st.composite
def consistent_sheets(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, int]]:
    """A C.Hasil page whose numbers all agree, as the TPS JSON would carry them."""
    votes = draw(st.lists(st.integers(0, 150), min_size=1, max_size=6))
    invalid = draw(st.integers(0, 20))
    dptb, non_dpt = draw(st.integers(0, 10)), draw(st.integers(0, 10))
    valid = sum(votes)
    dpt = max(0, valid + invalid - dptb - non_dpt)
    # ballots are printed for the DPT plus a reserve: moved-in and ID-card voters use spare ones
    registered = dpt + dptb + non_dpt + draw(st.integers(0, 100))
    page = {"suara_sah": valid, "suara_tidak_sah": invalid, "suara_total": valid + invalid}
    groups = {"pemilih_dpt": registered, "pengguna_dpt": dpt, "pengguna_dptb": dptb, "pengguna_non_dpt": non_dpt}
    groups["pengguna_total"] = dpt + dptb + non_dpt
    for name, total in groups.items():
        men = draw(st.integers(0, total))
        page |= {f"{name}_j": total, f"{name}_l": men, f"{name}_p": total - men}
    return {str(100025 + i): v for i, v in enumerate(votes)}, page


@given(sheet=consistent_sheets(), pilkada=st.booleans())
def test_any_consistent_tps_document_parses_and_passes(
    sheet: tuple[dict[str, int], dict[str, int]], pilkada: bool
) -> None:
    votes, page = sheet
    chart: dict[str, Any] = {"null": None, **votes}
    doc: dict[str, Any] = {"mode": "hhcw", "psu": None, "ts": "2024-02-22 17:00:00", "images": [None, None, None]}
    if pilkada:
        doc |= {"tungsura": {"chart": chart, "administrasi": page}}
    else:
        doc |= {"chart": chart, "administrasi": page}
    parsed = parse_tps_file(json.dumps(doc).encode(), source_zone=WIB)
    assert parsed.votes == votes
    assert check_tps(parsed, candidate_ids=list(votes), voter_cap=1000) == []


# --- region files --------------------------------------------------------------------------------------------------


def region(votes: dict[str, int], progress: Progress, *rows: ChildRow) -> RegionFile:
    return RegionFile(
        ts=None,
        mode="hhcw",
        psu="Reguler",
        shape="pilkada",
        votes=votes,
        progress=progress,
        children={row.code: row for row in rows},
    )


def row(code: str, votes: dict[str, int] | None, tps_in: int | None = None, tps_total: int = 24) -> ChildRow:
    progress = None if tps_in is None else Progress(tps_in, tps_total, round(tps_in * 100 / tps_total, 2))
    return ChildRow(code, votes, progress, tps_in == tps_total, "Reguler")


def test_region_totals_equal_to_the_rows_pass() -> None:
    doc = region(
        {"1": 300, "2": 200},
        Progress(30, 48, 62.5),
        row("530401", {"1": 100, "2": 150}, 24),
        row("530402", {"1": 200, "2": 50}, 6),
    )
    assert check_region(doc) == []


def test_region_totals_that_differ_from_the_rows() -> None:
    doc = region(
        {"1": 300, "2": 200},
        Progress(30, 48, 62.5),
        row("530401", {"1": 100, "2": 150}, 24),
        row("530402", {"1": 250, "2": 50}, 6),
    )
    findings = check_region(doc)
    assert checks(findings) == {("chart_table_sum", "invalid")}
    assert findings[0].message == "candidate 1: chart says 300, the 2 rows sum to 350"


def test_region_with_silent_children_is_not_judged() -> None:
    doc = region({"1": 999}, Progress(24, 48, 50.0), row("530401", {"1": 100}, 24), row("530402", None, 0))
    assert checks(check_region(doc)) == {("chart_table_sum", "incomplete")}


def test_region_progress_must_sum_and_stay_in_bounds() -> None:
    doc = region({"1": 100}, Progress(25, 48, 52.08), row("530401", {"1": 60}, 24), row("530402", {"1": 40}, 3))
    assert checks(check_region(doc)) == {("progress_sum", "invalid")}
    over = region({}, Progress(50, 48, 104.17))
    assert checks(check_region(over)) == {("progress_range", "invalid")}
    wrong_persen = region({}, Progress(24, 48, 91.39))
    assert checks(check_region(wrong_persen)) == {("progress_range", "invalid")}


def test_pemilu_rows_without_progress_say_nothing_about_progress() -> None:
    doc = dataclasses.replace(
        region({"1": 10}, Progress(637, 697, 91.39), row("110101", {"1": 10}), row("110102", {"1": 0})),
        shape="pemilu",
    )
    assert check_region(doc) == []
