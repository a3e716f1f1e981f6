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
