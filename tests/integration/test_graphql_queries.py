"""The read API executed against the Belu fixture, on every database backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.settings import Settings
from api.storage.models import Source, Tps
from api.tallies.writer import RaceInfo, TallyInput, TallyWrite, record_tallies
from sirekap.belu import belu_2020

SETTINGS = Settings(development=True)
SCHEMA = build_schema(SETTINGS)
RACE = "pkwkk-5304-2020"


async def run(sessions: async_sessionmaker[AsyncSession], query: str, **variables: Any) -> dict[str, Any]:
    result = await SCHEMA.execute(query, variable_values=variables, context_value=Context(sessions, SETTINGS))
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def test_races_and_paslon(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    data = await run(belu_sessions, "{ races { slug kind timeZone votingDay paslon { number shortName calon } } }")
    (race,) = data["races"]
    assert race["slug"] == RACE and race["kind"] == "pkwkk" and race["timeZone"] == "Asia/Makassar"
    assert race["votingDay"] == "2020-12-09"
    assert [(p["number"], p["shortName"]) for p in race["paslon"]] == [(1, "SAHABAT"), (2, "SEHATI")]
    assert race["paslon"][1]["calon"] == "dr. Taolin Agustinus, Sp.PD"


async def test_region_tree(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    data = await run(
        belu_sessions,
        """{ kab: region(code: "5304") { name level tpsTotal registeredVoters parent { code } children { code } }
             kec: region(code: "530412") { name parent { name } ancestors { code } children { code name level } }
             desa: region(code: "5304121003") { ancestors { code level } tpsTotal } }""",
    )
    kab, kec, desa = data["kab"], data["kec"], data["desa"]
    assert (kab["name"], kab["level"], kab["tpsTotal"], kab["registeredVoters"]) == ("BELU", "KABUPATEN", 426, 118005)
    assert kab["parent"] == {"code": "53"}
    assert [c["code"] for c in kab["children"]] == sorted(r.kecamatan_code for r in belu_2020().pleno_kecamatan)
    assert kec["name"] == "KOTA ATAMBUA" and kec["parent"] == {"name": "BELU"}
    assert [a["code"] for a in kec["ancestors"]] == ["53", "5304"]
    assert {c["level"] for c in kec["children"]} == {"DESA"} and len(kec["children"]) == 4
    assert [a["level"] for a in desa["ancestors"]] == ["PROVINSI", "KABUPATEN", "KECAMATAN"]
    assert desa["tpsTotal"] > 0


async def test_official_result_and_comparison(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    data = await run(
        belu_sessions,
        """{ region(code: "5304") { status
               results(source: PLENO_KABUPATEN) { status isOfficial valid leader { shortName } margin
                 votes { paslon { number } votes } asOf { utc local zone } coverage { reported expected } }
               comparison {
                 official { source }
                 results { source isOfficial coverage { unit reported expected } }
                 claims { isClaim isOfficial status claimant { shortName } coverage { reported expected } }
                 differences { source claimant { shortName } reference paslon { number } difference } } } }""",
    )
    region = data["region"]
    assert region["status"] == "OFFICIAL"
    official = region["results"]
    assert [(v["paslon"]["number"], v["votes"]) for v in official["votes"]] == [(1, 50376), (2, 50623)]
    assert (official["leader"]["shortName"], official["margin"], official["valid"]) == ("SEHATI", 247, 100999)
    assert official["isOfficial"] and official["status"] == "OFFICIAL"
    assert official["asOf"] == {"utc": "2020-12-16T10:00:00+00:00", "local": "2020-12-16 18:00 WITA", "zone": "WITA"}

    comparison = region["comparison"]
    assert comparison["official"] == {"source": "PLENO_KABUPATEN"}
    by_source = {r["source"]: r for r in comparison["results"]}
    assert by_source["PLENO_KECAMATAN"]["coverage"] == {"unit": "kecamatan", "reported": 12, "expected": 12}
    assert [r["source"] for r in comparison["results"] if r["isOfficial"]] == ["PLENO_KABUPATEN"]
    assert by_source["SIREKAP"]["coverage"] == {"unit": "tps", "reported": 0, "expected": 426}
    assert all(c["isClaim"] and not c["isOfficial"] and c["status"] == "CLAIM" for c in comparison["claims"])
    claims = {c["claimant"]["shortName"]: c["coverage"] for c in comparison["claims"]}
    assert claims == {"SAHABAT": {"reported": 408, "expected": 426}, "SEHATI": {"reported": 426, "expected": 426}}
    sehati_claim = {
        d["paslon"]["number"]: d["difference"]
        for d in comparison["differences"]
        if d["claimant"] and d["claimant"]["shortName"] == "SEHATI"
    }
    assert sehati_claim == {1: 48206 - 50376, 2: 48742 - 50623}
    assert {d["reference"] for d in comparison["differences"]} == {"PLENO_KABUPATEN"}


async def test_breakdown_by_kecamatan_in_a_bounded_number_of_statements(
    belu_engine: AsyncEngine, belu_sessions: async_sessionmaker[AsyncSession]
) -> None:
    statements: list[str] = []
    event.listen(belu_engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    query = """{ region(code: "5304") { breakdown(source: PLENO_KECAMATAN) {
        region { code name } result { votes { paslon { number } votes } leader { shortName } margin status } } } }"""
    data = await run(belu_sessions, query)
    rows = data["region"]["breakdown"]
    assert len(rows) == 12
    facts = {r.kecamatan_code: r.votes for r in belu_2020().pleno_kecamatan}
    for row in rows:
        votes = {v["paslon"]["number"]: v["votes"] for v in row["result"]["votes"]}
        assert votes == facts[row["region"]["code"]]
        # a kecamatan's pleno is a step of the recap: the race's own (kabupaten) pleno alone is official
        assert row["result"]["status"] == "RECAP"
    by_name = {r["region"]["name"]: r["result"] for r in rows}
    assert by_name["KOTA ATAMBUA"]["leader"]["shortName"] == "SEHATI" and by_name["KOTA ATAMBUA"]["margin"] == 363
    few = len(statements)
    statements.clear()
    await run(belu_sessions, query.replace('"5304"', '"530412"').replace("PLENO_KECAMATAN", "SIREKAP"))
    assert few <= 10 and len(statements) <= 10, (few, [s[:60] for s in statements])


async def _write_sirekap(
    sessions: async_sessionmaker[AsyncSession], code: str, votes: tuple[int, int], **kw: Any
) -> None:
    async with sessions.begin() as session:
        race = await RaceInfo.load(session, 1)
        tps_id = await session.scalar(select(Tps.id).where(Tps.code == code))
        assert tps_id is not None
        a, b = sorted(race.paslon_ids)
        valid = sum(votes)
        tally = TallyInput(
            {a: votes[0], b: votes[1]},
            valid=valid,
            invalid=2,
            total=valid + 2,
            source_ts=datetime(2020, 12, 9, 6, 0, tzinfo=UTC),
            **kw,
        )
        await record_tallies(
            session, race, Source.SIREKAP, [TallyWrite(code, tally, tps_id=tps_id)], received_at=datetime.now(UTC)
        )


async def test_sirekap_results_progress_history_and_findings(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    first, second = belu_2020().tps[0].code, belu_2020().tps[1].code
    await _write_sirekap(
        belu_sessions,
        first,
        (100, 948),
        findings=[{"check": "within_tps_cap", "kind": "invalid", "message": "1050 > 510"}],
    )
    await _write_sirekap(belu_sessions, first, (100, 58))  # the OCR error corrected: numbers go down
    await _write_sirekap(belu_sessions, second, (30, 20))
    data = await run(
        belu_sessions,
        """query($kec: String!, $tps: String!) {
             region(code: $kec) { status results(source: SIREKAP) { valid coverage { reported expected ratio }
               votes { paslon { number } votes } asOf { local } isOfficial status } }
             tps(code: $tps) { number desa { code } history { source version isCurrent result { valid } }
               results(source: SIREKAP) { votes { votes } } }
             findings(race: "pkwkk-5304-2020", region: "5304") { totalCount edges { node { subjectCode } } } }""",
        kec=first[:6],
        tps=first,
    )
    result = data["region"]["results"]
    assert result["valid"] == 158 + 50
    assert {v["paslon"]["number"]: v["votes"] for v in result["votes"]} == {1: 130, 2: 78}
    assert result["coverage"]["reported"] == 2 and result["coverage"]["expected"] == 27
    assert result["asOf"] == {"local": "2020-12-09 14:00 WITA"}
    assert not result["isOfficial"] and result["status"] == "PROVISIONAL"
    assert data["region"]["status"] == "PLENO_KECAMATAN_DONE"
    history = data["tps"]["history"]
    assert [(h["version"], h["isCurrent"], h["result"]["valid"]) for h in history] == [(1, False, 1048), (2, True, 158)]
    assert data["tps"]["results"]["votes"] == [{"votes": 100}, {"votes": 58}]
    assert data["findings"] == {"totalCount": 0, "edges": []}  # the correction carries no findings


async def test_tps_pages_cover_all_426_without_gaps_or_repeats(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    query = """query($after: String) { tpsConnection(race: "pkwkk-5304-2020", first: 100, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { code } } } }"""
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await run(belu_sessions, query, after=after))["tpsConnection"]
        assert page["totalCount"] == 426
        seen += [e["node"]["code"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 5
    assert seen == sorted(t.code for t in belu_2020().tps)


async def test_a_page_of_tps_with_their_history_costs_a_few_statements(
    belu_engine: AsyncEngine, belu_sessions: async_sessionmaker[AsyncSession]
) -> None:
    tps = belu_2020().tps
    for code, votes in ((tps[0].code, (100, 948)), (tps[0].code, (100, 58)), (tps[7].code, (30, 20))):
        await _write_sirekap(belu_sessions, code, votes)
    statements: list[str] = []
    event.listen(belu_engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    data = await run(
        belu_sessions,
        """{ tpsConnection(race: "pkwkk-5304-2020", first: 100) { edges { node { code
             history { source version isCurrent result { valid } } results(source: SIREKAP) { valid } } } } }""",
    )
    nodes = {e["node"]["code"]: e["node"] for e in data["tpsConnection"]["edges"]}
    assert len(nodes) == 100
    assert [(h["version"], h["isCurrent"], h["result"]["valid"]) for h in nodes[tps[0].code]["history"]] == [
        (1, False, 1048),
        (2, True, 158),
    ]
    assert nodes[tps[7].code]["results"] == {"valid": 50} and nodes[tps[1].code]["history"] == []
    assert len(statements) <= 8, [s[:60] for s in statements]  # not one per TPS


async def test_tps_filters_and_orders(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    tps = belu_2020().tps
    await _write_sirekap(belu_sessions, tps[0].code, (100, 90))
    await _write_sirekap(belu_sessions, tps[5].code, (10, 5))
    data = await run(
        belu_sessions,
        """{ kec: tpsConnection(race: "pkwkk-5304-2020", region: "530412", first: 5) { totalCount }
             big: tpsConnection(race: "pkwkk-5304-2020", minRegisteredVoters: 300, first: 100) {
               totalCount edges { node { registeredVoters } } }
             reported: tpsConnection(
               race: "pkwkk-5304-2020", reportedBy: SIREKAP, orderBy: VALID_VOTES, descending: true
             ) {
               totalCount edges { node { code } } }
             waiting: tpsConnection(race: "pkwkk-5304-2020", status: WAITING) { totalCount } }""",
    )
    assert data["kec"]["totalCount"] == 53
    expected_big = sum(1 for t in tps if t.registered_voters >= 300)
    assert data["big"]["totalCount"] == expected_big
    assert all(e["node"]["registeredVoters"] >= 300 for e in data["big"]["edges"])
    assert [e["node"]["code"] for e in data["reported"]["edges"]] == [tps[0].code, tps[5].code]
    assert data["waiting"]["totalCount"] == 424


NOTES = [
    {
        "check": "total_within_voters",
        "kind": "incomplete",
        "severity": "note",
        "message": "cannot check: pengguna_total_j missing",
    },
    {
        "check": "gender_split",
        "kind": "incomplete",
        "severity": "note",
        "message": "cannot check: pengguna_total_l missing",
    },
]
ANOMALY = {
    "check": "votes_sum_valid",
    "kind": "invalid",
    "message": "candidate votes 100 + 78 = 178, but suara_sah is 185",
}


async def test_only_a_failed_rule_makes_an_anomaly_and_findings_page_by_severity_and_rule(
    belu_sessions: async_sessionmaker[AsyncSession],
) -> None:
    tps = belu_2020().tps
    for t in tps[:30]:  # thirty TPS with notes only (optional fields left out), one with an anomaly too
        await _write_sirekap(belu_sessions, t.code, (100, 78), findings=[*NOTES, ANOMALY] if t is tps[7] else NOTES)
    statuses = """{ anomaly: tpsConnection(race: "pkwkk-5304-2020", status: ANOMALY) { totalCount edges { node {
                      code status } } }
                    reported: tpsConnection(race: "pkwkk-5304-2020", status: REPORTED) { totalCount }
                    noted: tpsConnection(race: "pkwkk-5304-2020", hasFindings: true) { totalCount }
                    tps(code: "%s") { status unreadable { reason }
                      results(source: SIREKAP) { findings { check severity } } } }"""
    data = await run(belu_sessions, statuses % tps[7].code)
    assert data["anomaly"] == {"totalCount": 1, "edges": [{"node": {"code": tps[7].code, "status": "ANOMALY"}}]}
    assert data["reported"]["totalCount"] == 29 and data["noted"]["totalCount"] == 30
    assert data["tps"]["status"] == "ANOMALY" and data["tps"]["unreadable"] is None
    assert [f["severity"] for f in data["tps"]["results"]["findings"]] == ["NOTE", "NOTE", "ANOMALY"]

    query = """query($severity: [FindingSeverity!], $rule: [String!], $after: String) {
        findings(race: "pkwkk-5304-2020", region: "5304", severity: $severity, rule: $rule, first: 7, after: $after) {
          totalCount pageInfo { hasNextPage endCursor } edges { node { subjectCode check severity message } } } }"""
    anomalies = (await run(belu_sessions, query, severity=["ANOMALY"]))["findings"]
    assert anomalies["totalCount"] == 1 and not anomalies["pageInfo"]["hasNextPage"]
    assert anomalies["edges"][0]["node"] == {
        "subjectCode": tps[7].code,
        "check": "votes_sum_valid",
        "severity": "ANOMALY",
        "message": ANOMALY["message"],
    }
    seen: list[tuple[str, str]] = []
    after = None
    while True:  # 61 findings, 7 a page, in subject order, none twice
        page = (await run(belu_sessions, query, after=after))["findings"]
        assert page["totalCount"] == 61
        seen += [(e["node"]["subjectCode"], e["node"]["check"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 61 and [code for code, _ in seen] == sorted(code for code, _ in seen)
    gender = (await run(belu_sessions, query, rule=["gender_split"], severity=["NOTE", "INCOMPLETE"]))["findings"]
    assert gender["totalCount"] == 30 and {e["node"]["check"] for e in gender["edges"]} == {"gender_split"}
    one_kecamatan = await run(
        belu_sessions,
        f'{{ findings(race: "pkwkk-5304-2020", region: "{tps[7].code[:6]}") {{ totalCount }} }}',
    )
    in_kecamatan = sum(1 for t in tps[:30] if t.code[:6] == tps[7].code[:6])
    assert one_kecamatan["findings"]["totalCount"] == 2 * in_kecamatan + 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ tpsConnection(race: "pkwkk-5304-2020", first: 101) { totalCount } }', "first must be between 0 and 100"),
        ('{ findings(race: "pkwkk-5304-2020", region: "5304", first: 101) { totalCount } }', "between 0 and 100"),
        ('{ findings(race: "pkwkk-5304-2020", region: "5304", after: "bm9wZQ") { totalCount } }', "not one this API"),
        ('{ findings(race: "pkwkk-5304-2099", region: "5304") { totalCount } }', "no race 'pkwkk-5304-2099'"),
        ('{ region(code: "53041") { name } }', "has 5 digits"),
        ('{ tpsConnection(race: "pkwkk-5304-2020", after: "bm9wZQ") { totalCount } }', "not one this API handed out"),
    ],
)
async def test_bad_arguments_get_readable_errors(
    belu_sessions: async_sessionmaker[AsyncSession], query: str, message: str
) -> None:
    result = await SCHEMA.execute(query, context_value=Context(belu_sessions, SETTINGS))
    assert result.errors is not None
    assert message in result.errors[0].message
