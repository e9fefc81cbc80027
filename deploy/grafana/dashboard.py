"""Generates the Grafana overview dashboard.

    python deploy/grafana/dashboard.py > deploy/grafana/dashboards/pantau-overview.json

Every panel's query is listed here once; a test checks the JSON is current, ids are unique, the layout does not
overlap and every expression parses (with promtool).
"""

from __future__ import annotations

import json
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
LATENCY = 'pantau_http_request_duration_seconds_bucket{job="pantau-api"}'

# (title, kind, unit, [(expr, legend)], width, height)
PANELS: list[tuple[str, str, str, list[tuple[str, str]], int, int]] = [
    ("Sirekap up", "stat", "none", [("pantau_monitor_probe_success", "{{target}}")], 6, 4),
    ("Sirekap availability", "stat", "percentunit",
     [("pantau_monitor_availability_ratio", "{{target}} {{window}}")], 9, 4),
    ("Availability coverage", "stat", "percentunit",
     [("pantau_monitor_availability_coverage_ratio", "{{target}} {{window}}")], 9, 4),
    ("Data age", "timeseries", "s",
     [("time() - pantau_monitor_upstream_timestamp_seconds", "Sirekap ts age {{target}}"),
      ("pantau_sync_upstream_lag_seconds", "synced data lag {{race}}")], 12, 8),
    ("TPS progress", "timeseries", "percentunit",
     [("pantau_monitor_progress_ratio", "Sirekap {{target}}"),
      ("pantau_sync_tps_in / pantau_sync_tps_total", "synced {{race}}")], 12, 8),
    ("Sync health", "timeseries", "none",
     [("pantau_sync_up", "last pass complete {{race}}"),
      ("sum by (race, outcome) (increase(pantau_sync_passes_total[5m]))", "passes in 5m {{race}} {{outcome}}"),
      ("sum by (race, reason) (rate(pantau_sync_failures_total[5m]))", "failures/s {{race}} {{reason}}")], 12, 8),
    ("Sync pass duration", "timeseries", "s", [("pantau_sync_pass_duration_seconds", "{{race}}")], 12, 8),
    ("API request rate", "timeseries", "reqps",
     [("sum by (job, handler, status) (rate(pantau_http_requests_total[5m]))", "{{job}} {{handler}} {{status}}")],
     8, 8),
    ("API latency", "timeseries", "s",
     [(f"histogram_quantile({q}, sum by (le) (rate({LATENCY}[5m])))", f"p{round(q * 100)}") for q in (0.5, 0.99)],
     8, 8),
    ("API errors", "timeseries", "percentunit", [("pantau:http_errors:ratio_rate5m", "{{job}}")], 8, 8),
]  # fmt: skip


def expressions() -> list[str]:
    return [expr for panel in PANELS for expr, _ in panel[3]] + [ANNOTATION_EXPR]


ANNOTATION_EXPR = "pantau_monitor_incident_info"


def dashboard() -> dict[str, Any]:
    panels = []
    x = y = row_height = 0
    for number, (title, kind, unit, targets, width, height) in enumerate(PANELS, start=1):
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(
            {
                "id": number,
                "type": kind,
                "title": title,
                "datasource": DATASOURCE,
                "gridPos": {"x": x, "y": y, "w": width, "h": height},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )
        x += width
        row_height = max(row_height, height)
    return {
        "uid": "pantau-overview",
        "title": "Pantau: Sirekap, sync and API",
        "tags": ["pantau"],
        "timezone": "Asia/Makassar",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "annotations": {
            "list": [
                {
                    "name": "Sirekap incidents",
                    "datasource": DATASOURCE,
                    "enable": True,
                    "iconColor": "red",
                    "expr": ANNOTATION_EXPR,
                    "step": "60s",
                    "titleFormat": "Sirekap down since {{since_local}}",
                    "textFormat": "{{target}}: {{reason}}",
                    "tagKeys": "target,reason",
                }
            ]
        },
        "panels": panels,
    }


if __name__ == "__main__":
    print(json.dumps(dashboard(), indent=2))
