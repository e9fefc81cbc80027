"""The `pantau` command as a user runs it: a real process per command."""

import os
import subprocess
import sys

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.e2e

PANTAU = [sys.executable, "-m", "pantau.cli"]


def _pantau(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PANTAU_DATABASE_URL": database_url}
    return subprocess.run([*PANTAU, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_upgrade_then_load_belu_then_its_results_up_to_a_moment(empty_database_url: str) -> None:
    upgraded = _pantau(empty_database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    first = _pantau(empty_database_url, "load", "belu-2020")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "loaded pkwkk-5304-2020: 426 TPS, 95 new regions, no results yet\n"
    second = _pantau(empty_database_url, "load", "belu-2020", "--until", "2020-12-10T01:00")
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        "pkwkk-5304-2020 is already loaded",
        "results known by 2020-12-10 01:00 WITA: 1 recorded now, 0 recorded before",
        "  2020-12-10 00:30 WITA  the SEHATI post claims SEHATI 48,742, SAHABAT 48,206 from 426 TPS",
    ]
    third = _pantau(empty_database_url, "load", "belu-2020", "--until", "2020-12-15T00:00+08:00")
    assert third.returncode == 0, third.stderr
    assert "results known by 2020-12-15 00:00 WITA: 13 recorded now, 1 recorded before" in third.stdout
    assert "2020-12-14 23:59 WITA  PPK pleno of KOTA ATAMBUA: SEHATI 7,369, SAHABAT 7,006" in third.stdout
    assert "KPU pleno" not in third.stdout  # 16 Dec: not yet


def test_unknown_dataset_is_refused(empty_database_url: str) -> None:
    result = _pantau(empty_database_url, "load", "jakarta-2017")
    assert result.returncode == 2
    assert "unknown dataset 'jakarta-2017'; known: belu-2020" in result.stderr


def _refused_url() -> str:
    return f"postgresql://pantau:secret@127.0.0.1:{free_port()}/pantau"  # nothing listens there


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args", [("db", "upgrade"), ("load", "belu-2020"), ("token", "list"), ("api",)])
def test_commands_on_an_unreachable_database_say_so_in_one_line(args: tuple[str, ...]) -> None:
    url = _refused_url()
    line = _one_line(_pantau(url, *args))
    shown = url.replace("secret", "***")
    assert line == f"pantau {' '.join(args)}: database {shown} unreachable: connection refused"


def test_the_api_does_not_start_on_a_database_it_cannot_use(empty_database_url: str) -> None:
    line = _one_line(_pantau(empty_database_url, "api", "--port", str(free_port())))
    # SQLite: the file is not there (and is not created); PostgreSQL: the database is there, without tables.
    assert line.startswith(f"pantau api: database {empty_database_url} ")
    assert line.endswith(("does not exist: run pantau db upgrade", "not migrated: run pantau db upgrade"))


def test_the_monitor_does_not_start_on_an_unreachable_database() -> None:
    env = {
        **os.environ,
        "PANTAU_MONITOR_DATABASE_URL": _refused_url(),
        "PANTAU_PROBE_TARGETS": "belu=http://127.0.0.1:9/pilkada/hhcw/pkwkk/53/5304.json",
    }
    result = subprocess.run(
        [*PANTAU, "monitor", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert _one_line(result).endswith("unreachable: connection refused")
