"""A parallel run (tests/parallel.py): what it keeps in one process, and what each process has of its own."""

from __future__ import annotations

import os
from pathlib import Path

from tests.parallel import shared_fixture_group

ROOT = Path(__file__).resolve().parent.parent

MODULE_FIXTURE = """
import pytest

@pytest.fixture(scope="module")
def record():
    return object()
"""


def test_tests_sharing_a_package_or_module_fixture_are_grouped_and_the_others_go_alone(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "conftest.py").write_text(MODULE_FIXTURE.replace('"module"', '"package"'))
    (tmp_path / "shop" / "test_walk.py").write_text(MODULE_FIXTURE)
    (tmp_path / "test_record.py").write_text(MODULE_FIXTURE)
    (tmp_path / "test_alone.py").write_text("import pytest\n\n@pytest.fixture\ndef fresh():\n    return 1\n")
    assert {
        nodeid: shared_fixture_group(tmp_path, nodeid)
        for nodeid in ("shop/test_walk.py::test_a", "test_record.py::test_b[x]", "test_alone.py::test_c")
    } == {
        "shop/test_walk.py::test_a": "shop",  # the package's fixture, wider than the module's own
        "test_record.py::test_b[x]": "test_record.py",
        "test_alone.py::test_c": None,  # function-scoped fixtures only: it goes on its own
    }


def test_the_browser_package_and_the_modules_with_shared_fixtures_are_groups_of_the_suite() -> None:
    assert shared_fixture_group(ROOT, "tests/browser/test_shift.py::test_walk") == "tests/browser"
    assert shared_fixture_group(ROOT, "tests/browser/test_scanner.py::test_scan") == "tests/browser"
    assert shared_fixture_group(ROOT, "tests/test_production.py::test_x") == "tests/test_production.py"
    assert (
        shared_fixture_group(ROOT, "tests/test_batch_record_render.py::test_x") == "tests/test_batch_record_render.py"
    )
    # tests/conftest.py's wider fixtures are session-scoped: one per process, grouping nothing.
    assert shared_fixture_group(ROOT, "tests/test_settings.py::test_x") is None


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
