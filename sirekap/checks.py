"""The consistency checks independent auditors run on a TPS tally (docs/sirekap-format.md), as pure functions.

Each check returns named findings instead of raising (`sirekap.findings`): `invalid` when the numbers contradict
each other (an OCR misread such as 3 read as 8, or 58 as 948: severity "anomaly"), `incomplete` when a check cannot
run because its inputs are missing (severity "incomplete", or "note" when only optional fields are missing). A check
whose inputs are missing yields one finding naming them; nothing here raises on missing data. The checks of a
region file against its rows are `sirekap.region_checks` (re-exported here).

Check names (stable, machine-readable):
    votes_sum_valid             sum of candidate votes == suara_sah
    valid_invalid_total         suara_sah + suara_tidak_sah == suara_total
    total_within_voters         suara_total <= pengguna_total_j
    voters_groups_sum           pengguna_total_j == pengguna_dpt_j + pengguna_dptb_j + pengguna_non_dpt_j
    gender_split                x_j == x_l + x_p for each voter group
    dpt_users_within_registered pengguna_dpt_j <= pemilih_dpt_j
    within_registered_reserve   suara_total <= registered voters plus reserve ballots (rounded up)
    within_tps_cap              suara_total <= the race's per-TPS voter cap plus reserve (rounded up)
    count_range                 each count an integer 0 <= v < 10000
    missing_field               an expected candidate has no count, or nothing was uploaded yet
    unknown_candidate           a count for a candidate id the race does not have
    chart_table_sum, progress_sum, progress_range     region files (`sirekap.region_checks`)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from sirekap.findings import Finding, contradiction, not_checked
from sirekap.region_checks import check_region
from sirekap.tps_files import ADMINISTRASI_KEYS, TpsFile

__all__ = ["COUNT_LIMIT", "VOTER_GROUPS", "Finding", "check_region", "check_tally", "check_tps", "with_reserve"]

#: Counts at or above this are not something a single TPS sheet can hold (7: 0 <= v < 10000).
COUNT_LIMIT = 10_000
#: Voter groups of the administrasi page, each with `_j` (total), `_l` (men) and `_p` (women).
VOTER_GROUPS = ("pemilih_dpt", "pengguna_dpt", "pengguna_dptb", "pengguna_non_dpt", "pengguna_total")


def with_reserve(count: int, reserve: float) -> int:
    """`count` plus its reserve share, rounded up: 293 registered with a 2% reserve allow 299 ballots."""
    # round() first so float noise (300 * 0.02 = 6.000000000000001) does not add a ballot
    return count + math.ceil(round(count * reserve, 6))


def check_tally(
    *,
    votes: Mapping[str, int | None] | Mapping[int, int | None],
    valid: int | None,
    invalid: int | None,
    total: int | None,
    voters_total: int | None = None,
    voters_dpt: int | None = None,
    voters_dptb: int | None = None,
    voters_non_dpt: int | None = None,
    registered_voters: int | None = None,
    voter_cap: int | None = None,
    reserve: float = 0.02,
) -> list[Finding]:
    """The rules of a C.Hasil sheet on plain numbers (as an operator types them), gender splits aside.

    `votes` maps candidate to count (an empty mapping: no votes read yet). `voters_*` are the `pengguna_*_j`
    figures, `registered_voters` the TPS's DPT (`pemilih_dpt_j`), `voter_cap` the race's per-TPS voter limit
    (300 in Pemilu 2024, 600 in Pilkada 2024); checks whose optional inputs are None are skipped, except that a
    `registered_voters` of None still lets `dpt_users_within_registered` report itself incomplete when
    `voters_dpt` is known.
    """
    named: dict[str, int | None] = {f"votes[{key}]": value for key, value in votes.items()}
    named |= {
        "suara_sah": valid,
        "suara_tidak_sah": invalid,
        "suara_total": total,
        "pengguna_total_j": voters_total,
        "pengguna_dpt_j": voters_dpt,
        "pengguna_dptb_j": voters_dptb,
        "pengguna_non_dpt_j": voters_non_dpt,
        "pemilih_dpt_j": registered_voters,
    }
    return _count_range(named) + _tally_rules(
        votes,
        valid=valid,
        invalid=invalid,
        total=total,
        voters_total=voters_total,
        voters_dpt=voters_dpt,
        voters_dptb=voters_dptb,
        voters_non_dpt=voters_non_dpt,
        registered_voters=registered_voters,
        voter_cap=voter_cap,
        reserve=reserve,
    )


def _tally_rules(
    votes: Mapping[str, int | None] | Mapping[int, int | None],
    *,
    valid: int | None,
    invalid: int | None,
    total: int | None,
    voters_total: int | None,
    voters_dpt: int | None,
    voters_dptb: int | None,
    voters_non_dpt: int | None,
    registered_voters: int | None,
    voter_cap: int | None,
    reserve: float,
) -> list[Finding]:
    findings: list[Finding] = []
    counts = list(votes.values())
    if not counts:
        findings.append(not_checked("votes_sum_valid", ["candidate votes"]))
    elif valid is None or None in counts:
        missing = [f"votes[{key}]" for key, value in votes.items() if value is None]
        findings.append(not_checked("votes_sum_valid", missing + (["suara_sah"] if valid is None else [])))
    elif (summed := sum(c for c in counts if c is not None)) != valid:
        parts = " + ".join(str(c) for c in counts)
        findings.append(
            contradiction("votes_sum_valid", f"candidate votes {parts} = {summed}, but suara_sah is {valid}")
        )

    if valid is None or invalid is None or total is None:
        findings.append(
            not_checked("valid_invalid_total", _nones(suara_sah=valid, suara_tidak_sah=invalid, suara_total=total))
        )
    elif valid + invalid != total:
        findings.append(
            contradiction(
                "valid_invalid_total",
                f"suara_sah {valid} + suara_tidak_sah {invalid} = {valid + invalid}, but suara_total is {total}",
            )
        )

    if total is None or voters_total is None:
        findings.append(not_checked("total_within_voters", _nones(suara_total=total, pengguna_total_j=voters_total)))
    elif total > voters_total:
        findings.append(
            contradiction(
                "total_within_voters",
                f"suara_total {total} is more than the {voters_total} voters who came (pengguna_total_j)",
            )
        )

    groups = {"pengguna_dpt_j": voters_dpt, "pengguna_dptb_j": voters_dptb, "pengguna_non_dpt_j": voters_non_dpt}
    if voters_total is None or None in groups.values():
        findings.append(not_checked("voters_groups_sum", _nones(pengguna_total_j=voters_total, **groups)))
    elif (summed_groups := sum(v for v in groups.values() if v is not None)) != voters_total:
        findings.append(
            contradiction(
                "voters_groups_sum",
                f"pengguna_dpt_j {voters_dpt} + pengguna_dptb_j {voters_dptb} + pengguna_non_dpt_j {voters_non_dpt}"
                f" = {summed_groups}, but pengguna_total_j is {voters_total}",
            )
        )

    if voters_dpt is None or registered_voters is None:
        findings.append(
            not_checked(
                "dpt_users_within_registered", _nones(pengguna_dpt_j=voters_dpt, pemilih_dpt_j=registered_voters)
            )
        )
    elif voters_dpt > registered_voters:
        findings.append(
            contradiction(
                "dpt_users_within_registered",
                f"pengguna_dpt_j {voters_dpt} is more than the {registered_voters} registered voters (pemilih_dpt_j)",
            )
        )

    if registered_voters is not None:
        findings.extend(_within("within_registered_reserve", "registered voters", total, registered_voters, reserve))
    if voter_cap is not None:
        findings.extend(_within("within_tps_cap", "per-TPS voter cap", total, voter_cap, reserve))
    return findings


def _nones(**values: int | None) -> list[str]:
    return [name for name, value in values.items() if value is None]


def _count_range(named: Mapping[str, int | None]) -> list[Finding]:
    bad = [
        f"{name} = {value!r}"
        for name, value in named.items()
        if value is not None and not (type(value) is int and 0 <= value < COUNT_LIMIT)
    ]
    if not bad:
        return []
    return [contradiction("count_range", f"counts must be integers 0..{COUNT_LIMIT - 1}: {', '.join(bad)}")]


def _within(check: str, what: str, total: int | None, limit: int, reserve: float) -> list[Finding]:
    if total is None:
        return [not_checked(check, ["suara_total"])]
    allowed = with_reserve(limit, reserve)
    if total <= allowed:
        return []
    return [
        contradiction(check, f"suara_total {total} is more than {allowed} ({limit} {what} plus {reserve:.0%} reserve)")
    ]


def check_tps(
    doc: TpsFile,
    *,
    candidate_ids: Collection[str] | None = None,
    registered_voters: int | None = None,
    voter_cap: int | None = None,
    reserve: float = 0.02,
) -> list[Finding]:
    """Every check on one TPS file. `candidate_ids`, when given, are the race's candidates: each must have a count
    and no other may. `registered_voters` is a trusted DPT count (from the region data); without it the sheet's own
    `pemilih_dpt_j` is used. A TPS with nothing uploaded yields a single incomplete finding."""
    page = doc.administrasi
    if doc.votes is None and page is None:
        return [
            Finding(
                "missing_field",
                "incomplete",
                "nothing uploaded yet: no candidate votes, no administrasi page",
                "incomplete",
            )
        ]
    votes = doc.votes or {}
    findings: list[Finding] = []
    if candidate_ids is not None:
        absent = [cid for cid in candidate_ids if cid not in votes]
        if absent and votes:
            findings.append(
                Finding("missing_field", "incomplete", f"no count for candidate {', '.join(absent)}", "incomplete")
            )
        unknown = [cid for cid in votes if cid not in candidate_ids]
        if unknown:
            findings.append(
                contradiction("unknown_candidate", f"counts for candidate ids not in this race: {', '.join(unknown)}")
            )
    adm: dict[str, int | None] = dict.fromkeys(ADMINISTRASI_KEYS) if page is None else vars(page)
    named: dict[str, int | None] = {f"votes[{key}]": value for key, value in votes.items()}
    findings.extend(_count_range(named | adm))
    findings.extend(
        _tally_rules(
            votes,
            valid=adm["suara_sah"],
            invalid=adm["suara_tidak_sah"],
            total=adm["suara_total"],
            voters_total=adm["pengguna_total_j"],
            voters_dpt=adm["pengguna_dpt_j"],
            voters_dptb=adm["pengguna_dptb_j"],
            voters_non_dpt=adm["pengguna_non_dpt_j"],
            registered_voters=registered_voters if registered_voters is not None else adm["pemilih_dpt_j"],
            voter_cap=voter_cap,
            reserve=reserve,
        )
    )
    findings.extend(_gender_split(adm))
    return findings


def _gender_split(adm: Mapping[str, int | None]) -> list[Finding]:
    findings: list[Finding] = []
    missing: list[str] = []
    for group in VOTER_GROUPS:
        names = (f"{group}_j", f"{group}_l", f"{group}_p")
        total, men, women = (adm[name] for name in names)
        if total is None or men is None or women is None:
            missing.extend(name for name in names if adm[name] is None)
        elif men + women != total:
            findings.append(
                contradiction(
                    "gender_split",
                    f"{names[1]} {men} + {names[2]} {women} = {men + women}, but {names[0]} is {total}",
                )
            )
    if missing:
        findings.append(not_checked("gender_split", missing))
    return findings
