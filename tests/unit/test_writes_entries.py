"""Validation of what writers submit, pure: hard errors always refuse, contradictions only without the paper form."""

from __future__ import annotations

from api.write.entries import RegionEntry, TpsEntry, check_region_entry, check_tps_entry

PASLON = {1: 11, 2: 12}  # ballot number -> paslon id


def entry(**changes: object) -> TpsEntry:
    fields: dict[str, object] = {"tps_code": "5304121003001", "votes": {1: 137, 2: 151}, "valid": 288, "invalid": 3}
    fields["total"] = 291
    fields.update(changes)
    return TpsEntry(**fields)  # type: ignore[arg-type]


def checks(e: TpsEntry, registered: int = 322, cap: int = 500) -> list[tuple[str, str | None, bool]]:
    found = check_tps_entry(e, paslon=PASLON, registered_voters=registered, voter_cap=cap)
    return [(r.field, r.check, r.overridable) for r in found.reasons]


def test_a_consistent_form_passes_with_no_findings() -> None:
    found = check_tps_entry(entry(), paslon=PASLON, registered_voters=322, voter_cap=500)
    assert found.reasons == [] and found.findings == []


def test_each_consistency_rule_points_at_its_field() -> None:
    assert checks(entry(valid=298, total=301)) == [("valid", "votes_sum_valid", True)]
    assert checks(entry(total=290)) == [("total", "valid_invalid_total", True)]
    assert ("total", "total_within_voters", True) in checks(
        entry(voters_total=280, voters_dpt=280, voters_dptb=0, voters_non_dpt=0)
    )
    assert checks(entry(voters_total=291, voters_dpt=280, voters_dptb=1, voters_non_dpt=1)) == [
        ("votersTotal", "voters_groups_sum", True)
    ]
    assert checks(entry(voters_total=291, voters_dpt=289, voters_dptb=1, voters_non_dpt=1), registered=250) == [
        ("votersDpt", "dpt_users_within_registered", True),
        ("total", "within_registered_reserve", True),
    ]
    assert checks(entry(), registered=600, cap=250) == [("total", "within_tps_cap", True)]


def test_reserve_ballots_are_allowed() -> None:
    # 285 registered voters with a 2% reserve allow 291 ballots (rounded up)
    assert checks(entry(), registered=285) == []
    assert checks(entry(), registered=284) == [("total", "within_registered_reserve", True)]


def test_hard_errors_are_never_overridable() -> None:
    paper = {"matches_paper_form": True}
    assert checks(entry(votes={1: -1, 2: 151}, **paper)) == [("votes[1]", "count_range", False)]
    assert checks(entry(invalid=10_000, **paper)) == [("invalid", "count_range", False)]
    assert checks(entry(votes={1: 137, 2: 151, 3: 0}, **paper)) == [("votes[3]", "unknown_candidate", False)]
    assert checks(entry(votes={1: 137}, **paper)) == [("votes[2]", "missing_field", False)]
    assert checks(entry(corrects_version=0, **paper)) == [("correctsVersion", None, False)]


def test_matching_the_paper_form_stores_contradictions_as_findings() -> None:
    found = check_tps_entry(
        entry(total=290, matches_paper_form=True), paslon=PASLON, registered_voters=322, voter_cap=500
    )
    assert found.reasons == []
    assert [f["check"] for f in found.findings] == ["valid_invalid_total"]
    assert all(f["kind"] == "invalid" for f in found.findings)


def test_region_entries_add_up_without_a_per_tps_limit() -> None:
    pleno = RegionEntry("5304", {1: 50376, 2: 50623})
    assert check_region_entry(pleno, paslon=PASLON, tps_total=426).reasons == []
    assert pleno.derived_valid == 100999 and pleno.derived_total is None

    contradicted = RegionEntry("5304", {1: 50376, 2: 50623}, valid=100000)
    (reason,) = check_region_entry(contradicted, paslon=PASLON, tps_total=426).reasons
    assert (reason.field, reason.check, reason.overridable) == ("valid", "votes_sum_valid", True)

    claim = RegionEntry("5304", {1: 48206, 2: 48742}, invalid=1482, tps_claimed=427)
    (reason,) = check_region_entry(claim, paslon=PASLON, tps_total=426).reasons
    assert reason.field == "tpsClaimed" and "426" in reason.message
    negative = RegionEntry("5304", {1: -5, 2: 1})
    assert [r.field for r in check_region_entry(negative, paslon=PASLON, tps_total=426).reasons] == ["votes[1]"]
