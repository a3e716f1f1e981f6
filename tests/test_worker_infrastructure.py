"""The suite's real worker and broker work; under CI=true a missing service fails this test."""

from __future__ import annotations

import os
import signal
import time

import pytest

from batches.tasks import ping_database
from config.celery import app as celery_app
from tests.workers import WorkerProcess, process_group, wait_for


@pytest.mark.services
@pytest.mark.urs("URS-121")
def test_a_real_worker_reaches_the_test_database_and_takes_only_its_own_queue(
    celery_worker: WorkerProcess, people
) -> None:
    """The worker takes the queue of the process that started it: in a parallel run (tests/service_plugin.py)
    a task another process sends stays in that process's queue for that process's worker."""
    from django.conf import settings

    from tests.factories import walk_batch

    walk_batch(people, "registered")
    elsewhere = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-another-process"
    try:
        ping_database.apply_async(queue=elsewhere)
        result = ping_database.apply_async()
        assert result.id
        wait_for(
            lambda: "succeeded" in celery_worker.log(), timeout=10, what="the task on this queue", worker=celery_worker
        )
        log = celery_worker.log()
        assert log.count("] received") == 1, log[-2000:]  # this queue's task, not the other process's
        assert "1" in log.split("succeeded", 1)[1][:40]
        assert waiting_in(elsewhere) == 1
    finally:
        purge(elsewhere)


@pytest.mark.services
@pytest.mark.urs("URS-121")
def test_a_worker_keeps_its_database_session_from_task_to_task(celery_worker: WorkerProcess, people) -> None:
    """A new PostgreSQL session for every task cost the server more CPU than a record's own queries
    (config.celery): the worker's pool process does its tasks in one session, still open between them."""
    from django.db import connection

    def sessions() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return {pid for (pid,) in cursor.fetchall()}

    earlier = sessions()  # an earlier test's worker may still be leaving; this worker has not connected yet

    def the_workers() -> set[int]:
        return sessions() - earlier

    def ping(times: int) -> None:
        ping_database.apply_async()
        wait_for(
            lambda: celery_worker.log().count("succeeded") == times, timeout=10, what="the ping", worker=celery_worker
        )

    ping(1)
    wait_for(lambda: len(the_workers()) == 1, timeout=5, what="the worker's session, open after its task")
    first = the_workers()
    ping(2)
    ping(3)
    time.sleep(0.5)  # a session closed after the task would be gone by now
    assert the_workers() == first

    # A task that fails takes its session with it: the next task starts a new one.
    celery_app.send_task(ping_database.name, args=["an argument it does not take"])
    wait_for(lambda: "raised unexpected" in celery_worker.log(), timeout=10, what="the failure", worker=celery_worker)
    ping(4)
    wait_for(lambda: len(the_workers()) == 1 and the_workers() != first, timeout=5, what="a new session")


def waiting_in(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)


def purge(queue: str) -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
        conn.default_channel.queue_delete(queue)


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


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_outright_takes_its_embedded_beat_with_it() -> None:
    """``make run`` starts the worker with its beat inside (``--beat``): a process of its own, which the
    worker stops when it stops cleanly. Killed outright, the worker cannot; the beat must still end, or it
    would go on publishing the schedule with no worker (config.celery, config.processes)."""
    worker = WorkerProcess(beat=True).start()
    assert worker.proc is not None
    leader = worker.proc.pid
    try:
        wait_for(lambda: len(process_group(leader)) >= 3, timeout=30, what="the worker's pool and beat")
        os.kill(leader, signal.SIGKILL)
        worker.proc.wait(timeout=10)
        deadline = time.monotonic() + 20
        while process_group(leader) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process_group(leader) == [], "a process of the worker outlived it"
    finally:
        worker.kill()
        for pid in process_group(leader):
            os.kill(pid, signal.SIGKILL)
