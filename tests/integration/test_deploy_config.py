"""The deployment configuration, checked with the real tools: promtool, amtool, and the compose file's structure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

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
    assert "SUCCESS: 15 rules found" in result.stdout


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


def test_promtool_check_config() -> None:
    result = run(tool("promtool"), "check", "config", str(DEPLOY / "prometheus/prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_check_config_and_routes() -> None:
    config = DEPLOY / "alertmanager/alertmanager.yml"
    result = run(tool("amtool"), "check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    routed = run(tool("amtool"), "config", "routes", "test", f"--config.file={config}", "severity=page")
    assert routed.stdout.strip() == "page"
    ticket = run(tool("amtool"), "config", "routes", "test", f"--config.file={config}", "severity=ticket")
    assert ticket.stdout.strip() == "ticket"


def test_dashboard_is_current_unique_laid_out_and_parses(tmp_path: Path) -> None:
    sys.path.insert(0, str(DEPLOY / "grafana"))
    try:
        import dashboard  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    committed = json.loads((DEPLOY / "grafana/dashboards/pantau-overview.json").read_text())
    assert committed == dashboard.dashboard(), "regenerate with python deploy/grafana/dashboard.py"
    panels = committed["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
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
    assert set(services) == {"postgres", "api", "monitor", "sim", "prometheus", "alertmanager", "grafana"}
    assert services["sim"]["profiles"] == ["demo"]
    assert "healthcheck" in services["postgres"]
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
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
    assert "@postgres:5432/" in services["api"]["environment"]["PANTAU_DATABASE_URL"]
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert (
        datasource["datasources"][0]["url"] == "http://prometheus:9090"
        and "9090:9090" in services["prometheus"]["ports"]
    )
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/pantau.yml").read_text())
    mounted = {v.split(":")[1] for v in services["grafana"]["volumes"]}
    assert provider["providers"][0]["options"]["path"] in mounted
