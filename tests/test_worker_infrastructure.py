"""The suite's real worker and broker work; under CI=true a missing service fails this test."""

from __future__ import annotations

import pytest

from batches.tasks import ping_database
from tests.workers import WorkerProcess


@pytest.mark.services
@pytest.mark.urs("URS-121")
def test_a_real_worker_reaches_the_test_database(celery_worker: WorkerProcess, people) -> None:
    from tests.factories import walk_batch

    walk_batch(people, "registered")
    result = ping_database.apply_async()
    assert result.id
    deadline_log = ""
    import time

    for _ in range(100):
        deadline_log = celery_worker.log()
        if "succeeded" in deadline_log and "batches.ping_database" in deadline_log:
            break
        time.sleep(0.1)
    assert "batches.ping_database" in deadline_log, deadline_log[-2000:]
    assert "succeeded" in deadline_log, deadline_log[-2000:]
    assert "1" in deadline_log.split("succeeded", 1)[1][:40]


@pytest.mark.services
@pytest.mark.urs("URS-121")
def test_the_embedded_filesystem_broker_runs_a_real_worker(tmp_path, transactional_db) -> None:
    """Without Redis the quickstart uses kombu's filesystem transport: a task still reaches a worker."""
    import os
    import subprocess
    import sys
    import time

    from tests.workers import ROOT, test_database_url

    env = {
        **os.environ,
        "CELERY_BROKER_URL": "filesystem://",
        "CELLBATCH_BROKER_DIR": str(tmp_path / "broker"),
        "DATABASE_URL": test_database_url(),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--concurrency=1",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        publish = "from batches.tasks import ping_database; ping_database.delay(); print('published')"
        subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {publish}"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "succeeded" not in log.read_text(errors="replace"):
            time.sleep(0.2)
        assert "Task batches.ping_database" in log.read_text(errors="replace")
        assert "succeeded" in log.read_text(errors="replace")
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)
