"""A parallel run (tests/parallel.py): what it keeps in one process, and what each process has of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SUITE = {
    "conftest.py": "",
    "shop/__init__.py": "",
    "shop/conftest.py": """
import os
from pathlib import Path

import pytest

@pytest.fixture(scope="package")
def browser():
    return object()
""",
    "shop/test_walk.py": """
import os
from pathlib import Path

import pytest

@pytest.fixture(scope="module")
def page():
    return object()

def test_a(browser, page): pass
def test_b(browser): pass
""",
    "test_record.py": """
import os
from pathlib import Path

import pytest

@pytest.fixture(scope="module")
def record():
    return object()

@pytest.fixture
def fresh():
    return object()

def test_rendered(record): pass
def test_alone(fresh, tmp_path): pass
""",
}


def test_tests_sharing_a_package_or_module_fixture_are_grouped_and_the_others_go_alone(
    pytester: pytest.Pytester,
) -> None:
    for name, text in SUITE.items():
        pytester.path.joinpath(*name.split("/")).parent.mkdir(parents=True, exist_ok=True)
        pytester.path.joinpath(*name.split("/")).write_text(text)
    pytester.makeconftest(
        "def pytest_configure(config):\n"
        "    config.option.loadgroup = True  # as xdist sets it in its processes under --dist loadgroup\n"
    )
    calls = pytester.inline_run("-p", "tests.parallel", "-p", "no:django", "-p", "no:cacheprovider")
    calls.assertoutcome(passed=4)
    collected = calls.getcall("pytest_collection_finish").session.items
    groups = {item.nodeid: [mark.args[0] for mark in item.iter_markers("xdist_group")] for item in collected}
    assert groups == {
        "shop/test_walk.py::test_a": ["shop"],  # the package's fixture, wider than the module's
        "shop/test_walk.py::test_b": ["shop"],
        "test_record.py::test_rendered": ["test_record.py"],
        "test_record.py::test_alone": [],  # function-scoped fixtures, and pytest's own, group nothing
    }


def test_each_process_of_a_parallel_run_has_a_queue_and_a_media_folder_of_its_own() -> None:
    from django.conf import settings

    from tests.service_plugin import process_environment

    shared = {"CELLBATCH_VAR_DIR": "/srv/cellbatch/var", "CELLBATCH_CELERY_QUEUE": "suite"}
    assert [process_environment(worker, shared) for worker in ("gw0", "gw1")] == [
        {"CELLBATCH_CELERY_QUEUE": "suite-gw0", "CELLBATCH_MEDIA_ROOT": "/srv/cellbatch/var/media/tests-gw0"},
        {"CELLBATCH_CELERY_QUEUE": "suite-gw1", "CELLBATCH_MEDIA_ROOT": "/srv/cellbatch/var/media/tests-gw1"},
    ]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # this process is one of a parallel run (a one-process run keeps the settings' defaults)
        assert settings.CELERY_TASK_DEFAULT_QUEUE.endswith(f"-{worker}")
        assert Path(settings.MEDIA_ROOT).name == f"tests-{worker}"
