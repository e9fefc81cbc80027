"""The API over real HTTP on loopback: POST and GET, ETags, rate limits, metrics, GraphiQL."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from api.graphql.schema import export_schema
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.models import Source, Tps
from api.tallies.writer import RaceInfo, TallyInput, TallyWrite, record_tallies
from tests.servers import serving

HEADLINE = '{ region(code: "5304") { name results(source: PLENO_KABUPATEN) { votes { votes } margin } } }'


def test_schema_file_matches_the_code() -> None:
    committed = (Path(__file__).parents[2] / "schema.graphql").read_text()
    assert committed == export_schema(), "schema.graphql is stale: run `python -m api.graphql.export > schema.graphql`"


def test_post_and_get_queries(belu_database_url: str) -> None:
    settings = Settings(database_url=belu_database_url)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        posted = client.post("/graphql", json={"query": HEADLINE})
        assert posted.status_code == 200
        region = posted.json()["data"]["region"]
        assert region["results"] == {"votes": [{"votes": 50376}, {"votes": 50623}], "margin": 247}
        got = client.get("/graphql", params={"query": HEADLINE})
        assert got.status_code == 200 and got.json() == posted.json()
        assert got.headers["cache-control"] == "public, max-age=5"
        assert got.headers["etag"].startswith('W/"')
        again = client.get("/graphql", params={"query": HEADLINE})  # answered from memory
        assert again.status_code == 200 and again.content == got.content
        assert again.headers["etag"] == got.headers["etag"]
        assert again.headers["content-type"] == "application/json"
        metrics = client.get("/metrics").text
    assert 'pantau_http_requests_total{handler="/graphql",method="GET",status="200"} 2.0' in metrics


async def test_etag_answers_304_until_the_data_changes(belu_database_url: str) -> None:
    settings = Settings(database_url=belu_database_url, cache_version_seconds=0)
    with serving(create_app(settings)) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            first = await client.get("/graphql", params={"query": HEADLINE})
            etag = first.headers["etag"]
            again = await client.get("/graphql", params={"query": HEADLINE}, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
            engine = create_engine(belu_database_url)
            try:
                async with sessionmaker(engine).begin() as session:
                    race = await RaceInfo.load(session, 1)
                    tps = (await session.scalars(select(Tps).limit(1))).one()
                    paslon = min(race.paslon_ids)
                    write = TallyWrite(tps.code, TallyInput({paslon: 10}, valid=10), tps_id=tps.id)
                    await record_tallies(session, race, Source.SIREKAP, [write], received_at=datetime.now(UTC))
            finally:
                await engine.dispose()
            changed = await client.get("/graphql", params={"query": HEADLINE}, headers={"If-None-Match": etag})
            assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_internal_errors_are_masked_over_http(empty_database_url: str) -> None:
    with serving(create_app(Settings(database_url=empty_database_url))) as base:
        response = httpx.post(f"{base}/graphql", json={"query": HEADLINE})
    assert response.json()["errors"][0]["message"] == "Unexpected error."
    assert "sql" not in response.text.lower() and "traceback" not in response.text.lower()


def test_batches_are_limited(belu_database_url: str) -> None:
    settings = Settings(database_url=belu_database_url, max_batch=2)
    with serving(create_app(settings)) as base:
        ok = httpx.post(f"{base}/graphql", json=[{"query": "{ races { slug } }"}] * 2)
        too_many = httpx.post(f"{base}/graphql", json=[{"query": "{ races { slug } }"}] * 3)
    assert ok.status_code == 200 and len(ok.json()) == 2
    assert too_many.status_code == 400 and "Too many operations" in too_many.text


def test_rate_limit_in_process(belu_database_url: str) -> None:
    # Each document selects 6 fields, so it costs 6: two fit in a budget of 15, the third does not. An answer
    # already kept by data version costs nothing: the first is answered again.
    documents = [f"query Q{i} {HEADLINE}" for i in range(4)]
    settings = Settings(database_url=belu_database_url, rate_limit_per_minute=15)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        answers = [client.post("/graphql", json={"query": d}).status_code for d in documents[:3]]
        refused = client.post("/graphql", json={"query": documents[3]})
        kept = client.post("/graphql", json={"query": documents[0]})
    assert answers == [200, 200, 429]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["errors"][0]["message"] == "rate limit exceeded: this query costs 6; retry later"
    assert kept.status_code == 200


@pytest.mark.skipif(not os.environ.get("PANTAU_TEST_REDIS_URL"), reason="PANTAU_TEST_REDIS_URL not set")
def test_rate_limit_is_shared_by_workers_through_redis(belu_database_url: str) -> None:
    settings = Settings(
        database_url=belu_database_url,
        rate_limit_per_minute=15,
        redis_url=os.environ["PANTAU_TEST_REDIS_URL"],
        redis_prefix=f"pantau-test-{uuid.uuid4().hex}",
    )
    documents = [f"query Q{i} {HEADLINE}" for i in range(3)]
    # Two apps stand for two workers: each has its own process state, and only Redis is shared.
    with serving(create_app(settings)) as one, serving(create_app(settings)) as two:
        codes = [
            httpx.post(f"{base}/graphql", json={"query": d}).status_code
            for base, d in zip((one, two, one), documents, strict=True)
        ]
    assert codes == [200, 200, 429]


def test_metrics_and_graphiql(belu_database_url: str) -> None:
    settings = Settings(database_url=belu_database_url, development=True)
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        client.post("/graphql", json={"query": HEADLINE})
        page = client.get("/graphql", headers={"Accept": "text/html"})
        metrics = client.get("/metrics").text
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert 'pantau_http_requests_total{handler="/graphql",method="POST",status="200"} 1.0' in metrics
    assert "pantau_http_request_duration_seconds_bucket" in metrics


def test_no_graphiql_in_production(belu_database_url: str) -> None:
    with serving(create_app(Settings(database_url=belu_database_url))) as base:
        page = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in page.text.lower()
