"""The belu-2020 scenario's documents, read back with the project's own parsers (pure: no HTTP)."""

import json
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from sirekap.belu import belu_2020
from sirekap.codes import url_path
from sirekap.documents import parse_candidates, parse_region_file, parse_region_list, parse_tps_file
from sirekap.sim.belu_night import BeluNight
from sirekap.sim.belu_timeline import WITA, belu_timeline, wita
from sirekap.timestamps import WIB

HHCW = "/pilkada/hhcw/pkwkk/"


@pytest.fixture(scope="module")
def night() -> BeluNight:
    return BeluNight()


def fetch(night: BeluNight, path: str, at: datetime) -> bytes:
    document = night.document(path, at)
    assert document is not None, path
    return json.dumps(document.body).encode()


def race(night: BeluNight, at: datetime) -> tuple[int, dict[str, int]]:
    region = parse_region_file(fetch(night, f"{HHCW}53/5304.json", at), source_zone=WIB)
    return region.progress.tps_in, region.votes


def test_progress_follows_the_night(night: BeluNight) -> None:
    assert race(night, wita(9, 13, 29))[0] == 0
    assert race(night, wita(9, 14))[0] == 60  # 14.08%: what Belu was stuck at
    assert race(night, wita(11, 18, 15)) == (163, {"1000899": 19_539, "1000900": 19_580})
    assert race(night, wita(11, 18, 29))[0] == 163
    assert race(night, wita(13, 12))[0] == 426


def test_complete_count_equals_the_pleno_rows(night: BeluNight) -> None:
    data = belu_2020()
    kabupaten = parse_region_file(fetch(night, f"{HHCW}53/5304.json", wita(14, 0)), source_zone=WIB)
    for row in data.pleno_kecamatan:
        child = kabupaten.children[row.kecamatan_code]
        assert child.votes == {"1000899": row.votes[1], "1000900": row.votes[2]}
        assert child.progress is not None and child.progress.tps_in == child.progress.tps_total
    assert kabupaten.votes == {"1000899": 50_376, "1000900": 50_623}


def test_misread_numbers_go_down_when_corrected(night: BeluNight) -> None:
    timeline = belu_timeline()
    assert len(timeline.misreads) == 3
    for code, misread in timeline.misreads.items():
        path = f"{HHCW}{url_path(code)}.json"
        before = parse_tps_file(fetch(night, path, misread.corrected_at - timedelta(minutes=1)), source_zone=WIB)
        after = parse_tps_file(fetch(night, path, misread.corrected_at), source_zone=WIB)
        assert before.votes is not None and after.votes is not None and before.administrasi is not None
        assert sum(before.votes.values()) > sum(after.votes.values()) == before.administrasi.suara_sah
        assert after.ts is not None and before.ts is not None and after.ts > before.ts


@pytest.mark.parametrize("at", [wita(9, 14), wita(10, 12), wita(11, 18, 15), wita(12, 21)])
def test_aggregates_are_the_sums_of_their_tps_files(night: BeluNight, at: datetime) -> None:
    data = belu_2020()
    tps_votes: dict[str, dict[str, int]] = {}
    for tps in data.tps:
        parsed = parse_tps_file(fetch(night, f"{HHCW}{url_path(tps.code)}.json", at), source_zone=WIB)
        if parsed.votes is not None:
            tps_votes[tps.code] = parsed.votes
    for region in data.regions:
        if len(region.code) < 4:
            continue
        parsed_region = parse_region_file(fetch(night, f"{HHCW}{url_path(region.code)}.json", at), source_zone=WIB)
        expected: dict[str, int] = defaultdict(int)
        below = [code for code in tps_votes if code.startswith(region.code)]
        for code in below:
            for key, votes in tps_votes[code].items():
                expected[key] += votes
        assert parsed_region.progress.tps_in == len(below)
        assert parsed_region.votes == dict(expected)


def test_region_lists_and_candidates_parse(night: BeluNight) -> None:
    at = wita(9, 13)
    # a bupati race names its province and kab/kota from the governor's lists
    provinsi = parse_region_list(fetch(night, "/wilayah/pilkada/pkwkp/0.json", at))
    assert [(e.code, e.name) for e in provinsi] == [("53", "NUSA TENGGARA TIMUR")]
    kabupaten = parse_region_list(fetch(night, "/wilayah/pilkada/pkwkp/53.json", at))
    assert [(e.code, e.name) for e in kabupaten] == [("5304", "BELU")]
    kecamatan = parse_region_list(fetch(night, "/wilayah/pilkada/pkwkk/53/5304.json", at))
    assert len(kecamatan) == 12
    tps = parse_region_list(fetch(night, "/wilayah/pilkada/pkwkk/53/5304/530412/5304121003.json", at))
    assert {e.code for e in tps} == {t.code for t in belu_2020().tps if t.desa_code == "5304121003"}
    candidates = parse_candidates(fetch(night, "/pilkada/paslon/pkwkk.json", at))
    assert [(c.upstream_id, c.number) for c in candidates.races["5304"]] == [("1000899", 1), ("1000900", 2)]


def test_ts_is_written_in_the_source_zone(night: BeluNight) -> None:
    body = night.document(f"{HHCW}53/5304.json", datetime(2020, 12, 9, 14, 7, tzinfo=WITA))
    assert body is not None and body.body["ts"] == "2020-12-09 13:00:00"


@pytest.mark.parametrize(
    "path",
    [
        f"{HHCW}53/5305.json",
        f"{HHCW}5304.json",
        f"{HHCW}53/5304/530499.json",
        f"{HHCW}53/5304/530412/5304121003/5304121003999.json",
        "/pilkada/hhcw/pkwkp/53.json",
        "/wilayah/pilkada/pkwkk/53/5304/530412/5304121003/5304121003001.json",
        # invented paths: a bupati race has no province or kab/kota list of its own, and no national file
        "/wilayah/pilkada/pkwkk/0.json",
        "/wilayah/pilkada/pkwkk/53.json",
        "/wilayah/pilkada/pkwkp/53/5304.json",
        "/pilkada/hhcw/pkwkk.json",
    ],
)
def test_paths_sirekap_would_not_have_are_not_found(night: BeluNight, path: str) -> None:
    assert night.document(path, wita(13, 0)) is None
