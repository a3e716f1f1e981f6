"""Read-only queries that turn a batch's release, custody and delivery records into batch-record sections.

Each function reads one kind of record with its people joined in (select_related), so a section
costs one or two queries whatever its length, and returns the plain dataclasses of
:mod:`batches.snapshot`.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from batches import formatting
from batches.models import (
    AdverseEvent,
    Batch,
    BatchDisposition,
    BedsideCheck,
    CustodyEvent,
    ElectronicSignature,
    ExpiredUseAuthorization,
    IdentityScan,
    Infusion,
    IntegrityFinding,
    PatientIdentity,
    RecordException,
    SignatureMeaning,
    SignatureStatus,
)
from batches.models.release import Decision
from batches.models.shipping import ShipmentTemperatureLog
from batches.signature_checks import printed_name
from batches.snapshot import (
    SCAN_MATCH,
    SCAN_REFUSED,
    AdverseEventEntry,
    CustodyEntry,
    ExceptionEntry,
    ExpiredUseEntry,
    InfusionEntry,
    ReleaseEntry,
    ScanEntry,
    TemperatureLogEntry,
    text,
)


def person(user: User | None) -> str:
    """'Printed Name (username)', as every section of the record names people; '' for nobody."""
    if user is None:
        return ""
    return f"{printed_name(user)} ({user.get_username()})"


def _celsius(value: Decimal | None) -> str:
    return f"{formatting.number(value)} °C" if value is not None else ""


def _signature_line(signature: ElectronicSignature | None) -> str:
    if signature is None:
        return gettext("no signature found")
    return gettext("%(name)s (%(username)s), %(meaning)s, %(status)s; content SHA-256 %(sha256)s") % {
        "name": signature.printed_name,
        "username": signature.signer.get_username(),
        "meaning": gettext(SignatureMeaning(signature.meaning).label).lower(),
        "status": gettext(SignatureStatus(signature.status).label).lower(),
        "sha256": signature.content_sha256,
    }


def _statement(disposition: BatchDisposition) -> str:
    parts = [disposition.comment] if disposition.comment else []
    seen = (
        disposition.acknowledged
        if disposition.acknowledged is not None
        else (disposition.gate or {}).get("exceptions", [])
    )
    exceptions = [str(f.get("message", "")) for f in seen]
    if exceptions:
        parts.append(
            gettext("Exceptions reviewed at the decision: %(exceptions)s") % {"exceptions": "; ".join(exceptions)}
        )
    return "\n".join(parts)


def batch_record_release(batch: Batch) -> list[ReleaseEntry]:
    """QA's decision and the QP's certification, each with its electronic signature."""
    dispositions = list(
        BatchDisposition.objects.filter(batch=batch).select_related("decided_by").order_by("decided_at")
    )
    signatures: dict[int, list[ElectronicSignature]] = {}
    for s in ElectronicSignature.objects.filter(
        batch=batch, content_type=ContentType.objects.get_for_model(BatchDisposition)
    ).select_related("signer"):
        signatures.setdefault(int(s.object_id), []).append(s)
    entries = []
    for d in dispositions:
        signed = signatures.get(d.pk, [])
        own = next((s for s in signed if s.signer_id == d.decided_by_id), None)
        conditions = []
        if d.positive_result_plan:
            conditions.append(gettext("Plan for a positive result: %(plan)s") % {"plan": d.positive_result_plan})
        if d.pending_tests:
            conditions.append(gettext("Pending at this decision: %(tests)s") % {"tests": ", ".join(d.pending_tests)})
        # The medical director's and the treating physician's signatures on a conditional release.
        conditions += [
            f"{gettext(SignatureMeaning(s.meaning).label)}: {_signature_line(s)}" for s in signed if s is not own
        ]
        if d.references:
            refs = d.references
            conditions.append(
                gettext(
                    "Certified against: EU CT %(number)s, protocol %(protocol)s, sponsor %(sponsor)s, "
                    "sites %(sites)s; %(psf)s"
                )
                % {
                    "number": refs.get("eu_ct_number"),
                    "protocol": refs.get("protocol"),
                    "sponsor": refs.get("sponsor"),
                    "sites": "; ".join(refs.get("sites") or []),
                    "psf": refs.get("psf"),
                }
            )
        entries.append(
            ReleaseEntry(
                decision=gettext(Decision(d.decision).label),
                by=person(d.decided_by),
                at=text(d.decided_at),
                statement=_statement(d),
                conditions="\n".join(conditions),
                signature=_signature_line(own),
                specification=d.specification,
                signed_at=text(own.signed_at) if own else "",
                decision_code=d.decision,
            )
        )
    return entries


def batch_record_coi_id(batch: Batch) -> str | None:
    """The patient's chain-of-identity identifier, allocated at the first collection."""
    return PatientIdentity.objects.filter(patient_id=batch.patient_id).values_list("coi_identifier", flat=True).first()


def batch_record_custody(batch: Batch) -> list[CustodyEntry]:
    events = CustodyEvent.objects.filter(batch=batch).select_related("handed_over_by", "received_by")
    return [
        CustodyEntry(
            hand_off=e.get_kind_display(),
            from_location=e.from_location,
            to_location=e.to_location,
            handed_over_by=person(e.handed_over_by),
            handed_over_at=text(e.handed_over_at),
            temperature_out=_celsius(e.temperature_at_handover_c),
            received_by=person(e.received_by),
            received_at=text(e.received_at),
            temperature_in=_celsius(e.temperature_at_receipt_c),
            scanned=e.scanned_identifier,
            sample=e.sample_reference,
            notes=e.notes,
        )
        for e in events.order_by("handed_over_at", "pk")
    ]


def batch_record_temperature_logs(batch: Batch) -> list[TemperatureLogEntry]:
    """The logger files read at receipt, with their readings (plotted in the record)."""
    logs = ShipmentTemperatureLog.objects.filter(custody_event__batch=batch).select_related("custody_event")
    return [
        TemperatureLogEntry(
            hand_off=log.custody_event.get_kind_display(),
            file_name=log.file_name,
            sha256=log.file_sha256,
            low=str(log.range_low_c),
            high=str(log.range_high_c),
            verdict=(
                gettext(
                    "EXCURSION: %(outside)s min outside %(low)s to %(high)s °C (allowed %(allowed)s min); "
                    "%(minimum)s to %(maximum)s °C"
                )
                if log.excursion
                else gettext(
                    "within range: %(outside)s min outside %(low)s to %(high)s °C (allowed %(allowed)s min); "
                    "%(minimum)s to %(maximum)s °C"
                )
            )
            % {
                "outside": log.minutes_outside,
                "low": formatting.number(log.range_low_c),
                "high": formatting.number(log.range_high_c),
                "allowed": log.allowed_minutes_outside,
                "minimum": formatting.number(log.minimum_c),
                "maximum": formatting.number(log.maximum_c),
            },
            readings=[f"{at} {value}" for at, value in log.readings],
        )
        for log in logs.order_by("custody_event__handed_over_at", "pk")
    ]


def batch_record_identity_scans(batch: Batch) -> list[ScanEntry]:
    """Every identity scan, refused ones included (a refused scan is part of the record)."""
    scans = IdentityScan.objects.filter(batch=batch).select_related("scanned_by").order_by("scanned_at", "pk")
    return [
        ScanEntry(
            point=s.get_point_display(),
            scanned=s.scanned_data,
            expected=s.expected,
            # The words the desk shows; the refusal's message is what was recorded.
            outcome=gettext("match") if s.matched else f"{gettext('REFUSED')}: {s.message}",
            by=person(s.scanned_by),
            at=text(s.scanned_at),
            outcome_code=SCAN_MATCH if s.matched else SCAN_REFUSED,
        )
        for s in scans
    ]


def _bedside_rows(check: BedsideCheck | None) -> list[InfusionEntry]:
    if check is None:
        return []
    rows = [
        InfusionEntry(
            gettext("Bedside identity check: bag and wristband"),
            gettext("bag %(bag)s; wristband %(wristband)s")
            % {"bag": check.scanned_data, "wristband": check.patient_subject_code},
            person(check.checked_by),
            text(check.checked_at),
        )
    ]
    second = gettext("Bedside identity check: second clinician")
    if check.confirmed_by is not None:
        rows.append(
            InfusionEntry(
                second,
                gettext("bag %(bag)s; identity confirmed") % {"bag": check.confirmation_scanned_data},
                person(check.confirmed_by),
                text(check.confirmed_at),
            )
        )
    else:
        rows.append(InfusionEntry(second, gettext("not confirmed")))
    return rows


def _infusion_rows(infusion: Infusion | None) -> list[InfusionEntry]:
    if infusion is None:
        return []
    by = person(infusion.operator)
    rows = [
        InfusionEntry(
            gettext("Left uterine artery"),
            formatting.cells_in(infusion.left_cells, infusion.left_volume_ml),
            by,
            text(infusion.started_at),
        ),
        InfusionEntry(
            gettext("Right uterine artery"),
            formatting.cells_in(infusion.right_cells, infusion.right_volume_ml),
            by,
            text(infusion.started_at),
        ),
        InfusionEntry(
            gettext("Infusion completed"),
            gettext("%(cells)s CD133+ cells in total, started %(minutes)s min after the end of processing")
            % {"cells": formatting.cells(infusion.total_cells), "minutes": infusion.minutes_from_end_of_processing},
            by,
            text(infusion.ended_at),
            infusion.notes,
        ),
    ]
    if infusion.late_entry_reason:
        rows.append(InfusionEntry(gettext("Late entry"), infusion.late_entry_reason, by, text(infusion.recorded_at)))
    if infusion.expired_use_authorization is not None:
        authorization = infusion.expired_use_authorization
        rows.append(
            InfusionEntry(
                gettext("Infused past expiry under authorisation"),
                authorization.deviation_reference,
                person(authorization.authorized_by),
                text(authorization.authorized_at),
            )
        )
    return rows


def batch_record_infusion(batch: Batch) -> list[InfusionEntry]:
    """The two-person bedside identity check and the infusion per uterine artery."""
    check = BedsideCheck.objects.filter(batch=batch).select_related("checked_by", "confirmed_by").first()
    infusion = (
        Infusion.objects.filter(batch=batch)
        .select_related("operator", "expired_use_authorization__authorized_by")
        .first()
    )
    return _bedside_rows(check) + _infusion_rows(infusion)


def batch_record_adverse_events(batch: Batch) -> list[AdverseEventEntry]:
    events = AdverseEvent.objects.filter(batch=batch).select_related("reported_by").order_by("onset_at", "pk")
    return [
        AdverseEventEntry(
            term=e.term,
            grade=str(e.ctcae_grade),
            serious=text(e.serious),
            relatedness=e.get_relatedness_display(),
            phase=e.get_phase_display(),
            onset_at=text(e.onset_at),
            resolved_at=text(e.resolved_at),
            reported_by=person(e.reported_by),
            notes=e.notes,
        )
        for e in events
    ]


def batch_record_expired_use(batch: Batch) -> list[ExpiredUseEntry]:
    authorizations = ExpiredUseAuthorization.objects.filter(batch=batch).select_related("authorized_by")
    return [
        ExpiredUseEntry(
            deviation=a.deviation_reference,
            reason=a.reason,
            valid_until=text(a.valid_until),
            authorized_by=person(a.authorized_by),
            authorized_at=text(a.authorized_at),
        )
        for a in authorizations.order_by("authorized_at", "pk")
    ]


def batch_record_exceptions(batch: Batch) -> list[ExceptionEntry]:
    """Values accepted outside their alert range, and preliminary results, each with its reason."""
    rows = RecordException.objects.filter(batch=batch).select_related("recorded_by")
    return [
        ExceptionEntry(
            source=e.source,
            parameter=e.parameter,
            value=e.value,
            limit=e.limit,
            reason=e.reason,
            by=person(e.recorded_by),
            at=text(e.recorded_at),
        )
        for e in rows.order_by("recorded_at", "pk")
    ]


# A search with at most this many matches reads them by id; one with more reads the list in order.
SEARCH_BY_ID_MAX = 500


def matching_ids(term: str) -> QuerySet[Batch, int]:
    """Ids of the batches whose batch number or subject code starts with ``term`` (any case), as
    ``… UNION ALL …`` so that each half is an index range scan (the batch number and subject code
    prefix indexes): an OR across the batch and patient tables would read every batch."""
    by_number = Batch.objects.filter(batch_number__istartswith=term).order_by().values_list("pk", flat=True)
    by_subject = Batch.objects.filter(patient__subject_code__istartswith=term).order_by().values_list("pk", flat=True)
    return by_number.union(by_subject, all=True)


def batches_matching(queryset: QuerySet[Batch], term: str) -> QuerySet[Batch]:
    """The batches of ``queryset`` whose batch number or subject code starts with ``term`` (any case).

    Few matches (a batch number, a patient's code) are read by id and sorted; many (a short prefix)
    are found by reading the list in its own order, where they are dense enough to fill a page after a
    few thousand rows. Either way the cost does not grow with the table (PostgreSQL, left to join the
    ids with the list, compared every listed row with every match).
    """
    found = list(matching_ids(term)[: SEARCH_BY_ID_MAX + 1])
    if len(found) <= SEARCH_BY_ID_MAX:
        return queryset.filter(pk__in=found)
    return queryset.filter(Q(batch_number__istartswith=term) | Q(patient__subject_code__istartswith=term))


def batch_integrity_findings(batch: Batch) -> list[IntegrityFinding]:
    """What verification runs found broken in this batch's records, newest run first (the batch stays
    flagged while any exists)."""
    return list(IntegrityFinding.objects.filter(batch=batch).select_related("verification"))
