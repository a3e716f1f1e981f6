"""Several QC results in one act: the analyst records a sample's results, the reviewer reviews them.

One password entry signs a manifest of every record (batches.services.signatures): each result still
has its own signature, naming the manifest, and the manifest lists each result with its hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from batches.audit import audit_context
from batches.models.signatures import SignatureManifest, SignatureMeaning
from batches.roles import Role, require_role
from batches.services.actions import StateAction
from batches.services.common import confirm_password, lock_batch, row_error
from batches.services.signatures import manifest_open, manifest_seal, signatures_sign_manifest
from batches.states import BatchStatus
from qc.evaluation import TEST_LABELS, QcTest
from qc.models import QcResult, QcSample
from qc.services.testing import RESULT_STATES, qc_result_record, qc_sample_record

S = BatchStatus
REVIEW_RESULTS = StateAction(
    slug="review-results",
    label=gettext_noop("Review all open QC results"),
    roles=(Role.VERIFIER,),
    source=tuple(sorted(RESULT_STATES, key=list(BatchStatus).index)),
    needs_password=True,
)


def _label(test: str) -> str:
    try:
        return TEST_LABELS[QcTest(test)]
    except (ValueError, KeyError):
        return test


@transaction.atomic
def qc_sample_results_record(
    *,
    actor: User,
    results: list[dict[str, Any]],
    tested_at: datetime,
    password: str,
    sample_id: int | None = None,
    new_sample: dict[str, Any] | None = None,
    otp_token: str = "",
    late_entry_reason: str = "",
) -> SignatureManifest:
    """Record several results of one sample, signed in one act by the analyst (one password entry).

    ``results`` are dicts of qc_result_record's arguments (test, value, unit, method, instrument); every
    rule of a single result applies to each. One refused row refuses the whole act: nothing is written.
    ``new_sample``: qc_sample_record's arguments (batch_id, step, sample_code, taken_at) when the sample
    is recorded in the same act, instead of an existing ``sample_id``.
    """
    require_role(actor, Role.QC_ANALYST, action="Recording QC results")
    if not results:
        raise ValidationError(gettext("Enter at least one result."))
    confirm_password(actor, password, otp_token=otp_token, purpose="sign as performed")
    if new_sample is not None:
        # One late-entry reason for the act: it covers the sample's time as well as the results' time.
        sample_id = qc_sample_record(actor=actor, **{"late_entry_reason": late_entry_reason, **new_sample}).pk
    if sample_id is None:
        raise ValidationError(gettext("Name the sample of these results, or record a new one with them."))
    sample = QcSample.objects.select_related("batch").get(pk=sample_id)
    batch = lock_batch(sample.batch_id)
    tests = ", ".join(_label(r["test"]) for r in results)
    manifest = manifest_open(
        signer=actor,
        meaning=SignatureMeaning.PERFORMED,
        batch=batch,
        statement=f"Recorded {tests} of sample {sample.sample_code}"[:200],
    )
    for row in results:
        try:
            qc_result_record(
                actor=actor,
                sample_id=sample.pk,
                tested_at=tested_at,
                late_entry_reason=late_entry_reason,
                password=password,
                password_checked=True,
                manifest=manifest,
                **row,
            )
        except ValidationError as error:
            raise row_error(error, row["test"], _label(row["test"])) from None
    return manifest_seal(manifest=manifest, signer=actor, password=password)


@REVIEW_RESULTS.implemented_by
@transaction.atomic
def qc_results_review(
    *, actor: User, batch_id: int, password: str, sample_id: int | None = None, otp_token: str = ""
) -> SignatureManifest:
    """Review every unreviewed result of the batch (or of one of its samples) in one act.

    A result the reviewer recorded refuses the whole act (a second person reviews it).
    """
    batch = REVIEW_RESULTS.guard(actor, batch_id)
    open_results = QcResult.objects.select_for_update().filter(batch=batch, verified_by__isnull=True)
    if sample_id is not None:
        open_results = open_results.filter(sample_id=sample_id)
    pending = list(open_results.order_by("pk"))
    if not pending:
        raise ValidationError(
            gettext("Batch %(batch_number)s has no QC result awaiting review.") % {"batch_number": batch.batch_number}
        )
    own = [r for r in pending if r.analyst_id == actor.pk]
    if own:
        raise PermissionDenied(
            f"You recorded {', '.join(r.get_test_display() for r in own)}; a second person must review "
            "it. Nothing was signed."
        )
    confirm_password(actor, password, otp_token=otp_token, purpose="sign as verified")
    now = timezone.now()
    with audit_context(actor, reason="review QC results (one act)"):
        for result in pending:
            result.verified_by = actor
            result.verified_at = now
            result.save(update_fields=["verified_by", "verified_at"])
    where = f"sample {pending[0].sample.sample_code}" if sample_id is not None else f"batch {batch.batch_number}"
    return signatures_sign_manifest(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.VERIFIED,
        batch=batch,
        statement=f"Reviewed {len(pending)} QC results of {where}",
        records=pending,
    )
