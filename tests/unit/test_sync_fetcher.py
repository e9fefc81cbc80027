"""The fetcher never raises: it retries transient failures with backoff and stops hammering a failing upstream."""

import random

import httpx

from api.sync.fetcher import Fetcher, FetchPolicy

POLICY = FetchPolicy(concurrency=4, retries=3, backoff_base_seconds=1.0, backoff_cap_seconds=4.0, circuit_threshold=5)


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def fetcher(handler: httpx.MockTransport, sleeps: Sleeps) -> Fetcher:
    client = httpx.AsyncClient(transport=handler, base_url="http://sirekap.test")
    return Fetcher(client, POLICY, sleep=sleeps, rng=random.Random(1))


async def test_a_transient_5xx_is_retried_with_growing_jittered_backoff() -> None:
    answers = iter([503, 503, 200])

    def handle(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, content=b"{}" if status == 200 else b"<html>503</html>", headers={"etag": '"a"'})

    sleeps = Sleeps()
    result = await fetcher(httpx.MockTransport(handle), sleeps).get("/x.json")
    assert (result.status, result.body, result.etag, result.attempts) == ("ok", b"{}", '"a"', 3)
    assert len(sleeps.slept) == 2
    assert 0 <= sleeps.slept[0] <= 1.0 and 0 <= sleeps.slept[1] <= 2.0


async def test_conditional_requests_send_validators_and_report_not_modified() -> None:
    seen: list[httpx.Headers] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(304, headers={"etag": '"a"'})

    result = await fetcher(httpx.MockTransport(handle), Sleeps()).get(
        "/x.json", etag='"a"', last_modified="Wed, 09 Dec 2020 06:00:00 GMT"
    )
    assert result.status == "not_modified"
    assert seen[0]["if-none-match"] == '"a"'
    assert seen[0]["if-modified-since"] == "Wed, 09 Dec 2020 06:00:00 GMT"


async def test_failures_come_back_as_reasons_not_exceptions() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/refused.json":
            raise httpx.ConnectError("connection refused")
        if request.url.path == "/hang.json":
            raise httpx.ReadTimeout("timed out")
        return httpx.Response({"/missing.json": 404, "/waf.json": 403}[request.url.path], content=b"<html/>")

    f = fetcher(httpx.MockTransport(handle), Sleeps())
    reasons = {path: (await f.get(path)).reason for path in ("/missing.json", "/waf.json")}
    assert reasons == {"/missing.json": "not_found", "/waf.json": "http_4xx"}  # not retried
    f.reset()
    assert (await f.get("/refused.json")).reason == "refused"
    f.reset()
    assert (await f.get("/hang.json")).reason == "timeout"


async def test_the_circuit_opens_after_failures_in_a_row_and_the_pass_stops_asking() -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503)

    f = fetcher(httpx.MockTransport(handle), Sleeps())
    results = [await f.get(f"/{n}.json") for n in range(50)]
    assert calls == POLICY.circuit_threshold  # 50 documents, 5 requests
    assert results[0].reason == "http_5xx"
    assert {r.reason for r in results[2:]} == {"circuit_open"}
    f.reset()  # the next pass tries again
    assert (await f.get("/again.json")).reason == "http_5xx"
