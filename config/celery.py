"""The Celery application: configuration comes from Django settings (CELERY_* names)."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

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
