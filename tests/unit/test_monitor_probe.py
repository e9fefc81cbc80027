import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from monitor.probe import Freshness, Reason, Thresholds, next_freshness, probe
from monitor.settings import Settings, Target, targets_from

NOW = datetime(2020, 12, 9, 7, 0, tzinfo=UTC)  # 15:00 WITA, 14:00 WIB
THRESHOLDS = Thresholds(timedelta(hours=1), timedelta(hours=2), ZoneInfo("Asia/Jakarta"))
TARGET = Target("pkwkk-5304", "http://sirekap.test/pilkada/hhcw/pkwkk/53/5304.json")


def document(ts: str = "2020-12-09 13:45:00", tps_in: int = 60, votes: int = 7127) -> bytes:
    progress = {"total": 426, "progres": tps_in}
    return json.dumps(
        {
            "mode": "hhcw",
            "psu": "Reguler",
            "ts": ts,
            "progres": progress,
            "tungsura": {
                "chart": {"1000899": votes, "1000900": 8939, "progres": {**progress, "persen": 14.08}},
                "table": {"530401": {"psu": "Reguler", "progres": {"total": 27, "persen": 0.0, "progres": 0}}},
            },
        }
    ).encode()


def client_for(handler: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


async def classify(handler: object, previous: Freshness | None = None, now: datetime = NOW):  # type: ignore[no-untyped-def]
    async with client_for(handler) as client:
        return await probe(client, TARGET, now=now, thresholds=THRESHOLDS, previous=previous)


async def test_up_reads_data_time_and_progress() -> None:
    result = await classify(lambda request: httpx.Response(200, content=document()))
    assert result.reason is Reason.UP and result.ok and result.status == 200
    assert result.data_ts == datetime(2020, 12, 9, 6, 45, tzinfo=UTC)  # 13:45 WIB
    assert (result.tps_in, result.tps_total) == (60, 426)
    assert result.progress == pytest.approx(60 / 426)


def _caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


def _raise(error: Exception) -> object:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    ("handler", "reason", "detail"),
    [
        (_raise(httpx.ConnectError("refused")), Reason.DOWN, "connection refused"),
        (
            _raise(_caused(httpx.ConnectError("no such host"), socket.gaierror(-2, "Name or service not known"))),
            Reason.DOWN,
            "host name not found",
        ),
        (
            _raise(_caused(httpx.ConnectError("handshake"), ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER]"))),
            Reason.DOWN,
            "TLS handshake failed (SSLError)",
        ),
        (_raise(httpx.ReadTimeout("slow")), Reason.DOWN, "timeout"),
        (lambda r: httpx.Response(503, text="<html>503</html>"), Reason.DOWN, "HTTP 503"),
        (
            lambda r: httpx.Response(200, text="<html><body>Access Denied</body></html>"),
            Reason.ERROR_PAGE,
            "HTTP 200: html body",
        ),
        (lambda r: httpx.Response(403, text="<html>Access Denied</html>"), Reason.ERROR_PAGE, "HTTP 403: html body"),
        (lambda r: httpx.Response(200, text="maintenance"), Reason.ERROR_PAGE, "HTTP 200: not json body"),
        (lambda r: httpx.Response(200, content=document()[:80]), Reason.INVALID, "HTTP 200: truncated"),
        (lambda r: httpx.Response(200, json={"mode": "hhcw", "tungsura": []}), Reason.INVALID, "HTTP 200: shape"),
        (lambda r: httpx.Response(404, json={"message": "not found"}), Reason.ERROR_PAGE, "HTTP 404: shape body"),
        (lambda r: httpx.Response(404, content=document()), Reason.ERROR_PAGE, "HTTP 404"),
    ],
    ids=[
        "refused",
        "name-not-found",
        "tls-handshake",
        "timeout",
        "5xx",
        "html-200",
        "html-403",
        "text",
        "truncated",
        "wrong-shape",
        "json-404",
        "doc-404",
    ],
)
async def test_each_failure_reason(handler: object, reason: Reason, detail: str) -> None:
    result = await classify(handler)
    assert result.reason is reason
    assert result.detail.startswith(detail)
    assert not result.ok


async def test_stale_when_the_documents_own_ts_is_too_old() -> None:
    result = await classify(lambda r: httpx.Response(200, content=document(ts="2020-12-09 12:30:00")))
    assert result.reason is Reason.STALE and result.detail == "data is 1 h 30 min old"


async def test_frozen_when_numbers_do_not_move_while_incomplete() -> None:
    first = await classify(lambda r: httpx.Response(200, content=document()), now=NOW - timedelta(hours=3))
    assert first.ok
    freshness = next_freshness(None, first)
    later = NOW - timedelta(hours=1, minutes=30)
    same = await classify(lambda r: httpx.Response(200, content=document(ts="2020-12-09 13:30:00")), freshness, later)
    assert same.ok  # unchanged for 1 h 30 min: not yet frozen
    freshness = next_freshness(freshness, same)
    frozen = await classify(lambda r: httpx.Response(200, content=document()), freshness)
    assert frozen.reason is Reason.FROZEN and frozen.detail == "numbers unchanged for 3 h 00 min"
    moved = await classify(lambda r: httpx.Response(200, content=document(votes=7200)), freshness)
    assert moved.ok
    complete = await classify(lambda r: httpx.Response(200, content=document(tps_in=426)), freshness)
    assert complete.ok  # a complete count is allowed to stop moving


async def test_a_count_that_has_not_started_is_not_frozen() -> None:
    before = await classify(lambda r: httpx.Response(200, content=document(tps_in=0)), now=NOW - timedelta(hours=5))
    freshness = next_freshness(None, before)
    still = await classify(lambda r: httpx.Response(200, content=document(tps_in=0)), freshness)
    assert still.ok  # five hours at 0 of 426 TPS: the polls have not closed yet


def test_targets_from_the_sync_races_or_explicit() -> None:
    env = {"PANTAU_SIREKAP_URL": "http://sim:8002/", "PANTAU_SYNC_RACES": "pkwkk 5304, ppwp"}
    assert targets_from(env) == (
        Target("pkwkk-5304", "http://sim:8002/pilkada/hhcw/pkwkk/53/5304.json"),
        Target("ppwp-0", "http://sim:8002/pemilu/hhcw/ppwp.json"),
    )
    assert targets_from({**env, "PANTAU_PROBE_TARGETS": "a=http://x/a.json"}) == (Target("a", "http://x/a.json"),)


def test_maintenance_windows_are_local_time() -> None:
    settings = Settings.from_env({"PANTAU_MAINTENANCE": "2020-12-09T01:00/2020-12-09T03:00"})
    (window,) = settings.maintenance
    assert window.start == datetime(2020, 12, 8, 17, 0, tzinfo=UTC)


async def test_a_trickling_answer_is_down_at_the_deadline_not_per_read() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for chunk in (document()[:40], document()[40:80], document()[80:]):
            await asyncio.sleep(0.2)  # each read is quick, the whole answer is not
            yield chunk

    thresholds = replace(THRESHOLDS, timeout_seconds=0.3)
    async with client_for(lambda r: httpx.Response(200, content=trickle())) as client:
        result = await probe(client, TARGET, now=NOW, thresholds=thresholds)
    assert (result.reason, result.detail) == (Reason.DOWN, "timeout")
    assert result.duration_seconds < 0.5


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once() -> None:
    calls = []

    def dropped_once(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, content=document())

    assert (await classify(dropped_once)).reason is Reason.UP
    result = await classify(_raise(httpx.ReadError("connection reset")))
    assert (result.reason, result.detail) == (Reason.DOWN, "transport error: ReadError")
