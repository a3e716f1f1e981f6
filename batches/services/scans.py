"""Identity scans that prove themselves: scanned or keyed, matched or refused, and who overrode a keyed entry.

- A scan carries the ISBT 128 data identifier and the flag characters (``=G12341765432170``): a scanner
  read the barcode, and the flags checked it. Anything else (the bare DIN, the DIN and its boxed check
  character) was keyed by hand, and a keyed identity is accepted only with a second person's override
  signature and a reason (``KeyedOverride``).
- A refused scan is written in its own transaction before the step is blocked, so the attempt stays on
  record. When it is a mismatch (another product, another patient), ``identity_mismatch`` is sent in that
  transaction: the QC app opens the chain-of-identity deviation and alerts QA and the treating physician.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import gettext

from batches import isbt128
from batches.audit import audit_context, require_reason
from batches.models import Batch, CustodyEvent, IdentityScan, ScanEntry
from batches.models.custody import ScanPoint
from batches.models.signatures import SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign

# Sent with ``scan`` (the refused IdentityScan) inside the transaction that writes it.
identity_mismatch = Signal()


@dataclass(frozen=True)
class KeyedOverride:
    """A second person's signature over a keyed identity: who, their password, and why it was keyed."""

    username: str
    password: str
    reason: str
    otp_token: str = ""


def scan_entry(scanned_data: str) -> ScanEntry:
    """Scanned when the data carries the DIN's data identifier and its two flag characters, else keyed."""
    raw = (scanned_data or "").strip()
    if raw.startswith(isbt128.DIN_DATA_IDENTIFIER) and len(raw) == 16 and raw[-2:].isdigit():
        return ScanEntry.SCANNED
    return ScanEntry.KEYED


def scan_refusal(batch: Batch, scanned_data: str) -> tuple[str, bool] | None:
    """Why ``scanned_data`` does not identify ``batch`` and whether it names another product (None: it does)."""
    if not batch.din:
        return f"Batch {batch.batch_number} has no DIN yet; it cannot be identified by scan.", False
    try:
        scanned = isbt128.parse_din_scan(scanned_data)
    except isbt128.IdentifierError as exc:
        return str(exc), False
    if scanned.value != batch.din:
        return (
            f"Wrong product: the scan reads DIN {scanned.value} but batch {batch.batch_number} is DIN {batch.din}. "
            "Stop: do not accept or use this bag.",
            True,
        )
    return None


def record_refused_scan(
    *,
    batch: Batch,
    point: ScanPoint,
    actor: User,
    scanned_data: str,
    message: str,
    event: CustodyEvent | None = None,
    mismatch: bool = False,
) -> IdentityScan:
    """Write the refused scan in its own transaction, so that it stays when the step is then blocked."""
    with transaction.atomic(), audit_context(actor, reason=f"identity scan refused: {message}"):
        scan = IdentityScan.objects.create(
            batch=batch,
            point=point,
            custody_event=event,
            scanned_data=(scanned_data or "")[:80],
            expected=batch.din or "",
            matched=False,
            message=message,
            entry=scan_entry(scanned_data),
            scanned_by=actor,
        )
        if mismatch:
            identity_mismatch.send(sender=IdentityScan, scan=scan, actor=actor)
    return scan


KEYED_REFUSAL = (
    "The DIN was keyed by hand (no barcode data identifier and flag characters): a keyed identity needs a "
    "second person's override signature with a reason. Scan the barcode, or ask for the override."
)


def override_signer(actor: User, override: KeyedOverride | None) -> User:
    """The second person of a keyed identity, password re-checked; refused when it is the person who keyed."""
    if override is None:
        raise ValidationError({"scanned_data": KEYED_REFUSAL})
    signer = User.objects.filter(username=override.username.strip(), is_active=True).first()
    if signer is None:
        raise ValidationError(
            {"override_username": gettext("No active user %(username)s.") % {"username": f"{override.username!r}"}}
        )
    if signer.pk == actor.pk:
        raise PermissionDenied(
            gettext("A keyed identity is confirmed by a second person, not by the person who keyed it.")
        )
    require_reason(override.reason, what="accept a keyed identity")
    confirm_password(signer, override.password, otp_token=override.otp_token, purpose="override a keyed identity")
    return signer


def require_matching_scan(
    *,
    batch: Batch,
    point: ScanPoint,
    actor: User,
    scanned_data: str,
    event: CustodyEvent | None = None,
    override: KeyedOverride | None = None,
    field: str = "scanned_data",
) -> None:
    """Block the step on a scan that does not identify ``batch``, or is keyed without an override."""
    refusal = scan_refusal(batch, scanned_data)
    if refusal is None and scan_entry(scanned_data) == ScanEntry.KEYED and override is None:
        refusal = (KEYED_REFUSAL, False)
    if refusal is not None:
        message, mismatch = refusal
        record_refused_scan(
            batch=batch,
            point=point,
            actor=actor,
            scanned_data=scanned_data,
            message=message,
            event=event,
            mismatch=mismatch,
        )
        raise ValidationError({field: message})


def record_matched_scan(
    *,
    batch: Batch,
    point: ScanPoint,
    actor: User,
    scanned_data: str,
    event: CustodyEvent | None = None,
    override: KeyedOverride | None = None,
) -> IdentityScan:
    """Record a matching scan (in the caller's transaction); a keyed one carries its override signature."""
    entry = scan_entry(scanned_data)
    signer = override_signer(actor, override) if entry == ScanEntry.KEYED else None
    scan = IdentityScan.objects.create(
        batch=batch,
        point=point,
        custody_event=event,
        scanned_data=scanned_data.strip()[:80],
        expected=batch.din or "",
        matched=True,
        entry=entry,
        override_by=signer,
        override_reason=override.reason.strip() if signer and override else "",
        scanned_by=actor,
    )
    if signer is not None and override is not None:
        signature_sign(
            signer=signer,
            password=override.password,
            password_checked=True,
            meaning=SignatureMeaning.VERIFIED,
            target=scan,
            batch=batch,
        )
    return scan


def wristband_refusal(batch: Batch, code: str) -> str | None:
    """Why the wristband read ``code`` is not the batch's patient (None when it is)."""
    code = (code or "").strip().upper()
    if code == batch.patient.subject_code:
        return None
    return (
        f"Wrong patient: the wristband reads {code or '(nothing)'} but batch {batch.batch_number} belongs to "
        f"{batch.patient.subject_code}. Stop: do not infuse."
    )


def require_wristband(batch: Batch, *, actor: User, point: ScanPoint, code: str) -> str:
    """The patient's wristband must carry the batch's subject code; a mismatch is refused and reported."""
    message = wristband_refusal(batch, code)
    cleaned = (code or "").strip().upper()
    if message is not None:
        record_refused_scan(
            batch=batch, point=point, actor=actor, scanned_data=f"patient:{cleaned}", message=message, mismatch=True
        )
        raise ValidationError({"patient_subject_code": message})
    return cleaned


@dataclass(frozen=True)
class ScanCheck:
    """The answer to a scan as it is made, before the form is sent: accepted, or refused and why."""

    ok: bool
    message: str
    keyed: bool = False


CHECK_ROLES = {
    ScanPoint.RECEIPT: (Role.OPERATOR, Role.QC_ANALYST, Role.CLINICIAN),
    ScanPoint.BEDSIDE: (Role.CLINICIAN,),
    ScanPoint.BEDSIDE_CONFIRMATION: (Role.CLINICIAN,),
}


def scan_check(*, actor: User, batch_id: int, point: str, kind: str, value: str) -> ScanCheck:
    """Check one scan on its own (the scanner's Enter): a refusal is recorded, a mismatch reported."""
    require_role(actor, *CHECK_ROLES[ScanPoint.RECEIPT], action="Scanning an identity")
    if point not in CHECK_ROLES:
        raise ValidationError({"point": gettext("Unknown scan point %(point)s.") % {"point": f"{point!r}"}})
    require_role(actor, *CHECK_ROLES[ScanPoint(point)], action="Scanning an identity")
    batch = Batch.objects.select_related("patient").get(pk=batch_id)
    if kind == "wristband":
        try:
            require_wristband(batch, actor=actor, point=ScanPoint(point), code=value)
        except ValidationError as refused:
            return ScanCheck(False, " ".join(refused.messages))
        return ScanCheck(True, f"Patient {batch.patient.subject_code}: matches batch {batch.batch_number}.")
    if kind != "din":
        raise ValidationError({"kind": gettext("A scan is a DIN (bag) or a wristband.")})
    refusal = scan_refusal(batch, value)
    if refusal is not None:
        message, mismatch = refusal
        record_refused_scan(
            batch=batch, point=ScanPoint(point), actor=actor, scanned_data=value, message=message, mismatch=mismatch
        )
        return ScanCheck(False, message)
    if scan_entry(value) == ScanEntry.KEYED:
        return ScanCheck(True, f"DIN {batch.din} keyed by hand: a second person's override is needed.", keyed=True)
    return ScanCheck(True, f"DIN {batch.din}: matches batch {batch.batch_number}.")
