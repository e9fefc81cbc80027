"""The sync and the monitor read the same `PANTAU_SYNC_RACES` the same way (`sirekap.races`): the same races with
the same labels, and the same refusal, word for word, for an entry neither can follow."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.settings import Settings as ApiSettings
from api.sync.metrics import register_sync_metrics
from api.sync.service import SyncConfig
from monitor.app import create_app
from monitor.settings import Settings as MonitorSettings
from monitor.settings import SettingsError
from sirekap.clock import Clock
from sirekap.sim.testing import running_simulator
from tests.integration.test_sync_support import FakeClock, sync_harness
from tests.servers import serving_here


def sync_reads(environ: Mapping[str, str]) -> tuple[str, ...] | str:
    """The labels of the races the sync would follow, or its refusal."""
    try:
        return tuple(target.label for target in SyncConfig.from_settings(ApiSettings.from_env(environ)).targets)
    except ValueError as error:
        return str(error)


def monitor_reads(environ: Mapping[str, str]) -> tuple[str, ...] | str:
    """The names of the targets the monitor would probe, or its refusal."""
    try:
        return tuple(target.name for target in MonitorSettings.from_env(environ).targets)
    except SettingsError as error:
        return str(error)


@pytest.mark.parametrize(
    ("races", "expected"),
    [
        ("pkwkk 5304", ("pkwkk-5304",)),
        ("pkwkk 5304 2020", ("pkwkk-5304",)),
        ("ppwp", ("ppwp-0",)),
        ("ppwp 0", ("ppwp-0",)),
        ("pkwkk 5304, ppwp 0, pkwkp 53 2024-11-27", ("pkwkk-5304", "ppwp-0", "pkwkp-53")),
        ("pkwkk", "PANTAU_SYNC_RACES: race 'pkwkk': pkwkk needs a kabupaten code, e.g. 'pkwkk 5304'"),
        ("ppwp 53", "PANTAU_SYNC_RACES: race 'ppwp 53': ppwp covers the whole country: write 'ppwp' or 'ppwp 0'"),
        ("ppwp, ppwp 0", "PANTAU_SYNC_RACES: race 'ppwp 0': ppwp 0 is listed twice"),
        (
            "pilkada 5304",
            "PANTAU_SYNC_RACES: unknown race 'pilkada' in 'pilkada 5304': the kinds are ppwp, pkwkp, pkwkk",
        ),
        (
            "pkwkk 5304 2019",
            "PANTAU_SYNC_RACES: race 'pkwkk 5304 2019': no known Pilkada in 2019 (known: 2020, 2024);"
            " give its voting day instead, e.g. 2019-11-27",
        ),
    ],
)
def test_both_services_accept_or_refuse_each_value_alike(races: str, expected: tuple[str, ...] | str) -> None:
    environ = {"PANTAU_SIREKAP_URL": "http://sirekap.invalid", "PANTAU_SYNC_RACES": races}
    assert sync_reads(environ) == monitor_reads(environ) == expected


def labels(text: str, metric: str, label: str) -> set[str]:
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric
    }


async def test_the_national_race_has_one_label_in_sync_and_monitor_metrics(database_url: str, tmp_path: Path) -> None:
    at = datetime(2024, 2, 15, 3, 0, tzinfo=UTC)
    with running_simulator("national", tps=400, seed=5) as sim:
        environ = {"PANTAU_SIREKAP_URL": sim.base_url, "PANTAU_SYNC_RACES": "ppwp 0"}
        # the sync, as configured
        config = SyncConfig.from_settings(ApiSettings.from_env(environ))
        registry = CollectorRegistry()
        async with sync_harness(database_url, sim.base_url, FakeClock(at), targets=config.targets) as h:
            register_sync_metrics(registry, h.stats, h.service.clock)
            (result,) = (await h.service.run_pass()).values()
            assert result.outcome == "success" and result.tps_total == 400
        synced = labels(generate_latest(registry).decode(), "pantau_sync_passes_total", "race")
        # the monitor, as configured
        settings = MonitorSettings.from_env(
            {**environ, "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{tmp_path}/monitor.db"}
        )
        (target,) = settings.targets
        assert target.url == sim.base_url + config.targets[0].race_file_path()
        app = create_app(settings, clock=Clock(wall=at.timestamp), run_loop=False)
        async with serving_here(app) as base, httpx.AsyncClient(base_url=base) as client:
            (probe,) = await app.state.monitor.probe_all()
            assert probe.ok
            probed = labels((await client.get("/metrics")).text, "pantau_monitor_probe_success", "target")
    assert synced == probed == {"ppwp-0"}
