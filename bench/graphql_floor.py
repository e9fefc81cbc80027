"""Know the floor: what Pantau costs per resolved GraphQL field next to bare graphql-core on the same documents.

The same documents run, in one process and interleaved, through
- Pantau: its strawberry schema, its resolvers, DataLoaders and database (SQLite, Belu with every TPS counted), and
- the floor: bare graphql-core on the schema built from `schema.graphql` (the same shape), no extension, default
  resolvers over plain dicts holding the very answer Pantau gave: GraphQL execution and nothing else.
It prints the median µs per execution and per resolved field of each, and their ratio: the figure to drive down.

    python bench/graphql_floor.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from graphql import build_schema, graphql, parse
from graphql import execute as graphql_execute

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.dataset.loader import load_dataset  # noqa: E402
from api.graphql.context import Context  # noqa: E402
from api.graphql.schema import build_schema as pantau_schema  # noqa: E402
from api.read.catalog import Catalog  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.storage.db import create_engine, sessionmaker  # noqa: E402
from api.storage.models import Paslon, Source, Tps  # noqa: E402
from api.tallies.writer import RaceInfo, TallyInput, TallyWrite, record_tallies  # noqa: E402
from sirekap.belu import belu_2020  # noqa: E402

RESULT = "votes { paslon { number shortName } votes share } valid coverage { reported expected ratio } margin"
DOCUMENTS = {
    "kabupaten_breakdown": '{ region(code: "5304", race: "pkwkk-5304-2020") { name breakdown(source: SIREKAP) '
    f"{{ region {{ code name }} result {{ {RESULT} }} }} }} }}",
    "tps_page": '{ tpsConnection(race: "pkwkk-5304-2020", region: "5304", first: 100) { totalCount '
    "pageInfo { hasNextPage endCursor } edges { node { code number registeredVoters } } } }",
    "comparison": '{ region(code: "5304", race: "pkwkk-5304-2020") { status comparison { official { source } '
    f"results {{ source status {RESULT} }} claims {{ {RESULT} }} differences {{ source paslon {{ number }} "
    "difference } } } }",
}


def plain(obj: Any, info: Any, **_arguments: Any) -> Any:
    """graphql-core's default resolver for dicts, minus its clash with an argument named `source`."""
    return obj.get(info.field_name)


def fields_in(value: Any) -> int:
    """Resolved fields in an answer: every key of every object, lists walked."""
    if isinstance(value, dict):
        return sum(1 + fields_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(fields_in(v) for v in value)
    return 0


async def prepare(url: str) -> str:
    await load_dataset(url, "belu-2020", until=None)
    engine = create_engine(url)
    try:
        async with sessionmaker(engine).begin() as session:
            from sqlalchemy import select

            race = await RaceInfo.load(session, 1)
            ids = dict((await session.execute(select(Tps.code, Tps.id))).all())
            paslon = dict((await session.execute(select(Paslon.number, Paslon.id))).all())
            writes = [
                TallyWrite(t.code, TallyInput({paslon[n]: v for n, v in t.count.votes.items()}, t.count.valid,
                           t.count.invalid, t.count.total), tps_id=ids[t.code])
                for t in belu_2020().tps
            ]  # fmt: skip
            from datetime import UTC, datetime

            await record_tallies(session, race, Source.SIREKAP, writes, received_at=datetime(2020, 12, 13, tzinfo=UTC))
        await analyze(engine)
    finally:
        await engine.dispose()
    return url


async def analyze(engine: Any) -> None:
    """Planner statistics for what was just loaded, as a database in service has them."""
    from sqlalchemy import text

    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("ANALYZE"))


async def run(quick: bool, database_url: str | None = None) -> dict[str, dict[str, float]]:
    if database_url is None:
        database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='pantau-floor-')) / 'belu.db'}"
    url = await prepare(database_url)
    settings = Settings(database_url=url)
    schema = pantau_schema(settings)
    floor_schema = build_schema((ROOT / "schema.graphql").read_text())
    engine = create_engine(url)
    reads = sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    catalog = Catalog(reads, settings.cache_version_seconds)
    rounds, per_round = (5, 20) if quick else (15, 60)
    out: dict[str, dict[str, float]] = {}
    try:
        for name, document in DOCUMENTS.items():

            async def pantau(document: str = document) -> dict[str, Any]:
                result = await schema.execute(document, context_value=Context(reads, settings, catalog=catalog))
                assert result.errors is None and result.data is not None, result.errors
                return result.data

            answer = await pantau()  # warm: the catalog, statement and validation caches
            fields = fields_in(answer)
            parsed = parse(document)
            floor_check = await graphql(floor_schema, document, root_value=answer, field_resolver=plain)
            assert floor_check.errors is None and floor_check.data == answer, (floor_check.errors, name)
            pantau_times, floor_times, pantau_cpu, floor_cpu = [], [], [], []
            for _ in range(rounds):  # interleaved: the machine's noise falls on both alike
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(per_round):
                    await pantau()
                pantau_times.append((time.perf_counter() - started) / per_round)
                pantau_cpu.append((time.process_time() - cpu) / per_round)
                started, cpu = time.perf_counter(), time.process_time()
                for _ in range(per_round):
                    graphql_execute(floor_schema, parsed, root_value=answer, field_resolver=plain)
                floor_times.append((time.perf_counter() - started) / per_round)
                floor_cpu.append((time.process_time() - cpu) / per_round)
            p, f = statistics.median(pantau_times) * 1e6, statistics.median(floor_times) * 1e6
            pc, fc = statistics.median(pantau_cpu) * 1e6, statistics.median(floor_cpu) * 1e6
            out[name] = {"fields": fields, "pantau_us": p, "floor_us": f, "pantau_us_per_field": p / fields,
                         "floor_us_per_field": f / fields, "pantau_cpu_us": pc, "floor_cpu_us": fc}  # fmt: skip
    finally:
        await engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under a minute)")
    parser.add_argument(
        "--database-url", help="an empty database to load Belu into (default: a new SQLite file), e.g. PostgreSQL"
    )
    ns = parser.parse_args()
    results = asyncio.run(run(ns.quick, ns.database_url))
    print("baseline: bare graphql-core on the same schema shape, default resolvers over the same answer as dicts")
    print("ratio: wall-clock µs per field; cpu ratio: the same from this process's CPU time")
    print("(steadier on a busy machine; a database server's own time is not in it)")
    print(f"{'document':<22} {'fields':>6} {'pantau µs':>10} {'floor µs':>9} {'µs/field':>9} {'floor':>7} {'ratio':>6}"
          f" {'cpu ratio':>9}")  # fmt: skip
    for name, r in results.items():
        ratio = r["pantau_us_per_field"] / r["floor_us_per_field"]
        print(f"{name:<22} {r['fields']:6.0f} {r['pantau_us']:10.0f} {r['floor_us']:9.0f} "
              f"{r['pantau_us_per_field']:9.1f} {r['floor_us_per_field']:7.1f} {ratio:6.2f}"
              f" {r['pantau_cpu_us'] / r['floor_cpu_us']:9.2f}")  # fmt: skip
    print("target: Pantau's µs per field at most 2x the floor's")
    summary = {
        "bench": "graphql_floor",
        "mode": "quick" if ns.quick else "full",
        "figures": {f"{n}_{k}": round(v, 2) for n, r in results.items() for k, v in r.items()},
        "ratios": {
            **{
                f"{n}_vs_floor_per_field": round(r["pantau_us_per_field"] / r["floor_us_per_field"], 2)
                for n, r in results.items()
            },
            **{
                f"{n}_cpu_vs_floor_per_field": round(r["pantau_cpu_us"] / r["floor_cpu_us"], 2)
                for n, r in results.items()
            },
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
