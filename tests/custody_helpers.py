"""Test data for custody and delivery: released, dispatched, checked and infused batches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from batches.audit import audit_context
from batches.models import Batch
from batches.services import delivery
from batches.services.common import lock_batch, transition
from batches.states import BatchStatus
from tests.factories import PASSWORD, Personas, walk_batch


def force_release_for_custody_tests(people: Personas, *, subject_code: str = "IGX1-S001") -> Batch:
    """Stand-in for the QA release service: walk a batch to quarantine, then move it to released as QA.

    Replaced by the real release service (with its checks and signatures) once both exist together.
    """
    batch = walk_batch(people, "quarantine", subject_code=subject_code)
    with transaction.atomic():
        locked = lock_batch(batch.pk)
        with audit_context(people.qa, reason="test stand-in for QA release"):
            transition(locked, BatchStatus.RELEASED, actor=people.qa)
    batch.refresh_from_db()
    return batch


def scan_of(batch: Batch) -> str:
    """What a scanner reads from the DIN barcode on the batch's bag."""
    from batches.isbt128 import Din

    assert batch.din
    return Din(batch.din).barcode_data


def dispatched_batch(people: Personas, *, subject_code: str = "IGX1-S001", receive: bool = True) -> Batch:
    from batches.services import custody

    batch = force_release_for_custody_tests(people, subject_code=subject_code)
    event = delivery.batch_dispatch(
        actor=people.operator,
        batch_id=batch.pk,
        to_location="Interventional radiology, room 2",
        temperature_c=Decimal("4.0"),
        password=PASSWORD,
    )
    if receive:
        custody.custody_receive(
            actor=people.clinician,
            custody_event_id=event.pk,
            scanned_data=scan_of(batch),
            received_at=timezone.now(),
            temperature_c=Decimal("5.5"),
        )
    batch.refresh_from_db()
    return batch


def checked_batch(people: Personas, second_clinician: Any, *, subject_code: str = "IGX1-S001") -> Batch:
    batch = dispatched_batch(people, subject_code=subject_code)
    delivery.bedside_check_scan(
        actor=people.clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code=subject_code,
        password=PASSWORD,
    )
    delivery.bedside_check_confirm(
        actor=second_clinician, batch_id=batch.pk, scanned_data=scan_of(batch), password=PASSWORD
    )
    return batch


def infusion_values(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    values: dict[str, Any] = {
        "started_at": now - timedelta(seconds=30),
        "ended_at": now,
        "left_cells": 60_000_000,
        "left_volume_ml": Decimal("5.0"),
        "right_cells": 62_000_000,
        "right_volume_ml": Decimal("5.0"),
        "notes": "Bilateral uterine artery catheterization via right femoral access.",
    }
    values.update(overrides)
    return values
