"""The simulator serves exactly the real layout: every path it serves and every field of every document it serves,
audited against sirekap-format.md and the recorded real-shaped set (tests/fixtures/sirekap-belu-2024.json), never
against `sirekap.races` (which the simulator itself uses to spell its paths)."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sirekap.sim.belu_night import BeluNight
from sirekap.sim.national import National
from tests.recorded_sirekap import documents

# The paths of sirekap-format.md, spelled out here on their own.
PILKADA = [
    r"/pilkada/paslon/pkwkk\.json",
    r"/wilayah/pilkada/pkwkp/0\.json",
    r"/wilayah/pilkada/pkwkp/\d{2}\.json",  # a province's kab/kota: the governor's list
    r"/wilayah/pilkada/pkwkk/\d{2}/\d{4}(/\d{6}(/\d{10})?)?\.json",  # the race's own tree, from its kab/kota
    r"/pilkada/hhcw/pkwkk/\d{2}(/\d{4}(/\d{6}(/\d{10}(/\d{13})?)?)?)?\.json",
]
PEMILU = [
    r"/pemilu/ppwp\.json",
    r"/wilayah/pemilu/ppwp/0\.json",
    r"/wilayah/pemilu/ppwp/\d{2}(/\d{4}(/\d{6}(/\d{10})?)?)?\.json",
    r"/pemilu/hhcw/ppwp\.json",
    r"/pemilu/hhcw/ppwp/\d{2}(/\d{4}(/\d{6}(/\d{10}(/\d{13})?)?)?)?\.json",
]
INVENTED = [
    "/wilayah/pilkada/pkwkk/0.json",
    "/wilayah/pilkada/pkwkk/53.json",
    "/wilayah/pilkada/pkwkp/53/5304.json",
    "/pilkada/hhcw/pkwkk.json",
    "/pilkada/hhcw/pkwkk/0.json",
    "/pilkada/paslon/pkwkp.json",
    "/pilkada/hhcw/pkwkp/53.json",
    "/pilkada/hr/pkwkk/53/5304.json",
    "/wilayah/pemilu/ppwp.json",
    "/pemilu/hhcw/ppwp/0.json",
]
# Fields of the Pemilu shapes as sirekap-format.md shows them.
PEMILU_FIELDS = {
    "list entry": {"nama", "id", "kode", "tingkat"},
    "candidate": {"ts", "nama", "warna", "nomor_urut"},
    "region file": {"ts", "psu", "mode", "chart", "table", "progres"},
    "chart": {"persen"},
    "row": {"psu", "persen", "status_progress"},
    "progres": {"total", "progres"},
    "tps file": {"mode", "chart", "images", "administrasi", "psu", "ts", "status_suara", "status_adm"},
    "tps chart": {"null"},
    "administrasi": {
        f"{group}_{part}"
        for group in ("pemilih_dpt", "pengguna_dpt", "pengguna_dptb", "pengguna_non_dpt", "pengguna_total")
        for part in "jlp"
    }
    | {"suara_sah", "suara_tidak_sah", "suara_total"},
}


def ancestors_spelled_out(path: str) -> bool:
    """Every URL repeats all ancestors: 53/5304/530412/… each a prefix of the next."""
    codes = [part for part in path.removesuffix(".json").split("/") if part.isdigit() and part != "0"]
    return all(child.startswith(parent) for parent, child in itertools.pairwise(codes))


def crawl(serve: Callable[[str], Any], roots: list[str]) -> dict[str, Any]:
    """Every document reachable from the roots: region lists name the next lists and files, tables the next files."""
    seen: dict[str, Any] = {}
    queue = list(roots)
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        body = serve(path)
        assert body is not None, f"{path} is linked to but not served"
        seen[path] = body
        queue.extend(links(path, body))
    return seen


def links(path: str, body: Any) -> list[str]:
    stem = path.removesuffix(".json")
    if path.startswith("/wilayah/"):
        found = []
        for entry in body:
            code = entry["kode"]
            if entry["tingkat"] == 5:
                continue
            if path.startswith("/wilayah/pilkada/pkwkp/"):  # a bupati race: its kab/kota start its own tree
                found.append(
                    f"/wilayah/pilkada/pkwkp/{code}.json"
                    if len(code) == 2
                    else f"/wilayah/pilkada/pkwkk/{code[:2]}/{code}.json"
                )
            else:
                found.append(f"{stem.removesuffix('/0')}/{code}.json")
        return found
    table = (body.get("tungsura") or body).get("table") if isinstance(body, dict) else None
    if not table:
        return []
    return [f"{stem}/{code}.json" for code in table]  # a file's rows are its children, one level down


def fields(documents_by_path: dict[str, Any]) -> dict[str, set[str]]:
    """The non-candidate keys each kind of document uses."""
    found: dict[str, set[str]] = defaultdict(set)

    def keys(kind: str, obj: Any) -> None:
        if isinstance(obj, dict):
            found[kind] |= {k for k in obj if not k.isdigit()}

    for path, body in documents_by_path.items():
        if path.startswith("/wilayah/"):
            for entry in body:
                keys("list entry", entry)
        elif "/paslon/" in path or path == "/pemilu/ppwp.json":
            for race in body.values():
                for candidate in race.values() if "nama" not in next(iter(race.values()), {}) else [race]:
                    keys("candidate", candidate)
        elif len(path.rsplit("/", 1)[1]) == len("5304121003001.json"):
            keys("tps file", body)
            inner = body.get("tungsura", body)
            keys("tungsura", body.get("tungsura"))
            keys("tps chart", inner.get("chart"))
            keys("administrasi", inner.get("administrasi"))
        else:
            keys("region file", body)
            inner = body.get("tungsura", body)
            keys("tungsura", body.get("tungsura"))
            keys("chart", inner.get("chart"))
            keys("progres", body.get("progres"))
            keys("progres", (inner.get("chart") or {}).get("progres"))
            for row in inner["table"].values():
                keys("row", row)
                keys("progres", row.get("progres"))
    return found


def recorded_pilkada() -> dict[str, Any]:
    return {path: entry["json"] for path, entry in documents("morning").items() if "json" in entry}


@pytest.mark.parametrize("at", [datetime(2020, 12, 9, 5, 0, tzinfo=UTC), datetime(2020, 12, 13, 5, 0, tzinfo=UTC)])
def test_belu_2020_serves_only_real_pilkada_paths_and_fields(at: datetime) -> None:
    night = BeluNight()

    def serve(path: str) -> Any:
        document = night.document(path, at)
        return None if document is None else document.body

    roots = ["/pilkada/paslon/pkwkk.json", "/wilayah/pilkada/pkwkp/0.json", "/pilkada/hhcw/pkwkk/53.json"]
    served = crawl(serve, roots)
    assert len(served) == 1 + 2 + 1 + 12 + 81 + 1 + 1 + 12 + 81 + 426  # lists, files, TPS
    for path in served:
        assert any(re.fullmatch(p, path) for p in PILKADA) and ancestors_spelled_out(path), path
    for path in INVENTED:
        assert serve(path) is None, path
    real = fields(recorded_pilkada())
    for kind, keys in fields(served).items():
        assert keys <= real[kind], f"{kind}: {sorted(keys - real[kind])} are not in the real documents"
    # the province's overview of its kab/kota races has no votes of its own
    assert not [k for k in served["/pilkada/hhcw/pkwkk/53.json"]["tungsura"]["chart"] if k.isdigit()]


def test_the_recorded_set_itself_keeps_to_the_documented_paths() -> None:
    recorded = documents("morning")
    for path in recorded:
        assert any(re.fullmatch(p, path) for p in PILKADA) and ancestors_spelled_out(path), path
    assert not set(INVENTED) & set(recorded)


def test_national_serves_only_real_pemilu_paths_and_fields() -> None:
    national = National(tps=3_000, seed=3)
    at = datetime(2024, 2, 15, 3, 0, tzinfo=UTC)

    def serve(path: str) -> Any:
        document = national.document(path, at)
        return None if document is None else document.body

    served = crawl(serve, ["/pemilu/ppwp.json", "/wilayah/pemilu/ppwp/0.json", "/pemilu/hhcw/ppwp.json"])
    assert sum(1 for path in served if len(path.rsplit("/", 1)[1]) == 18) == 3_000  # every TPS file
    for path in served:
        assert any(re.fullmatch(p, path) for p in PEMILU) and ancestors_spelled_out(path), path
    for path in INVENTED:
        assert serve(path) is None, path
    for kind, keys in fields(served).items():
        assert keys <= PEMILU_FIELDS[kind], f"{kind}: {sorted(keys - PEMILU_FIELDS[kind])} are not in the format"


def test_the_recorded_set_is_what_its_generator_writes() -> None:
    from tests.fixtures.sirekap_belu_2024 import build
    from tests.recorded_sirekap import recorded

    assert recorded() == build(), "regenerate with python tests/fixtures/sirekap_belu_2024.py"
