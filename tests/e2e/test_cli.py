"""The `pantau` command as a user runs it: a real process per command."""

import os
import subprocess
import sys

PANTAU = [sys.executable, "-m", "pantau.cli"]


def _pantau(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PANTAU_DATABASE_URL": database_url}
    return subprocess.run([*PANTAU, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_upgrade_then_load_belu_twice(empty_database_url: str) -> None:
    upgraded = _pantau(empty_database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    first = _pantau(empty_database_url, "load", "belu-2020")
    assert first.returncode == 0, first.stderr
    assert "loaded pkwkk-5304-2020: 426 TPS, 95 new regions, 15 tallies" in first.stdout
    second = _pantau(empty_database_url, "load", "belu-2020")
    assert second.returncode == 0, second.stderr
    assert "already loaded; nothing to do" in second.stdout


def test_unknown_dataset_is_refused(empty_database_url: str) -> None:
    result = _pantau(empty_database_url, "load", "jakarta-2017")
    assert result.returncode == 2
    assert "unknown dataset 'jakarta-2017'; known: belu-2020" in result.stderr
