"""Celery tasks of the batch record: thin wrappers around batches.services.documents."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="batches.build_batch_record",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, OSError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def build_batch_record(document_id: int) -> str:
    """Build and seal one record; a second delivery of a finished or running job does nothing."""
    from batches.services.documents import document_build

    return document_build(document_id=document_id)


@shared_task(name="batches.republish_batch_records", acks_late=True)
def republish_batch_records() -> list[int]:
    """Beat: publish again the records still unfinished past their deadline."""
    from batches.services.documents import documents_republish_due

    return documents_republish_due()
