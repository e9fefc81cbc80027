"""The deployment configuration, checked with the real tools: promtool, amtool, and the compose file's structure."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: CI must install it (Debian prometheus / prometheus-alertmanager)")
        pytest.skip(f"{name} is not installed")
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)


def test_promtool_check_rules() -> None:
    result = run(tool("promtool"), "check", "rules", str(DEPLOY / "prometheus/rules/pantau.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 16 rules found" in result.stdout


def test_promtool_unit_tests_of_every_alert() -> None:
    result = run(tool("promtool"), "test", "rules", str(DEPLOY / "prometheus/tests/pantau_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((DEPLOY / "prometheus/rules/pantau.yml").read_text())
    alerts = {r["alert"] for group in rules["groups"] for r in group["rules"] if "alert" in r}
    tests = yaml.safe_load((DEPLOY / "prometheus/tests/pantau_test.yml").read_text())
    tested = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", [])}
    assert alerts == tested, f"alerts without a unit test: {alerts - tested}"
    firing = {t["alertname"] for case in tests["tests"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    quiet = {t["alertname"] for case in tests["tests"] for t in case["alert_rule_test"] if not t["exp_alerts"]}
    assert firing == alerts and quiet == alerts, "every alert is tested firing and not firing"
    expected = [alert for case in tests["tests"] for t in case["alert_rule_test"] for alert in t["exp_alerts"]]
    assert all("summary" in alert.get("exp_annotations", {}) for alert in expected), "annotations are tested too"


def test_promtool_check_config() -> None:
    result = run(tool("promtool"), "check", "config", str(DEPLOY / "prometheus/prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((DEPLOY / "prometheus/rules/pantau.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def test_amtool_check_config() -> None:
    result = run(tool("amtool"), "check-config", str(DEPLOY / "alertmanager/alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_pages_or_files_a_ticket_by_its_severity() -> None:
    config = DEPLOY / "alertmanager/alertmanager.yml"
    for rule in alert_rules():
        severity = rule["labels"]["severity"]
        assert severity in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        routed = run(
            tool("amtool"), "config", "routes", "test", f"--config.file={config}",
            f"alertname={rule['alert']}", f"severity={severity}",
        )  # fmt: skip
        assert routed.stdout.strip() == severity, f"{rule['alert']} goes to {routed.stdout.strip()!r}"


def test_inhibition_names_real_alerts_and_keeps_sirekap_down_paging() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    config = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text())
    silenced: set[str] = set()
    for rule in config["inhibit_rules"]:
        (source,) = rule["source_matchers"]
        assert source == 'alertname="SirekapDown"'
        (target,) = rule["target_matchers"]
        pattern = re.fullmatch(r'alertname=~"(.+)"', target)
        assert pattern, target
        matched = {name for name in names if re.fullmatch(pattern.group(1), name)}
        assert matched, f"{target} matches no alert"
        silenced |= matched
    assert "SyncFailing" in silenced, "sync failures are silenced while Sirekap is down"
    assert not silenced & {"SirekapDown", "MonitorAbsent", "ApiDown", "ApiErrorRate"}


def generator() -> ModuleType:
    """deploy/grafana/dashboard.py, the dashboard's generator (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("pantau_dashboard", DEPLOY / "grafana/dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dashboard_is_current_unique_laid_out_and_parses(tmp_path: Path) -> None:
    dashboard = generator()
    committed = json.loads((DEPLOY / "grafana/dashboards/pantau-overview.json").read_text())
    assert committed == dashboard.dashboard(), "regenerate with python deploy/grafana/dashboard.py"
    panels = committed["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    provisioned = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = provisioned["datasources"][0]["uid"]
    for p in panels:
        assert p["datasource"]["uid"] == uid and all(t["datasource"]["uid"] == uid for t in p["targets"])
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"]), p["title"]
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0
        mine = {(g["x"] + dx, g["y"] + dy) for dx in range(g["w"]) for dy in range(g["h"])}
        assert not cells & mine, f"panel {p['title']} overlaps another"
        cells |= mine
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": expr} for i, expr in enumerate(dashboard.expressions())
    ]}]}  # fmt: skip
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run(tool("promtool"), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_agrees_with_prometheus_and_the_services() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "api", "sync", "monitor", "sim", "prometheus", "alertmanager", "grafana"}
    assert services["sim"]["profiles"] == ["demo"]
    assert "healthcheck" in services["postgres"]
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # one syncer: the sync service follows Sirekap, after the API migrated the database; the API does not sync
    assert services["sync"]["command"] == ["pantau", "sync", "--follow"]
    assert services["sync"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert "PANTAU_SIREKAP_URL" not in services["api"]["environment"]
    assert (
        services["sync"]["environment"]["PANTAU_DATABASE_URL"] == services["api"]["environment"]["PANTAU_DATABASE_URL"]
    )
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "PANTAU_SIREKAP_URL", "PANTAU_SYNC_RACES"):
        assert re.search(r"\$\{" + variable + r":\?", text), f"{variable} must be required with ${{VAR:?}}"
    assert not re.search(r"PASSWORD: [^$\s]", text), "no literal passwords"

    prometheus = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    scraped = {job["job_name"]: job["static_configs"][0]["targets"][0] for job in prometheus["scrape_configs"]}
    assert scraped == {"pantau-api": "api:8000", "pantau-monitor": "monitor:8001"}
    for job, target in scraped.items():
        host, port = target.split(":")
        service = services[host]
        assert f"{port}:{port}" in service["ports"], job
        assert str(port) in " ".join(service["command"]), f"{host} must listen on {port}"
    (alertmanager,) = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alertmanager.split(":")[0] in services and "9093:9093" in services["alertmanager"]["ports"]
    assert "8002" in services["sim"]["command"]
    # one clock: every service that keeps time gets the same drill settings
    drill = {"PANTAU_CLOCK_START", "PANTAU_CLOCK_SPEED", "PANTAU_CLOCK_EPOCH"}
    for name in ("api", "sync", "monitor", "sim"):
        assert drill <= set(services[name]["environment"]), name
    assert "@postgres:5432/" in services["api"]["environment"]["PANTAU_DATABASE_URL"]
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert (
        datasource["datasources"][0]["url"] == "http://prometheus:9090"
        and "9090:9090" in services["prometheus"]["ports"]
    )
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/pantau.yml").read_text())
    mounted = {v.split(":")[1] for v in services["grafana"]["volumes"]}
    assert provider["providers"][0]["options"]["path"] in mounted
    assert services["api"]["environment"]["PANTAU_MONITOR_URL"] == f"http://{scraped['pantau-monitor']}"
    for name in ("api", "monitor"):
        (port,) = {p.split(":")[1] for p in services[name]["ports"]}
        assert f"127.0.0.1:{port}/healthz" in " ".join(services[name]["healthcheck"]["test"]), name


def test_compose_sets_only_variables_the_services_read() -> None:
    """A misspelt variable would be silently ignored by the service; every one must appear in its settings."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    clock = (ROOT / "sirekap/clock.py").read_text()  # the clock every process reads
    read_by = {
        "api": (ROOT / "api/settings.py").read_text() + clock,
        "sync": (ROOT / "api/settings.py").read_text() + clock,
        "monitor": (ROOT / "monitor/settings.py").read_text() + clock,
        "sim": clock,
    }
    for name, source in read_by.items():
        for variable in services[name]["environment"]:
            assert f'"{variable}"' in source, f"{name} does not read {variable}"


def test_every_metric_the_rules_and_dashboard_read_is_exported() -> None:
    """A renamed metric would leave an alert that can never fire and an empty panel: each name the rules and the
    dashboard read must be one the services export (monitor/, api/sync/, observability/)."""
    dashboard = generator()
    groups = yaml.safe_load((DEPLOY / "prometheus/rules/pantau.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    queries = [rule["expr"] for rule in rules] + [a for rule in rules for a in rule.get("annotations", {}).values()]
    text = "\n".join(queries + dashboard.expressions())
    used = {name for name in re.findall(r"\b(pantau_[a-z_]+)", text) if not name.endswith("_")}
    assert "pantau_monitor_incident_start_timestamp_seconds" in used and "pantau_sync_up" in used
    code = "".join(
        (ROOT / path).read_text()
        for path in ("monitor/metrics.py", "monitor/runner.py", "api/sync/metrics.py", "observability/http_metrics.py")
    )
    for name in sorted(used):
        bases = {name, re.sub(r"_(total|bucket|count|sum)$", "", name)}  # pantau_sync_tps_total is a gauge
        # written whole ("pantau_sync_up"), or as what a helper prefixes: gauge("probe_success"),
        # f"{prefix}_http_requests" (prefix "pantau" in the API)
        spellings = {
            spelling
            for base in bases
            for spelling in (
                f'"{base}"',
                f'"{base.removeprefix("pantau_monitor_")}"',
                f'{{prefix}}_{base.removeprefix("pantau_")}"',
            )
        }
        assert any(spelling in code for spelling in spellings), f"{name} is not exported by the services"
