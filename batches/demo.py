"""Demo and test data that goes through the real services (nothing is written behind their back)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from batches import register_demo
from batches.demo_chain import collection_label, label_and_reconcile
from batches.demo_people import procedures_assign
from batches.demo_trial import demo_trial
from batches.master_limits import default_limits
from batches.models import Batch, Patient, ProcessDefinition
from batches.services import batch as batch_services
from batches.services import master, steps

MANUFACTURING_ORDER = ["registered", "mobilization", "collection", "processing", "quarantine"]


@dataclass(frozen=True)
class Cast:
    """The people who make a batch: an operator records, a verifier checks, QA and a QP approve."""

    operator: User
    verifier: User
    qa: User
    qp: User
    password: str
    # Keeps the material master and the equipment register; without one, definitions declare no materials.
    materials: User | None = None


def demo_limits() -> dict[str, Any]:
    """The default limits without the post-infusion observation period.

    A demonstration walks a batch from infusion to closure within seconds; a clinical master record
    keeps the observation period of its protocol (the default: 120 minutes).
    """
    limits = default_limits()
    limits["order"] = [rule for rule in limits["order"] if rule["after"] != "closed"]
    return limits


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
        "limits": demo_limits(),
        "trial_reference": "EudraCT 2016-003975-23, protocol IGX1-ENT-XS-16-01",
    }
    values.update(overrides)
    return values


def approved_definition(cast: Cast, **overrides: Any) -> ProcessDefinition:
    overrides.setdefault("clinical_trial", demo_trial(cast.qa))
    definition = master.process_definition_create(actor=cast.qa, values=definition_values(**overrides))
    procedures_assign(qa=cast.qa, qp=cast.qp, password=cast.password, definition=definition)
    register_demo.declare_requirements(cast, definition)
    master.process_definition_approve(definition_id=definition.pk, approver=cast.qa, password=cast.password)
    return master.process_definition_approve(definition_id=definition.pk, approver=cast.qp, password=cast.password)


def enrol(actor: User, subject_code: str, weight: str = "62.5") -> Patient:
    return master.patient_enrol(
        actor=actor,
        subject_code=subject_code,
        consent_date=timezone.localdate() - timedelta(days=30),
        body_weight_kg=Decimal(weight),
        eligibility_confirmed=True,
    )


def gcsf_given_at(day: int, *, days: int) -> datetime:
    """Daily doses; the last one (day ``days``) the evening before the morning apheresis."""
    return timezone.now() - timedelta(days=days - day, hours=22)


def gcsf_values(day: int, *, at: datetime | None = None, **overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    given = at or now - timedelta(minutes=30)
    values: dict[str, Any] = {
        "day": day,
        "prescribed_ug_per_kg": Decimal("10"),
        "drug_lot": "FIL-24-117",
        "drug_expiry": now.date() + timedelta(days=200),
        "administered_at": given,
        "late_entry_reason": "" if now - given < timedelta(minutes=45) else "Transcribed from the ward's G-CSF log.",
    }
    values.update(overrides)
    return values


def apheresis_values(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    values: dict[str, Any] = {
        "device": "Spectra Optia",
        "device_serial": "OPT-2231",
        # Morning collection, entered from the run sheet when the bag reached the laboratory.
        "started_at": now - timedelta(hours=8),
        "ended_at": now - timedelta(hours=4),
        "late_entry_reason": "Entered from the apheresis run sheet when the bag reached the laboratory.",
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
        # A CliniMACS CD133 enrichment run (the definition's minimum run time is 60 min).
        "started_at": now - timedelta(hours=3, minutes=30),
        "ended_at": now - timedelta(hours=2),
        "late_entry_reason": "Entered from the CliniMACS run report after formulation.",
        "input_cd133_cells": 190_000_000,
        "output_cd133_cells": 131_000_000,
        "final_volume_ml": Decimal("10.0"),
    }
    values.update(overrides)
    return values


def record_step(cast: Cast, batch: Batch, kind: str, values: dict[str, Any]) -> Any:
    """Record a step as an operator would: scan its lots and equipment, then sign (verified by the verifier)."""
    scans = register_demo.step_scans(cast, batch, kind, steps.step_window(kind, values))
    step = steps.step_record(
        kind=kind,
        batch_id=batch.pk,
        actor=cast.operator,
        password=cast.password,
        values=values,
        lots=scans["lots"],
        equipment=scans["equipment"],
    )
    steps.step_verify(kind=kind, step_id=step.pk, verifier=cast.verifier, password=cast.password)
    return step


def walk_to(cast: Cast, batch: Batch, target: str, *, labelled: bool = True) -> Batch:
    """Take a registered batch through the manufacturing services up to ``target`` (≤ quarantine); in
    quarantine its bags are labelled and the labels reconciled unless ``labelled`` is False."""
    stop = MANUFACTURING_ORDER.index(target)
    definition = batch.process_definition
    if stop >= 1:
        batch_services.batch_start_mobilization(actor=cast.operator, batch_id=batch.pk)
    if stop >= 2:
        days = definition.gcsf_days_min
        for day in range(1, days + 1):
            record_step(cast, batch, "gcsf", gcsf_values(day, at=gcsf_given_at(day, days=days)))
        batch_services.batch_start_collection(actor=cast.operator, batch_id=batch.pk)
    if stop >= 3:
        bag = collection_label(cast, batch)
        record_step(cast, batch, "apheresis", apheresis_values(collection_bag_id=bag))
        batch_services.batch_start_processing(actor=cast.operator, batch_id=batch.pk)
    if stop >= 4:
        record_step(cast, batch, "selection", selection_values())
        batch_services.batch_quarantine(actor=cast.operator, batch_id=batch.pk)
        if labelled:
            label_and_reconcile(cast, batch)
    batch.refresh_from_db()
    return batch


def register(cast: Cast, patient: Patient, definition: ProcessDefinition, *, demo: bool = False) -> Batch:
    return batch_services.batch_register(
        actor=cast.operator, patient_id=patient.pk, process_definition_id=definition.pk, demo=demo
    )
