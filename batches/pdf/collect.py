"""Take the snapshot of a batch from the database (the only ORM code of the batch record)."""

from __future__ import annotations

import hashlib
from typing import Any

import pghistory.models
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from batches import isbt128
from batches.models import ApheresisCollection, Batch, Cd133Selection, ElectronicSignature, GcsfAdministration
from batches.models.signatures import SignatureMeaning, SignatureStatus
from batches.pdf import providers
from batches.pdf.snapshot import (
    AuditEntry,
    Checkpoint,
    Cover,
    Deviation,
    EquipmentRow,
    InfusionEntry,
    LotRow,
    QcResult,
    ReleaseEntry,
    SignatureEntry,
    Snapshot,
    StepSection,
    TransitionEntry,
    ValueRow,
    from_mapping,
    rows,
    text,
)
from batches.services.signatures import printed_name
from batches.states import BatchStatus

DIN_PLACEHOLDER = "not yet assigned"
# Tables whose history is about the record itself, not the batch: left out of its audit appendix.
EXCLUDED_EVENT_MODELS = ("batches.BatchDocumentEvent", "batches.DocumentDownloadEvent")
# The appendix prints each audited value; longer ones are cut, with a pointer to the full value.
MAX_VALUE_CHARS = 240
DIGESTED_FIELDS = frozenset({"content"})


def _din(batch: Batch) -> tuple[str, str]:
    if not batch.din:
        return DIN_PLACEHOLDER, ""
    return batch.din, str(isbt128.din_check_character(batch.din))


class _Names:
    """Printed names of users, one query each at most."""

    def __init__(self) -> None:
        self.cache: dict[int, str] = {}

    def __call__(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        if user_id not in self.cache:
            user = User.objects.filter(pk=user_id).first()
            self.cache[user_id] = f"{printed_name(user)} ({user.get_username()})" if user else f"user #{user_id}"
        return self.cache[user_id]


def _step(step: Any, title: str, names: _Names, **parts: Any) -> StepSection:
    return StepSection(
        title=title,
        kind=step.step_kind,
        performed_by=names(step.performed_by_id),
        performed_at=text(step.performed_at),
        verified_by=names(step.verified_by_id),
        verified_at=text(step.verified_at),
        late_entry_reason=step.late_entry_reason,
        **parts,
    )


def _steps(batch: Batch, names: _Names) -> list[StepSection]:
    sections: list[StepSection] = []
    for g in GcsfAdministration.objects.filter(batch=batch).order_by("day"):
        sections.append(
            _step(
                g,
                f"G-CSF administration, day {g.day}",
                names,
                values=[
                    ValueRow("Administered at", text(g.administered_at)),
                    ValueRow("Prescribed dose", text(g.prescribed_ug_per_kg), "µg/kg"),
                    ValueRow("Calculated dose", text(g.dose_ug), "µg"),
                ],
                lots=[LotRow("Filgrastim", g.drug_lot, text(g.drug_expiry))],
            )
        )
    a = ApheresisCollection.objects.filter(batch=batch).first()
    if a:
        sections.append(
            _step(
                a,
                "Apheresis collection",
                names,
                values=[
                    ValueRow("Started", text(a.started_at)),
                    ValueRow("Ended", text(a.ended_at)),
                    ValueRow("Blood volumes processed", text(a.blood_volumes_processed)),
                    ValueRow("ACD-A", text(a.acd_a_ml), "mL"),
                    ValueRow("Product volume", text(a.product_volume_ml), "mL"),
                    ValueRow("Total nucleated cells", f"{a.total_nucleated_cells:,}", "cells"),
                    ValueRow("CD133+ cells before selection", f"{a.cd133_cells_before_selection:,}", "cells"),
                    ValueRow("Collection bag", a.collection_bag_id),
                ],
                equipment=[EquipmentRow(a.device, a.device_serial)],
            )
        )
    s = Cd133Selection.objects.filter(batch=batch).first()
    if s:
        sections.append(
            _step(
                s,
                "Immunomagnetic CD133+ selection",
                names,
                values=[
                    ValueRow("Program", s.program),
                    ValueRow("Started", text(s.started_at)),
                    ValueRow("Ended", text(s.ended_at)),
                    ValueRow("Input CD133+ cells", f"{s.input_cd133_cells:,}", "cells"),
                    ValueRow("Output CD133+ cells", f"{s.output_cd133_cells:,}", "cells"),
                    ValueRow("Recovery", text(s.recovery_pct), "%"),
                    ValueRow("Final formulation volume", text(s.final_volume_ml), "mL"),
                ],
                lots=[
                    LotRow("CD133 reagent", s.reagent_lot, text(s.reagent_expiry)),
                    LotRow("Tubing set", s.tubing_set_lot, text(s.tubing_set_expiry)),
                    LotRow("Buffer", s.buffer_lot, text(s.buffer_expiry)),
                    LotRow("Human serum albumin", s.albumin_lot, text(s.albumin_expiry)),
                ],
                equipment=[EquipmentRow(s.instrument, s.instrument_serial)],
            )
        )
    return sections


def _signatures(batch: Batch) -> list[SignatureEntry]:
    entries = []
    for sig in ElectronicSignature.objects.filter(batch=batch).select_related("content_type", "signer"):
        model = sig.content_type.model_class()
        label = model._meta.verbose_name if model else sig.content_type.model
        entries.append(
            SignatureEntry(
                printed_name=sig.printed_name,
                meaning=SignatureMeaning(sig.meaning).label,
                signed_at=text(sig.signed_at),
                record=f"{label} #{sig.object_id}",
                username=sig.signer.get_username(),
                content_sha256=sig.content_sha256,
                status=SignatureStatus(sig.status).label,
            )
        )
    return entries


def _short(value: Any, name: str = "") -> str:
    shown = text(value)
    if name in DIGESTED_FIELDS and shown:
        # A signature's canonical content repeats the signed record, printed above: its digest suffices.
        return f"[{len(shown)} characters, SHA-256 {hashlib.sha256(shown.encode()).hexdigest()}]"
    if len(shown) > MAX_VALUE_CHARS:
        extra = len(shown) - MAX_VALUE_CHARS
        return f"{shown[:MAX_VALUE_CHARS]}… [+{extra} characters in the electronic audit trail]"
    return shown


def _record_label(obj_model: str, obj_id: str | None) -> str:
    try:
        name = str(apps.get_model(obj_model)._meta.verbose_name)
    except (LookupError, ValueError):
        name = obj_model
    return f"{name} #{obj_id}"


def _audit_trail(batch: Batch) -> list[AuditEntry]:
    events = (
        pghistory.models.Events.objects.references(batch)
        .exclude(pgh_model__in=EXCLUDED_EVENT_MODELS)
        .order_by("pgh_created_at", "pgh_model", "pgh_id")
    )
    patient_events = pghistory.models.Events.objects.tracks(batch.patient).order_by("pgh_created_at", "pgh_id")
    entries = []
    for e in sorted([*patient_events, *events], key=lambda e: (e.pgh_created_at, e.pgh_model, e.pgh_id)):
        context = e.pgh_context or {}
        if e.pgh_diff:
            changes = "; ".join(
                f"{k}: {_short(old, k)} → {_short(new, k)}" for k, (old, new) in sorted(e.pgh_diff.items())
            )
        else:
            data = {k: v for k, v in (e.pgh_data or {}).items() if not k.startswith("pgh_")}
            changes = "; ".join(f"{k}={_short(v, k)}" for k, v in sorted(data.items()))
        entries.append(
            AuditEntry(
                at=text(e.pgh_created_at),
                actor=str(context.get("actor") or "(no context: direct database change)"),
                record=_record_label(e.pgh_obj_model, e.pgh_obj_id),
                action=e.pgh_label,
                changes=changes,
                reason=str(context.get("reason") or ""),
            )
        )
    return entries


def take_snapshot(batch: Batch, *, kind: str, revision: int) -> Snapshot:
    """Everything the record prints, read in one place (call inside a transaction for consistency)."""
    batch = Batch.objects.select_related("patient", "process_definition").get(pk=batch.pk)
    definition = batch.process_definition
    names = _Names()
    din, check = _din(batch)
    checkpoint = providers.current_checkpoint()
    return Snapshot(
        cover=Cover(
            organisation=settings.CELLBATCH_ORGANISATION_NAME,
            product_name=definition.name,
            product_code=definition.product_code,
            process_definition=f"{definition.code} version {definition.version}",
            batch_number=batch.batch_number,
            batch_status=BatchStatus(batch.status).label,
            subject_code=batch.patient.subject_code,
            din=din,
            din_check=check,
            coi_id=providers.coi_id(batch) or DIN_PLACEHOLDER,
            registered_at=text(batch.registered_at),
            registered_by=names(batch.registered_by_id),
        ),
        document_kind=kind,
        revision=revision,
        taken_at=text(timezone.now()),
        time_zone=settings.TIME_ZONE,
        process=[
            ValueRow("Process definition", f"{definition.code} v{definition.version}: {definition.name}"),
            ValueRow(
                "Approved by", f"{names(definition.first_approved_by_id)}; {names(definition.second_approved_by_id)}"
            ),
            ValueRow(
                "G-CSF regimen",
                f"{text(definition.gcsf_dose_ug_per_kg)} ± {text(definition.gcsf_dose_tolerance_pct)} %",
                "µg/kg/day",
            ),
            ValueRow("G-CSF days", f"{definition.gcsf_days_min} to {definition.gcsf_days_max}", "days"),
            ValueRow(
                "Target dose",
                f"{definition.target_dose_min_cells / 1e6:g} to {definition.target_dose_max_cells / 1e6:g} × 10^6",
                "CD133+ cells",
            ),
            ValueRow("Shelf life", str(definition.shelf_life_hours), "h from end of processing"),
            ValueRow("Body weight at registration", text(batch.body_weight_kg), "kg"),
            ValueRow("End of processing", text(batch.end_of_processing_at)),
        ],
        steps=_steps(batch, names),
        qc_results=rows(QcResult, providers.section_rows("qc_results", batch)),
        deviations=rows(Deviation, providers.section_rows("deviations", batch)),
        release=rows(ReleaseEntry, providers.section_rows("release", batch)),
        infusion=rows(InfusionEntry, providers.section_rows("infusion", batch)),
        signatures=_signatures(batch),
        transitions=[
            TransitionEntry(
                from_status=BatchStatus(t.from_status).label,
                to_status=BatchStatus(t.to_status).label,
                actor=names(t.actor_id),
                at=text(t.at),
                reason=t.reason,
            )
            for t in batch.transitions.all()
        ],
        audit_trail=_audit_trail(batch),
        checkpoint=from_mapping(Checkpoint, checkpoint) if checkpoint else None,
    )
