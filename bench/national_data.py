"""Fill a database with a synthetic national race (SYNTHETIC numbers), straight into the tables.

    python bench/national_data.py DATABASE_URL [--tps 823236]

The region tree is the simulator's national tree (38 provinsi, 514 kab/kota, 7,277 kecamatan, 83,731 desa at full
size); every TPS has a Sirekap tally, and rollups are written already summed. PostgreSQL is filled with COPY.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.storage.migrate import upgrade  # noqa: E402
from sirekap.codes import LENGTHS, Level  # noqa: E402
from sirekap.sim.national_tree import NationalTree, build_tree  # noqa: E402

SLUG = "ppwp-national-2024"
NOW = datetime(2024, 2, 20, 10, 0, tzinfo=UTC)
PASLON = 3


def _numbers(code: str) -> tuple[int, tuple[int, ...], int]:
    """Registered voters, votes per paslon and invalid votes of one TPS (SYNTHETIC)."""
    h = hashlib.blake2b(code.encode(), digest_size=8).digest()
    registered = 150 + h[0] % 150
    turnout = registered * (70 + h[1] % 25) // 100
    invalid = h[2] % 6
    valid = turnout - invalid
    first = valid * (30 + h[3] % 30) // 100
    second = (valid - first) * (40 + h[4] % 40) // 100
    return registered, (first, second, valid - first - second), invalid


def _regions(tree: NationalTree) -> Iterator[tuple[str, str, str, str | None]]:
    yield "", "INDONESIA", Level.NATIONAL.value, None
    levels = {2: Level.PROVINSI, 4: Level.KABUPATEN, 6: Level.KECAMATAN, 10: Level.DESA}
    stack = [""]
    while stack:
        parent = stack.pop()
        for child in tree.children.get(parent, ()):
            yield child, tree.name(child), levels[len(child)].value, parent
            stack.append(child)


def rows(tree: NationalTree) -> dict[str, list[tuple[object, ...]]]:
    tables: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    tables["regions"] = list(_regions(tree))
    tables["races"] = [
        (1, SLUG, "ppwp", "Pemilihan Presiden 2024 (SYNTHETIC)", "", date(2024, 2, 14), "Asia/Jakarta", 300)
    ]
    tables["paslon"] = [(i, 1, i, f"SIMULASI CALON {i:02d}", f"SIMULASI WAKIL {i:02d}", f"PASLON {i}", None, None)
                        for i in range(1, PASLON + 1)]  # fmt: skip
    sums: dict[str, list[int]] = defaultdict(lambda: [0] * (4 + PASLON))  # tps, registered, valid, invalid, votes
    tps_id = 0
    for desa in tree.desa:
        for code in tree.tps_codes(desa):
            tps_id += 1
            registered, votes, invalid = _numbers(code)
            valid = sum(votes)
            tables["tps"].append((tps_id, 1, code, int(code[10:]), desa, code[:6], code[:4], code[:2], registered))
            tables["tallies"].append(
                (tps_id, 1, "sirekap", code, 0, tps_id, 1, True, "provisional", valid, invalid, valid + invalid,
                 NOW, NOW, "[]", 0)
            )  # fmt: skip
            tables["tally_votes"] += [(tps_id, p + 1, v) for p, v in enumerate(votes)]
            for n in sorted(set(LENGTHS.values()))[:-1]:
                row = sums[code[:n]]
                row[0] += 1
                row[1] += registered
                row[2] += valid
                row[3] += invalid
                for p, v in enumerate(votes):
                    row[4 + p] += v
    for code, (tps, registered, valid, invalid, *votes) in sums.items():
        tables["race_regions"].append((1, code, tps, registered))
        tables["rollups"].append((1, "sirekap", code, tps, valid, invalid, valid + invalid, 0, NOW, NOW))
        tables["rollup_votes"] += [(1, "sirekap", code, p + 1, v) for p, v in enumerate(votes)]
    return tables


COLUMNS = {
    "regions": ("code", "name", "level", "parent_code"),
    "races": ("id", "slug", "kind", "title", "region_code", "voting_day", "time_zone", "voter_cap_per_tps"),
    "paslon": ("id", "race_id", "number", "calon", "wakil", "short_name", "colour", "upstream_id"),
    "tps": ("id", "race_id", "code", "number", "desa_code", "kecamatan_code", "kabupaten_code", "provinsi_code",
            "registered_voters"),
    "tallies": ("id", "race_id", "source", "subject_code", "claimant", "tps_id", "version", "is_current", "status",
                "valid", "invalid", "total", "source_ts", "received_at", "findings", "finding_count"),
    "tally_votes": ("tally_id", "paslon_id", "votes"),
    "race_regions": ("race_id", "region_code", "tps_total", "registered_voters"),
    "rollups": ("race_id", "source", "region_code", "tps_in", "valid", "invalid", "total", "voters_total",
                "latest_source_ts", "updated_at"),
    "rollup_votes": ("race_id", "source", "region_code", "paslon_id", "votes"),
}  # fmt: skip


async def fill(database_url: str, tps: int, seed: int = 2024) -> dict[str, int]:
    """Migrate and fill an empty database; returns the row count per table."""
    await upgrade(database_url)
    tables = rows(build_tree(tps, seed))
    if database_url.startswith("postgresql"):
        await _copy_postgresql(database_url, tables)
    else:
        _insert_sqlite(database_url, tables)
    return {name: len(values) for name, values in tables.items()}


async def _copy_postgresql(database_url: str, tables: dict[str, list[tuple[object, ...]]]) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            for name, columns in COLUMNS.items():
                records = tables[name]
                if name == "tallies":
                    records = [(*r[:14], r[14], r[15]) for r in records]
                await conn.copy_records_to_table(name, records=records, columns=list(columns))
            for name in ("races", "paslon", "tps", "tallies"):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _insert_sqlite(database_url: str, tables: dict[str, list[tuple[object, ...]]]) -> None:
    import sqlite3

    from sqlalchemy.engine import make_url

    path = make_url(database_url).database
    assert path is not None
    conn = sqlite3.connect(path)
    try:
        with conn:
            for name, columns in COLUMNS.items():
                values = tables[name]
                if name in ("tallies", "rollups"):
                    values = [tuple(v.strftime("%Y-%m-%d %H:%M:%S.000000") if isinstance(v, datetime) else v
                                    for v in r) for r in values]  # fmt: skip
                marks = ", ".join("?" for _ in columns)
                conn.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", values)
        conn.execute("ANALYZE")
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url")
    parser.add_argument("--tps", type=int, default=823_236)
    ns = parser.parse_args()
    started = time.perf_counter()
    counts = asyncio.run(fill(ns.database_url, ns.tps))
    print(f"filled in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
