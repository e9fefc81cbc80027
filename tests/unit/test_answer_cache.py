"""Which operations the answer cache may keep, how an operation is keyed, and how a persisted query is named."""

from __future__ import annotations

import hashlib

import pytest
from prometheus_client import CollectorRegistry

from api.graphql.answer_cache import AnswerCache, answer_key, operation_kind
from api.graphql.body import BadRequest, GraphQLRequest
from api.graphql.persisted import requested_hash

REGION = '{ region(code: "5304") { name } }'


def request(query: str | None, variables: dict[str, object] | None = None, **extensions: object) -> GraphQLRequest:
    return GraphQLRequest(query, variables, None, extensions or None)


def test_queries_of_stored_data_are_kept() -> None:
    assert operation_kind(REGION, None) == ("query", True)
    assert operation_kind(f"query A {REGION} query B {{ races {{ slug }} }}", "B") == ("query", True)


@pytest.mark.parametrize(
    "document",
    [
        "{ upstream { targets { state } } }",
        "{ races { slug } upstream { incidents { reason } } }",
        "query { ...Banner } fragment Banner on Query { upstream { targets { state } } }",
        "{ ... on Query { upstream { targets { state } } } }",
        'mutation { revokeToken(name: "x") { name } }',
        "subscription { regionUpdates { race } }",
        "{ region(",  # does not parse
        "query A { races { slug } } query B { races { title } }",  # names no single operation
    ],
)
def test_live_fields_mutations_and_unclear_documents_are_not(document: str) -> None:
    assert operation_kind(document, None) != ("query", True)


def test_a_mutation_is_known_as_one() -> None:
    assert operation_kind('mutation { revokeToken(name: "x") { name } }', None)[0] == "mutation"


def test_the_key_is_the_operation_however_its_variables_are_ordered() -> None:
    one = answer_key(request(REGION, {"a": 1, "b": [1, 2]}))
    assert one == answer_key(request(REGION, {"b": [1, 2], "a": 1}))
    assert one != answer_key(request(REGION, {"a": 2, "b": [1, 2]}))
    assert answer_key(request(REGION)) == answer_key(request(REGION, {}))


def test_a_persisted_query_is_named_by_the_sha256_of_its_document() -> None:
    digest = hashlib.sha256(REGION.encode()).hexdigest()
    persisted = {"version": 1, "sha256Hash": digest}
    assert requested_hash(request(None, persistedQuery=persisted)) == digest
    assert requested_hash(request(REGION, persistedQuery=persisted)) == digest
    assert requested_hash(request(REGION)) is None
    for wrong in ({"version": 1, "sha256Hash": digest.upper()}, {"version": 2, "sha256Hash": digest}, "x"):
        with pytest.raises(BadRequest) as refused:
            requested_hash(request(None, persistedQuery=wrong))
        assert refused.value.status == 400
    with pytest.raises(BadRequest, match="provided sha does not match query"):
        requested_hash(request("{ races { slug } }", persistedQuery=persisted))


async def test_a_worker_keeps_the_newest_answers_within_its_bounds() -> None:
    cache = AnswerCache(None, "t", CollectorRegistry(), entries=3, max_bytes=10, kept_bytes=12)
    for key in ("a", "b", "c"):
        await cache.put(key, "v1", b"12345")  # 15 bytes would be kept: the oldest goes
    assert list(cache.answers) == ["b", "c"]
    await cache.put("huge", "v1", b"x" * 11)  # larger than max_bytes: never kept
    assert await cache.get("huge", "v1") is None
    assert await cache.get("c", "v1") == b"12345"
    assert await cache.get("c", "v2") is None  # kept under another version: a miss
