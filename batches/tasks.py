"""Celery tasks: thin wrappers that take ids, call a service and exit cleanly."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="batches.ping_database")
def ping_database() -> int:
    """Health check used by tests and operators: the worker reaches PostgreSQL."""
    from batches.models import Batch

    return Batch.objects.count()
