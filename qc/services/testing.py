"""QC samples and results: recorded by QC, reviewed by a second person; OOS opens a deviation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, ExceptionKind
from batches.models.signatures import SignatureManifest, SignatureMeaning
from batches.roles import Role, require_role
from batches.services import record_limits as rl
from batches.services.common import check_event_time, confirm_password, lock_batch
from batches.services.signatures import signature_sign
from batches.services.step_inputs import Window, equipment_check, equipment_uses_record
from batches.services.training import training_require
from batches.states import BatchStatus
from qc.evaluation import (
    COMPUTED_TESTS,
    TEST_LABELS,
    QcTest,
    Verdict,
    evaluate,
    plain,
    viable_cd133_dose,
)
from qc.gate import production_people
from qc.models import QcResult, QcSample, SampleStep, SpecificationLimit
from qc.queries import specification_for_batch, was_released
from qc.services.deviations import deviation_open_for_oos
from qc.services.result_checks import check_repeat, parse_value, too_early

SAMPLE_STATES = frozenset({BatchStatus.COLLECTION, BatchStatus.PROCESSING, BatchStatus.QUARANTINE})
# Results keep arriving after release (the 14-day sterility culture), so those states accept them.
RESULT_STATES = frozenset(
    {
        BatchStatus.PROCESSING,
        BatchStatus.QUARANTINE,
        BatchStatus.AWAITING_CERTIFICATION,
        BatchStatus.RELEASED,
        BatchStatus.CONDITIONALLY_RELEASED,
        BatchStatus.REJECTED,
        BatchStatus.DISPATCHED,
        BatchStatus.INFUSED,
        BatchStatus.CLOSED,
    }
)


def _require_state(batch: Batch, allowed: frozenset[BatchStatus], *, action: str) -> None:
    if batch.status not in allowed:
        raise StateConflict(
            f"{action} is not possible while batch {batch.batch_number} is {BatchStatus(batch.status).label.lower()}."
        )


@transaction.atomic
def qc_sample_record(
    *,
    actor: User,
    batch_id: int,
    step: str,
    sample_code: str,
    taken_at: datetime,
    late_entry_reason: str = "",
    volume_ml: Decimal = Decimal(0),
) -> QcSample:
    """Record a sample drawn from the batch (which step, when, by whom, how much: the infusion reconciles it)."""
    require_role(actor, Role.QC_ANALYST, Role.OPERATOR, action="Recording a QC sample")
    batch = lock_batch(batch_id)
    _require_state(batch, SAMPLE_STATES, action="Taking a QC sample")
    training_require(actor, batch.process_definition, "qc_testing")
    if step not in SampleStep.values:
        raise ValidationError({"step": f"Unknown sampling step {step!r}; one of {', '.join(SampleStep.values)}."})
    check_event_time(taken_at, field="taken_at", late_entry_reason=late_entry_reason)
    # A sample of a product cannot be drawn before the product exists (the process definition's order).
    out_of_order = rl.order_errors(batch, {f"{step}_sampled": taken_at}, fields={f"{step}_sampled": "taken_at"})
    if out_of_order:
        raise ValidationError(out_of_order)
    code = sample_code.strip()
    if not code:
        raise ValidationError({"sample_code": _("The sample label is required.")})
    if QcSample.objects.filter(sample_code=code).exists():
        raise ValidationError({"sample_code": f"Sample {code} is already recorded."})
    volume = Decimal(volume_ml or 0)
    if not volume.is_finite() or volume < 0:
        raise ValidationError({"volume_ml": "The volume drawn is a non-negative number of mL."})
    with audit_context(actor, reason="QC sample taken"):
        return QcSample.objects.create(
            batch=batch,
            step=step,
            sample_code=code,
            volume_ml=volume,
            taken_at=taken_at,
            taken_by=actor,
            late_entry_reason=late_entry_reason.strip(),
        )


def _store(
    *,
    batch: Batch,
    sample: QcSample,
    limit: SpecificationLimit,
    value: Decimal | str,
    verdict: Verdict,
    **fields: object,
) -> QcResult:
    result = QcResult(
        batch=batch,
        sample=sample,
        limit=limit,
        test=limit.test,
        numeric_value=value if isinstance(value, Decimal) else None,
        text_value=value if isinstance(value, str) else "",
        verdict=verdict,
        recorded_after_release=was_released(batch),
        **fields,
    )
    # Lengths and choices of what was typed (the numeric value was checked when it was parsed).
    result.clean_fields(exclude=["numeric_value"])
    result.save()
    return result


@transaction.atomic
def qc_result_record(
    *,
    actor: User,
    sample_id: int,
    test: str,
    value: object,
    unit: str = "",
    method: str = "",
    instrument: str = "",
    tested_at: datetime,
    password: str,
    investigation_id: int | None = None,
    late_entry_reason: str = "",
    otp_token: str = "",
    preliminary_reason: str = "",
    password_checked: bool = False,
    manifest: SignatureManifest | None = None,
    equipment: Sequence[str] = (),
) -> QcResult:
    """Record a result signed by the analyst; the verdict is computed, and an OOS opens a deviation.

    A viability result also records the calculated viable CD133+ dose when the specification has it.
    A value outside the process definition's hard range is refused; a result before its method's minimum
    duration is refused, or recorded as preliminary with ``preliminary_reason`` (an exception for QA).
    ``manifest``: the result is one of several signed in one act (qc.services.sample_results). The
    instruments scanned for the test (``equipment``) must be in service and calibrated on the day of the
    test; each use joins the item's use log.
    """
    require_role(actor, Role.QC_ANALYST, action="Recording a QC result")
    if not password_checked:
        confirm_password(actor, password, otp_token=otp_token)
    sample = QcSample.objects.get(pk=sample_id)
    batch = lock_batch(sample.batch_id)
    _require_state(batch, RESULT_STATES, action="Recording a QC result")
    training_require(actor, batch.process_definition, "qc_testing")
    if batch.status == BatchStatus.CLOSED and not was_released(batch):
        raise StateConflict(f"Batch {batch.batch_number} is closed without release; no result is recorded.")
    try:
        qc_test = QcTest(test)
    except ValueError:
        raise ValidationError({"test": f"Unknown QC test {test!r}."}) from None
    if qc_test in COMPUTED_TESTS:
        raise ValidationError({"test": f"{TEST_LABELS[qc_test]} is calculated from viability; record viability."})
    specification = specification_for_batch(batch)
    if specification is None:
        raise ValidationError(_("No approved QC specification was effective when this batch entered processing."))
    limit = specification.limits.filter(test=qc_test).first()
    if limit is None:
        raise ValidationError({"test": f"{specification} has no limit for {TEST_LABELS[qc_test]}."})
    check_event_time(tested_at, field="tested_at", late_entry_reason=late_entry_reason)
    parsed = parse_value(qc_test, value)
    out_of_range, _alerts = rl.parameter_errors(
        batch, {qc_test.value: parsed}, prefix="qc", fields={qc_test.value: "value"}
    )
    if out_of_range:
        raise ValidationError(out_of_range)
    unit = unit.strip() if not limit.is_categorical else ""
    try:
        verdict = evaluate(limit.as_limit(), parsed, unit=unit)
    except ValueError as error:
        raise ValidationError({"unit": f"{TEST_LABELS[qc_test]}: {error}."}) from None
    # A culture that grows, or a contaminant detected, is reported when seen; a negative one only after the
    # method's full duration.
    seen_early = limit.is_categorical and verdict == Verdict.OOS
    early = None if seen_early else too_early(batch, sample, qc_test, tested_at)
    if early is not None and not preliminary_reason.strip():
        raise ValidationError(
            {
                "tested_at": _("%(refusal)s. Record it as preliminary, with a reason, if it is a preliminary reading.")
                % {"refusal": early[0]}
            }
        )
    investigation = check_repeat(batch, qc_test, investigation_id)
    instruments = equipment_check(equipment, until=tested_at)
    common = {
        "analyst": actor,
        "tested_at": tested_at,
        "investigation": investigation,
        "late_entry_reason": late_entry_reason.strip(),
        "preliminary": early is not None,
    }
    with audit_context(actor, reason=f"record {TEST_LABELS[qc_test]} result"):
        result = _store(
            batch=batch,
            sample=sample,
            limit=limit,
            value=parsed,
            verdict=verdict,
            unit=unit,
            method=method.strip() or limit.method,
            instrument=instrument.strip(),
            **common,
        )
        recorded = [result]
        dose_limit = specification.limits.filter(test=QcTest.VIABLE_CD133_DOSE).first()
        if qc_test == QcTest.VIABILITY and dose_limit is not None:
            recorded.append(_record_dose(batch, sample, dose_limit, result, common))
        if early is not None:
            rl.exceptions_record(
                batch=batch,
                actor=actor,
                source=f"QC result {sample.sample_code}",
                findings=[early[1]],
                reason=preliminary_reason,
                kind=ExceptionKind.PRELIMINARY_RESULT,
            )
    equipment_uses_record(
        instruments, batch=batch, kind=f"qc:{qc_test}", target=result, window=Window(tested_at, tested_at), actor=actor
    )
    for each in recorded:
        # Sign what the database holds (a decimal is stored with the column's scale).
        each.refresh_from_db()
        signature_sign(
            signer=actor,
            password=password,
            password_checked=True,
            meaning=SignatureMeaning.PERFORMED,
            target=each,
            batch=batch,
            manifest=manifest,
        )
        if each.verdict == Verdict.OOS:
            deviation_open_for_oos(result=each, actor=actor)
    return result


def _record_dose(
    batch: Batch, sample: QcSample, limit: SpecificationLimit, viability: QcResult, common: dict[str, object]
) -> QcResult:
    selection = getattr(batch, "selection", None)
    if selection is None:
        raise ValidationError(_("The viable CD133+ dose needs the CD133+ selection's output cell count."))
    if viability.numeric_value is None:
        raise ValidationError({"value": f"{TEST_LABELS[QcTest.VIABILITY]} has no numeric value to dose from."})
    try:
        dose = viable_cd133_dose(total_cd133_cells=selection.output_cd133_cells, viability_pct=viability.numeric_value)
    except ValueError as error:  # e.g. a viability above 100 %: the dose cannot be calculated from it
        raise ValidationError({"value": f"{TEST_LABELS[QcTest.VIABILITY]}: {error}."}) from None
    unit = limit.unit
    verdict = evaluate(limit.as_limit(), dose, unit=unit)
    return _store(
        batch=batch,
        sample=sample,
        limit=limit,
        value=dose,
        verdict=verdict,
        unit=unit,
        method=limit.method,
        computed_from=(
            f"{selection.output_cd133_cells} CD133+ cells (selection output) × "
            f"{plain(viability.numeric_value)} % viability (result #{viability.pk})"
        ),
        **common,
    )


@transaction.atomic
def qc_result_review(*, reviewer: User, result_id: int, password: str, otp_token: str = "") -> QcResult:
    """Second-person review of a result (signed, meaning verified); afterwards it is read-only."""
    require_role(reviewer, Role.VERIFIER, action="Reviewing a QC result")
    confirm_password(reviewer, password, otp_token=otp_token)
    result = QcResult.objects.select_for_update().get(pk=result_id)
    batch = lock_batch(result.batch_id)
    training_require(reviewer, batch.process_definition, "qc_review", performing=False)
    if result.is_verified:
        raise ValidationError(f"{result} is already reviewed.")
    if result.analyst_id == reviewer.pk:
        raise PermissionDenied(_("You recorded this result; a second person must review it."))
    if reviewer.pk in production_people(batch):
        raise PermissionDenied(
            f"You performed or verified a manufacturing step of batch {batch.batch_number}; "
            "QC results are reviewed by someone independent of production."
        )
    with audit_context(reviewer, reason=f"review {TEST_LABELS[QcTest(result.test)]} result"):
        result.verified_by = reviewer
        result.verified_at = timezone.now()
        result.save(update_fields=["verified_by", "verified_at"])
    signature_sign(
        signer=reviewer,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.VERIFIED,
        target=result,
        batch=batch,
    )
    return result
