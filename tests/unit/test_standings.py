"""Standings as pure rules: leader and margin, shares, what is official, what results are compared with, and where a
region stands."""

import pytest

from api.read.standings import (
    Lead,
    RegionStatus,
    Standing,
    lead,
    official,
    pleno_status,
    reference,
    region_status,
    shares,
)
from api.storage.models import RaceKind, Source, TallyStatus
from sirekap.codes import Level

SIREKAP_HALF = Standing(Source.SIREKAP, TallyStatus.PROVISIONAL, 213, 426)
SIREKAP_ALL = Standing(Source.SIREKAP, TallyStatus.PROVISIONAL, 426, 426)
CHASIL_ALL = Standing(Source.CHASIL, TallyStatus.PROVISIONAL, 426, 426)
RECAP_SOME = Standing(Source.PLENO_KECAMATAN, TallyStatus.RECAP, 3, 12)
RECAP_ALL = Standing(Source.PLENO_KECAMATAN, TallyStatus.RECAP, 12, 12)
KECAMATAN_PLENO = Standing(Source.PLENO_KECAMATAN, TallyStatus.RECAP, 1, 1)  # a kecamatan's own pleno
KPU = Standing(Source.PLENO_KABUPATEN, TallyStatus.OFFICIAL, 1, 1)
CLAIM = Standing(Source.POSKO, TallyStatus.OFFICIAL, 426, 426)  # a claim is never official, whatever it says


def test_the_leader_and_the_margin() -> None:
    assert lead({1: 50376, 2: 50623}) == Lead(leader=2, margin=247)
    assert lead({1: 10}) == Lead(leader=1, margin=10)
    assert lead({1: 7, 2: 7}) == Lead(leader=None, margin=0)  # a tie has no leader
    assert lead({1: 0, 2: 0}) == Lead(None, None) and lead({}) == Lead(None, None)


def test_shares_of_the_votes_counted() -> None:
    assert shares({1: 1, 2: 3}) == {1: 0.25, 2: 0.75}
    assert shares({1: 0, 2: 0}) == {1: None, 2: None}


@pytest.mark.parametrize(
    ("kind", "source", "status"),
    [
        (RaceKind.PKWKK, Source.PLENO_KABUPATEN, TallyStatus.OFFICIAL),  # a bupati race: its kabupaten pleno
        (RaceKind.PKWKK, Source.PLENO_KECAMATAN, TallyStatus.RECAP),
        (RaceKind.PKWKP, Source.PLENO_KABUPATEN, TallyStatus.RECAP),  # a governor race: the province's pleno
        (RaceKind.PKWKP, Source.PLENO_KECAMATAN, TallyStatus.RECAP),
        (RaceKind.PPWP, Source.PLENO_KABUPATEN, TallyStatus.RECAP),  # the president: the national pleno
    ],
)
def test_only_the_pleno_at_the_races_own_level_is_official(kind: str, source: Source, status: TallyStatus) -> None:
    assert pleno_status(kind, source) is status


def test_a_claim_or_a_count_is_not_a_pleno() -> None:
    with pytest.raises(ValueError, match="not a pleno"):
        pleno_status(RaceKind.PKWKK, Source.POSKO)


def test_the_official_result_and_the_reference() -> None:
    assert official([SIREKAP_ALL, RECAP_ALL, KPU, CLAIM]) is KPU
    assert official([SIREKAP_ALL, RECAP_ALL, CLAIM]) is None  # every kecamatan pleno in: still nothing official
    assert reference([SIREKAP_ALL, RECAP_ALL, KPU]) is KPU
    assert reference([SIREKAP_ALL, RECAP_ALL]) is RECAP_ALL  # the complete recap, before the KPU pleno
    assert reference([SIREKAP_ALL, RECAP_SOME]) is SIREKAP_ALL  # a partial recap is not a reference
    assert reference([CHASIL_ALL]) is None


@pytest.mark.parametrize(
    ("level", "results", "kecamatan_pleno_in", "status"),
    [
        (Level.KABUPATEN, [], False, RegionStatus.WAITING),
        (Level.KABUPATEN, [SIREKAP_HALF], False, RegionStatus.PARTIAL),
        (Level.KABUPATEN, [SIREKAP_HALF, CHASIL_ALL], False, RegionStatus.COUNT_COMPLETE),
        (Level.KABUPATEN, [SIREKAP_ALL, RECAP_SOME], False, RegionStatus.COUNT_COMPLETE),
        (Level.KABUPATEN, [SIREKAP_HALF, RECAP_ALL], False, RegionStatus.PLENO_KECAMATAN_DONE),
        (Level.KABUPATEN, [SIREKAP_HALF, RECAP_ALL, KPU], False, RegionStatus.OFFICIAL),
        (
            Level.KECAMATAN,
            [Standing(Source.PLENO_KECAMATAN, TallyStatus.RECAP, 1, 1)],
            False,
            RegionStatus.PLENO_KECAMATAN_DONE,
        ),
        (Level.DESA, [SIREKAP_HALF], True, RegionStatus.PLENO_KECAMATAN_DONE),  # its kecamatan's pleno is in
        (Level.DESA, [SIREKAP_HALF], False, RegionStatus.PARTIAL),
    ],
)
def test_where_a_region_stands(
    level: Level, results: list[Standing], kecamatan_pleno_in: bool, status: RegionStatus
) -> None:
    assert region_status(level, results, kecamatan_pleno_in) is status
