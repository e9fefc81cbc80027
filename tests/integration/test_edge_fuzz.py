"""Fuzzing the API over real HTTP on the Belu dataset (issue 13): queries and mutations generated from the schema,
valid and invalid (hypothesis-graphql), with an admin token so writes get past the token check, and arbitrary bodies.
No answer may be a 5xx, and none may take longer than the client's timeout.

`PANTAU_FUZZ_EXAMPLES` sets the number of cases per test (300 by default; the issue's figure is 1,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from api.app import create_app
from api.graphql.schema import export_schema
from api.settings import Settings
from tests.databases import SqliteDatabases
from tests.integration.test_writes_http import make_tokens
from tests.servers import serving

EXAMPLES = int(os.environ.get("PANTAU_FUZZ_EXAMPLES", "300"))
TIMEOUT_SECONDS = 10
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)

DATETIMES = st.datetimes(
    min_value=datetime.fromisoformat("2020-01-01"),  # hypothesis takes naive bounds and adds the zone itself
    max_value=datetime.fromisoformat("2030-01-01"),
    timezones=st.just(UTC),
).map(lambda moment: graphql.StringValueNode(value=moment.isoformat()))
SCALARS = {"DateTime": DATETIMES, "JSON": st.just(graphql.StringValueNode(value="{}"))}
SDL = export_schema()
DOCUMENTS = from_schema(SDL, custom_scalars=SCALARS) | from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
BODIES = (
    st.binary(max_size=500)
    | JSON_VALUES.map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries(
        {"query": st.text(max_size=200) | DOCUMENTS.map(str)},
        optional={"variables": JSON_VALUES, "operationName": JSON_VALUES, "extensions": JSON_VALUES},
    ).map(lambda value: json.dumps(value).encode())
)

slowest: list[tuple[float, str]] = [(0.0, "")]


@pytest.fixture(scope="module")
def api(database_servers: dict[str, Any]) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    sqlite = database_servers["sqlite"]
    assert isinstance(sqlite, SqliteDatabases)
    url = sqlite.create("belu")
    from api.auth.tokens import Role

    tokens = asyncio.run(make_tokens(url, {"admin": (Role.ADMIN, None, None)}))
    app = create_app(Settings(database_url=url, rate_limit_per_minute=0, development=True))
    with serving(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT_SECONDS) as client:
        yield client, {"Authorization": f"Bearer {tokens['admin']}"}
    for seconds, what in sorted(slowest, reverse=True)[:3]:
        print(f"\nslow fuzzed request: {seconds * 1000:.0f} ms ({EXAMPLES} cases per test): {what[:300]}")


def _timed(send: Any, what: object) -> httpx.Response:
    started = time.perf_counter()
    answer: httpx.Response = send()
    slowest.append((time.perf_counter() - started, repr(what)))
    return answer


@FUZZ
@given(document=DOCUMENTS)
def test_generated_documents_never_get_a_5xx(api: tuple[httpx.Client, dict[str, str]], document: object) -> None:
    client, admin = api
    query = str(document)
    posted = _timed(lambda: client.post("/graphql", json={"query": query}, headers=admin), query)
    assert posted.status_code < 500, (query, posted.text)
    assert "errors" in posted.json() or "data" in posted.json()
    got = _timed(lambda: client.get("/graphql", params={"query": query}), query)
    assert got.status_code < 500, (query, got.text)


@FUZZ
@given(body=BODIES)
def test_arbitrary_bodies_never_get_a_5xx(api: tuple[httpx.Client, dict[str, str]], body: bytes) -> None:
    client, _ = api
    answer = _timed(lambda: client.post("/graphql", content=body, headers={"Content-Type": "application/json"}), body)
    assert answer.status_code < 500, (body[:200], answer.text)
    assert isinstance(answer.json().get("errors", []), list)
