"""Every package the code imports is declared in pyproject.toml, and the installed set is consistent (`pip check`)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).parents[2]
SERVICE_PACKAGES = ("api", "monitor", "sirekap", "pantau", "observability", "deploy")
DEV_PACKAGES = ("tests", "bench")
OURS = {"api", "monitor", "sirekap", "pantau", "observability", "tests", "bench", "deploy"}


def _imported(folders: tuple[str, ...]) -> set[str]:
    """Top-level modules imported by the Python files of these folders."""
    found: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - OURS - set(sys.stdlib_module_names)


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    """Each imported module's distribution names, lower-case."""
    known = packages_distributions()
    missing = sorted(m for m in modules if m not in known)
    assert not missing, f"imported but not installed: {missing}"
    return {m: {d.lower().replace("_", "-") for d in known[m]} for m in modules}


def test_every_imported_package_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _names(project["dependencies"])
    dev = runtime | _names(project["optional-dependencies"]["dev"])
    undeclared = {m: d for m, d in _distributions(_imported(SERVICE_PACKAGES)).items() if not d & runtime}
    assert not undeclared, f"the services import packages pyproject.toml does not declare: {undeclared}"
    undeclared = {m: d for m, d in _distributions(_imported(DEV_PACKAGES)).items() if not d & dev}
    assert not undeclared, f"tests and benchmarks import packages the dev extra does not declare: {undeclared}"


def test_installed_requirements_are_consistent() -> None:
    checked = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
