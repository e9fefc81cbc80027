"""`pantau api --workers 2` as a real process: every worker answers, and answers right."""

from __future__ import annotations

import httpx
import pytest

from tests.servers import api_process

pytestmark = pytest.mark.e2e

QUERY = '{ region(code: "5304") { tpsTotal results(source: PLENO_KABUPATEN) { votes { votes } } } }'


def test_two_workers_answer_correctly(belu_database_url: str) -> None:
    with (
        api_process({"PANTAU_DATABASE_URL": belu_database_url}, "--workers", "2") as base,
        httpx.Client(base_url=base) as client,
    ):
        answers = [client.post("/graphql", json={"query": QUERY}, headers={"Connection": "close"}) for _ in range(30)]
    for answer in answers:
        assert answer.status_code == 200
        region = answer.json()["data"]["region"]
        assert region == {"tpsTotal": 426, "results": {"votes": [{"votes": 50376}, {"votes": 50623}]}}
