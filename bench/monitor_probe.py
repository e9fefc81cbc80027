"""What does watching Sirekap cost? The monitor probing 200 simulator targets every second, next to Debian's
prometheus-blackbox-exporter probing the same targets at the same rate, in the same run; and how fast an outage
is detected.

    python bench/monitor_probe.py [--quick] [--targets 200] [--rounds 3]

CPU is read from /proc for the prober's process alone (user + system), per 1,000 probes. The blackbox exporter is
driven the way Prometheus drives it: one /probe request per target per second, from this process. The two probers
take turns, round after round (each started afresh), and the figures are medians over the rounds, the ratio the
median of each round's ratio: on a shared machine a neighbour's burst then hits both sides alike. Detection
latency: from the moment the simulator starts failing to the moment /api/status reports the incident, with the
default threshold of three failing probes at a one-second interval.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from sirekap.belu import belu_2020  # noqa: E402
from sirekap.codes import url_path  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def region_urls(base: str, n: int) -> list[str]:
    codes = ["5304"] + [r.code for r in belu_2020().regions if len(r.code) in (6, 10)]
    return [f"{base}/pilkada/hhcw/pkwkk/{url_path(codes[i % len(codes)])}.json?probe={i}" for i in range(n)]


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def monitor_probes(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("pantau_monitor_probes_total{")
    )


def bench_monitor(urls: list[str], seconds: float, workdir: Path) -> dict[str, float]:
    port = loadgen.free_port()
    env = {
        "PANTAU_PROBE_TARGETS": ",".join(f"t{i}={u}" for i, u in enumerate(urls)),
        "PANTAU_PROBE_INTERVAL": "1",
        "PANTAU_STALE_AFTER": str(10 * 365 * 86400),
        "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{workdir}/monitor.db",
    }
    proc = start([sys.executable, "-m", "monitor", "--port", str(port)], env)
    try:
        loadgen.wait_for(port, "/healthz")
        time.sleep(2)
        cpu0, probes0, t0 = cpu_seconds(proc.pid), monitor_probes(port), time.monotonic()
        time.sleep(seconds)
        cpu1, probes1, t1 = cpu_seconds(proc.pid), monitor_probes(port), time.monotonic()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    probes = probes1 - probes0
    return {"probes": probes, "probes_per_s": probes / (t1 - t0), "cpu_s_per_1000": (cpu1 - cpu0) / probes * 1000}


def bench_blackbox(urls: list[str], seconds: float, workdir: Path) -> dict[str, float] | None:
    exporter = shutil.which("prometheus-blackbox-exporter")
    if exporter is None:
        return None
    port = loadgen.free_port()
    config = workdir / "blackbox.yml"
    config.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n")
    proc = start([exporter, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"])
    try:
        loadgen.wait_for(port, "/metrics")
        probes = 0
        with httpx.Client(timeout=10) as client:
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            while time.monotonic() - t0 < seconds:
                tick = time.monotonic()
                for url in urls:
                    answer = client.get(f"http://127.0.0.1:{port}/probe?module=http_2xx&target={quote(url, safe='')}")
                    probes += "probe_success 1" in answer.text
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return {"probes": probes, "probes_per_s": probes / (t1 - t0), "cpu_s_per_1000": (cpu1 - cpu0) / probes * 1000}


def detection_latency(base: str, admin: str, workdir: Path, rounds: int) -> list[float]:
    port = loadgen.free_port()
    env = {
        "PANTAU_PROBE_TARGETS": f"belu={base}/pilkada/hhcw/pkwkk/53/5304.json",
        "PANTAU_PROBE_INTERVAL": "1",
        "PANTAU_STALE_AFTER": str(10 * 365 * 86400),
        "PANTAU_MONITOR_DATABASE_URL": f"sqlite:///{workdir}/latency.db",
    }
    proc = start([sys.executable, "-m", "monitor", "--port", str(port)], env)
    latencies = []
    try:
        loadgen.wait_for(port, "/healthz")
        for _ in range(rounds):
            while httpx.get(f"http://127.0.0.1:{port}/api/status").json()["targets"][0]["state"] != "up":
                time.sleep(0.05)
            fault = httpx.post(f"{admin}/_sim/faults", json={"kind": "error", "status": 503}).json()["id"]
            began = time.monotonic()
            while httpx.get(f"http://127.0.0.1:{port}/api/status").json()["targets"][0]["state"] != "down":
                time.sleep(0.05)
            latencies.append(time.monotonic() - began)
            httpx.delete(f"{admin}/_sim/faults/{fault}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return latencies


def _median(turns: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(t[key] for t in turns) for key in turns[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="15 s per prober and 2 detection rounds")
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--rounds", type=int, help="turns of each prober (default 1 quick, 3 full)")
    ns = parser.parse_args()
    seconds, rounds = (15.0, 2) if ns.quick else (30.0, 5)
    turns = ns.rounds or (1 if ns.quick else 3)
    workdir = Path(tempfile.mkdtemp(prefix="pantau-monitor-bench-"))
    sim_port, admin_port = loadgen.free_port(), loadgen.free_port()
    sim_args = ["--scenario", "belu-2020", "--speed", "0", "--start", "2020-12-09T13:58", "--no-schedule"]
    sim = start(
        [sys.executable, "-m", "pantau.cli", "sim", *sim_args, "--port", str(sim_port), "--admin-port", str(admin_port)]
    )
    base, admin = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{admin_port}"
    try:
        loadgen.wait_for(admin_port, "/_sim/state")
        urls = region_urls(base, ns.targets)
        monitors, blackboxes = [], []
        for _ in range(turns):
            monitors.append(bench_monitor(urls, seconds, workdir))
            found = bench_blackbox(urls, seconds, workdir)
            if found is not None:
                blackboxes.append(found)
        latencies = detection_latency(base, admin, workdir, rounds)
    finally:
        sim.terminate()
        sim.wait(timeout=15)
    monitor, blackbox = _median(monitors), _median(blackboxes) if blackboxes else None
    print(f"{ns.targets} targets every second, {turns} turn(s) of {seconds:.0f} s per prober (medians)")
    print(f"{'prober':<34} {'probes/s':>9} {'CPU s / 1000 probes':>20}")
    print(f"{'pantau monitor (probe + parse)':<34} {monitor['probes_per_s']:9.0f} {monitor['cpu_s_per_1000']:20.3f}")
    if blackbox:
        print(
            f"{'blackbox exporter (http_2xx)':<34} {blackbox['probes_per_s']:9.0f} {blackbox['cpu_s_per_1000']:20.3f}"
        )
    print(f"detection latency (3 failing probes at 1 s): median {statistics.median(latencies):.2f} s over {rounds}")
    figures = {
        "monitor_probes_per_s": round(monitor["probes_per_s"], 1),
        "monitor_cpu_seconds_per_1000_probes": round(monitor["cpu_s_per_1000"], 3),
        "detection_latency_median_seconds": round(statistics.median(latencies), 2),
        "detection_latency_max_seconds": round(max(latencies), 2),
    }
    ratios = {}
    if blackbox:
        figures["blackbox_probes_per_s"] = round(blackbox["probes_per_s"], 1)
        figures["blackbox_cpu_seconds_per_1000_probes"] = round(blackbox["cpu_s_per_1000"], 3)
        each = [m["cpu_s_per_1000"] / b["cpu_s_per_1000"] for m, b in zip(monitors, blackboxes, strict=True)]
        ratios["monitor_vs_blackbox_cpu"] = round(statistics.median(each), 2)
        print(f"monitor / blackbox CPU per probe: {statistics.median(each):.2f} (target <= 0.5; turns: ", end="")
        print(", ".join(f"{r:.2f}" for r in each) + ")")
    print(json.dumps({"bench": "monitor_probe", "mode": "quick" if ns.quick else "full", "figures": figures,
                      "ratios": ratios}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
