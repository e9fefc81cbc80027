"""Sync of the belu-2020 night from the simulator over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text

from api.storage.models import Paslon, Race, RaceRegion, Region, Rollup, Source, Tally, Tps
from api.sync.metrics import UNREADABLE, register_sync_metrics
from api.sync.models import SyncRace, SyncRejection
from api.sync.statistics import PlannerStatistics
from sirekap.belu import belu_2020
from sirekap.sim.belu_night import CANDIDATE_IDS
from sirekap.sim.belu_timeline import EARLY_CORRECTION, WITA, belu_timeline
from sirekap.sim.testing import RunningSim, running_simulator
from tests.integration.test_sync_support import (
    FakeClock,
    assert_matches_simulator,
    race_info,
    simulator_numbers,
    stored_rollups,
    sync_harness,
)

LABEL = {"race": "pkwkk-5304"}


@pytest.fixture(scope="module")
def belu_sim() -> Iterator[RunningSim]:
    with running_simulator("belu-2020", schedule=False) as sim:
        yield sim


@pytest.fixture
def sim(belu_sim: RunningSim) -> Iterator[RunningSim]:
    belu_sim.clear_faults()
    yield belu_sim
    belu_sim.clear_faults()


def wita(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2020, 12, day, hour, minute, tzinfo=WITA)


async def test_bootstrap_into_an_empty_database_builds_the_race_from_the_upstream(
    database_url: str, sim: RunningSim
) -> None:
    sim.set_clock(at=wita(9, 13, 0))  # polls closed, nothing uploaded yet
    clock = FakeClock(wita(9, 13, 0))
    async with sync_harness(database_url, sim.base_url, clock) as h:
        result = await h.service.sync_race(h.service.config.targets[0])
        assert result.outcome == "success", result
        async with h.sessions() as session:
            race = await session.scalar(select(Race).where(Race.kind == "pkwkk", Race.region_code == "5304"))
            assert race is not None
            # identity from the configured target (Pilkada 2020), never from a document's time
            assert (race.slug, race.time_zone, race.voting_day.isoformat(), race.voter_cap_per_tps) == (
                "pkwkk-5304-2020",
                "Asia/Makassar",
                "2020-12-09",
                500,
            )
            assert race.title == "Pemilihan Bupati BELU"
            levels = {
                level: n
                for level, n in await session.execute(select(Region.level, func.count()).group_by(Region.level))
            }
            assert levels == {"provinsi": 1, "kabupaten": 1, "kecamatan": 12, "desa": 81}
            tps = set((await session.scalars(select(Tps.code).where(Tps.race_id == race.id))).all())
            assert tps == {t.code for t in belu_2020().tps}
            paslon = (await session.execute(select(Paslon.number, Paslon.upstream_id, Paslon.calon))).all()
            assert sorted((n, u) for n, u, _ in paslon) == sorted(CANDIDATE_IDS.items())
            assert all(calon for _, _, calon in paslon)
            top = await session.get_one(RaceRegion, (race.id, "5304"))
            assert top.tps_total == 426
            assert await session.scalar(select(func.count()).select_from(Tally)) == 0  # nothing uploaded yet


async def test_full_sync_at_the_end_of_the_night_reproduces_the_simulator_exactly(
    database_url: str, sim: RunningSim
) -> None:
    sim.set_clock(at=wita(13, 13, 0))
    async with sync_harness(database_url, sim.base_url, FakeClock(wita(13, 13, 0))) as h:
        result = await h.service.sync_race(h.service.config.targets[0])
        assert (result.outcome, result.tps_in, result.tps_total, result.tps_written) == ("success", 426, 426, 426)
        await assert_matches_simulator(h.sessions, sim.base_url)
        # the next pass costs one conditional request and changes nothing
        before = h.service.fetcher.requests
        again = await h.service.sync_race(h.service.config.targets[0])
        assert again.outcome == "success" and again.tps_written == 0
        assert h.service.fetcher.requests - before == 1
        assert h.stats.race("pkwkk-5304").documents["not_modified"] == 1


async def test_the_belu_fixture_race_is_reused_and_its_paslon_linked_by_ballot_number(
    belu_database_url: str, sim: RunningSim
) -> None:
    sim.set_clock(at=wita(11, 18, 15))
    async with sync_harness(belu_database_url, sim.base_url, FakeClock(wita(11, 18, 15))) as h:
        result = await h.service.sync_race(h.service.config.targets[0])
        assert (result.outcome, result.tps_in) == ("success", 163)
        async with h.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Race)) == 1
            linked = [(n, u) for n, u in await session.execute(select(Paslon.number, Paslon.upstream_id))]
            assert sorted(linked) == sorted(CANDIDATE_IDS.items())
            race = await race_info(session)
            kabupaten = (await stored_rollups(session, race.id))["5304"]
        # what Sirekap showed on 11 Dec 18:15: 163 of 426 TPS, SAHABAT 19,539, SEHATI 19,580
        assert kabupaten == (163, {"1000899": 19_539, "1000900": 19_580})
        await assert_matches_simulator(h.sessions, sim.base_url)


async def test_passes_follow_the_night_incrementally(database_url: str, sim: RunningSim) -> None:
    clock = FakeClock(wita(9, 14, 0))
    async with sync_harness(database_url, sim.base_url, clock) as h:
        target = h.service.config.targets[0]
        for at in (wita(9, 14, 0), wita(10, 12, 0), wita(11, 18, 15), wita(12, 21, 0), wita(13, 12, 0)):
            sim.set_clock(at=at)
            clock.now = at
            requests = h.service.fetcher.requests
            result = await h.service.sync_race(target)
            assert result.outcome == "success", result
            await assert_matches_simulator(h.sessions, sim.base_url)
            if at != wita(9, 14, 0):  # after the bootstrap: only changed TPS and the files above them are fetched
                assert h.service.fetcher.requests - requests <= result.tps_written + 1 + 12 + 81


async def test_an_ocr_misread_then_corrected_keeps_both_versions(database_url: str, sim: RunningSim) -> None:
    timeline = belu_timeline()
    code, misread = next((c, m) for c, m in timeline.misreads.items() if m.corrected_at == EARLY_CORRECTION)
    true_votes = next(t for t in belu_2020().tps if t.code == code).count.votes
    clock = FakeClock(wita(10, 15, 0))
    async with sync_harness(database_url, sim.base_url, clock) as h:
        target = h.service.config.targets[0]
        sim.set_clock(at=wita(10, 15, 0))
        assert (await h.service.sync_race(target)).outcome == "success"
        sim.set_clock(at=wita(10, 16, 15))
        clock.now = wita(10, 16, 15)
        assert (await h.service.sync_race(target)).outcome == "success"
        await assert_matches_simulator(h.sessions, sim.base_url)
        async with h.sessions() as session:
            versions = (
                await session.scalars(
                    select(Tally)
                    .where(Tally.subject_code == code, Tally.source == Source.SIREKAP)
                    .order_by(Tally.version)
                )
            ).all()
            ids = {p.id: p.number for p in await session.scalars(select(Paslon))}
            from api.storage.models import TallyVote

            def votes_of(tally: Tally) -> dict[int, int]:
                return {ids[v.paslon_id]: v.votes for v in tally_votes if v.tally_id == tally.id}

            tally_votes = (await session.scalars(select(TallyVote))).all()
        assert [(t.version, t.is_current) for t in versions] == [(1, False), (2, True)]
        assert votes_of(versions[0]) == misread.votes
        assert votes_of(versions[1]) == true_votes
        # the misread contradicted the sheet's own suara_sah: stored as a finding, not fixed
        assert "votes_sum_valid" in {f["check"] for f in versions[0].findings}
        assert versions[0].anomaly_count == 1 and versions[1].anomaly_count == 0
        # Pilkada 2024 TPS pages leave out the voters-who-came figures: the checks that need them are notes
        assert {f["severity"] for f in versions[1].findings} == {"note"}
        assert versions[1].note is not None and versions[1].note.startswith("correction")


async def test_html_truncated_and_stale_documents_are_rejected_and_the_last_good_data_kept(
    database_url: str, sim: RunningSim
) -> None:
    clock = FakeClock(wita(10, 12, 0))
    async with sync_harness(database_url, sim.base_url, clock) as h:
        target = h.service.config.targets[0]
        sim.set_clock(at=wita(10, 12, 0))
        assert (await h.service.sync_race(target)).outcome == "success"
        async with h.sessions() as session:
            good = await stored_rollups(session, (await race_info(session)).id)

        # the race file itself truncated: the pass fails, nothing moves
        sim.set_clock(at=wita(11, 18, 15))
        clock.now = wita(11, 18, 15)
        fault = sim.add_fault("truncated", path="/pilkada/hhcw/pkwkk/53/5304.json")
        failed = await h.service.sync_race(target)
        assert (failed.outcome, failed.reason) == ("failure", "truncated")
        async with h.sessions() as session:
            assert await stored_rollups(session, (await race_info(session)).id) == good
        sim.remove_fault(fault)

        # a WAF page (HTML with status 200) for one kecamatan, a stale file for another: the rest is synced
        kecamatan = sorted(code for code in simulator_numbers(sim.base_url) if len(code) == 6)
        denied, frozen = kecamatan[0], kecamatan[1]
        sim.add_fault("denied", path=f"/pilkada/hhcw/pkwkk/53/5304/{denied}", status=200)
        sim.add_fault("stale", path=f"/pilkada/hhcw/pkwkk/53/5304/{frozen}.json", start=wita(9, 13, 0).isoformat())
        partial = await h.service.sync_race(target)
        assert partial.outcome == "partial"
        assert {r.reason for r in partial.rejections} >= {"html", "stale"}
        async with h.sessions() as session:
            race = await race_info(session)
            now = await stored_rollups(session, race.id)
            reasons = set((await session.scalars(select(SyncRejection.reason))).all())
            row = await session.get_one(SyncRace, race.id)
        assert reasons >= {"truncated", "html", "stale"}
        assert row.last_outcome == "partial"
        assert now[denied] == good.get(denied) and now[frozen] == good.get(frozen)  # the last good data
        assert now["5304"][0] > good["5304"][0]  # and everything else moved on
        assert h.stats.race("pkwkk-5304").failures["html"] >= 1

        # faults gone: the next pass completes the work
        sim.clear_faults()
        assert (await h.service.sync_race(target)).outcome == "success"
        await assert_matches_simulator(h.sessions, sim.base_url)


async def test_the_1400_outage_fails_cleanly_and_the_pass_after_recovery_catches_up(database_url: str) -> None:
    registry = CollectorRegistry()
    clock = FakeClock(wita(9, 14, 0))
    with running_simulator("belu-2020", at=wita(9, 14, 0)) as sim:  # with the scheduled 14:02 outage
        async with sync_harness(database_url, sim.base_url, clock) as h:
            register_sync_metrics(registry, h.stats, clock)
            target = h.service.config.targets[0]
            assert (await h.service.sync_race(target)).outcome == "success"
            assert registry.get_sample_value("pantau_sync_tps_in", LABEL) == 60
            assert registry.get_sample_value("pantau_sync_up", LABEL) == 1
            last_good = registry.get_sample_value("pantau_sync_last_success_timestamp_seconds", LABEL)

            for at in (wita(9, 14, 30), wita(9, 20, 0), wita(10, 9, 45)):
                sim.set_clock(at=at)
                clock.now = at
                requests = h.service.fetcher.requests
                result = await h.service.sync_race(target)
                assert (result.outcome, result.reason) == ("failure", "http_5xx")
                assert h.service.fetcher.requests - requests <= 1 + h.service.config.policy.retries
            assert registry.get_sample_value("pantau_sync_up", LABEL) == 0
            assert registry.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "failure"}) == 3
            assert registry.get_sample_value("pantau_sync_failures_total", LABEL | {"reason": "http_5xx"}) == 3
            assert registry.get_sample_value("pantau_sync_last_success_timestamp_seconds", LABEL) == last_good
            assert registry.get_sample_value("pantau_sync_last_attempt_timestamp_seconds", LABEL) == (
                wita(10, 9, 45).timestamp()
            )
            # the data is what Sirekap last showed (14:00 WITA): the lag says how old that is
            upstream = registry.get_sample_value("pantau_sync_upstream_timestamp_seconds", LABEL)
            assert upstream == wita(9, 14, 0).timestamp()
            lag = registry.get_sample_value("pantau_sync_upstream_lag_seconds", LABEL)
            assert lag == (wita(10, 9, 45) - wita(9, 14, 0)).total_seconds()
            async with h.sessions() as session:
                race = await race_info(session)
                assert (await stored_rollups(session, race.id))["5304"][0] == 60
                row = await session.get_one(SyncRace, race.id)
                assert (row.last_outcome, row.last_success_at) == ("failure", wita(9, 14, 0).astimezone(UTC))

            sim.set_clock(at=wita(10, 10, 15))
            clock.now = wita(10, 10, 15)
            result = await h.service.sync_race(target)
            assert (result.outcome, result.tps_in) == ("success", 100)
            await assert_matches_simulator(h.sessions, sim.base_url)
            assert registry.get_sample_value("pantau_sync_up", LABEL) == 1
            assert registry.get_sample_value("pantau_sync_tps_in", LABEL) == 100
            assert registry.get_sample_value("pantau_sync_documents_total", LABEL | {"outcome": "changed"}) == 100
            async with h.sessions() as session:
                rollup = await session.get_one(Rollup, (race.id, Source.SIREKAP, "5304"))
                assert rollup.tps_in == 100


async def test_a_document_the_host_refuses_is_unreadable_a_struggling_host_is_not(
    database_url: str, sim: RunningSim
) -> None:
    from api.sync.models import SyncUnreadable
    from sirekap.codes import url_path

    sim.set_clock(at=wita(10, 12, 0))
    reported = sorted(
        code for code, (tps_in, _) in simulator_numbers(sim.base_url).items() if len(code) == 13 and tps_in
    )
    refused, failing = reported[0], reported[-1]
    sim.add_fault("denied", path=f"/pilkada/hhcw/pkwkk/{url_path(refused)}.json", status=403)
    sim.add_fault("error", path=f"/pilkada/hhcw/pkwkk/{url_path(failing)}.json", status=503)
    async with sync_harness(database_url, sim.base_url, FakeClock(wita(10, 12, 0))) as h:
        result = await h.service.sync_race(h.service.config.targets[0])
        assert result.outcome == "partial"
        # the pass names both documents it could not read
        assert f"{url_path(refused)}.json (http_4xx)" in result.summary()
        assert f"{url_path(failing)}.json (http_5xx)" in result.summary()
        async with h.sessions() as session:
            unreadable = {(u.code, u.reason) for u in await session.scalars(select(SyncUnreadable))}
        # a 403 on one document is that document's problem; a 503 is the host's, which the monitor reports
        assert unreadable == {(refused, "http_4xx")}
        assert h.stats.race("pkwkk-5304").gauges[UNREADABLE] == 1


async def test_the_sync_analyses_the_tables_it_fills_as_they_grow(database_url: str, sim: RunningSim) -> None:
    sim.set_clock(at=wita(13, 13, 0))
    async with sync_harness(database_url, sim.base_url, FakeClock(wita(13, 13, 0))) as h:
        h.service.statistics = PlannerStatistics(floor=100)
        result = await h.service.sync_race(h.service.config.targets[0])
        assert (result.outcome, result.tps_written) == ("success", 426)
        # after the bootstrap, and again once 100 tallies, then as many again as before, were written
        assert h.service.statistics.analyses >= 3
        if database_url.startswith("postgresql"):
            async with h.sessions() as session:
                known = await session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'tallies'"))
            assert known is not None and known >= 100  # the planner knows the table is no longer empty
