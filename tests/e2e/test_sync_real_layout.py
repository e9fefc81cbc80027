"""`pantau sync` as an operator runs it, `PANTAU_SYNC_RACES="pkwkk 5304"` and nothing else, from an empty database
against a host with the real layout (the recorded Pilkada 2024 Belu set), then the API shows what it made of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.recorded_sirekap import RecordedSirekap, quirks, tps_path
from tests.servers import api_process, serving

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_pantau_sync_bootstraps_pilkada_2024_belu_from_the_real_layout(empty_database_url: str) -> None:
    html, truncated, anomaly = quirks()["html_200"], quirks()["truncated"], quirks()["anomaly"]
    with serving(RecordedSirekap()) as sirekap:
        env = {
            "PANTAU_DATABASE_URL": empty_database_url,
            "PANTAU_SIREKAP_URL": sirekap,
            "PANTAU_SYNC_RACES": "pkwkk 5304",
        }
        run = subprocess.run(
            [sys.executable, "-m", "api.sync"],
            cwd=ROOT,
            env=os.environ | env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert run.returncode == 0, run.stdout + run.stderr  # a partial pass walked the tree: not a failure
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("pkwkk-5304: ")]
    assert line.startswith("pkwkk-5304: partial (2 documents not read: "), line
    assert f"{tps_path(html)} (html)" in line and f"{tps_path(truncated)} (truncated)" in line
    assert line.endswith("; 635 TPS written, 637 of 666 TPS in upstream"), line

    with api_process({"PANTAU_DATABASE_URL": empty_database_url}) as api:
        query = """{ race(slug: "pkwkk-5304-2024") { votingDay voterCapPerTps paslon { number }
                       region { tpsTotal children { code children { code } } } }
                     anomalies: tpsConnection(race: "pkwkk-5304-2024", status: ANOMALY) { edges { node { code } } }
                     unreadable: tpsConnection(race: "pkwkk-5304-2024", status: UNREADABLE) {
                       edges { node { code status unreadable { reason } results(source: SIREKAP) { valid } } } } }"""
        answer = httpx.post(f"{api}/graphql", json={"query": query}, timeout=30).json()
    assert "errors" not in answer, answer
    data = answer["data"]
    race = data["race"]
    assert (race["votingDay"], race["voterCapPerTps"], len(race["paslon"])) == ("2024-11-27", 600, 4)
    kecamatan = race["region"]["children"]
    assert (len(kecamatan), sum(len(k["children"]) for k in kecamatan), race["region"]["tpsTotal"]) == (12, 81, 666)
    assert data["anomalies"]["edges"] == [{"node": {"code": anomaly}}]
    assert sorted(
        (e["node"]["code"], e["node"]["unreadable"]["reason"]) for e in data["unreadable"]["edges"]
    ) == sorted([(html, "html"), (truncated, "truncated")])
    assert {e["node"]["status"] for e in data["unreadable"]["edges"]} == {"UNREADABLE"}
    assert all(e["node"]["results"] is None for e in data["unreadable"]["edges"])  # nothing good to keep yet
