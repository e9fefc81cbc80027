"""The write API over real HTTP on loopback, on every database backend: roles, validation, idempotency, conflicts,
audit, POST-only mutations and live updates over graphql-transport-ws."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select

from api.app import create_app
from api.auth.tokens import Role, create_token, revoke_token
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.models import Source, Tally
from api.storage.write_models import AuditEntry
from api.tallies.rollup_check import rollup_mismatches
from api.tallies.writer import RaceInfo
from sirekap.belu import belu_2020
from tests.live import SELECTION, next_event, subscribe
from tests.servers import serving_here

NOW = datetime(2020, 12, 9, 7, 0, tzinfo=UTC)
RESULT = """__typename
  ... on WriteAccepted { race source subjectCode claimant version changed replayed findings { check kind message } }
  ... on WriteRejected { message reasons { field message check overridable } }
  ... on VersionConflict { message expectedVersion currentVersion }
  ... on NotAllowed { message }"""
ARGUMENTS = "($input: ChasilInput!, $key: String)"
SUBMIT = f"mutation{ARGUMENTS} {{ w: submitChasil(input: $input, idempotencyKey: $key) {{ {RESULT} }} }}"
CORRECT = f"mutation{ARGUMENTS} {{ w: correctChasil(input: $input, idempotencyKey: $key) {{ {RESULT} }} }}"
CLAIM = f"mutation($input: RegionTallyInput!) {{ w: recordPoskoClaim(input: $input) {{ {RESULT} }} }}"
PLENO_KECAMATAN = f"mutation($input: RegionTallyInput!) {{ w: recordPlenoKecamatan(input: $input) {{ {RESULT} }} }}"
PLENO_KABUPATEN = f"mutation($input: RegionTallyInput!) {{ w: recordPlenoKabupaten(input: $input) {{ {RESULT} }} }}"
AUDIT = """query($region: String) {
  auditLog(region: $region) { id at actor token action race source subjectCode claimant version old new } }"""

TPS = "5304121003001"  # KOTA ATAMBUA (530412)
OTHER_TPS = "5304012001001"  # LAMAKNEN (530401)


def tps_input(code: str = TPS, **changes: Any) -> dict[str, Any]:
    """The synthetic C.Hasil of a Belu TPS, as an operator would type it."""
    count = next(t.count for t in belu_2020().tps if t.code == code)
    entry: dict[str, Any] = {
        "tps": code,
        "votes": [{"paslon": n, "votes": v} for n, v in sorted(count.votes.items())],
        "valid": count.valid,
        "invalid": count.invalid,
        "total": count.total,
    }
    return {**entry, **changes}


def region_input(code: str, votes: dict[int, int], **changes: Any) -> dict[str, Any]:
    return {"region": code, "votes": [{"paslon": n, "votes": v} for n, v in sorted(votes.items())], **changes}


@dataclass
class WriteApi:
    base: str
    url: str
    tokens: dict[str, str]
    client: httpx.AsyncClient

    async def write(
        self, mutation: str, entry: dict[str, Any], token: str | None, key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens.get(token, token)}"} if token else {}
        variables: dict[str, Any] = {"input": entry}
        if key is not None:
            variables["key"] = key
        answer = await self.client.post("/graphql", json={"query": mutation, "variables": variables}, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]["w"]
        return result

    async def query(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"} if token else {}
        answer = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body: dict[str, Any] = answer.json()
        return body

    async def counts(self) -> tuple[int, int]:
        """(tally versions, audit entries): what a refused write must leave alone."""
        engine = create_engine(self.url)
        try:
            async with sessionmaker(engine)() as session:
                tallies = await session.scalar(select(func.count()).select_from(Tally))
                entries = await session.scalar(select(func.count()).select_from(AuditEntry))
        finally:
            await engine.dispose()
        return int(tallies or 0), int(entries or 0)

    async def rollup_problems(self) -> list[str]:
        engine = create_engine(self.url)
        try:
            async with sessionmaker(engine)() as session:
                return await rollup_mismatches(session, await RaceInfo.load(session, 1))
        finally:
            await engine.dispose()


TOKENS = {
    "operator": (Role.OPERATOR, "530412", None),
    "operator_lamaknen": (Role.OPERATOR, "530401", None),
    "recap_kota": (Role.RECAP_OFFICER, "530412", None),
    "recap_belu": (Role.RECAP_OFFICER, "5304", None),
    "observer_sahabat": (Role.OBSERVER, "5304", 1),
    "observer_sehati": (Role.OBSERVER, "5304", 2),
    "admin": (Role.ADMIN, None, None),
    "revoked": (Role.OPERATOR, "530412", None),
}


async def make_tokens(url: str, wanted: dict[str, tuple[Role, str | None, int | None]]) -> dict[str, str]:
    engine = create_engine(url)
    secrets: dict[str, str] = {}
    try:
        async with sessionmaker(engine).begin() as session:
            for name, (role, region, paslon) in wanted.items():
                token, secrets[name] = await create_token(
                    session, role=role, name=name, region_code=region, paslon=paslon, now=NOW
                )
                if name == "revoked":
                    await revoke_token(session, token.prefix, now=NOW)
    finally:
        await engine.dispose()
    return secrets


async def serve_writes(url: str, **settings: Any) -> AsyncIterator[WriteApi]:
    tokens = await make_tokens(url, TOKENS)
    app = create_app(Settings(database_url=url, rate_limit_per_minute=0, **settings))
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        yield WriteApi(base, url, tokens, client)


@pytest.fixture
async def api(belu_database_url: str) -> AsyncIterator[WriteApi]:
    async for served in serve_writes(belu_database_url, allowed_origins=("https://pantau.example",)):
        yield served


# --- roles ---------------------------------------------------------------------------------------------------------


async def test_each_role_may_make_its_own_writes(api: WriteApi) -> None:
    entered = await api.write(SUBMIT, tps_input(), "operator")
    assert entered["__typename"] == "WriteAccepted", entered
    assert (entered["source"], entered["subjectCode"], entered["version"]) == ("CHASIL", TPS, 1)

    # the dataset already holds every pleno and both claims as version 1: these are corrections
    pleno = await api.write(
        PLENO_KECAMATAN, region_input("530412", {1: 7006, 2: 7369}, invalid=250, correctsVersion=1), "recap_kota"
    )
    assert (pleno["__typename"], pleno["source"], pleno["version"]) == ("WriteAccepted", "PLENO_KECAMATAN", 2)
    kabupaten = await api.write(
        PLENO_KABUPATEN, region_input("5304", {1: 50376, 2: 50623}, invalid=1500, correctsVersion=1), "recap_belu"
    )
    assert (kabupaten["__typename"], kabupaten["version"]) == ("WriteAccepted", 2)
    claim = await api.write(
        CLAIM, region_input("5304", {1: 48424, 2: 48267}, tpsClaimed=410, correctsVersion=1), "observer_sahabat"
    )
    assert (claim["__typename"], claim["claimant"], claim["version"]) == ("WriteAccepted", 1, 2)
    fresh_claim = await api.write(CLAIM, region_input("530412", {1: 7100, 2: 7000}, tpsClaimed=53), "observer_sehati")
    assert (fresh_claim["claimant"], fresh_claim["subjectCode"]) == (2, "530412")
    anywhere = await api.write(SUBMIT, tps_input(OTHER_TPS), "admin")
    assert anywhere["__typename"] == "WriteAccepted"
    admin_claim = await api.write(CLAIM, region_input("530401", {1: 10, 2: 5}, tpsClaimed=3, claimant=1), "admin")
    assert admin_claim["claimant"] == 1


@pytest.mark.parametrize(
    ("mutation", "entry", "token", "reason"),
    [
        (SUBMIT, tps_input(), None, "a bearer token is required"),
        (SUBMIT, tps_input(), "pantau_00000000_not-a-real-token", "unknown token"),
        (SUBMIT, tps_input(), "revoked", "revoked"),
        (SUBMIT, tps_input(OTHER_TPS), "operator", "outside this token's region 530412"),
        (SUBMIT, tps_input(), "observer_sehati", "observer token may not enter C.Hasil"),
        (SUBMIT, tps_input(), "recap_kota", "recap_officer token may not enter C.Hasil"),
        (PLENO_KECAMATAN, region_input("530412", {1: 1, 2: 1}, correctsVersion=1), "operator", "may not record pleno"),
        (PLENO_KECAMATAN, region_input("530401", {1: 1, 2: 1}, correctsVersion=1), "recap_kota", "outside"),
        (PLENO_KABUPATEN, region_input("5304", {1: 1, 2: 1}, correctsVersion=1), "recap_kota", "outside"),
        (PLENO_KABUPATEN, region_input("5304", {1: 1, 2: 1}, correctsVersion=1), "observer_sehati", "may not"),
        (CLAIM, region_input("5304", {1: 1, 2: 1}, tpsClaimed=1), "operator", "may not record posko claims"),
        (CLAIM, region_input("5304", {1: 1, 2: 1}, tpsClaimed=1), "recap_belu", "may not record posko claims"),
    ],
)
async def test_refused_writes_change_nothing(
    api: WriteApi, mutation: str, entry: dict[str, Any], token: str | None, reason: str
) -> None:
    before = await api.counts()
    answer = await api.write(mutation, entry, token)
    assert answer["__typename"] == "NotAllowed", answer
    assert reason in answer["message"]
    assert await api.counts() == before


async def test_an_observer_claims_only_for_its_own_paslon(api: WriteApi) -> None:
    before = await api.counts()
    answer = await api.write(CLAIM, region_input("530412", {1: 9, 2: 9}, tpsClaimed=1, claimant=1), "observer_sehati")
    assert answer["__typename"] == "WriteRejected"
    assert answer["reasons"][0]["field"] == "claimant"
    assert await api.counts() == before


async def test_mutations_are_refused_over_get(api: WriteApi) -> None:
    before = await api.counts()
    entry = '{tps: "5304121003001", votes: [], valid: 0, invalid: 0, total: 0}'
    query = f"mutation {{ w: submitChasil(input: {entry}) {{ __typename }} }}"
    answer = await api.client.get(
        "/graphql", params={"query": query}, headers={"Authorization": f"Bearer {api.tokens['admin']}"}
    )
    assert answer.status_code in {400, 405}
    assert await api.counts() == before


# --- validation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "check"),
    [
        ({"valid": 1}, "valid", "votes_sum_valid"),
        ({"invalid": 0}, "total", "valid_invalid_total"),
        ({"votersTotal": 5, "votersDpt": 5, "votersDptb": 0, "votersNonDpt": 0}, "total", "total_within_voters"),
        (
            {"votersTotal": 300, "votersDpt": 290, "votersDptb": 1, "votersNonDpt": 1},
            "votersTotal",
            "voters_groups_sum",
        ),
        (
            {
                "votes": [{"paslon": 1, "votes": 300}, {"paslon": 2, "votes": 220}],
                "valid": 520,
                "invalid": 0,
                "total": 520,
            },
            "total",
            "within_tps_cap",
        ),
        (
            {
                "votes": [{"paslon": 1, "votes": 200}, {"paslon": 2, "votes": 140}],  # 322 registered voters
                "valid": 340,
                "invalid": 0,
                "total": 340,
            },
            "total",
            "within_registered_reserve",
        ),
    ],
)
async def test_contradictions_are_refused_unless_they_match_the_paper_form(
    api: WriteApi, changes: dict[str, Any], field: str, check: str
) -> None:
    before = await api.counts()
    refused = await api.write(SUBMIT, tps_input(**changes), "operator")
    assert refused["__typename"] == "WriteRejected", refused
    assert {"field": field, "check": check, "overridable": True} in [
        {k: r[k] for k in ("field", "check", "overridable")} for r in refused["reasons"]
    ]
    assert await api.counts() == before

    stored = await api.write(SUBMIT, tps_input(**changes, matchesPaperForm=True), "operator")
    assert stored["__typename"] == "WriteAccepted", stored
    assert check in {f["check"] for f in stored["findings"]}
    read = await api.query(
        f'{{ tps(code: "{TPS}") {{ results(source: CHASIL) {{ valid findings {{ check kind }} }} }} }}'
    )
    assert {"check": check, "kind": "invalid"} in read["data"]["tps"]["results"]["findings"]


@pytest.mark.parametrize(
    ("votes", "field", "check"),
    [
        ([{"paslon": 1, "votes": -1}, {"paslon": 2, "votes": 100}], "votes[1]", "count_range"),
        ([{"paslon": 1, "votes": 10000}, {"paslon": 2, "votes": 100}], "votes[1]", "count_range"),
        (
            [{"paslon": 1, "votes": 10}, {"paslon": 2, "votes": 10}, {"paslon": 3, "votes": 1}],
            "votes[3]",
            "unknown_candidate",
        ),
        ([{"paslon": 1, "votes": 10}], "votes[2]", "missing_field"),
        ([{"paslon": 1, "votes": 10}, {"paslon": 1, "votes": 10}], "votes[1]", None),
    ],
)
async def test_impossible_counts_are_refused_even_as_on_paper(
    api: WriteApi, votes: list[dict[str, int]], field: str, check: str | None
) -> None:
    before = await api.counts()
    answer = await api.write(SUBMIT, tps_input(votes=votes, matchesPaperForm=True), "operator")
    assert answer["__typename"] == "WriteRejected", answer
    assert (answer["reasons"][0]["field"], answer["reasons"][0]["check"]) == (field, check)
    assert not answer["reasons"][0]["overridable"]
    assert await api.counts() == before


async def test_negative_administrasi_counts_and_unknown_tps_are_refused(api: WriteApi) -> None:
    negative = await api.write(SUBMIT, tps_input(invalid=-3, matchesPaperForm=True), "operator")
    assert [r["field"] for r in negative["reasons"]] == ["invalid"]
    unknown = await api.write(SUBMIT, tps_input(), "operator")  # a real one first, then a made-up TPS
    assert unknown["__typename"] == "WriteAccepted"
    made_up = await api.write(SUBMIT, {**tps_input(), "tps": "5304121003999"}, "operator")
    assert made_up["reasons"][0]["field"] == "tps"
    not_a_tps = await api.write(SUBMIT, {**tps_input(), "tps": "530412"}, "operator")
    assert not_a_tps["reasons"][0]["field"] == "tps"


async def test_a_pleno_that_differs_from_its_tps_is_accepted_with_a_finding(api: WriteApi) -> None:
    data = belu_2020()
    kecamatan = "530423"  # NANAET DUABESI, 11 TPS
    for t in [t for t in data.tps if t.kecamatan_code == kecamatan]:
        assert (await api.write(SUBMIT, tps_input(t.code), "admin"))["__typename"] == "WriteAccepted"
    official = next(r.votes for r in data.pleno_kecamatan if r.kecamatan_code == kecamatan)
    agreeing = await api.write(PLENO_KECAMATAN, region_input(kecamatan, official, correctsVersion=1), "recap_belu")
    assert agreeing["__typename"] == "WriteAccepted" and agreeing["findings"] == []
    assert (agreeing["version"], agreeing["changed"]) == (1, False)  # the same numbers as the loaded pleno

    differing = {1: official[1] + 3, 2: official[2] - 2}
    answer = await api.write(PLENO_KECAMATAN, region_input(kecamatan, differing, correctsVersion=1), "recap_belu")
    assert answer["__typename"] == "WriteAccepted", answer
    (finding,) = answer["findings"]
    assert finding["check"] == "pleno_vs_chasil"
    assert "paslon 1: 1094 vs 1091 (+3)" in finding["message"] and "paslon 2: 896 vs 898 (-2)" in finding["message"]
    read = await api.query(
        f'{{ region(code: "{kecamatan}") {{ status'
        " results(source: PLENO_KECAMATAN) { votes { votes } findings { check } } } }"
    )
    region = read["data"]["region"]
    assert region["status"] == "PLENO_KECAMATAN_DONE"
    assert region["results"] == {"votes": [{"votes": 1094}, {"votes": 896}], "findings": [{"check": "pleno_vs_chasil"}]}


# --- idempotency and concurrency -----------------------------------------------------------------------------------


async def test_a_retry_with_the_same_key_applies_once(api: WriteApi) -> None:
    first = await api.write(SUBMIT, tps_input(), "operator", key="kota-atambua-001")
    again = await api.write(SUBMIT, tps_input(), "operator", key="kota-atambua-001")
    assert first["__typename"] == again["__typename"] == "WriteAccepted"
    assert (first["version"], first["replayed"]) == (1, False)
    assert (again["version"], again["replayed"]) == (1, True)
    entries = (await api.query(AUDIT, "admin", region=TPS))["data"]["auditLog"]
    assert len(entries) == 1

    other = await api.write(SUBMIT, tps_input(valid=1, matchesPaperForm=True), "operator", key="kota-atambua-001")
    assert other["__typename"] == "WriteRejected" and other["reasons"][0]["field"] == "idempotencyKey"


async def test_concurrent_retries_with_one_key_apply_once(api: WriteApi) -> None:
    answers = await asyncio.gather(*(api.write(SUBMIT, tps_input(), "operator", key="the-same-key") for _ in range(6)))
    assert {a["__typename"] for a in answers} == {"WriteAccepted"}
    assert {a["version"] for a in answers} == {1}
    assert sum(not a["replayed"] for a in answers) == 1
    assert len((await api.query(AUDIT, "admin", region=TPS))["data"]["auditLog"]) == 1
    assert await api.rollup_problems() == []


async def test_a_stale_correction_gets_a_conflict_not_a_lost_update(api: WriteApi) -> None:
    assert (await api.write(SUBMIT, tps_input(), "operator"))["version"] == 1
    one = tps_input(valid=1, matchesPaperForm=True, correctsVersion=1, note="first correction")
    two = tps_input(invalid=0, total=tps_input()["valid"], correctsVersion=1, note="second correction")
    first = await api.write(CORRECT, one, "operator")
    second = await api.write(CORRECT, two, "operator")
    assert (first["__typename"], first["version"]) == ("WriteAccepted", 2)
    assert second["__typename"] == "VersionConflict"
    assert (second["expectedVersion"], second["currentVersion"]) == (1, 2)

    twice = await api.write(SUBMIT, tps_input(), "operator")
    assert (twice["__typename"], twice["expectedVersion"], twice["currentVersion"]) == ("VersionConflict", 0, 2)
    missing = await api.write(CORRECT, tps_input(), "operator")
    assert missing["reasons"][0]["field"] == "correctsVersion"


async def test_concurrent_corrections_of_one_version_let_exactly_one_win(api: WriteApi) -> None:
    assert (await api.write(SUBMIT, tps_input(), "operator"))["version"] == 1
    base = tps_input()
    corrections = [
        tps_input(invalid=base["invalid"] + i, total=base["total"] + i, correctsVersion=1) for i in range(1, 7)
    ]
    answers = await asyncio.gather(*(api.write(CORRECT, c, "operator") for c in corrections))
    kinds = sorted(a["__typename"] for a in answers)
    assert kinds == ["VersionConflict"] * 5 + ["WriteAccepted"]
    assert all(a["currentVersion"] == 2 for a in answers if a["__typename"] == "VersionConflict")
    assert await api.rollup_problems() == []


async def test_concurrent_first_entries_let_exactly_one_win(api: WriteApi) -> None:
    answers = await asyncio.gather(*(api.write(SUBMIT, tps_input(), "operator") for _ in range(6)))
    assert sorted(a["__typename"] for a in answers) == ["VersionConflict"] * 5 + ["WriteAccepted"]
    assert await api.rollup_problems() == []


# --- audit ---------------------------------------------------------------------------------------------------------


async def test_an_admin_answer_by_get_is_never_served_to_anyone_else(api: WriteApi) -> None:
    await api.write(SUBMIT, tps_input(), "operator")
    params = {"query": AUDIT, "variables": json.dumps({"region": "530412"})}
    admin = {"Authorization": f"Bearer {api.tokens['admin']}"}
    for _ in range(2):  # the second time, a cache would answer
        answer = await api.client.get("/graphql", params=params, headers=admin)
        # the operator's entry, and the load's record of the Kota Atambua pleno
        assert answer.status_code == 200 and len(answer.json()["data"]["auditLog"]) == 2, answer.text
        assert "etag" not in answer.headers and "public" not in answer.headers.get("cache-control", "")
    anonymous = await api.client.get("/graphql", params=params)
    assert "auditLog" not in anonymous.text or anonymous.json()["data"] is None, anonymous.text
    assert anonymous.json()["errors"][0]["message"].startswith("a bearer token is required")


async def test_the_audit_log_shows_who_what_when_and_the_old_and_new_values(api: WriteApi) -> None:
    await api.write(SUBMIT, tps_input(), "operator")
    corrected = tps_input(invalid=tps_input()["invalid"] + 1, total=tps_input()["total"] + 1, correctsVersion=1)
    await api.write(CORRECT, corrected, "operator")
    await api.write(
        PLENO_KECAMATAN, region_input("530412", {1: 7006, 2: 7369}, invalid=250, correctsVersion=1), "recap_kota"
    )

    answer = await api.query(AUDIT, "admin", region="530412")
    assert "errors" not in answer, answer
    pleno, correction, entry, loaded = answer["data"]["auditLog"]  # newest first
    assert (loaded["action"], loaded["actor"], loaded["token"]) == (
        "submit_pleno_kecamatan",
        "pantau load belu-2020",
        None,
    )
    assert loaded["at"] == "2020-12-14T15:59:00+00:00"  # the close of 14 Dec in WITA, when the plenos were read
    prefix = api.tokens["operator"].split("_")[1]
    assert entry["actor"] == f"operator (operator, token {prefix})" and entry["token"] == prefix
    assert (entry["action"], entry["race"], entry["source"], entry["subjectCode"], entry["version"]) == (
        "submit_chasil",
        "pkwkk-5304-2020",
        "chasil",
        TPS,
        1,
    )
    original = tps_input()
    assert entry["old"] is None
    assert entry["new"]["votes"] == {str(v["paslon"]): v["votes"] for v in original["votes"]}
    assert (entry["new"]["invalid"], entry["new"]["total"]) == (original["invalid"], original["total"])
    assert correction["action"] == "correct_chasil" and correction["version"] == 2
    assert correction["old"]["invalid"] == original["invalid"] and correction["old"]["version"] == 1
    assert correction["new"]["invalid"] == original["invalid"] + 1
    assert datetime.fromisoformat(entry["at"]) <= datetime.fromisoformat(correction["at"])
    assert pleno["action"] == "correct_pleno_kecamatan" and pleno["old"]["votes"] == {"1": 7006, "2": 7369}
    assert pleno["actor"].startswith("recap_kota (recap_officer")

    for token in ("operator", "recap_belu", "observer_sehati"):
        refused = await api.query(AUDIT, token, region="530412")
        assert refused["data"] is None and "admin tokens" in refused["errors"][0]["message"]
    anonymous = await api.query(AUDIT, None, region="530412")
    assert "bearer token" in anonymous["errors"][0]["message"]


# --- live updates --------------------------------------------------------------------------------------------------


async def test_a_subscriber_sees_a_change_in_its_region(api: WriteApi) -> None:
    # the deprecated single-change fields are still answered, for clients written before `changes`
    socket = await subscribe(
        api.base, "530412", origin="https://pantau.example", selection=SELECTION + " source subjectCode version"
    )
    try:
        # a write elsewhere is not announced here; one inside the kecamatan is, with the fresh results
        await api.write(SUBMIT, tps_input(OTHER_TPS), "admin")
        await api.write(SUBMIT, tps_input(), "operator")
        event = await next_event(socket)
        assert (event["kind"], event["resyncReason"], event["race"]) == ("CHANGES", None, "pkwkk-5304-2020")
        assert event["changes"] == [{"source": "CHASIL", "subjectCode": TPS, "version": 1}]
        assert (event["source"], event["subjectCode"], event["version"]) == ("CHASIL", TPS, 1)
        region = event["region"]
        assert region["code"] == "530412" and region["status"] == "PLENO_KECAMATAN_DONE"
        assert region["results"]["coverage"]["reported"] == 1
        assert [v["votes"] for v in region["results"]["votes"]] == [v["votes"] for v in tps_input()["votes"]]
    finally:
        await socket.close()


async def test_a_burst_of_writes_reaches_a_subscriber_coalesced_with_nothing_left_out(api: WriteApi) -> None:
    kota = [t.code for t in belu_2020().tps if t.code.startswith("530412")][:30]
    socket = await subscribe(api.base, "530412")
    try:
        written = await asyncio.gather(*(api.write(SUBMIT, tps_input(code), "operator") for code in kota))
        assert {w["__typename"] for w in written} == {"WriteAccepted"}
        heard: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        while {c["subjectCode"] for c in heard} != set(kota):
            event = await next_event(socket)
            assert event["kind"] == "CHANGES", event
            events.append(event)
            heard += event["changes"]
    finally:
        await socket.close()
    assert sorted(c["subjectCode"] for c in heard) == sorted(kota)  # each write listed once
    assert len(events) < len(kota)  # a burst is coalesced: several writes per event
    versions = [e["dataVersion"] for e in events]
    assert versions == sorted(versions) and versions[0] > 0
    assert events[-1]["region"]["results"]["coverage"]["reported"] == len(kota)


async def test_websockets_from_other_origins_are_refused(api: WriteApi) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await subscribe(api.base, "530412", origin="https://evil.example")


async def test_rollups_stay_consistent_after_writes(api: WriteApi) -> None:
    for t in belu_2020().tps[:20]:
        await api.write(SUBMIT, tps_input(t.code), "admin")
    await api.write(
        CORRECT, tps_input(belu_2020().tps[0].code, valid=1, matchesPaperForm=True, correctsVersion=1), "admin"
    )
    assert await api.rollup_problems() == []
    counted = await api.query('{ region(code: "5304") { results(source: CHASIL) { coverage { reported } } } }')
    assert counted["data"]["region"]["results"]["coverage"]["reported"] == 20
    assert Source.CHASIL.value == "chasil"
