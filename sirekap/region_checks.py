"""The consistency checks of an aggregated region file against its own rows, as pure functions.

chart_table_sum             region totals == sum of its children's rows
progress_sum                region TPS progress == sum of its children's progress
progress_range              0 <= TPS in <= TPS total, and `persen` agrees with them
"""

from __future__ import annotations

from sirekap.documents import Progress, RegionFile
from sirekap.findings import Finding, contradiction, not_checked


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
        findings.append(not_checked("chart_table_sum", ["the region's chart"]))
    elif silent:
        findings.append(
            Finding(
                "chart_table_sum",
                "incomplete",
                f"cannot check: {len(silent)} of {len(rows)} children have no votes yet ({', '.join(silent[:5])}"
                + (", …)" if len(silent) > 5 else ")"),
                "incomplete",
            )
        )
    else:
        candidates = sorted(set(doc.votes).union(*(row.votes or {} for row in rows)))
        for candidate in candidates:
            summed = sum((row.votes or {}).get(candidate, 0) for row in rows)
            chart = doc.votes.get(candidate, 0)
            if summed != chart:
                findings.append(
                    contradiction(
                        "chart_table_sum",
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
                "incomplete",
            )
        )
    elif progressed:
        tps_in = sum(p.tps_in for p in progressed)
        tps_total = sum(p.tps_total for p in progressed)
        if (tps_in, tps_total) != (doc.progress.tps_in, doc.progress.tps_total):
            findings.append(
                contradiction(
                    "progress_sum",
                    f"chart says {doc.progress.tps_in} of {doc.progress.tps_total} TPS in,"
                    f" the rows sum to {tps_in} of {tps_total}",
                )
            )
    return findings


def _progress_range(where: str, progress: Progress) -> list[Finding]:
    tps_in, tps_total, persen = progress.tps_in, progress.tps_total, progress.persen
    if tps_in > tps_total:
        return [contradiction("progress_range", f"{where}: {tps_in} TPS in of only {tps_total}")]
    if persen is not None:
        expected = tps_in * 100 / tps_total if tps_total else 0.0
        # upstream rounds to 2 decimals, or truncates to an int in some rows
        if abs(persen - expected) >= 1.0:
            return [
                contradiction(
                    "progress_range",
                    f"{where}: persen {persen} but {tps_in} of {tps_total} TPS is {expected:.2f}%",
                )
            ]
    return []
