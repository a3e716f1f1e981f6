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


# --- QC and release (qc app, batches.services.release) -------------------------------------------


def approved_specification(people: Personas, *, product: str = "IGX1", limits: list[dict[str, Any]] | None = None):
    """An approved QC specification, effective now (create it before the batch enters processing)."""
    from qc.services import specifications

    spec = specifications.specification_create(
        actor=people.qa,
        product=product,
        title=f"{product} release specification",
        requested_effective_from=timezone.now(),
        limits=limits,
    )
    specifications.specification_approve(specification_id=spec.pk, approver=people.qa, password=PASSWORD)
    return specifications.specification_approve(specification_id=spec.pk, approver=people.qp, password=PASSWORD)


def quarantined_batch(
    people: Personas, *, subject_code: str = "IGX1-S001", definition: ProcessDefinition | None = None
) -> Batch:
    """A batch in quarantine with an approved specification that applies to it.

    Walks like walk_batch, with decimals given at their stored scale: a signature hashes the values
    as given, so "10" signed and "10.00" read back would look like a changed record to the gate.
    """
    from qc.models import Specification

    if not Specification.objects.filter(status="approved", product="IGX1").exists():
        approved_specification(people)
    batch = walk_batch(people, "registered", subject_code=subject_code, definition=definition)
    definition = batch.process_definition
    batch_services.batch_start_mobilization(actor=people.operator, batch_id=batch.pk)
    for day in range(1, definition.gcsf_days_min + 1):
        values = gcsf_values(day, prescribed_ug_per_kg=Decimal("10.00"))
        step = steps.step_record(
            kind="gcsf", batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values
        )
        steps.step_verify(kind="gcsf", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    batch_services.batch_start_collection(actor=people.operator, batch_id=batch.pk)
    for kind, values in (("apheresis", apheresis_values()), ("selection", selection_values())):
        step = steps.step_record(kind=kind, batch_id=batch.pk, actor=people.operator, password=PASSWORD, values=values)
        steps.step_verify(kind=kind, step_id=step.pk, verifier=people.verifier, password=PASSWORD)
        if kind == "apheresis":
            batch_services.batch_start_processing(actor=people.operator, batch_id=batch.pk)
    batch_services.batch_quarantine(actor=people.operator, batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


PASSING_RESULTS: dict[str, tuple[Any, str]] = {
    "cd133_purity": (Decimal("92.5"), "%"),
    "viability": (Decimal("95"), "%"),  # 131e6 selected cells × 95 % = 124.45e6 viable CD133+ cells
    "gram_stain": ("no organisms seen", ""),
    "endotoxin": (Decimal("0.12"), "EU/mL"),
    "sterility": ("no growth", ""),
    "mycoplasma": ("not detected", ""),
}


def qc_sample(people: Personas, batch: Batch, code: str | None = None):
    from qc.services.testing import qc_sample_record

    return qc_sample_record(
        actor=people.qc_analyst,
        batch_id=batch.pk,
        step="final_product",
        sample_code=code or f"{batch.batch_number}-QC{batch.qc_samples.count() + 1}",
        taken_at=timezone.now() - timedelta(minutes=4),
    )


def record_result(
    people: Personas, batch: Batch, test: str, value: Any, unit: str = "", *, review: bool = True, **kw: Any
):
    """Record (and by default review) one result on a fresh sample; returns the result."""
    from qc.services.testing import qc_result_record, qc_result_review

    sample = kw.pop("sample", None) or qc_sample(people, batch)
    result = qc_result_record(
        actor=people.qc_analyst,
        sample_id=sample.pk,
        test=test,
        value=value,
        unit=unit,
        instrument="FACSCanto II" if unit == "%" else "",
        tested_at=timezone.now() - timedelta(minutes=2),
        password=PASSWORD,
        **kw,
    )
    if review:
        for each in batch.qc_results.filter(verified_by__isnull=True):
            qc_result_review(reviewer=people.verifier, result_id=each.pk, password=PASSWORD)
    return result


def record_passing_qc(people: Personas, batch: Batch, *, skip: tuple[str, ...] = ("sterility",)) -> None:
    """Record and review passing results for every test except ``skip`` (sterility: pending by default)."""
    from qc.services.testing import qc_result_record, qc_result_review

    sample = qc_sample(people, batch)
    for test, (value, unit) in PASSING_RESULTS.items():
        if test in skip:
            continue
        qc_result_record(
            actor=people.qc_analyst,
            sample_id=sample.pk,
            test=test,
            value=value,
            unit=unit,
            tested_at=timezone.now() - timedelta(minutes=2),
            password=PASSWORD,
        )
    for result in batch.qc_results.filter(verified_by__isnull=True):
        qc_result_review(reviewer=people.verifier, result_id=result.pk, password=PASSWORD)


def release_batch(people: Personas, batch: Batch, *, conditionally: bool = False, certify: bool = True) -> Batch:
    """Record passing QC and release the batch (QA), then certify it (QP) when the definition requires it."""
    from batches.services import release

    if conditionally:
        record_passing_qc(people, batch)
        release.batch_release_conditionally(
            actor=people.qa,
            batch_id=batch.pk,
            password=PASSWORD,
            positive_result_plan="Recall if not infused; inform the clinician, start antibiotics per protocol.",
        )
    else:
        record_passing_qc(people, batch, skip=())
        release.batch_release(actor=people.qa, batch_id=batch.pk, password=PASSWORD)
    if certify and batch.process_definition.requires_qp_certification:
        release.batch_certify(actor=people.qp, batch_id=batch.pk, password=PASSWORD)
    batch.refresh_from_db()
    return batch
