"""The Celery application: configuration comes from Django settings (CELERY_* names)."""

import os
from importlib import import_module
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init

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
