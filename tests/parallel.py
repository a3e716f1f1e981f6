"""pytest plugin (``-p tests.parallel``): how a parallel run (pytest-xdist, ``make test``) shares the suite.

``make test`` runs ``pytest -n 2 --dist loadgroup``: each test goes on its own to whichever process is
free, except tests that share a fixture of the suite wider than a test (module, class or package
scope). Those are one group, the module or package that defines the fixture, and run in one process,
so that the fixture is built once: the browser package (tests/browser/: one Playwright driver and one
Chromium, whose event loop stops when the package ends, before that process signs a PDF elsewhere), a
module's rendered record or certificates. xdist hands out the groups first (the largest first), then
the single tests, so that no long unit starts last while the other process idles.

What each process has of its own (test database, Celery queue, media folder) is set in
tests/service_plugin.py and tests/template_db.py.
"""

from __future__ import annotations

import pytest

# Per process already: a session-scoped fixture is built once in each process whatever the grouping.
SHARED_SCOPES = frozenset({"package", "module", "class"})


def shared_fixture_group(item: pytest.Item) -> str | None:
    """The module or package defining a wider-scoped fixture of the suite that ``item`` uses, if any.

    Fixtures of plugins (pytest-django's class-scoped one, for instance) have no base node: skipped.
    """
    if not isinstance(item, pytest.Function):
        return None
    groups = [
        definitions[-1].baseid
        for definitions in item._fixtureinfo.name2fixturedefs.values()
        if definitions and definitions[-1].scope in SHARED_SCOPES and definitions[-1].baseid
    ]
    # The widest: a package's fixture groups the package even where a module of it has its own.
    return min(groups, key=len) if groups else None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks as it collects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a process of a parallel run, mark the tests sharing such a fixture with their group."""
    if not getattr(config.option, "loadgroup", False):  # set by xdist in its processes under --dist loadgroup
        return
    for item in items:
        group = shared_fixture_group(item)
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
