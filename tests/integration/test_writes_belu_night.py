"""The Belu night of 9-16 December 2020 replayed through the write API, on every database backend.

Sirekap is down, so KPU operators enter every TPS's C.Hasil by hand; both posko publish their claims; the twelve PPK
plenos read the kecamatan results; the KPU Belu pleno reads the official result, 50,623 to 50,376.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.auth.tokens import Role
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.write_models import AuditEntry
from sirekap.belu import Tps, belu_2020
from tests.integration.test_writes_http import (
    CLAIM,
    PLENO_KABUPATEN,
    PLENO_KECAMATAN,
    SUBMIT,
    WriteApi,
    make_tokens,
    region_input,
    tps_input,
)
from tests.servers import serving_here

DATA = belu_2020()
KECAMATAN = sorted(r.kecamatan_code for r in DATA.pleno_kecamatan)

STATE = """query($code: String!) { region(code: $code) { status
  chasil: results(source: CHASIL) { coverage { reported expected } valid votes { votes } }
  plenos: results(source: PLENO_KECAMATAN) { status isOfficial coverage { reported expected } votes { votes } }
  official: results(source: PLENO_KABUPATEN) { isOfficial valid leader { shortName } margin votes { votes }
    asOf { local } }
  comparison { official { source } claims { claimant { shortName } coverage { reported expected } votes { votes } }
    differences { source claimant { shortName } reference paslon { number } difference } } } }"""


@pytest.fixture
async def night(belu_race_database_url: str) -> AsyncIterator[WriteApi]:
    wanted: dict[str, tuple[Role, str | None, int | None]] = {}
    for code in KECAMATAN:
        wanted[f"operator {code}"] = (Role.OPERATOR, code, None)
        wanted[f"PPK {code}"] = (Role.RECAP_OFFICER, code, None)
    wanted["KPU Belu"] = (Role.RECAP_OFFICER, "5304", None)
    wanted["posko SAHABAT"] = (Role.OBSERVER, "5304", 1)
    wanted["posko SEHATI"] = (Role.OBSERVER, "5304", 2)
    tokens = await make_tokens(belu_race_database_url, wanted)
    app = create_app(Settings(database_url=belu_race_database_url, rate_limit_per_minute=0))
    async with serving_here(app) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        yield WriteApi(base, belu_race_database_url, tokens, client)


async def state(api: WriteApi, code: str) -> dict[str, Any]:
    answer = await api.query(STATE, code=code)
    assert "errors" not in answer, answer
    region: dict[str, Any] = answer["data"]["region"]
    return region


async def enter(api: WriteApi, forms: Sequence[Tps], operators: int = 6) -> None:
    queue = list(forms)

    async def operator() -> None:
        while queue:
            tps = queue.pop()
            key = f"chasil-{tps.code}"
            answer = await api.write(SUBMIT, tps_input(tps.code), f"operator {tps.kecamatan_code}", key=key)
            assert answer["__typename"] == "WriteAccepted" and answer["findings"] == [], answer

    await asyncio.gather(*(operator() for _ in range(operators)))


def votes(result: dict[str, Any] | None) -> list[int]:
    assert result is not None
    return [v["votes"] for v in result["votes"]]


async def test_the_belu_night_through_the_write_api(night: WriteApi) -> None:
    api = night
    assert (await state(api, "5304"))["status"] == "WAITING"

    # 9 Dec, from 14:00 WITA: Sirekap is down; operators enter the C.Hasil forms, several kecamatan at once
    await enter(api, DATA.tps[:60])
    partial = await state(api, "5304")
    assert partial["status"] == "PARTIAL"
    assert partial["chasil"]["coverage"] == {"reported": 60, "expected": 426}
    await enter(api, DATA.tps[60:])

    kabupaten = await state(api, "5304")
    assert kabupaten["status"] == "COUNT_COMPLETE"
    assert kabupaten["chasil"]["coverage"] == {"reported": 426, "expected": 426}
    assert votes(kabupaten["chasil"]) == [50376, 50623] and kabupaten["chasil"]["valid"] == 100999
    assert kabupaten["official"] is None and kabupaten["comparison"]["official"] is None

    # 10 Dec: both posko claim victory
    sehati = region_input("5304", {1: 48206, 2: 48742}, invalid=1482, tpsClaimed=426, asOf="2020-12-10T00:30:00+08:00")
    sahabat = region_input("5304", {1: 48424, 2: 48267}, tpsClaimed=408, note="claimed on 10 Dec 2020")
    assert (await api.write(CLAIM, sehati, "posko SEHATI"))["claimant"] == 2
    assert (await api.write(CLAIM, sahabat, "posko SAHABAT"))["claimant"] == 1
    claims = (await state(api, "5304"))["comparison"]["claims"]
    assert [(c["claimant"]["shortName"], c["coverage"]["reported"], votes(c)) for c in claims] == [
        ("SAHABAT", 408, [48424, 48267]),
        ("SEHATI", 426, [48206, 48742]),
    ]

    # 12-14 Dec: the twelve PPK plenos
    for done, row in enumerate(sorted(DATA.pleno_kecamatan, key=lambda r: r.kecamatan_code), start=1):
        answer = await api.write(
            PLENO_KECAMATAN, region_input(row.kecamatan_code, row.votes), f"PPK {row.kecamatan_code}"
        )
        assert answer["__typename"] == "WriteAccepted" and answer["findings"] == [], answer
        kecamatan = await state(api, row.kecamatan_code)
        assert kecamatan["status"] == "PLENO_KECAMATAN_DONE"
        plenos = kecamatan["plenos"]
        assert (plenos["status"], plenos["isOfficial"]) == ("RECAP", False)  # a recap step, not the race's result
        assert votes(plenos) == [row.votes[1], row.votes[2]]
        above = await state(api, "5304")
        assert above["plenos"]["coverage"] == {"reported": done, "expected": 12}
        assert above["status"] == ("PLENO_KECAMATAN_DONE" if done == 12 else "COUNT_COMPLETE")
    # every kecamatan pleno is in, the KPU pleno is not: nothing is official yet
    before = await state(api, "5304")
    assert (before["plenos"]["status"], before["plenos"]["isOfficial"]) == ("RECAP", False)
    assert before["comparison"]["official"] is None and before["official"] is None
    assert {d["reference"] for d in before["comparison"]["differences"]} == {"PLENO_KECAMATAN"}

    # 16 Dec, 18:00 WITA: the KPU Belu pleno
    official = region_input("5304", {1: 50376, 2: 50623}, asOf="2020-12-16T18:00:00+08:00", note="D.Hasil Kabupaten")
    answer = await api.write(PLENO_KABUPATEN, official, "KPU Belu")
    assert answer["__typename"] == "WriteAccepted" and answer["findings"] == [], answer

    final = await state(api, "5304")
    assert final["status"] == "OFFICIAL"
    result = final["official"]
    assert result["isOfficial"] and votes(result) == [50376, 50623]
    assert (result["leader"]["shortName"], result["margin"], result["valid"]) == ("SEHATI", 247, 100999)
    assert result["asOf"]["local"] == "2020-12-16 18:00 WITA"
    assert final["comparison"]["official"] == {"source": "PLENO_KABUPATEN"}
    sehati_claim = [
        (d["paslon"]["number"], d["difference"])
        for d in final["comparison"]["differences"]
        if d["claimant"] and d["claimant"]["shortName"] == "SEHATI"
    ]
    assert sehati_claim == [(1, 48206 - 50376), (2, 48742 - 50623)]
    for code in KECAMATAN:
        assert (await state(api, code))["status"] == "PLENO_KECAMATAN_DONE"

    assert await api.rollup_problems() == []
    engine = create_engine(api.url)
    try:
        async with sessionmaker(engine)() as session:
            entries = await session.scalar(select(func.count()).select_from(AuditEntry))
    finally:
        await engine.dispose()
    assert entries == 426 + 2 + 12 + 1
