"""Sync against a recorded set of real-shaped Sirekap documents (Pilkada 2024 Belu, the real layout and quirks), over
real HTTP on loopback, on SQLite and PostgreSQL: `PANTAU_SYNC_RACES="pkwkk 5304"` from an empty database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.migrate import upgrade
from api.storage.models import Paslon, Race, RaceRegion, Region, Rollup, RollupVote, Source, Tally, Tps
from api.sync.metrics import SyncStats, register_sync_metrics
from api.sync.service import SyncConfig, SyncService
from api.tallies.rollup_check import rollup_mismatches
from api.tallies.writer import RaceInfo
from tests.integration.test_sync_support import TEST_POLICY, FakeClock
from tests.recorded_sirekap import RecordedSirekap, documents, quirks, tps_path
from tests.servers import serving_here

MORNING = datetime(2024, 11, 28, 3, 5, tzinfo=UTC)  # 11:05 WITA, just after the 10:00 WIB snapshot
EVENING = datetime(2024, 11, 27, 14, 5, tzinfo=UTC)
SETTINGS = Settings(development=True)
SCHEMA = build_schema(SETTINGS)
LABEL = {"race": "pkwkk-5304"}


@dataclass
class Harness:
    service: SyncService
    sessions: async_sessionmaker[AsyncSession]
    upstream: RecordedSirekap
    registry: CollectorRegistry
    clock: FakeClock

    async def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        result = await SCHEMA.execute(query, variable_values=variables, context_value=Context(self.sessions, SETTINGS))
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data

    async def race_id(self) -> int:
        async with self.sessions() as session:
            found = await session.scalar(select(Race.id).where(Race.slug == "pkwkk-5304-2024"))
        assert found is not None
        return found


@asynccontextmanager
async def synced_from(empty_database_url: str, snapshot: str, at: datetime) -> AsyncIterator[Harness]:
    """A sync configured as an operator would (`PANTAU_SYNC_RACES="pkwkk 5304"`) against the recorded host."""
    upstream = RecordedSirekap(snapshot)
    async with serving_here(upstream) as base_url:
        settings = Settings.from_env(
            {
                "PANTAU_DATABASE_URL": empty_database_url,
                "PANTAU_SIREKAP_URL": base_url,
                "PANTAU_SYNC_RACES": "pkwkk 5304",
            }
        )
        await upgrade(settings.database_url)
        engine = create_engine(settings.database_url)
        clock = FakeClock(at)
        stats = SyncStats()
        registry = CollectorRegistry()
        register_sync_metrics(registry, stats, clock)
        service = SyncService(
            replace(SyncConfig.from_settings(settings), policy=TEST_POLICY),
            sessionmaker(engine),
            stats=stats,
            clock=clock,
        )
        try:
            yield Harness(service, sessionmaker(engine), upstream, registry, clock)
        finally:
            await service.stop()
            await engine.dispose()


def readable_tps(snapshot: str) -> dict[str, dict[str, Any]]:
    """The TPS files of a snapshot that parse and carry votes: code → the file."""
    found = {}
    for path, entry in documents(snapshot).items():
        code = path.rsplit("/", 1)[1].removesuffix(".json")
        tps_file = path.startswith("/pilkada/hhcw/pkwkk/") and len(code) == 13 and "json" in entry
        if tps_file and entry["json"]["tungsura"]["chart"] is not None:
            found[code] = entry["json"]
    return found


def summed(files: dict[str, dict[str, Any]]) -> dict[str, int]:
    votes: dict[str, int] = {}
    for body in files.values():
        for key, value in body["tungsura"]["chart"].items():
            if key.isdigit():
                votes[key] = votes.get(key, 0) + value
    return votes


async def kabupaten(session: AsyncSession, race_id: int) -> tuple[int, dict[str, int]]:
    """TPS in, and votes by upstream candidate id, of Pantau's Sirekap rollup for Belu."""
    rollup = await session.get_one(Rollup, (race_id, Source.SIREKAP.value, "5304"))
    ids = dict((await session.execute(select(Paslon.id, Paslon.upstream_id).where(Paslon.race_id == race_id))).all())
    rows = await session.execute(
        select(RollupVote.paslon_id, RollupVote.votes).where(
            RollupVote.race_id == race_id, RollupVote.source == Source.SIREKAP, RollupVote.region_code == "5304"
        )
    )
    return rollup.tps_in, {str(ids[paslon]): votes for paslon, votes in rows}


TPS_STATE = """query($code: String!) { tps(code: $code, race: "pkwkk-5304-2024") { status registeredVoters
    unreadable { reason detail path since { local } lastTried { local } }
    results(source: SIREKAP) { votes { paslon { number } votes } findings { check severity } }
    history { version } } }"""


async def test_bootstrap_from_the_real_layout_with_its_quirks(empty_database_url: str) -> None:
    html, truncated, anomaly = quirks()["html_200"], quirks()["truncated"], quirks()["anomaly"]
    async with synced_from(empty_database_url, "morning", MORNING) as h:
        (target,) = h.service.config.targets
        result = await h.service.sync_race(target)

        # the pass walks the tree and says which documents it could not read, by path
        assert result.outcome == "partial", result
        summary = result.summary()
        assert summary.startswith("2 documents not read: ") and tps_path(html) in summary, summary
        assert tps_path(truncated) in summary and "(html)" in summary and "(truncated)" in summary
        # the layout asked for is the real one: no invented list
        assert "/wilayah/pilkada/pkwkp/0.json" in h.upstream.requests
        assert "/wilayah/pilkada/pkwkp/53.json" in h.upstream.requests
        assert not [p for p in h.upstream.requests if p.startswith("/wilayah/pilkada/pkwkk/") and p.count("/") < 5]

        race_id = await h.race_id()
        async with h.sessions() as session:
            race = await session.get_one(Race, race_id)
            assert (race.title, race.voting_day.isoformat(), race.time_zone, race.voter_cap_per_tps) == (
                "Pemilihan Bupati BELU",
                "2024-11-27",
                "Asia/Makassar",
                600,
            )
            levels = dict((await session.execute(select(Region.level, func.count()).group_by(Region.level))).all())
            assert levels == {"provinsi": 1, "kabupaten": 1, "kecamatan": 12, "desa": 81}
            assert await session.scalar(select(func.count()).select_from(Tps).where(Tps.race_id == race_id)) == 666
            paslon = (await session.execute(select(Paslon.number, Paslon.upstream_id, Paslon.calon))).all()
            assert [(n, u) for n, u, _ in sorted(paslon)] == [
                (1, "1000899"),
                (2, "1000900"),
                (3, "1000901"),
                (4, "1000902"),
            ]
            # totals of the readable TPS, exactly
            readable = readable_tps("morning")
            assert len(readable) == 635
            assert await kabupaten(session, race_id) == (635, summed(readable))
            assert await rollup_mismatches(session, await RaceInfo.load(session, race_id)) == []
            # registered voters: the DPT each readable TPS file states
            top = await session.get_one(RaceRegion, (race_id, "5304"))
            assert top.registered_voters == sum(
                f["tungsura"]["administrasi"]["pemilih_dpt_j"] for f in readable.values()
            )
            # every TPS file lacks the optional voter-use fields: notes, not anomalies; one real anomaly
            flagged = (
                await session.scalars(
                    select(Tally.subject_code).where(
                        Tally.race_id == race_id, Tally.is_current, Tally.anomaly_count > 0
                    )
                )
            ).all()
            noted = await session.scalar(
                select(func.count()).select_from(Tally).where(Tally.race_id == race_id, Tally.finding_count > 0)
            )
        assert list(flagged) == [anomaly] and noted == 635

        data = await h.graphql(
            """{ anomalies: tpsConnection(race: "pkwkk-5304-2024", status: ANOMALY) {
                   totalCount edges { node { code } } }
                 unreadable: tpsConnection(race: "pkwkk-5304-2024", status: UNREADABLE) { totalCount
                   edges { node { code status unreadable { reason } } } }
                 waiting: tpsConnection(race: "pkwkk-5304-2024", status: WAITING) { totalCount }
                 reported: tpsConnection(race: "pkwkk-5304-2024", status: REPORTED) { totalCount }
                 findings(race: "pkwkk-5304-2024", region: "5304", severity: [ANOMALY]) { totalCount
                   edges { node { subjectCode check message } } }
                 region(code: "5304", race: "pkwkk-5304-2024") {
                   tpsTotal registeredVoters tpsWithoutRegisteredVoters } }"""
        )
        # the DPT is stated by TPS files only: 29 not uploaded and 2 unreadable have none yet, and say so
        assert data["region"] == {
            "tpsTotal": 666,
            "registeredVoters": sum(f["tungsura"]["administrasi"]["pemilih_dpt_j"] for f in readable.values()),
            "tpsWithoutRegisteredVoters": 31,
        }
        assert data["anomalies"] == {"totalCount": 1, "edges": [{"node": {"code": anomaly}}]}
        assert data["unreadable"]["totalCount"] == 2
        assert {
            (e["node"]["code"], e["node"]["status"], e["node"]["unreadable"]["reason"])
            for e in data["unreadable"]["edges"]
        } == {
            (html, "UNREADABLE", "html"),
            (truncated, "UNREADABLE", "truncated"),
        }
        assert (data["waiting"]["totalCount"], data["reported"]["totalCount"]) == (29, 634)
        (finding,) = data["findings"]["edges"]
        assert finding["node"]["subjectCode"] == anomaly and finding["node"]["check"] == "votes_sum_valid"
        assert finding["node"]["message"].endswith("= 178, but suara_sah is 185")

        state = (await h.graphql(TPS_STATE, code=html))["tps"]
        assert state["status"] == "UNREADABLE" and state["results"] is None and state["history"] == []
        assert state["unreadable"]["reason"] == "html" and state["unreadable"]["path"] == tps_path(html)
        assert state["unreadable"]["since"] == {"local": "2024-11-28 11:05 WITA"}

        assert h.registry.get_sample_value("pantau_sync_unreadable_documents", LABEL) == 2
        assert h.registry.get_sample_value("pantau_sync_up", LABEL) == 1
        assert h.registry.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "partial"}) == 1


async def test_an_unreadable_tps_keeps_its_last_good_numbers_until_it_reads_again(empty_database_url: str) -> None:
    truncated = quirks()["truncated"]
    async with synced_from(empty_database_url, "evening", EVENING) as h:
        (target,) = h.service.config.targets
        assert (await h.service.sync_race(target)).outcome == "success"
        evening = (await h.graphql(TPS_STATE, code=truncated))["tps"]
        assert evening["status"] == "ANOMALY"  # the evening's misread: its votes do not add up to suara_sah
        assert evening["unreadable"] is None

        h.upstream.snapshot, h.clock.now = "morning", MORNING
        assert (await h.service.sync_race(target)).outcome == "partial"
        morning = (await h.graphql(TPS_STATE, code=truncated))["tps"]
        assert morning["status"] == "UNREADABLE" and morning["unreadable"]["reason"] == "truncated"
        assert (
            morning["unreadable"]["since"] == morning["unreadable"]["lastTried"] == {"local": "2024-11-28 11:05 WITA"}
        )
        assert morning["results"] == evening["results"] and morning["history"] == [{"version": 1}]  # last good numbers
        assert morning["registeredVoters"] == evening["registeredVoters"] > 0  # its DPT stays known
        region = await h.graphql('{ region(code: "5304", race: "pkwkk-5304-2024") { tpsWithoutRegisteredVoters } }')
        assert region["region"]["tpsWithoutRegisteredVoters"] == 30  # 29 not uploaded, the HTML page
        race_id = await h.race_id()
        async with h.sessions() as session:
            kept = readable_tps("morning") | {truncated: readable_tps("evening")[truncated]}
            assert await kabupaten(session, race_id) == (636, summed(kept))

        # still cut short an hour later: unreadable since the first pass that failed
        h.clock.now = datetime(2024, 11, 28, 4, 5, tzinfo=UTC)
        await h.service.sync_race(target)
        later = (await h.graphql(TPS_STATE, code=truncated))["tps"]["unreadable"]
        assert later["since"] == {"local": "2024-11-28 11:05 WITA"} and later["lastTried"] == {
            "local": "2024-11-28 12:05 WITA"
        }

        # the file reads again: the TPS takes the numbers its desa row shows and is no longer unreadable
        row = documents("morning")[tps_path(truncated[:10])]["json"]["tungsura"]["table"][truncated]
        fixed = json.loads(json.dumps(readable_tps("evening")[truncated]))
        fixed["ts"] = "2024-11-28 10:30:00"
        fixed["tungsura"]["chart"] = {k: v for k, v in row.items() if k.isdigit()}
        fixed["tungsura"]["administrasi"]["suara_sah"] = sum(fixed["tungsura"]["chart"].values())
        h.upstream.overrides[tps_path(truncated)] = {"json": fixed}
        assert (await h.service.sync_race(target)).outcome == "partial"  # the HTML page is still there
        fixed_state = (await h.graphql(TPS_STATE, code=truncated))["tps"]
        assert fixed_state["status"] == "REPORTED" and fixed_state["unreadable"] is None
        assert fixed_state["history"] == [{"version": 1}, {"version": 2}]
        assert h.registry.get_sample_value("pantau_sync_unreadable_documents", LABEL) == 1
