"""The Celery application: configuration comes from Django settings (CELERY_* names)."""

import os
from importlib import import_module
from typing import Any

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cellbatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_unfit_production(**_: Any) -> None:
    """A production worker runs the system checks before it takes a task, as the web process does."""
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from config import deployment

    django.setup()  # idempotent; the checks need the apps loaded

    if settings.PRODUCTION:
        try:
            deployment.require_passing_checks()
        except ImproperlyConfigured as refusal:
            # Celery logs and ignores an exception raised by a signal handler; only an exit stops the worker.
            raise SystemExit(str(refusal)) from refusal


# What building a record imports (batches.release.documents.build_pdf: ReportLab, pyHanko), which no other
# process loads (docs/decisions.md D-startup-2).
RECORD_BUILDER_MODULES = ("batches.pdf.render", "batches.pdf.signing")


@worker_init.connect
def _load_the_record_builder(**_: Any) -> None:
    """Loaded in the worker's main process, before it forks: every child, including one renewed after its
    quota of tasks, inherits the modules instead of importing them at its first record."""
    import django

    django.setup()
    for module in RECORD_BUILDER_MODULES:
        import_module(module)


@worker_process_init.connect
def _keep_the_database_session(**_: Any) -> None:
    """A worker's pool process keeps its PostgreSQL session from task to task.

    A new session for every task (Celery's default with Django) cost the server more CPU than the
    queries of a record's build: a server process started, the role switched, and the catalogue and
    the trigger functions of each table written loaded again. The session lasts
    CELLBATCH_WORKER_DB_CONN_MAX_AGE seconds and, counted by Celery (CELERY_DB_REUSE_MAX), that many
    tasks. Celery's Django fix-up closes any session inherited from the parent process as the pool
    process starts; the next one opened is kept."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = settings.CELLBATCH_WORKER_DB_CONN_MAX_AGE


def _in_a_worker(task: Any) -> bool:
    """A task run eagerly (``apply()``) runs in its caller's session, perhaps inside its transaction: that
    session is the caller's to manage, as Celery's Django fix-up leaves it too."""
    return not getattr(getattr(task, "request", None), "is_eager", False)


@task_prerun.connect
def _check_the_database_session(task: Any = None, **_: Any) -> None:
    """As Django does at each request: a session past its age, or left unusable, is closed; one kept is
    checked with a round trip before the task's first query (CONN_HEALTH_CHECKS)."""
    from django.db import close_old_connections

    if _in_a_worker(task):
        close_old_connections()


@task_postrun.connect
def _end_a_doubtful_database_session(task: Any = None, state: str | None = None, **_: Any) -> None:
    """A session is kept only after a task that ended normally with the session idle: a task stopped by
    its time limit or an error may have left a query running or a transaction open, which Django's own
    checks do not always see."""
    from django.db import connections
    from psycopg.pq import TransactionStatus

    if not _in_a_worker(task):
        return
    for connection in connections.all(initialized_only=True):
        session = connection.connection
        if session is None:
            continue
        if state != "SUCCESS" or session.info.transaction_status != TransactionStatus.IDLE:
            connection.close()
        else:
            connection.close_if_unusable_or_obsolete()


@beat_init.connect
def _end_with_the_worker(**_: Any) -> None:
    """An embedded beat (``worker --beat``, as ``make run`` starts it) is a process of its own, which the
    worker stops when it stops cleanly; it also ends when the worker ends any other way, or it would go
    on publishing the schedule with no worker beside it. A standalone ``celery beat`` is left to whatever
    runs it (systemd, a container's init)."""
    from billiard.process import current_process

    from config.processes import end_with_parent

    # billiard notes the parent's pid on the child's process object; the main process has none.
    worker_pid = getattr(current_process(), "_parent_pid", None)
    if isinstance(worker_pid, int):
        end_with_parent(worker_pid)
