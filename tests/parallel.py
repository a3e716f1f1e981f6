"""pytest plugin (``-p tests.parallel``): how a parallel run (pytest-xdist, ``make test``) shares the suite.

``make test`` runs ``pytest -n 2 --dist loadgroup``: each test goes on its own to whichever process is
free, except tests that share a fixture of the suite wider than a test. Those are one group, run in
one process, so that the fixture is built once: the browser package (tests/browser/conftest.py: one
Playwright driver and one Chromium for the package, whose event loop stops when the package ends,
before that process signs a PDF elsewhere), and each module defining a module- or class-scoped
fixture (a rendered record, certificates). xdist hands out the groups first, those with the most
tests first, then the single tests, so that no long unit starts last while the other process idles.

The groups are found here, in the process that schedules, by reading the test files (xdist's own
``xdist_group`` marks name a group through the test's nodeid, which pytest 9 no longer lets a plugin
change). What each process has of its own (test database, Celery queue, media folder) is set in
tests/service_plugin.py and tests/template_db.py.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

# A session-scoped fixture is built once in each process whatever the grouping: not counted.
SHARED_SCOPES = frozenset({"package", "module", "class"})


@cache
def fixture_scopes(path: Path) -> frozenset[str]:
    """The scopes wider than a test among the fixtures ``path`` defines (``@pytest.fixture(scope=...)``)."""
    if not path.is_file():
        return frozenset()
    scopes = set()
    for node in ast.walk(ast.parse(path.read_text())):
        for decorator in getattr(node, "decorator_list", ()):
            if not isinstance(decorator, ast.Call) or ast.unparse(decorator.func) not in ("pytest.fixture", "fixture"):
                continue
            for keyword in decorator.keywords:
                if keyword.arg == "scope" and isinstance(keyword.value, ast.Constant):
                    scopes.add(str(keyword.value.value))
    return frozenset(scopes & SHARED_SCOPES)


def shared_fixture_group(root: Path, nodeid: str) -> str | None:
    """The group of the test ``nodeid`` (relative to ``root``): the outermost package whose conftest.py
    has a package-scoped fixture, else its module when the module or a conftest.py above it defines a
    module- or class-scoped one (built once per module); None for a test that shares nothing."""
    module = nodeid.split("::", 1)[0]
    parts = Path(module).parts
    packages = [Path(*parts[:depth]) for depth in range(1, len(parts))]
    for package in packages:
        if "package" in fixture_scopes(root / package / "conftest.py"):
            return package.as_posix()
    conftests = [root / package / "conftest.py" for package in packages]
    if any(fixture_scopes(path) for path in [*conftests, root / module]):
        return module
    return None


class SharedFixtureScheduling(LoadGroupScheduling):
    """xdist's ``loadgroup``, with the groups of shared fixtures found by ``shared_fixture_group``."""

    def _split_scope(self, nodeid: str) -> str:
        return shared_fixture_group(self.config.rootpath, nodeid) or super()._split_scope(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadGroupScheduling | None:
    """``--dist loadgroup`` schedules with SharedFixtureScheduling; any other mode is xdist's own."""
    return SharedFixtureScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None
