"""Several G-CSF days in one act: recorded together from the ward's log, or verified together.

One password entry and one signed manifest for the act; each day keeps its own signature naming the
manifest, so every record is still signed (batches.services.signatures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from batches.audit import audit_context
from batches.models import GcsfAdministration
from batches.models.signatures import SignatureManifest, SignatureMeaning
from batches.roles import Role, require_role
from batches.services.actions import StateAction
from batches.services.common import confirm_password, lock_batch, row_error
from batches.services.signatures import manifest_open, manifest_seal, signatures_sign_manifest
from batches.services.steps import step_record, verifier_independent
from batches.states import BatchStatus

VERIFY_GCSF_DAYS = StateAction(
    slug="verify-gcsf-days",
    label=gettext_noop("Verify all open G-CSF days"),
    roles=(Role.VERIFIER,),
    source=(BatchStatus.MOBILIZATION,),
    needs_password=True,
)


@transaction.atomic
def gcsf_days_record(
    *,
    actor: User,
    batch_id: int,
    password: str,
    days: list[dict[str, Any]],
    otp_token: str = "",
    lots: Sequence[str] = (),
    equipment: Sequence[str] = (),
) -> SignatureManifest:
    """Record several G-CSF days (transcribed from the ward's log) in one act: one password, one manifest.

    Every rule of a single day applies to each, the scans of the course's lots and equipment included;
    one refused day refuses them all, its errors named ``day<N>-<field>``.
    """
    require_role(actor, Role.OPERATOR, action="Recording G-CSF administrations")
    if not days:
        raise ValidationError("Enter the administration time of at least one day.")
    confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    numbers = ", ".join(str(values["day"]) for values in days)
    manifest = manifest_open(
        signer=actor,
        meaning=SignatureMeaning.PERFORMED,
        batch=batch,
        statement=f"Recorded G-CSF days {numbers} of batch {batch.batch_number}",
    )
    for values in days:
        try:
            step_record(
                kind="gcsf",
                batch_id=batch.pk,
                actor=actor,
                password=password,
                values=values,
                password_checked=True,
                manifest=manifest,
                lots=lots,
                equipment=equipment,
            )
        except ValidationError as error:
            raise row_error(error, f"day{values['day']}") from None
    return manifest_seal(manifest=manifest, signer=actor, password=password)


@VERIFY_GCSF_DAYS.implemented_by
@transaction.atomic
def gcsf_days_verify(*, actor: User, batch_id: int, password: str, otp_token: str = "") -> SignatureManifest:
    """Verify every recorded, unverified G-CSF day of the batch in one act: one password, one manifest.

    Each day still gets its own verification signature (naming the manifest); one day the verifier
    performed or corrected refuses the whole act.
    """
    batch = VERIFY_GCSF_DAYS.guard(actor, batch_id)
    days = list(
        GcsfAdministration.objects.select_for_update().filter(batch=batch, verified_by__isnull=True).order_by("day")
    )
    if not days:
        raise ValidationError(f"Batch {batch.batch_number} has no G-CSF day awaiting verification.")
    for day in days:
        verifier_independent(day, actor, f"G-CSF day {day.day}")
    confirm_password(actor, password, otp_token=otp_token, purpose="sign as verified")
    now = timezone.now()
    with audit_context(actor, reason="verify G-CSF administrations (one act)"):
        for day in days:
            day.verified_by = actor
            day.verified_at = now
            day.save(update_fields=["verified_by", "verified_at"])
    return signatures_sign_manifest(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.VERIFIED,
        batch=batch,
        statement=f"Verified G-CSF days {', '.join(str(d.day) for d in days)} of batch {batch.batch_number}",
        records=days,
    )
