"""Every third-party package the code imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "feedback", "models", "training")
# Run in its own virtual environment with torch, as its docstring shows; never part of the install.
OWN_ENVIRONMENT = {ROOT / "training" / "export_embedder.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {normalise(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requirements}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_declared() -> None:
    distributions = packages_distributions()
    local = set(PACKAGES) | {"tests"}
    missing = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path in OWN_ENVIRONMENT:
                continue
            for module in imported_modules(path) - local - set(sys.stdlib_module_names):
                owners = {normalise(d) for d in distributions.get(module, [module])}
                if not owners & declared():
                    missing.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def pinned() -> dict[str, str]:
    """constraints.txt as {normalised name: version}."""
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = (line.split("==", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {normalise(name): version.strip() for name, version in pairs}


def test_constraints_pin_every_runtime_and_test_requirement_within_its_range() -> None:
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = pinned()
    wrong = {}
    for line in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(line)
        version = pins.get(normalise(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            wrong[requirement.name] = version
    assert not wrong, f"constraints.txt does not pin these within pyproject.toml's ranges: {wrong}"
