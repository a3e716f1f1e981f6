"""Take the snapshot of a batch from the database (the only ORM code of the batch record)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from batches import formatting, isbt128
from batches.competence import in_force_candidates, named_procedures, version_followed
from batches.ledger.trail import Entry, batch_trail, events_for_object, in_words
from batches.models import (
    ApheresisCollection,
    Batch,
    Cd133Selection,
    DocumentVersion,
    ElectronicSignature,
    EntrySource,
    GcsfAdministration,
    PatientIdentity,
)
from batches.models.signatures import SignatureMeaning, SignatureStatus
from batches.pdf import providers
from batches.selectors import person
from batches.snapshot import (
    DEMONSTRATION_MARK,
    AuditEntry,
    Cover,
    EquipmentRow,
    LotRow,
    SignatureEntry,
    Snapshot,
    StepSection,
    TransitionEntry,
    ValueRow,
    text,
)
from batches.states import BatchStatus
from batches.usage import StepKey, batch_step_inputs

DIN_PLACEHOLDER = gettext_noop("not yet assigned")
# Tables whose history is about the record itself, not the batch: left out of its audit appendix.
EXCLUDED_RECORDS = frozenset({"batches.BatchDocument", "batches.DocumentDownload"})
PEOPLE = ("performed_by", "corrected_by", "verified_by", "batch__process_definition")
# The appendix prints each audited value; longer ones are cut, with a pointer to the full value.
MAX_VALUE_CHARS = 240
DIGESTED_FIELDS = frozenset({"content"})
# A first entry's id and batch are already in the record column and the document itself.
IMPLIED_FIELDS = frozenset({"id", "batch_id"})


def _din(batch: Batch) -> tuple[str, str]:
    if not batch.din:
        return gettext(DIN_PLACEHOLDER), ""
    return batch.din, str(isbt128.din_check_character(batch.din))


@dataclass
class StepReadings:
    """What every step section of one record needs, read once for the batch (not once per step)."""

    batch: Batch
    inputs: dict[StepKey, tuple[list[Any], list[Any]]] = field(default_factory=dict)
    sources: dict[StepKey, EntrySource] = field(default_factory=dict)
    named: dict[str, DocumentVersion] = field(default_factory=dict)
    versions: list[DocumentVersion] = field(default_factory=list)
    procedures: dict[tuple[str, date], str] = field(default_factory=dict)

    @classmethod
    def of(cls, batch: Batch) -> StepReadings:
        sources = EntrySource.objects.filter(batch=batch).select_related("performer")
        named = named_procedures(batch.process_definition)
        return cls(
            batch=batch,
            inputs=batch_step_inputs(batch),
            sources={(s.content_type_id, s.object_id): s for s in sources},
            named=named,
            versions=in_force_candidates(v.document_id for v in named.values()),
        )

    def procedure(self, activity: str, on: date) -> str:
        """The procedure version the step followed (the versions of every named procedure read once)."""
        if (activity, on) not in self.procedures:
            self.procedures[activity, on] = version_followed(self.named.get(activity), on, self.versions)
        return self.procedures[activity, on]


def _scanned(readings: StepReadings, key: StepKey) -> dict[str, list[Any]]:
    """The lots and equipment scanned at the step, as they were at use (batches.usage)."""
    lots, items = readings.inputs.get(key, ([], []))
    return {
        "lots": [
            LotRow(
                f"{u.material_name} ({u.get_grade_display().lower()}, {formatting.number(u.quantity)})",
                gettext("%(lot)s · supplier lot %(supplier_lot)s")
                % {"lot": u.lot.code, "supplier_lot": u.supplier_lot},
                gettext("%(expiry)s · %(status)s at use")
                % {"expiry": text(u.expiry_date), "status": u.get_status_at_use_display().lower()},
            )
            for u in lots
        ],
        "equipment": [
            EquipmentRow(
                f"{u.equipment.code} {u.equipment.name}",
                u.equipment.serial_number,
                gettext("%(status)s at use; calibration due %(due)s")
                % {"status": u.get_status_at_use_display().lower(), "due": text(u.calibration_due_at_use) or "—"},
            )
            for u in items
        ],
    }


def _step(readings: StepReadings, step: Any, title: str, **parts: Any) -> StepSection:
    key = (ContentType.objects.get_for_model(step).pk, step.pk)
    source = readings.sources.get(key)
    scanned = _scanned(readings, key)
    parts["lots"] = [*parts.get("lots", []), *scanned["lots"]]
    parts["equipment"] = [*parts.get("equipment", []), *scanned["equipment"]]
    return StepSection(
        title=title,
        kind=step.step_kind,
        procedure=readings.procedure(step.step_kind, timezone.localdate(step.performed_at)),
        recorded_by=person(step.performed_by) if source else "",
        source=source.source_reference if source else "",
        performed_by=(
            gettext("%(name)s (staff number %(number)s)")
            % {"name": source.performer_name, "number": source.performer_staff_number}
            if source and source.performer is None
            else person(source.performer if source else step.performed_by)
        ),
        performed_at=text(step.performed_at),
        corrected_by=person(step.corrected_by),
        corrected_at=text(step.corrected_at),
        verified_by=person(step.verified_by),
        verified_at=text(step.verified_at),
        late_entry_reason=step.late_entry_reason,
        **parts,
    )


def _steps(batch: Batch) -> list[StepSection]:
    sections: list[StepSection] = []
    readings = StepReadings.of(batch)
    for g in GcsfAdministration.objects.filter(batch=batch).select_related(*PEOPLE).order_by("day"):
        sections.append(
            _step(
                readings,
                g,
                gettext("G-CSF administration, day %(day)s") % {"day": g.day},
                values=[
                    ValueRow(gettext("Administered at"), text(g.administered_at)),
                    ValueRow(gettext("Prescribed dose"), formatting.number(g.prescribed_ug_per_kg), "µg/kg"),
                    ValueRow(gettext("Calculated dose"), formatting.number(g.dose_ug), "µg"),
                ],
                lots=[LotRow(gettext("Filgrastim"), g.drug_lot, text(g.drug_expiry))],
            )
        )
    a = ApheresisCollection.objects.filter(batch=batch).select_related(*PEOPLE).first()
    if a:
        sections.append(
            _step(
                readings,
                a,
                gettext("Apheresis collection"),
                values=[
                    ValueRow(gettext("Started"), text(a.started_at)),
                    ValueRow(gettext("Ended"), text(a.ended_at)),
                    ValueRow(gettext("Blood volumes processed"), formatting.number(a.blood_volumes_processed)),
                    ValueRow("ACD-A", formatting.number(a.acd_a_ml), gettext("mL")),
                    ValueRow(gettext("Product volume"), formatting.number(a.product_volume_ml), gettext("mL")),
                    ValueRow(
                        gettext("Total nucleated cells"), formatting.cells(a.total_nucleated_cells), gettext("cells")
                    ),
                    ValueRow(
                        gettext("CD133+ cells before selection"),
                        formatting.cells(a.cd133_cells_before_selection),
                        gettext("cells"),
                    ),
                    ValueRow(gettext("Collection bag"), a.collection_bag_id),
                ],
                equipment=[EquipmentRow(a.device, a.device_serial)],
            )
        )
    s = Cd133Selection.objects.filter(batch=batch).select_related(*PEOPLE).first()
    if s:
        sections.append(
            _step(
                readings,
                s,
                gettext("Immunomagnetic CD133+ selection"),
                values=[
                    ValueRow(gettext("Program"), s.program),
                    ValueRow(gettext("Started"), text(s.started_at)),
                    ValueRow(gettext("Ended"), text(s.ended_at)),
                    ValueRow(gettext("Input CD133+ cells"), formatting.cells(s.input_cd133_cells), gettext("cells")),
                    ValueRow(gettext("Output CD133+ cells"), formatting.cells(s.output_cd133_cells), gettext("cells")),
                    ValueRow(gettext("Recovery"), formatting.number(s.recovery_pct), "%"),
                    ValueRow(gettext("Final formulation volume"), formatting.number(s.final_volume_ml), gettext("mL")),
                ],
                lots=[
                    LotRow(gettext("CD133 reagent"), s.reagent_lot, text(s.reagent_expiry)),
                    LotRow(gettext("Tubing set"), s.tubing_set_lot, text(s.tubing_set_expiry)),
                    LotRow(gettext("Buffer"), s.buffer_lot, text(s.buffer_expiry)),
                    LotRow(gettext("Human serum albumin"), s.albumin_lot, text(s.albumin_expiry)),
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
                meaning=gettext(SignatureMeaning(sig.meaning).label),
                signed_at=text(sig.signed_at),
                record=f"{label} #{sig.object_id}",
                username=sig.signer.get_username(),
                content_sha256=sig.content_sha256,
                role=sig.signer_role,
                status=gettext(SignatureStatus(sig.status).label),
            )
        )
    return entries


def _short(value: Any, name: str = "") -> str:
    shown = text(value)
    if name in DIGESTED_FIELDS and shown:
        # A signature's canonical content repeats the signed record, printed above: its digest suffices.
        digest = hashlib.sha256(shown.encode()).hexdigest()
        return gettext("[%(count)s characters, SHA-256 %(digest)s]") % {"count": len(shown), "digest": digest}
    if len(shown) > MAX_VALUE_CHARS:
        extra = len(shown) - MAX_VALUE_CHARS
        return gettext("%(start)s… [+%(count)s characters in the electronic audit trail]") % {
            "start": shown[:MAX_VALUE_CHARS],
            "count": extra,
        }
    return shown


def _changes(entry: Entry) -> str:
    # Field labels and people by name (batches.ledger.trail.in_words), as the admin's trail shows them.
    if entry.action == "update":
        return "; ".join(
            f"{c.label}: {_short(c.old_text, c.field)} → {_short(c.new_text, c.field)}" for c in entry.changes
        )
    # A first entry (or a deletion) lists the values the record was created with (or had).
    shown = [(c, c.new_text if entry.action == "insert" else c.old_text) for c in entry.changes]
    return "; ".join(
        f"{c.label}: {_short(value, c.field)}"
        for c, value in shown
        if value not in (None, "") and c.field not in IMPLIED_FIELDS
    )


def _audit_trail(batch: Batch) -> list[AuditEntry]:
    """The batch's trail (batches.ledger.trail, the one reading of old → new, actor and reason) and the patient's."""
    # The record's own documents and downloads are not part of it (and grow with every issue).
    entries = batch_trail(batch, excluding=EXCLUDED_RECORDS)
    entries += events_for_object(batch.patient)
    identity = PatientIdentity.objects.filter(patient_id=batch.patient_id).first()
    if identity is not None:
        entries += events_for_object(identity)
    return [
        AuditEntry(
            at=text(e.at),
            actor=e.actor,
            record=e.record_label,
            action=e.action_label,
            changes=_changes(e),
            reason=e.reason,
        )
        for e in in_words(sorted(entries, key=lambda e: (e.at, e.event)))
    ]


def take_snapshot(batch: Batch, *, kind: str, revision: int, language: str = "") -> Snapshot:
    """Everything the record prints, read in one place (call inside a transaction for consistency),
    written in ``language`` (default: the active one), which the snapshot records."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        return _snapshot(batch, kind=kind, revision=revision, language=language)


def _snapshot(batch: Batch, *, kind: str, revision: int, language: str) -> Snapshot:
    batch = Batch.objects.select_related(
        "patient",
        "registered_by",
        "process_definition__first_approved_by",
        "process_definition__second_approved_by",
        "process_definition__clinical_trial",
    ).get(pk=batch.pk)
    definition = batch.process_definition
    din, check = _din(batch)
    return Snapshot(
        cover=Cover(
            organisation=settings.CELLBATCH_ORGANISATION_NAME,
            product_name=definition.name,
            product_code=definition.product_code,
            process_definition=gettext("%(code)s version %(version)s")
            % {"code": definition.code, "version": definition.version},
            batch_number=batch.batch_number,
            batch_status=gettext(BatchStatus(batch.status).label),
            subject_code=batch.patient.subject_code,
            din=din,
            din_check=check,
            coi_id=providers.coi_id(batch) or gettext(DIN_PLACEHOLDER),
            registered_at=text(batch.registered_at),
            registered_by=person(batch.registered_by),
            demonstration=DEMONSTRATION_MARK if batch.is_demo else "",
        ),
        document_kind=kind,
        revision=revision,
        taken_at=text(timezone.now()),
        time_zone=settings.TIME_ZONE,
        language=language,
        process=[
            ValueRow(gettext("Process definition"), f"{definition.code} v{definition.version}: {definition.name}"),
            ValueRow(
                gettext("Approved by"),
                f"{person(definition.first_approved_by)}; {person(definition.second_approved_by)}",
            ),
            ValueRow(
                gettext("G-CSF regimen"),
                f"{formatting.number(definition.gcsf_dose_ug_per_kg)} "
                f"± {formatting.number(definition.gcsf_dose_tolerance_pct)} %",
                gettext("µg/kg/day"),
            ),
            ValueRow(
                gettext("G-CSF days"),
                gettext("%(low)s to %(high)s") % {"low": definition.gcsf_days_min, "high": definition.gcsf_days_max},
                gettext("days"),
            ),
            ValueRow(
                gettext("Target dose"),
                gettext("%(low)s to %(high)s")
                % {
                    "low": formatting.cells(definition.target_dose_min_cells),
                    "high": formatting.cells(definition.target_dose_max_cells),
                },
                gettext("CD133+ cells"),
            ),
            ValueRow(gettext("Shelf life"), str(definition.shelf_life_hours), gettext("h from end of processing")),
            *providers.trial_rows(definition),
            *(ValueRow(*row) for row in providers.limit_rows(definition)),
            ValueRow(gettext("Body weight at registration"), formatting.number(batch.body_weight_kg), "kg"),
            ValueRow(gettext("End of processing"), text(batch.end_of_processing_at)),
        ],
        steps=_steps(batch),
        qc_results=providers.qc_results(batch),
        deviations=providers.deviations(batch),
        release=providers.release(batch),
        infusion=providers.infusion(batch),
        custody=providers.custody(batch),
        identity_scans=providers.identity_scans(batch),
        temperature_logs=providers.temperature_logs(batch),
        adverse_events=providers.adverse_events(batch),
        expired_use=providers.expired_use(batch),
        exceptions=providers.exceptions(batch),
        signatures=_signatures(batch),
        transitions=[
            TransitionEntry(
                from_status=gettext(BatchStatus(t.from_status).label),
                to_status=gettext(BatchStatus(t.to_status).label),
                actor=person(t.actor),
                at=text(t.at),
                reason=t.reason,
            )
            for t in batch.transitions.select_related("actor").order_by("at", "pk")
        ],
        audit_trail=_audit_trail(batch),
        checkpoint=providers.current_checkpoint(),
    )
