"""Hostile and careless HTTP at the edge (issue 13): malformed bodies, oversized bodies, echoed values, GraphQL over
HTTP conformance, caching of errors, CORS, and a nullable `upstream`. Real HTTP on loopback."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from sirekap.clock import Clock
from tests.servers import free_port, serving

FRONTEND = "https://hasil.example.org"
DEEP = b"[" * 100_000 + b"]" * 100_000
MALFORMED = {
    "null": b"null",
    "true": b"true",
    "number": b"5",
    "string": b'"hello"',
    "list of numbers": b"[1,2]",
    "list of null": b"[null]",
    "batch with a number": b'[{"query": "{ __typename }"}, 5]',
    "invalid utf-8": b'{"query": "{ __typename }", "operationName": "\xff\xfe"}',
    "nested 100,000 deep": DEEP,
    "variables nested 100,000 deep": b'{"query": "{ __typename }", "variables": {"v": ' + DEEP + b"}}",
}


@pytest.fixture
def base(belu_database_url: str) -> Iterator[str]:
    settings = Settings(
        database_url=belu_database_url,
        allowed_origins=(FRONTEND,),
        monitor_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    with serving(create_app(settings)) as url:
        yield url


def _is_graphql_error(answer: httpx.Response) -> str:
    body = answer.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_get_400_with_a_graphql_error(base: str, body: bytes) -> None:
    answer = httpx.post(f"{base}/graphql", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    _is_graphql_error(answer)


def test_a_10_mb_body_is_refused_before_it_is_read(base: str) -> None:
    # Only the headers and 1 KiB of the announced 10 MB are sent: the answer comes without the rest being read.
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        head = (
            "POST /graphql HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"query": "# ' + b"x" * 1024)
        answer = ""
        while not answer.endswith("}]}"):
            received = sock.recv(65536).decode()
            assert received, answer
            answer += received
    assert answer.startswith("HTTP/1.1 413 ")
    assert '"the request body is larger than 262144 bytes"' in answer


async def test_a_body_sent_in_chunks_is_read_only_up_to_the_limit(belu_database_url: str) -> None:
    app = create_app(Settings(database_url=belu_database_url, max_body_bytes=1024 * 1024))
    chunk = b"#" * 65536
    received = 0
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": chunk, "more_body": received < 160}  # 10 MB in all

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "scheme": "http",
        "root_path": "",
        "http_version": "1.1",
        "app": app,
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert received == 17  # 1 MiB and one chunk over: the other 9 MB were never asked for


def test_a_long_document_is_refused_before_it_is_parsed(base: str) -> None:
    padded = "{ __typename }" + "#" * 100_000
    answer = httpx.post(f"{base}/graphql", json={"query": padded})
    assert _is_graphql_error(answer) == "the document is 100014 characters long; at most 32768 are accepted"


@pytest.mark.parametrize(
    ("query", "variables", "quoted"),
    [
        ("query($c: String!) { region(code: $c) { name } }", {"c": "1" * 200_000}, "region code '1111"),
        ('{ region(code: "%s") { name } }' % ("1" * 200_000), None, "region code '1111"),
        ('{ tpsConnection(race: "pkwkk-5304-2020", first: "%s") { totalCount } }' % ("x" * 200_000), None, '"xxxx'),
    ],
    ids=["variable", "literal", "wrong type"],
)
def test_a_bad_argument_is_quoted_short_and_logged_once(
    belu_database_url: str, caplog: pytest.LogCaptureFixture, query: str, variables: object, quoted: str
) -> None:
    settings = Settings(database_url=belu_database_url, max_document_bytes=250_000, max_body_bytes=500_000)
    with serving(create_app(settings)) as url, caplog.at_level(logging.INFO):
        answer = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables})
    message = answer.json()["errors"][0]["message"]
    assert quoted in message and len(message) < 200, message
    lines = [r for r in caplog.records if r.name.startswith(("pantau", "strawberry", "uvicorn"))]
    assert len(lines) == 1 and lines[0].exc_info is None and len(lines[0].getMessage()) < 400


def test_a_page_size_over_the_limit_logs_one_line_without_a_traceback(
    base: str, caplog: pytest.LogCaptureFixture
) -> None:
    query = '{ findings(race: "pkwkk-5304-2020", region: "5304", first: 101) { totalCount } }'
    with caplog.at_level(logging.INFO):
        answer = httpx.post(f"{base}/graphql", json={"query": query})
    assert answer.json()["errors"][0]["message"] == "first must be between 0 and 100"
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("pantau", "strawberry"))] == [
        "graphql request: first must be between 0 and 100 at findings"
    ]
    assert all(r.exc_info is None for r in caplog.records)


def test_upstream_fails_alone(base: str) -> None:
    query = '{ race(slug: "pkwkk-5304-2020") { title } upstream { targets { state } } }'
    answer = httpx.post(f"{base}/graphql", json={"query": query}).json()
    assert answer["data"] == {"race": {"title": "Pemilihan Bupati dan Wakil Bupati Belu 2020"}, "upstream": None}
    (error,) = answer["errors"]
    assert error["path"] == ["upstream"]
    assert error["message"] == "the upstream status is not available: the monitor did not answer"


# --- GraphQL over HTTP ---------------------------------------------------------------------------------------------


def test_graphql_response_json_when_accepted(base: str) -> None:
    accept = {"Accept": "application/graphql-response+json, application/json;q=0.9"}
    ok = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, headers=accept)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/graphql-response+json")
    invalid = httpx.post(f"{base}/graphql", json={"query": "{ nosuch }"}, headers=accept)
    assert invalid.status_code == 400 and "data" not in invalid.json()
    plain = httpx.post(f"{base}/graphql", json={"query": "{ nosuch }"}, headers={"Accept": "application/json"})
    assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
    assert (
        httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, headers={"Accept": "*/*"}).headers[
            "content-type"
        ]
        == "application/json"
    )
    refused = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, headers={"Accept": "text/csv"})
    assert refused.status_code == 406


def test_a_mutation_by_get_is_405(base: str) -> None:
    entry = '{tps: "5304121003001", votes: [], valid: 0, invalid: 0, total: 0}'
    query = f"mutation {{ submitChasil(input: {entry}) {{ __typename }} }}"
    answer = httpx.get(f"{base}/graphql", params={"query": query})
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert _is_graphql_error(answer) == "mutations are sent by POST, not GET"


def test_several_operations_need_an_operation_name(base: str) -> None:
    document = "query A { races { slug } } query B { __typename }"
    answer = httpx.post(f"{base}/graphql", json={"query": document}).json()
    assert "data" not in answer
    assert answer["errors"][0]["message"] == "the document holds 2 operations: name the one to run in operationName"
    named = httpx.post(f"{base}/graphql", json={"query": document, "operationName": "B"}).json()
    assert named == {"data": {"__typename": "Query"}}


def test_get_without_a_query_is_400(base: str) -> None:
    answer = httpx.get(f"{base}/graphql")
    assert answer.status_code == 400
    assert "needs a `query` parameter" in _is_graphql_error(answer)


def test_if_none_match_per_rfc_9110(base: str) -> None:
    params = {"query": "{ races { slug } }"}
    first = httpx.get(f"{base}/graphql", params=params)
    weak = first.headers["etag"]
    assert weak.startswith('W/"')
    for tag in ("*", weak, weak[2:], f'"nothing", {weak[2:]}'):
        again = httpx.get(f"{base}/graphql", params=params, headers={"If-None-Match": tag})
        assert again.status_code == 304, tag
    other = httpx.get(f"{base}/graphql", params=params, headers={"If-None-Match": '"nothing"'})
    assert other.status_code == 200
    fresh = httpx.get(
        f"{base}/graphql", params={"query": '{ race(slug: "x") { slug } }'}, headers={"If-None-Match": "*"}
    )
    assert fresh.status_code == 304  # a successful answer exists for any query that succeeds
    failing = httpx.get(f"{base}/graphql", params={"query": "{ nosuch }"}, headers={"If-None-Match": "*"})
    assert failing.status_code == 200 and "errors" in failing.json()


def test_errors_are_never_cached_publicly(base: str) -> None:
    for params in ({"query": "{ nosuch }"}, {"query": '{ region(code: "x") { name } }'}, {"query": "{"}):
        answer = httpx.get(f"{base}/graphql", params=params)
        assert "errors" in answer.json()
        assert answer.headers["cache-control"] == "no-store" and "etag" not in answer.headers


def test_cors_for_the_configured_origins(base: str) -> None:
    preflight = httpx.options(
        f"{base}/graphql",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == FRONTEND
    assert "POST" in preflight.headers["access-control-allow-methods"]
    got = httpx.get(f"{base}/graphql", params={"query": "{ __typename }"}, headers={"Origin": FRONTEND})
    assert got.headers["access-control-allow-origin"] == FRONTEND
    assert "ETag" in got.headers["access-control-expose-headers"]
    stranger = httpx.post(
        f"{base}/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in stranger.headers
    plain_options = httpx.options(f"{base}/graphql")
    assert plain_options.status_code == 204 and "POST" in plain_options.headers["allow"]


def test_other_methods_and_content_types(base: str) -> None:
    put = httpx.put(f"{base}/graphql", content=b"{}")
    assert put.status_code == 405 and _is_graphql_error(put)
    text = httpx.post(f"{base}/graphql", content=b'{"query": "{ __typename }"}', headers={"Content-Type": "text/plain"})
    assert text.status_code == 415 and _is_graphql_error(text)


def test_healthz_reads_the_database(empty_database_url: str, belu_database_url: str) -> None:
    drill = Clock.drill(datetime(2020, 12, 9, 14, 2, tzinfo=UTC), 60, epoch=time.time() + 3600)
    with serving(create_app(Settings(database_url=belu_database_url, clock=drill))) as url:
        ok = httpx.get(f"{url}/healthz")
    # it also says what time the API reads: here a drill's, standing at its start
    assert (ok.status_code, ok.json()) == (200, {"status": "ok", "database": "ok", "now": "2020-12-09T14:02:00+00:00"})
    with serving(create_app(Settings(database_url=empty_database_url))) as url:
        unusable = httpx.get(f"{url}/healthz")
    assert unusable.status_code == 503 and unusable.json()["status"] == "unavailable"


def test_the_audit_log_pages_like_every_list(base: str) -> None:
    answer = httpx.post(f"{base}/graphql", json={"query": "{ auditLog(first: 101) { id } }"})
    assert answer.json()["errors"][0]["message"] == "first must be between 0 and 100"
