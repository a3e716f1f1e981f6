"""Tasks that exist only for tests: a worker started with CELLBATCH_EXTRA_TASK_MODULES=tests.audit_tasks."""

from __future__ import annotations

from decimal import Decimal

import pghistory
from celery import shared_task


@shared_task(name="tests.audit_reweigh_patient")
def reweigh_patient(patient_id: int, weight: str) -> None:
    """A task that changes a GMP row; it names only the reason, the actor comes from the task itself."""
    from batches.models import Patient

    with pghistory.context(reason="weight re-measured by the scheduled import"):
        Patient.objects.filter(pk=patient_id).update(body_weight_kg=Decimal(weight))
