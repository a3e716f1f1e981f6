"""Personas and ready-made records for tests: every batch is walked through the real services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from batches.models import Batch, Patient, ProcessDefinition
from batches.roles import Role
from batches.services import batch as batch_services
from batches.services import master, steps

PASSWORD = "correct-horse-battery-staple-7"


def make_user(username: str, *roles: Role | str, **extra: Any) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"first_name": username.title(), **extra})
    user.set_password(PASSWORD)
    user.save()
    for role in roles:
        group, _ = Group.objects.get_or_create(name=str(role))
        user.groups.add(group)
    return user


def definition_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": "IGX1",
        "name": "Autologous CD133+ cells for Asherman syndrome",
        "product_code": "YA001",
        "gcsf_dose_ug_per_kg": Decimal("10"),
        "gcsf_dose_tolerance_pct": Decimal("10"),
        "gcsf_days_min": 4,
        "gcsf_days_max": 5,
        "target_dose_min_cells": 37_000_000,
        "target_dose_max_cells": 166_000_000,
        "shelf_life_hours": 24,
        "requires_qp_certification": True,
        "sponsor_contact_email": "sponsor@example.org",
    }
    values.update(overrides)
    return values


def approved_definition(qa: User, qp: User, **overrides: Any) -> ProcessDefinition:
    definition = master.process_definition_create(actor=qa, values=definition_values(**overrides))
    master.process_definition_approve(definition_id=definition.pk, approver=qa, password=PASSWORD)
    return master.process_definition_approve(definition_id=definition.pk, approver=qp, password=PASSWORD)


def enrolled_patient(actor: User, subject_code: str = "IGX1-S001", weight: str = "62.5") -> Patient:
    return master.patient_enrol(
        actor=actor,
        subject_code=subject_code,
        consent_date=timezone.localdate() - timedelta(days=30),
        body_weight_kg=Decimal(weight),
        eligibility_confirmed=True,
    )


def gcsf_values(day: int, **overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    values: dict[str, Any] = {
        "day": day,
        "prescribed_ug_per_kg": Decimal("10"),
        "drug_lot": "FIL-24-117",
        "drug_expiry": now.date() + timedelta(days=200),
        "administered_at": now - timedelta(minutes=30),
    }
    values.update(overrides)
    return values


def apheresis_values(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    values: dict[str, Any] = {
        "device": "Spectra Optia",
        "device_serial": "OPT-2231",
        "started_at": now - timedelta(hours=4, minutes=30),
        "ended_at": now - timedelta(minutes=20),
        "blood_volumes_processed": Decimal("2.50"),
        "acd_a_ml": Decimal("820.0"),
        "product_volume_ml": Decimal("245.0"),
        "total_nucleated_cells": 48_000_000_000,
        "cd133_cells_before_selection": 190_000_000,
        "collection_bag_id": "BAG-0001",
    }
    values.update(overrides)
    return values


def selection_values(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    expiry = now.date() + timedelta(days=90)
    values: dict[str, Any] = {
        "instrument": "CliniMACS Plus",
        "instrument_serial": "CMP-0415",
        "program": "CD133 Enrichment 1.1",
        "reagent_lot": "CD133-7781",
        "reagent_expiry": expiry,
        "tubing_set_lot": "TS-5531",
        "tubing_set_expiry": expiry,
        "buffer_lot": "BUF-2210",
        "buffer_expiry": expiry,
        "albumin_lot": "HSA-9912",
        "albumin_expiry": expiry,
        "started_at": now - timedelta(minutes=15),
        "ended_at": now - timedelta(minutes=5),
        "input_cd133_cells": 190_000_000,
        "output_cd133_cells": 131_000_000,
        "final_volume_ml": Decimal("10.0"),
    }
    values.update(overrides)
    return values


class Personas:
    """One user per role, as in DESIGN.md §1 (created on demand in a test database)."""

    def __init__(self) -> None:
        self.operator = make_user("operator", Role.OPERATOR)
        self.verifier = make_user("verifier", Role.VERIFIER)
        self.qc_analyst = make_user("qc_analyst", Role.QC_ANALYST)
        self.qa = make_user("qa_reviewer", Role.QA_REVIEWER)
        self.qp = make_user("qualified_person", Role.QUALIFIED_PERSON)
        self.clinician = make_user("clinician", Role.CLINICIAN)
        self.auditor = make_user("auditor", Role.AUDITOR)
        self.admin = make_user("admin", Role.ADMIN, is_staff=True, is_superuser=True)


def walk_batch(
    people: Personas, target: str, *, subject_code: str = "IGX1-S001", definition: ProcessDefinition | None = None
) -> Batch:
    """Create a batch and walk it through the services up to ``target`` (at most quarantine)."""
    order = ["registered", "mobilization", "collection", "processing", "quarantine"]
    definition = definition or ProcessDefinition.objects.filter(status="approved", code="IGX1").first()
    if definition is None:
        definition = approved_definition(people.qa, people.qp)
    patient = enrolled_patient(people.operator, subject_code=subject_code)
    batch = batch_services.batch_register(
        actor=people.operator, patient_id=patient.pk, process_definition_id=definition.pk
    )
    stop = order.index(target)
    if stop >= 1:
        batch_services.batch_start_mobilization(actor=people.operator, batch_id=batch.pk)
    if stop >= 2:
        for day in range(1, definition.gcsf_days_min + 1):
            step = steps.step_record(
                kind="gcsf", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=gcsf_values(day)
            )
            steps.step_verify(kind="gcsf", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
        batch_services.batch_start_collection(actor=people.operator, batch_id=batch.pk)
    if stop >= 3:
        step = steps.step_record(
            kind="apheresis", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=apheresis_values()
        )
        steps.step_verify(kind="apheresis", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
        batch_services.batch_start_processing(actor=people.operator, batch_id=batch.pk)
    if stop >= 4:
        step = steps.step_record(
            kind="selection", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=selection_values()
        )
        steps.step_verify(kind="selection", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
        batch_services.batch_quarantine(actor=people.operator, batch_id=batch.pk)
    batch.refresh_from_db()
    return batch
