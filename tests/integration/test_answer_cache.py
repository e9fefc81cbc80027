"""Persisted queries and the answer cache over real HTTP: APQ's protocol, answers kept by data version and shared
through Redis, retired by every write and sync change, and never kept where no version covers the answer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.models import Source, Tps
from api.sync.models import SyncUnreadable
from api.tallies.writer import RaceInfo, TallyInput, TallyWrite, record_tallies
from tests.servers import free_port, serving

HEADLINE = '{ region(code: "5304") { name results(source: PLENO_KABUPATEN) { votes { votes } margin } } }'
TOTAL = '{ region(code: "5304") { results(source: SIREKAP) { valid } } }'
HASH = hashlib.sha256(HEADLINE.encode()).hexdigest()
PERSISTED = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}
NEEDS_REDIS = pytest.mark.skipif(not os.environ.get("PANTAU_TEST_REDIS_URL"), reason="PANTAU_TEST_REDIS_URL not set")


def lookups(client: httpx.Client) -> dict[str, float]:
    """The answer cache's lookups by where the answer was found (worker, shared, no), those counted at least once."""
    found: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("pantau_answer_cache_lookups_total{"):
            label, value = line.split("} ")
            if float(value):
                found[label.split('"')[1]] = float(value)
    return found


def redis_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=os.environ["PANTAU_TEST_REDIS_URL"],
        redis_prefix=f"pantau-test-{uuid.uuid4().hex}",
        rate_limit_per_minute=0,
    )


def add_votes(database_url: str, votes: int, tps_index: int = 0) -> None:
    async def write() -> None:
        engine = create_engine(database_url)
        try:
            async with sessionmaker(engine).begin() as session:
                race = await RaceInfo.load(session, 1)
                tps = (await session.scalars(select(Tps).order_by(Tps.id).offset(tps_index).limit(1))).one()
                write = TallyWrite(tps.code, TallyInput({min(race.paslon_ids): votes}, valid=votes), tps_id=tps.id)
                await record_tallies(session, race, Source.SIREKAP, [write], received_at=datetime.now(UTC))
        finally:
            await engine.dispose()

    asyncio.run(write())


def test_persisted_queries_follow_apq(belu_database_url: str) -> None:
    settings = Settings(database_url=belu_database_url)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        unknown = client.post("/graphql", json={"extensions": PERSISTED})
        assert unknown.status_code == 404 and unknown.headers["cache-control"] == "no-store"
        assert unknown.json()["errors"] == [
            {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
        ]
        registered = client.post("/graphql", json={"query": HEADLINE, "extensions": PERSISTED})
        assert registered.status_code == 200 and registered.json()["data"]["region"]["results"]["margin"] == 247
        by_hash = client.post("/graphql", json={"extensions": PERSISTED})
        assert by_hash.status_code == 200 and by_hash.content == registered.content
        # By GET the hash alone is a short URL that a CDN can keep: it carries an ETag and public max-age.
        got = client.get("/graphql", params={"extensions": json.dumps(PERSISTED)})
        assert got.status_code == 200 and got.content == registered.content
        assert got.headers["cache-control"] == "public, max-age=5" and got.headers["etag"].startswith('W/"')
        wrong = client.post("/graphql", json={"query": TOTAL, "extensions": PERSISTED})
        assert wrong.status_code == 400
        assert wrong.json()["errors"][0]["message"] == "provided sha does not match query"
        version = client.post("/graphql", json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": HASH}}})
        assert version.status_code == 400 and "version" in version.json()["errors"][0]["message"]
        short = client.post("/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab"}}})
        assert short.status_code == 400


def test_an_unknown_hash_in_a_batch_fails_that_operation_alone(belu_database_url: str) -> None:
    with serving(create_app(Settings(database_url=belu_database_url))) as base, httpx.Client(base_url=base) as client:
        answered = client.post("/graphql", json=[{"extensions": PERSISTED}, {"query": TOTAL}])
        assert answered.status_code == 200 and answered.headers["cache-control"] == "no-store"
        unknown, total = answered.json()
        assert unknown == {
            "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
        }
        assert total["data"]["region"]["results"]
        # The client resends that operation with its document, as APQ clients do, and the batch is whole.
        again = client.post("/graphql", json=[{"query": HEADLINE, "extensions": PERSISTED}, {"query": TOTAL}])
        assert [list(a) for a in again.json()] == [["data"], ["data"]]
        by_hash = client.post("/graphql", json=[{"extensions": PERSISTED}, {"extensions": PERSISTED}])
        assert by_hash.json()[0] == by_hash.json()[1] == again.json()[0]


def test_a_document_that_does_not_run_is_not_registered(belu_database_url: str) -> None:
    invalid = "{ region(code: 5304) { nope } }"
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(invalid.encode()).hexdigest()}}
    with serving(create_app(Settings(database_url=belu_database_url))) as base, httpx.Client(base_url=base) as client:
        refused = client.post("/graphql", json={"query": invalid, "extensions": persisted})
        assert "data" not in refused.json() and refused.json()["errors"]
        assert client.post("/graphql", json={"extensions": persisted}).status_code == 404


def test_answers_are_kept_until_a_write_changes_the_data(belu_database_url: str) -> None:
    settings = Settings(database_url=belu_database_url, cache_version_seconds=0, rate_limit_per_minute=0)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        first = client.post("/graphql", json={"query": TOTAL})
        again = client.post("/graphql", json={"query": TOTAL})
        assert again.content == first.content
        assert lookups(client) == {"worker": 1.0, "no": 1.0}
        before = first.json()["data"]["region"]["results"]
        add_votes(belu_database_url, 7)
        after = client.post("/graphql", json={"query": TOTAL}).json()["data"]["region"]["results"]
        assert after != before
        assert lookups(client) == {"worker": 1.0, "no": 2.0}
        # Asked with an Authorization header, an answer is neither looked up nor kept.
        client.post("/graphql", json={"query": TOTAL}, headers={"Authorization": "Bearer nobody"})
        assert lookups(client) == {"worker": 1.0, "no": 2.0}


def test_a_document_turning_unreadable_changes_the_answer(belu_database_url: str) -> None:
    async def code_of_first_tps() -> str:
        engine = create_engine(belu_database_url)
        try:
            async with sessionmaker(engine)() as session:
                return (await session.scalars(select(Tps.code).order_by(Tps.id).limit(1))).one()
        finally:
            await engine.dispose()

    async def mark_unreadable(code: str) -> None:
        engine = create_engine(belu_database_url)
        now = datetime.now(UTC)
        try:
            async with sessionmaker(engine).begin() as session:
                session.add(
                    SyncUnreadable(race_id=1, code=code, path="x", reason="html", detail="", since=now, seen_at=now)
                )
        finally:
            await engine.dispose()

    code = asyncio.run(code_of_first_tps())
    query = f'{{ tps(code: "{code}") {{ status }} }}'
    settings = Settings(database_url=belu_database_url, cache_version_seconds=0, rate_limit_per_minute=0)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        before = client.post("/graphql", json={"query": query}).json()["data"]["tps"]["status"]
        asyncio.run(mark_unreadable(code))
        after = client.post("/graphql", json={"query": query}).json()["data"]["tps"]["status"]
    assert before != "UNREADABLE" and after == "UNREADABLE"


@pytest.fixture
def fake_monitor() -> Iterator[tuple[str, dict[str, Any]]]:
    """The monitor's two JSON documents, changed by the test between requests."""
    state: dict[str, Any] = {"state": "up", "headline": "Sirekap up"}

    async def status(_: Any) -> JSONResponse:
        target = {"target": "pkwkk-5304", "state": state["state"], "headline": state["headline"]}
        return JSONResponse({"targets": [target]})

    async def incidents(_: Any) -> JSONResponse:
        return JSONResponse({"incidents": []})

    app = Starlette(routes=[Route("/api/status", status), Route("/api/incidents", incidents)])
    with serving(app) as base:
        yield base, state


def test_the_upstream_banner_is_never_kept_by_data_version(
    belu_database_url: str, fake_monitor: tuple[str, dict[str, Any]]
) -> None:
    monitor, state = fake_monitor
    query = "{ upstream { targets { state headline } } }"
    settings = Settings(database_url=belu_database_url, monitor_url=monitor, rate_limit_per_minute=0)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        up = client.get("/graphql", params={"query": query})
        assert up.json()["data"]["upstream"]["targets"][0]["state"] == "up"
        assert up.headers["cache-control"] == "public, max-age=5" and "etag" not in up.headers
        state.update(state="down", headline="Sirekap down since 14:02 WITA (09 Dec 2020)")
        for method in ("GET", "POST"):
            if method == "GET":
                down = client.get("/graphql", params={"query": query})
            else:
                down = client.post("/graphql", json={"query": query})
            assert down.json()["data"]["upstream"]["targets"][0]["headline"].startswith("Sirekap down since 14:02")
        assert lookups(client).get("worker", 0.0) == 0.0


@NEEDS_REDIS
def test_workers_share_persisted_queries_and_answers_through_redis(belu_database_url: str) -> None:
    settings = redis_settings(belu_database_url)
    # Two apps stand for two workers (or replicas): each has its own memory, and only Redis is shared.
    with (
        serving(create_app(settings)) as one,
        serving(create_app(settings)) as two,
        httpx.Client(base_url=one) as first,
        httpx.Client(base_url=two) as second,
    ):
        registered = first.post("/graphql", json={"query": HEADLINE, "extensions": PERSISTED})
        assert registered.status_code == 200
        shared = second.post("/graphql", json={"extensions": PERSISTED})
        assert shared.status_code == 200 and shared.content == registered.content
        assert lookups(second) == {"shared": 1.0}
        assert second.post("/graphql", json={"query": HEADLINE}).content == registered.content
        assert lookups(second) == {"shared": 1.0, "worker": 1.0}


def test_an_unreachable_redis_costs_no_answer(belu_database_url: str) -> None:
    settings = Settings(
        database_url=belu_database_url, redis_url=f"redis://127.0.0.1:{free_port()}/0", rate_limit_per_minute=0
    )
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        for _ in range(2):
            answered = client.post("/graphql", json={"query": HEADLINE, "extensions": PERSISTED})
            assert answered.status_code == 200 and answered.json()["data"]["region"]["results"]["margin"] == 247
        assert client.post("/graphql", json={"extensions": PERSISTED}).status_code == 200


def test_kept_get_answers_reach_browsers_with_cors_and_everyone_else_first(belu_database_url: str) -> None:
    origin = "https://berita.example"
    settings = Settings(database_url=belu_database_url, allowed_origins=(origin,), rate_limit_per_minute=0)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        first = client.get("/graphql", params={"query": HEADLINE})
        kept = client.get("/graphql", params={"query": HEADLINE})  # before the stack: no Origin, no Authorization
        assert kept.content == first.content and kept.headers["etag"] == first.headers["etag"]
        assert "access-control-allow-origin" not in kept.headers
        browser = client.get("/graphql", params={"query": HEADLINE}, headers={"Origin": origin})
        assert browser.content == first.content and browser.headers["access-control-allow-origin"] == origin
        unchanged = client.get("/graphql", params={"query": HEADLINE}, headers={"If-None-Match": first.headers["etag"]})
        assert unchanged.status_code == 304 and unchanged.content == b""
        metrics = client.get("/metrics").text
    assert 'pantau_http_requests_total{handler="/graphql",method="GET",status="200"} 3.0' in metrics
    assert 'pantau_http_requests_total{handler="/graphql",method="GET",status="304"} 1.0' in metrics
