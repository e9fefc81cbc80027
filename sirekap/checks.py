"""The consistency checks independent auditors run on a TPS tally (docs/sirekap-format.md), as pure functions.

Each check returns named findings instead of raising: `invalid` when the numbers contradict each other (an OCR
misread such as 3 read as 8, or 58 as 948), `incomplete` when a check cannot run because its inputs are missing.
A check whose inputs are missing yields one incomplete finding naming them; nothing here raises on missing data.

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
    chart_table_sum             region totals == sum of its children's rows (region files)
    progress_sum                region TPS progress == sum of its children's progress (region files)
    progress_range              0 <= TPS in <= TPS total, and `persen` agrees with them (region files)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from sirekap.documents import ADMINISTRASI_KEYS, Progress, RegionFile, TpsFile

Kind = Literal["incomplete", "invalid"]

#: Counts at or above this are not something a single TPS sheet can hold (7: 0 <= v < 10000).
COUNT_LIMIT = 10_000
#: Voter groups of the administrasi page, each with `_j` (total), `_l` (men) and `_p` (women).
VOTER_GROUPS = ("pemilih_dpt", "pengguna_dpt", "pengguna_dptb", "pengguna_non_dpt", "pengguna_total")


@dataclass(frozen=True)
class Finding:
    """One check that failed (`invalid`) or could not run (`incomplete`); `message` names the numbers."""

    check: str
    kind: Kind
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "kind": self.kind, "message": self.message}


def _incomplete(check: str, missing: Iterable[str]) -> Finding:
    return Finding(check, "incomplete", f"cannot check: {', '.join(missing)} missing")


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
        findings.append(_incomplete("votes_sum_valid", ["candidate votes"]))
    elif valid is None or None in counts:
        missing = [f"votes[{key}]" for key, value in votes.items() if value is None]
        findings.append(_incomplete("votes_sum_valid", missing + (["suara_sah"] if valid is None else [])))
    elif (summed := sum(c for c in counts if c is not None)) != valid:
        parts = " + ".join(str(c) for c in counts)
        findings.append(
            Finding("votes_sum_valid", "invalid", f"candidate votes {parts} = {summed}, but suara_sah is {valid}")
        )

    if valid is None or invalid is None or total is None:
        findings.append(
            _incomplete("valid_invalid_total", _nones(suara_sah=valid, suara_tidak_sah=invalid, suara_total=total))
        )
    elif valid + invalid != total:
        findings.append(
            Finding(
                "valid_invalid_total",
                "invalid",
                f"suara_sah {valid} + suara_tidak_sah {invalid} = {valid + invalid}, but suara_total is {total}",
            )
        )

    if total is None or voters_total is None:
        findings.append(_incomplete("total_within_voters", _nones(suara_total=total, pengguna_total_j=voters_total)))
    elif total > voters_total:
        findings.append(
            Finding(
                "total_within_voters",
                "invalid",
                f"suara_total {total} is more than the {voters_total} voters who came (pengguna_total_j)",
            )
        )

    groups = {"pengguna_dpt_j": voters_dpt, "pengguna_dptb_j": voters_dptb, "pengguna_non_dpt_j": voters_non_dpt}
    if voters_total is None or None in groups.values():
        findings.append(_incomplete("voters_groups_sum", _nones(pengguna_total_j=voters_total, **groups)))
    elif (summed_groups := sum(v for v in groups.values() if v is not None)) != voters_total:
        findings.append(
            Finding(
                "voters_groups_sum",
                "invalid",
                f"pengguna_dpt_j {voters_dpt} + pengguna_dptb_j {voters_dptb} + pengguna_non_dpt_j {voters_non_dpt}"
                f" = {summed_groups}, but pengguna_total_j is {voters_total}",
            )
        )

    if voters_dpt is None or registered_voters is None:
        findings.append(
            _incomplete(
                "dpt_users_within_registered", _nones(pengguna_dpt_j=voters_dpt, pemilih_dpt_j=registered_voters)
            )
        )
    elif voters_dpt > registered_voters:
        findings.append(
            Finding(
                "dpt_users_within_registered",
                "invalid",
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
    return [Finding("count_range", "invalid", f"counts must be integers 0..{COUNT_LIMIT - 1}: {', '.join(bad)}")]


def _within(check: str, what: str, total: int | None, limit: int, reserve: float) -> list[Finding]:
    if total is None:
        return [_incomplete(check, ["suara_total"])]
    allowed = with_reserve(limit, reserve)
    if total <= allowed:
        return []
    return [
        Finding(
            check, "invalid", f"suara_total {total} is more than {allowed} ({limit} {what} plus {reserve:.0%} reserve)"
        )
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
            Finding("missing_field", "incomplete", "nothing uploaded yet: no candidate votes, no administrasi page")
        ]
    votes = doc.votes or {}
    findings: list[Finding] = []
    if candidate_ids is not None:
        absent = [cid for cid in candidate_ids if cid not in votes]
        if absent and votes:
            findings.append(Finding("missing_field", "incomplete", f"no count for candidate {', '.join(absent)}"))
        unknown = [cid for cid in votes if cid not in candidate_ids]
        if unknown:
            findings.append(
                Finding(
                    "unknown_candidate", "invalid", f"counts for candidate ids not in this race: {', '.join(unknown)}"
                )
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
                Finding(
                    "gender_split",
                    "invalid",
                    f"{names[1]} {men} + {names[2]} {women} = {men + women}, but {names[0]} is {total}",
                )
            )
    if missing:
        findings.append(_incomplete("gender_split", missing))
    return findings


# --- region files --------------------------------------------------------------------------------------------------


def check_region(doc: RegionFile) -> list[Finding]:
    """An aggregated file against its own rows: totals, progress sums, progress bounds.

    Totals are compared only when every row has votes (no candidate keys means no data yet, and upstream
    regenerates files in batches, so a partial region is reported incomplete rather than judged); progress sums only
    when every row carries TPS counts (the Pilkada shape; the Pemilu shape has none, so nothing is said).
    """
    findings = _progress_range("chart", doc.progress)
    for code, row in doc.children.items():
        if row.progress is not None:
            findings.extend(_progress_range(f"row {code}", row.progress))

    rows = list(doc.children.values())
    silent = [row.code for row in rows if row.votes is None]
    if not rows:
        pass
    elif not doc.votes:
        findings.append(_incomplete("chart_table_sum", ["the region's chart"]))
    elif silent:
        findings.append(
            Finding(
                "chart_table_sum",
                "incomplete",
                f"cannot check: {len(silent)} of {len(rows)} children have no votes yet ({', '.join(silent[:5])}"
                + (", …)" if len(silent) > 5 else ")"),
            )
        )
    else:
        candidates = sorted(set(doc.votes).union(*(row.votes or {} for row in rows)))
        for candidate in candidates:
            summed = sum((row.votes or {}).get(candidate, 0) for row in rows)
            chart = doc.votes.get(candidate, 0)
            if summed != chart:
                findings.append(
                    Finding(
                        "chart_table_sum",
                        "invalid",
                        f"candidate {candidate}: chart says {chart}, the {len(rows)} rows sum to {summed}",
                    )
                )

    progressed = [row.progress for row in rows if row.progress is not None]
    if progressed and len(progressed) < len(rows):
        findings.append(
            Finding(
                "progress_sum",
                "incomplete",
                f"cannot check: {len(rows) - len(progressed)} of {len(rows)} children carry no TPS progress",
            )
        )
    elif progressed:
        tps_in = sum(p.tps_in for p in progressed)
        tps_total = sum(p.tps_total for p in progressed)
        if (tps_in, tps_total) != (doc.progress.tps_in, doc.progress.tps_total):
            findings.append(
                Finding(
                    "progress_sum",
                    "invalid",
                    f"chart says {doc.progress.tps_in} of {doc.progress.tps_total} TPS in,"
                    f" the rows sum to {tps_in} of {tps_total}",
                )
            )
    return findings


def _progress_range(where: str, progress: Progress) -> list[Finding]:
    tps_in, tps_total, persen = progress.tps_in, progress.tps_total, progress.persen
    if tps_in > tps_total:
        return [Finding("progress_range", "invalid", f"{where}: {tps_in} TPS in of only {tps_total}")]
    if persen is not None:
        expected = tps_in * 100 / tps_total if tps_total else 0.0
        # upstream rounds to 2 decimals, or truncates to an int in some rows
        if abs(persen - expected) >= 1.0:
            return [
                Finding(
                    "progress_range",
                    "invalid",
                    f"{where}: persen {persen} but {tps_in} of {tps_total} TPS is {expected:.2f}%",
                )
            ]
    return []
