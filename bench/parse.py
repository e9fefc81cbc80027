"""How fast TPS documents parse: `sirekap.documents.parse_tps_file` against plain `json.loads` of the same bytes.

A national sync parses ~823k TPS files, so the typed parser's cost on top of JSON decoding is what this measures.
The documents are generated here (deterministic, both shapes, ~10% not uploaded yet, snapshot `ts` on round times
as Sirekap writes them) and every round times the baseline and the parser over the same bytes, in the same process.

    python bench/parse.py --quick      # under 60 s
    python bench/parse.py              # the figures quoted in closing notes

The last line of output is one JSON object: {"bench": "parse", "mode", "figures", "ratios"}.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sirekap.documents import parse_tps_file

NATIONAL_TPS = 823_236
WIB = ZoneInfo("Asia/Jakarta")
BASELINE = "json.loads of the same documents"


def generate(count: int, shape: str, seed: int) -> list[bytes]:
    """`count` TPS files of one shape, as the bytes Sirekap would serve."""
    rng = random.Random(seed)
    ids = ["100025", "100026", "100027"] if shape == "pemilu" else ["1000899", "1000900"]
    day = "2024-02-22" if shape == "pemilu" else "2024-11-28"
    docs = []
    for index in range(count):
        ts = f"{day} {rng.randrange(10, 23):02d}:{rng.choice((0, 30)):02d}:00"
        tps = f"53041210{index // 1000 % 100:02d}{index % 1000:03d}"
        if rng.random() < 0.1:
            chart: dict[str, Any] | None = None
            page: dict[str, int] | None = None
            images: list[str | None] = [None, None, None]
        else:
            registered = rng.randrange(150, 300)
            dpt = rng.randrange(registered // 2, registered)
            dptb, non_dpt = rng.randrange(0, 4), rng.randrange(0, 6)
            came = dpt + dptb + non_dpt
            invalid = rng.randrange(0, 10)
            valid = came - invalid
            cuts = sorted(rng.randrange(0, valid + 1) for _ in ids[1:])
            votes = [b - a for a, b in zip([0, *cuts], [*cuts, valid], strict=True)]
            chart = {"null": None, **dict(zip(ids, votes, strict=True))}
            page = {"suara_sah": valid, "suara_tidak_sah": invalid, "suara_total": came}
            for name, total in (
                ("pemilih_dpt", registered),
                ("pengguna_dpt", dpt),
                ("pengguna_dptb", dptb),
                ("pengguna_non_dpt", non_dpt),
                ("pengguna_total", came),
            ):
                men = rng.randrange(0, total + 1)
                page |= {f"{name}_j": total, f"{name}_l": men, f"{name}_p": total - men}
            uuid = f"{rng.getrandbits(128):032x}"
            images = [
                f"https://sirekap-obj-data.kpu.go.id/{shape}/c1/{tps}-20240218-163000--{uuid}-{page_no}.jpg"
                for page_no in (1, 2, 3)
            ]
        uploaded = chart is not None
        doc: dict[str, Any]
        if shape == "pemilu":
            doc = {"mode": "hhcw", "chart": chart, "images": images, "administrasi": page, "psu": None, "ts": ts}
        else:
            doc = {"mode": "hhcw", "psu": None, "ts": ts, "tungsura": {"chart": chart, "administrasi": page}}
            doc["images"] = images
        doc |= {"status_suara": uploaded, "status_adm": uploaded}
        docs.append(json.dumps(doc, separators=(",", ":")).encode())
    return docs


def rate(parse: Callable[[bytes], object], docs: list[bytes]) -> float:
    """Documents per second for one pass over `docs`."""
    start = time.perf_counter()
    for raw in docs:
        parse(raw)
    return len(docs) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer documents and rounds: under 60 s on 2 cores")
    parser.add_argument("--seed", type=int, default=20240214, help="seed of the generated documents")
    args = parser.parse_args(argv)
    count, rounds = (20_000, 5) if args.quick else (100_000, 9)

    def typed(raw: bytes) -> object:
        return parse_tps_file(raw, source_zone=WIB)

    figures: dict[str, float] = {}
    ratios: dict[str, float] = {}
    rows = []
    all_docs: list[bytes] = []
    for shape in ("pemilu", "pilkada"):
        docs = generate(count, shape, args.seed)
        all_docs += docs
        rate(json.loads, docs[:2000])  # warm up both paths (and the ts cache, as a sync batch would)
        rate(typed, docs[:2000])
        baseline, measured = [], []
        for _ in range(rounds):
            baseline.append(rate(json.loads, docs))
            measured.append(rate(typed, docs))
        base, typed_rate = statistics.median(baseline), statistics.median(measured)
        figures[f"{shape}_json_loads_docs_per_s"] = round(base)
        figures[f"{shape}_parse_tps_file_docs_per_s"] = round(typed_rate)
        ratios[f"{shape}_parse_vs_json_loads"] = round(typed_rate / base, 3)
        rows.append((shape, base, typed_rate, len(docs), sum(map(len, docs)) / len(docs)))

    base_all = sum(r[3] for r in rows) / sum(r[3] / r[1] for r in rows)
    typed_all = sum(r[3] for r in rows) / sum(r[3] / r[2] for r in rows)
    figures["mean_doc_bytes"] = round(sum(map(len, all_docs)) / len(all_docs))
    figures["national_sync_parse_seconds"] = round(NATIONAL_TPS / typed_all, 1)
    ratios["parse_vs_json_loads"] = round(typed_all / base_all, 3)

    print(f"TPS document parse rate, median of {rounds} rounds; baseline: {BASELINE}")
    print(f"{'shape':<8} {'docs':>8} {'bytes/doc':>10} {'json.loads/s':>14} {'parse_tps_file/s':>17} {'ratio':>7}")
    for shape, base, typed_rate, n, size in rows:
        print(f"{shape:<8} {n:>8} {size:>10.0f} {base:>14,.0f} {typed_rate:>17,.0f} {typed_rate / base:>7.2f}")
    print(
        f"{'both':<8} {len(all_docs):>8} {figures['mean_doc_bytes']:>10} {base_all:>14,.0f} {typed_all:>17,.0f}"
        f" {typed_all / base_all:>7.2f}"
    )
    print(f"parsing all {NATIONAL_TPS:,} TPS of Pemilu 2024 once: ~{figures['national_sync_parse_seconds']} s of CPU")
    print(
        json.dumps({"bench": "parse", "mode": "quick" if args.quick else "full", "figures": figures, "ratios": ratios})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
