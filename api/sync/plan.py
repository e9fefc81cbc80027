"""What a pass must look at, decided from documents and the state of the last pass. Pure: no I/O.

A region's row in its parent's table (candidate votes and TPS progress) is reduced to a fingerprint. A region whose
row still has the fingerprint its subtree was last fully synced to is skipped with everything below it; the others
are descended into. At the bottom, a TPS file is fetched only when the desa's row for that TPS shows votes that
differ from the current tally. So a pass costs in proportion to what changed, not to the size of the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from sirekap.documents import ChildRow, Progress, RegionFile


def fingerprint(votes: Mapping[str, int] | None, progress: Progress | None, persen: float | None = None) -> str:
    """A short digest of the numbers of a region as a table row or a chart shows them."""
    parts = [f"{key}={value}" for key, value in sorted((votes or {}).items())]
    if progress is not None:
        parts.append(f"tps={progress.tps_in}/{progress.tps_total}")
    elif persen is not None:
        parts.append(f"persen={persen:.2f}")
    return hashlib.blake2b(";".join(parts).encode(), digest_size=16).hexdigest()


def row_fingerprint(row: ChildRow) -> str:
    return fingerprint(row.votes, row.progress, row.persen)


def chart_fingerprint(doc: RegionFile) -> str:
    return fingerprint(doc.votes, doc.progress)


def changed_children(doc: RegionFile, synced: Mapping[str, str | None], *, full: bool = False) -> list[ChildRow]:
    """The rows of `doc` whose subtree is not synced to what the row now shows (`synced`: code → fingerprint)."""
    if full:
        return list(doc.children.values())
    return [row for row in doc.children.values() if synced.get(row.code) != row_fingerprint(row)]


def changed_tps(
    doc: RegionFile, current: Mapping[str, Mapping[str, int]], *, full: bool = False
) -> tuple[list[str], list[str]]:
    """The TPS of a desa file to fetch, and those it lists that are still empty upstream.

    `current` maps TPS code → votes by upstream candidate id of its current tally. A TPS whose row has no votes is
    not fetched: before upload there is nothing to store, and a TPS whose data vanished upstream keeps its last good
    tally. A row whose votes equal the current tally is not fetched either (unless `full`).
    """
    fetch: list[str] = []
    empty: list[str] = []
    for code, row in doc.children.items():
        if row.votes is None:
            empty.append(code)
        elif full or dict(current.get(code, {})) != row.votes:
            fetch.append(code)
    return fetch, empty
