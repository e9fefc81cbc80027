"""The national scenario's tree and sums (pure: no HTTP)."""

import json
import random
from datetime import datetime, timedelta

import pytest

from sirekap.codes import url_path
from sirekap.documents import parse_region_file, parse_region_list, parse_tps_file
from sirekap.sim.national import START, National
from sirekap.sim.national_tree import build_tree
from sirekap.timestamps import WIB


@pytest.fixture(scope="module")
def national() -> National:
    return National(tps=20_000, seed=7, reporting=0.9)


def fetch(national: National, path: str, at=START) -> bytes:  # type: ignore[no-untyped-def]
    document = national.document(path, at)
    assert document is not None, path
    return json.dumps(document.body).encode()


def test_full_size_tree_has_pemilu_2024_shape() -> None:
    tree = build_tree(823_236, 2024)
    kabupaten = [k for p in tree.children[""] for k in tree.children[p]]
    assert (len(tree.children[""]), len(kabupaten), len(tree.desa), tree.tps_total) == (38, 514, 83_731, 823_236)
    assert sum(len(tree.children[k]) for k in kabupaten) == 7_277
    assert max(tree.tps_in_desa.values()) <= 999


def test_tree_is_deterministic_from_the_seed() -> None:
    assert build_tree(5_000, 1) == build_tree(5_000, 1)
    assert build_tree(5_000, 1).desa != build_tree(5_000, 2).desa


def regions_sample(national: National, rng: random.Random) -> list[str]:
    tree = national.tree
    provinsi = rng.choice(tree.children[""])
    kabupaten = rng.choice(tree.children[provinsi])
    kecamatan = rng.choice(tree.children[kabupaten])
    return ["", provinsi, kabupaten, kecamatan, rng.choice(tree.children[kecamatan])]


def region_path(code: str) -> str:
    return f"/pemilu/hhcw/ppwp/{url_path(code)}.json" if code else "/pemilu/hhcw/ppwp.json"


def assert_rows_sum_to_chart(national: National, code: str, at=START) -> None:  # type: ignore[no-untyped-def]
    region = parse_region_file(fetch(national, region_path(code), at), source_zone=WIB)
    totals = {key: 0 for key in region.votes}
    tps_in = 0
    for child in region.children:
        child_file = fetch(national, region_path(child), at)
        if len(child) == 13:
            tps = parse_tps_file(child_file, source_zone=WIB)
            counted = tps.votes or {}
            tps_in += tps.votes is not None
        else:
            parsed = parse_region_file(child_file, source_zone=WIB)
            counted = parsed.votes
            tps_in += parsed.progress.tps_in
            assert region.children[child].votes == (parsed.votes or None)
        for key, votes in counted.items():
            totals[key] += votes
    assert region.votes == totals
    assert region.progress.tps_in == tps_in


@pytest.mark.parametrize("seed", range(3))
def test_sums_are_consistent_at_sampled_regions(national: National, seed: int) -> None:
    for code in regions_sample(national, random.Random(seed)):
        assert_rows_sum_to_chart(national, code)


def test_changes_keep_aggregates_consistent_and_newer(national: National) -> None:
    before = parse_region_file(fetch(national, region_path("")), source_zone=WIB)
    batch = national.publish_changes(0.05, START)
    assert batch.at == START + timedelta(minutes=30) and len(batch.codes) == 1_000
    changed = batch.codes[0]
    tps = parse_tps_file(fetch(national, region_path(changed), batch.at), source_zone=WIB)
    assert tps.ts == batch.at and tps.votes is not None
    old = parse_tps_file(fetch(national, region_path(changed), START), source_zone=WIB)
    assert old.ts is not None and old.ts < batch.at
    after = parse_region_file(fetch(national, region_path(""), batch.at), source_zone=WIB)
    assert after.votes != before.votes and after.progress.tps_in >= before.progress.tps_in
    for code in ["", changed[:2], changed[:4], changed[:6], changed[:10]]:
        assert_rows_sum_to_chart(national, code, batch.at)


def test_region_lists_parse(national: National) -> None:
    provinsi = parse_region_list(fetch(national, "/wilayah/pemilu/ppwp/0.json"))
    assert [e.code for e in provinsi] == list(national.tree.children[""])
    desa = national.tree.desa[0]
    tps = parse_region_list(fetch(national, f"/wilayah/pemilu/ppwp/{url_path(desa)}.json"))
    assert [e.code for e in tps] == national.tree.tps_codes(desa)


def test_tps_numbers_pass_the_auditors_checks(national: National) -> None:
    for index in random.Random(1).sample(range(national.tree.tps_total), 200):
        tps = parse_tps_file(fetch(national, region_path(national.tree.tps_at(index))), source_zone=WIB)
        if tps.votes is None:
            continue
        page = tps.administrasi
        assert page is not None
        assert sum(tps.votes.values()) == page.suara_sah
        assert page.suara_sah + page.suara_tidak_sah == page.suara_total <= page.pengguna_total_j  # type: ignore[operator]
        assert page.pengguna_dpt_j <= page.pemilih_dpt_j <= 300  # type: ignore[operator]


def test_a_batch_counts_the_region_files_whose_numbers_it_changed() -> None:
    national = National(tps=2_000, seed=11, reporting=1.0)
    regions = [code for parent in national.tree.children.values() for code in parent if len(code) < 13]
    regions.append("")

    def votes(at: datetime) -> dict[str, object]:
        return {code: parse_region_file(fetch(national, region_path(code), at), source_zone=WIB).votes
                for code in regions}  # fmt: skip

    before = votes(START)
    batch = national.publish_changes(0.01, START)
    after = votes(batch.at)
    assert batch.files_above() == sum(before[code] != after[code] for code in regions)
    assert batch.to_json(WIB)["files_above"] == batch.files_above()
