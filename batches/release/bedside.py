"""The two-person bedside identity check (batches.release.delivery records the infusion that follows it).

- ``bedside_check_scan``: the first clinician scans the bag and the patient's wristband. The scan is
  recorded at once, attributed and audited; it is signed by its clinician either then (a password given),
  or later with the infusion they record (one password entry, one signed manifest of both records), or
  on its own with ``bedside_check_sign``.
- ``bedside_check_confirm``: a second clinician scans both again, independently, and signs (verified).
- ``bedside_check_sign``: the first clinician's signature of their scan (performed), the one way it is
  signed, whether alone, at the scan or inside the infusion's manifest.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, BedsideCheck, ElectronicSignature
from batches.models.custody import HandOff, ScanPoint
from batches.models.signatures import SignatureManifest, SignatureMeaning, SignatureStatus
from batches.roles import Role, require_role
from batches.services.common import confirm_password, lock_batch, require_status
from batches.services.custody import require_within_shelf_life
from batches.services.scans import KeyedOverride, record_matched_scan, require_matching_scan, require_wristband
from batches.services.signatures import signature_sign
from batches.services.training import training_require
from batches.states import BatchStatus


def bedside_preconditions(batch: Batch, *, action: str) -> None:
    """Dispatched, received in radiology and not held: the bedside check and the infusion may proceed."""
    require_status(batch, BatchStatus.DISPATCHED, action=action)
    receipt = batch.custody_events.filter(kind=HandOff.LAB_TO_RADIOLOGY, received_at__isnull=False).first()
    if receipt is None:
        raise StateConflict(
            gettext("%(action)s: radiology has not received batch %(batch_number)s (receipt scan missing).")
            % {"action": action, "batch_number": batch.batch_number}
        )
    if receipt.held:
        raise StateConflict(
            gettext("%(action)s: batch %(batch_number)s was received on hold. %(hold_reason)s")
            % {"action": action, "batch_number": batch.batch_number, "hold_reason": receipt.hold_reason}
        )


def first_scan_signed(check: BedsideCheck) -> bool:
    """Whether the first clinician has signed their scan (a valid *performed* signature of the check)."""
    return ElectronicSignature.objects.filter(
        content_type=ContentType.objects.get_for_model(BedsideCheck),
        object_id=check.pk,
        meaning=SignatureMeaning.PERFORMED,
        status=SignatureStatus.VALID,
    ).exists()


def _refuse_second_start(batch: Batch) -> None:
    if BedsideCheck.objects.filter(batch=batch).exists():
        raise StateConflict(
            gettext("The bedside check of batch %(batch_number)s is already started; confirm it.")
            % {"batch_number": batch.batch_number}
        )


def bedside_check_scan(
    *,
    actor: User,
    batch_id: int,
    scanned_data: str,
    patient_subject_code: str,
    password: str = "",
    otp_token: str = "",
    override: KeyedOverride | None = None,
) -> BedsideCheck:
    """First half of the bedside check: scan the bag and read the patient's wristband.

    With ``password`` the scan is signed now; without it, it is recorded (attributed, audited, time-stamped)
    and its clinician signs it later, with the infusion or on its own (``bedside_check_sign``)."""
    require_role(actor, Role.CLINICIAN, action="The bedside identity check")
    if password:
        confirm_password(actor, password, otp_token=otp_token)
    batch = Batch.objects.select_related("patient", "process_definition").get(pk=batch_id)
    bedside_preconditions(batch, action="The bedside identity check")
    training_require(actor, batch.process_definition, "bedside_check")
    _refuse_second_start(batch)
    require_within_shelf_life(batch, timezone.now(), action="The bedside identity check")
    require_matching_scan(
        batch=batch, point=ScanPoint.BEDSIDE, actor=actor, scanned_data=scanned_data, override=override
    )
    code = require_wristband(batch, actor=actor, point=ScanPoint.BEDSIDE, code=patient_subject_code)
    return _bedside_check_open(
        actor=actor, batch_id=batch.pk, scanned_data=scanned_data, code=code, password=password, override=override
    )


@transaction.atomic
def _bedside_check_open(
    *, actor: User, batch_id: int, scanned_data: str, code: str, password: str, override: KeyedOverride | None
) -> BedsideCheck:
    batch = lock_batch(batch_id)
    bedside_preconditions(batch, action="The bedside identity check")
    _refuse_second_start(batch)
    with audit_context(actor, reason="bedside identity check: bag and patient scanned"):
        record_matched_scan(
            batch=batch, point=ScanPoint.BEDSIDE, actor=actor, scanned_data=scanned_data, override=override
        )
        check = BedsideCheck.objects.create(
            batch=batch, patient_subject_code=code, scanned_data=scanned_data.strip()[:80], checked_by=actor
        )
    if password:
        bedside_check_sign(actor=actor, batch_id=batch.pk, password=password, password_checked=True)
    return check


@transaction.atomic
def bedside_check_sign(
    *,
    actor: User,
    batch_id: int,
    password: str,
    otp_token: str = "",
    password_checked: bool = False,
    manifest: SignatureManifest | None = None,
) -> BedsideCheck:
    """The first clinician signs their bedside scan (performed): only they, only once, before the infusion.

    ``manifest``: signed in the act that records the infusion (the caller checked the password)."""
    require_role(actor, Role.CLINICIAN, action="Signing the bedside scan")
    if not password_checked:
        confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    check = BedsideCheck.objects.select_related("checked_by").filter(batch=batch).first()
    if check is None:
        raise StateConflict(gettext("Nothing to sign: nobody has scanned the bag at the bedside."))
    if check.checked_by_id != actor.pk:
        raise PermissionDenied(
            gettext("%(who)s made the first bedside scan; only they sign it.") % {"who": check.checked_by}
        )
    if first_scan_signed(check):
        raise StateConflict(
            gettext("The bedside scan of batch %(batch_number)s is already signed.")
            % {"batch_number": batch.batch_number}
        )
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.PERFORMED,
        target=check,
        batch=batch,
        manifest=manifest,
    )
    return check


def bedside_check_confirm(
    *,
    actor: User,
    batch_id: int,
    scanned_data: str,
    patient_subject_code: str,
    password: str,
    otp_token: str = "",
    override: KeyedOverride | None = None,
) -> BedsideCheck:
    """Second half: a different clinician scans the bag and the wristband again, independently (signed)."""
    require_role(actor, Role.CLINICIAN, action="Confirming the bedside identity check")
    confirm_password(actor, password, otp_token=otp_token)
    check = BedsideCheck.objects.select_related("batch").filter(batch_id=batch_id).first()
    if check is None:
        raise StateConflict(gettext("Nothing to confirm: the first clinician has not scanned the bag at the bedside."))
    if check.checked_by_id == actor.pk:
        raise PermissionDenied(
            gettext("You made the first bedside scan; a second clinician must confirm the identity.")
        )
    if check.is_confirmed:
        raise StateConflict(
            gettext("The bedside check of batch %(batch_number)s is already confirmed.")
            % {"batch_number": check.batch.batch_number}
        )
    bedside_preconditions(check.batch, action="Confirming the bedside identity check")
    training_require(actor, check.batch.process_definition, "bedside_check", performing=False)
    point = ScanPoint.BEDSIDE_CONFIRMATION
    require_matching_scan(batch=check.batch, point=point, actor=actor, scanned_data=scanned_data, override=override)
    code = require_wristband(check.batch, actor=actor, point=point, code=patient_subject_code)
    return _bedside_check_confirmed(
        actor=actor, batch_id=batch_id, scanned_data=scanned_data, code=code, password=password, override=override
    )


@transaction.atomic
def _bedside_check_confirmed(
    *, actor: User, batch_id: int, scanned_data: str, code: str, password: str, override: KeyedOverride | None
) -> BedsideCheck:
    batch = lock_batch(batch_id)
    check = BedsideCheck.objects.select_for_update().get(batch=batch)
    if check.is_confirmed or check.checked_by_id == actor.pk:
        raise StateConflict(
            gettext("The bedside check of batch %(batch_number)s cannot be confirmed by you now.")
            % {"batch_number": batch.batch_number}
        )
    with audit_context(actor, reason="bedside identity check: second person confirmed"):
        record_matched_scan(
            batch=batch, point=ScanPoint.BEDSIDE_CONFIRMATION, actor=actor, scanned_data=scanned_data, override=override
        )
        check.confirmation_scanned_data = scanned_data.strip()[:80]
        check.confirmation_patient_subject_code = code
        check.confirmed_by = actor
        check.confirmed_at = timezone.now()
        check.save(
            update_fields=[
                "confirmation_scanned_data",
                "confirmation_patient_subject_code",
                "confirmed_by",
                "confirmed_at",
            ]
        )
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.VERIFIED,
        target=check,
        batch=batch,
    )
    return check
