"""The simulator over real HTTP on loopback, as the sync and the monitor see it."""

import random
import time
from collections.abc import Iterator

import httpx
import pytest

from sirekap.belu import belu_2020
from sirekap.codes import url_path
from sirekap.documents import DocumentError, parse_region_file, parse_tps_file
from sirekap.sim.testing import RunningSim, running_simulator
from sirekap.timestamps import WIB

RACE = "/pilkada/hhcw/pkwkk/53/5304.json"
TPS = "/pilkada/hhcw/pkwkk/53/5304/530412/5304121003/5304121003001.json"


@pytest.fixture(scope="module")
def belu() -> Iterator[RunningSim]:
    with running_simulator("belu-2020") as sim:
        yield sim


@pytest.fixture
def sim(belu: RunningSim) -> Iterator[RunningSim]:
    belu.clear_faults()
    belu.set_clock(at="2020-12-11T18:15", speed=0)
    yield belu
    belu.clear_faults()


def get(sim: RunningSim, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{sim.base_url}{path}", timeout=5, **kwargs)  # type: ignore[arg-type]


def progress(sim: RunningSim) -> tuple[int, int]:
    race = parse_region_file(get(sim, RACE).content, source_zone=WIB)
    return race.progress.tps_in, race.progress.tps_total


def test_belu_timeline(belu: RunningSim) -> None:
    with running_simulator("belu-2020") as night:  # its own, with the scenario's schedule intact
        night.set_clock(at="2020-12-09T14:00")
        tps_in, total = progress(night)
        assert (tps_in, total) == (60, 426) and round(100 * tps_in / total) == 14
        night.set_clock(at="2020-12-09T14:02")
        assert get(night, RACE).status_code == 503
        night.set_clock(at="2020-12-10T09:59")
        assert get(night, TPS).status_code == 503
        night.set_clock(at="2020-12-10T10:00")
        assert progress(night)[0] == 100
        night.set_clock(at="2020-12-11T18:15")
        assert progress(night) == (163, 426)
        night.set_clock(at="2020-12-13T12:00")
        race = parse_region_file(get(night, RACE).content, source_zone=WIB)
        assert race.progress.tps_in == 426
        for row in belu_2020().pleno_kecamatan:
            assert race.children[row.kecamatan_code].votes == {"1000899": row.votes[1], "1000900": row.votes[2]}


def test_the_outage_can_be_a_refused_connection() -> None:
    with running_simulator("belu-2020", outage="refused") as night:
        night.set_clock(at="2020-12-09T14:02")
        with pytest.raises(httpx.ConnectError):
            get(night, RACE)
        assert night.state()["data_open"] is False
        night.set_clock(at="2020-12-10T10:00")
        assert get(night, RACE).status_code == 200


def test_clock_runs_when_given_a_speed(sim: RunningSim) -> None:
    sim.set_clock(at="2020-12-09T13:59:59", speed=60)
    deadline = time.monotonic() + 10
    while progress(sim)[0] != 60:
        assert time.monotonic() < deadline, "the clock did not reach 14:00"
        time.sleep(0.05)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_fault(sim: RunningSim, status: int) -> None:
    sim.add_fault("error", status=status)
    response = get(sim, RACE)
    assert response.status_code == status and "text/html" in response.headers["content-type"]


def test_refused_fault_closes_and_reopens_the_data_port(sim: RunningSim) -> None:
    with httpx.Client(base_url=sim.base_url, timeout=5) as client:
        assert client.get(RACE).status_code == 200  # a pooled keep-alive connection, too
        fault = sim.add_fault("refused")
        with pytest.raises(httpx.ConnectError):
            client.get(RACE)
        assert sim.state()["data_open"] is False
        sim.remove_fault(fault)
        assert client.get(RACE).status_code == 200


def test_hang_fault_answers_never(sim: RunningSim) -> None:
    sim.add_fault("hang", path="/pilkada/hhcw")
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sim.base_url}{RACE}", timeout=0.5)
    assert time.monotonic() - started >= 0.5
    assert get(sim, "/pilkada/paslon/pkwkk.json").status_code == 200


@pytest.mark.parametrize("status", [200, 403])
def test_denied_fault_serves_an_html_page(sim: RunningSim, status: int) -> None:
    sim.add_fault("denied", status=status)
    response = get(sim, RACE)
    assert response.status_code == status and "Access Denied" in response.text
    with pytest.raises(DocumentError) as error:
        parse_region_file(response.content, source_zone=WIB)
    assert error.value.reason == "html"


def test_truncated_fault_cuts_the_json(sim: RunningSim) -> None:
    whole = get(sim, TPS).content
    sim.add_fault("truncated", path=TPS, truncate_at=0.5)
    response = get(sim, TPS)
    assert response.status_code == 200 and response.content == whole[: len(whole) // 2]
    with pytest.raises(DocumentError) as error:
        parse_tps_file(response.content, source_zone=WIB)
    assert error.value.reason == "truncated"


def test_slow_fault_delays_the_answer(sim: RunningSim) -> None:
    sim.add_fault("slow", delay_s=0.4)
    started = time.monotonic()
    assert get(sim, RACE).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_stale_fault_freezes_ts_and_content(sim: RunningSim) -> None:
    sim.set_clock(at="2020-12-11T12:00")
    frozen = get(sim, RACE).content
    sim.add_fault("stale")
    sim.set_clock(at="2020-12-12T12:00")
    assert get(sim, RACE).content == frozen


def test_freeze_fault_keeps_numbers_while_ts_moves(sim: RunningSim) -> None:
    sim.set_clock(at="2020-12-11T12:00")
    before = parse_region_file(get(sim, RACE).content, source_zone=WIB)
    sim.add_fault("freeze")
    sim.set_clock(at="2020-12-12T12:00")
    during = get(sim, RACE)
    assert during.json()["tungsura"]["chart"] is None  # charts switched off
    after = parse_region_file(during.content, source_zone=WIB)
    assert after.ts is not None and before.ts is not None and after.ts > before.ts
    assert (after.progress.tps_in, after.progress.tps_total) == (before.progress.tps_in, before.progress.tps_total)
    assert after.children == before.children


def test_conditional_requests_get_304_until_the_content_changes(sim: RunningSim) -> None:
    first = get(sim, TPS)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert get(sim, TPS, headers={"If-None-Match": etag}).status_code == 304
    assert get(sim, TPS, headers={"If-Modified-Since": modified}).status_code == 304
    race = get(sim, RACE)
    sim.set_clock(at="2020-12-11T18:30")
    assert get(sim, RACE, headers={"If-None-Match": race.headers["etag"]}).status_code == 200


def test_admin_rejects_nonsense_with_a_reason(sim: RunningSim) -> None:
    response = httpx.post(f"{sim.admin_url}/_sim/faults", json={"kind": "refused", "path": "/pilkada"})
    assert response.status_code == 400 and "path must be /" in response.json()["error"]
    response = httpx.put(f"{sim.admin_url}/_sim/clock", json={"at": "yesterday"})
    assert response.status_code == 400
    assert httpx.post(f"{sim.admin_url}/_sim/national/changes", json={"fraction": 0.1}).status_code == 404


def test_unknown_paths_are_404(sim: RunningSim) -> None:
    assert get(sim, "/pilkada/hhcw/pkwkk/53/5399.json").status_code == 404


def test_national_sums_are_consistent_over_http() -> None:
    with running_simulator("national", tps=20_000, seed=3) as national:
        tree_client = httpx.Client(base_url=national.base_url, timeout=10)
        batch = national.national_changes(0.02)
        assert batch["changed"] == 400
        rng = random.Random(5)
        code = ""
        for _ in range(4):  # walk down a random branch, checking each aggregated file against its children
            path = f"/pemilu/hhcw/ppwp/{url_path(code)}.json" if code else "/pemilu/hhcw/ppwp.json"
            region = parse_region_file(tree_client.get(path).content, source_zone=WIB)
            totals: dict[str, int] = dict.fromkeys(region.votes, 0)
            for child in region.children:
                child_region = parse_region_file(
                    tree_client.get(f"/pemilu/hhcw/ppwp/{url_path(child)}.json").content, source_zone=WIB
                )
                for key, votes in child_region.votes.items():
                    totals[key] += votes
            assert region.votes == totals
            code = rng.choice(sorted(region.children))
        desa = parse_region_file(tree_client.get(f"/pemilu/hhcw/ppwp/{url_path(code)}.json").content, source_zone=WIB)
        tps_sum: dict[str, int] = dict.fromkeys(desa.votes, 0)
        for tps in desa.children:
            parsed = parse_tps_file(tree_client.get(f"/pemilu/hhcw/ppwp/{url_path(tps)}.json").content, source_zone=WIB)
            for key, votes in (parsed.votes or {}).items():
                tps_sum[key] += votes
        assert desa.votes == tps_sum
        tree_client.close()
