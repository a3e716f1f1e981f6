"""Test data for custody and delivery: released, dispatched, checked and infused batches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from batches.audit import audit_context
from batches.models import Batch
from batches.release import bedside, delivery
from tests.factories import PASSWORD, Personas, quarantined_batch, release_batch


def released_batch(people: Personas, *, subject_code: str = "IGX1-S001", conditionally: bool = False) -> Batch:
    """A batch walked to quarantine, passing QC recorded and reviewed, released by QA and certified by the QP."""
    return release_batch(people, quarantined_batch(people, subject_code=subject_code), conditionally=conditionally)


def scan_of(batch: Batch) -> str:
    """What a scanner reads from the DIN barcode on the batch's bag."""
    from batches.isbt128 import Din

    assert batch.din
    return Din(batch.din).barcode_data


def dispatched_batch(people: Personas, *, subject_code: str = "IGX1-S001", receive: bool = True) -> Batch:
    from batches import demo_chain
    from tests.factories import make_user

    batch = released_batch(people, subject_code=subject_code)
    event = delivery.batch_dispatch(
        actor=people.operator,
        batch_id=batch.pk,
        to_location="Interventional radiology, room 2",
        temperature_c=Decimal("4.0"),
        password=PASSWORD,
    )
    if receive:
        first = make_user("clinician_receipt", "clinician")
        demo_chain.receive(first=first, receiver=people.clinician, event=event, scan=scan_of(batch))
    batch.refresh_from_db()
    return batch


def checked_batch(people: Personas, second_clinician: Any, *, subject_code: str = "IGX1-S001") -> Batch:
    batch = dispatched_batch(people, subject_code=subject_code)
    bedside.bedside_check_scan(
        actor=people.clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code=subject_code,
        password=PASSWORD,
    )
    bedside.bedside_check_confirm(
        actor=second_clinician,
        batch_id=batch.pk,
        scanned_data=scan_of(batch),
        patient_subject_code=subject_code,
        password=PASSWORD,
    )
    return batch


def infusion_values(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    values: dict[str, Any] = {
        "started_at": now - timedelta(seconds=30),
        "ended_at": now,
        # 131 × 10⁶ cells formulated in 10 mL, 1 mL drawn for QC: 117.9 × 10⁶ cells in 9 mL remain.
        "left_cells": 57_000_000,
        "left_volume_ml": Decimal("4.5"),
        "right_cells": 59_000_000,
        "right_volume_ml": Decimal("4.5"),
        "notes": "Bilateral uterine artery catheterization via right femoral access.",
    }
    values.update(overrides)
    return values


# --- the published trial's cohort (docs/domain.md §The therapy) --------------------------------------------------
# 20 patients, 37–166 million cells, 41 single-embryo transfers with 13 implantations, 11 patients
# with a clinical pregnancy and 6 with a live birth. Per-patient detail is not published: the split
# below is one arrangement that gives exactly those totals.


def trial_cohort_spec() -> list[tuple[str, int, list[tuple[bool, bool, bool]], list[int]]]:
    """(subject code, cells infused, transfers as (implantation, pregnancy, live birth), adverse-event grades)."""
    doses = [37_000_000 + round(i * 129_000_000 / 19) for i in range(20)]
    none = (False, False, False)
    spec = []
    for i in range(20):
        if i < 6:  # live birth
            transfers = [none, (True, True, True)]
        elif i < 11:  # clinical pregnancy, no live birth (yet)
            transfers = [none, (True, True, False)]
        elif i < 13:  # implantation without clinical pregnancy
            transfers = [(True, False, False), none]
        else:
            transfers = [none, none]
        if i == 19:
            transfers = [*transfers, none]  # the 41st transfer
        grades = [1] if i % 2 == 0 else ([1, 2] if i == 5 else [])
        # 7 is coprime with 20: a fixed shuffle, so the made-up split implies no dose-response either way.
        spec.append((f"IGX1-T{i + 1:03d}", doses[(i * 7) % 20], transfers, grades))
    return spec


def load_trial_cohort(people: Personas) -> list[Batch]:
    """Write the 20 treated patients straight to the tables (legal status steps only), for speed."""
    from batches.models import ProcessDefinition
    from tests.factories import approved_definition

    definition = ProcessDefinition.objects.filter(status="approved").first() or approved_definition(
        people.qa, people.qp
    )
    now = timezone.now()
    path = ["mobilization", "collection", "processing", "quarantine", "released", "dispatched", "infused"]
    # A historical cohort written straight to the tables still carries an actor and a reason.
    with audit_context("system:trial-cohort-import", reason="published trial cohort loaded for the figures"):
        return _write_cohort(people, definition, now, path)


def _write_cohort(people: Personas, definition: Any, now: Any, path: list[str]) -> list[Batch]:
    from batches.models import AdverseEvent, EmbryoTransfer, Infusion, Patient

    batches = []
    for index, (code, cells, transfers, grades) in enumerate(trial_cohort_spec()):
        patient = Patient.objects.create(
            subject_code=code,
            consent_date=now.date() - timedelta(days=400),
            body_weight_kg=Decimal("60.0"),
            eligibility_confirmed=True,
            enrolled_by=people.clinician,
        )
        batch = Batch.objects.create(
            batch_number=f"IGX1-T-{index + 1:04d}",
            patient=patient,
            process_definition=definition,
            body_weight_kg=patient.body_weight_kg,
            registered_by=people.operator,
        )
        for status in path:
            Batch.objects.filter(pk=batch.pk).update(status=status)
        Batch.objects.filter(pk=batch.pk).update(end_of_processing_at=now - timedelta(days=300, hours=3))
        started = now - timedelta(days=300)
        Infusion.objects.create(
            batch=batch,
            operator=people.clinician,
            started_at=started,
            ended_at=started + timedelta(minutes=40),
            left_cells=cells // 2,
            right_cells=cells - cells // 2,
            left_volume_ml=Decimal("5.0"),
            right_volume_ml=Decimal("5.0"),
            minutes_from_end_of_processing=180,
        )
        for n, (implanted, pregnant, born) in enumerate(transfers):
            EmbryoTransfer.objects.create(
                batch=batch,
                transfer_date=(started + timedelta(days=60 + 60 * n)).date(),
                implantation=implanted,
                clinical_pregnancy=pregnant,
                live_birth=born,
                recorded_by=people.clinician,
            )
        for grade in grades:
            AdverseEvent.objects.create(
                batch=batch,
                phase="infusion",
                term="Pelvic pain" if grade == 1 else "Fatigue",
                ctcae_grade=grade,
                relatedness="possible",
                onset_at=started + timedelta(hours=1),
                reported_by=people.clinician,
            )
        batches.append(batch)
    return batches
