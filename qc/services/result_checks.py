"""What a QC result is checked against before it is stored: its value, its method's minimum duration, and
whether a repeat is allowed (qc.services.testing records it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from batches.master_limits import AlertFinding, duration_text
from batches.models import Batch
from batches.services import record_limits as rl
from qc.evaluation import CATEGORICAL_OUTCOMES, TEST_LABELS, QcTest, Verdict, check_outcome
from qc.models import Deviation, DeviationStatus, OosInvestigation, QcResult, QcSample


def parse_value(test: QcTest, value: object) -> Decimal | str:
    label = _(TEST_LABELS[test])
    if test in CATEGORICAL_OUTCOMES:
        try:
            return check_outcome(test, str(value or ""))
        except ValueError as error:
            raise ValidationError({"value": str(error)}) from None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, AttributeError):
        raise ValidationError(
            {"value": _("%(test)s: %(value)r is not a number.") % {"test": label, "value": value}}
        ) from None
    if not number.is_finite() or number < 0:
        raise ValidationError({"value": _("%(test)s: a result is a finite, non-negative number.") % {"test": label}})
    # The column's precision, checked here so that PostgreSQL never meets a value it cannot hold.
    column = QcResult._meta.get_field("numeric_value")
    whole_digits = column.max_digits - column.decimal_places
    if number.adjusted() >= whole_digits:
        raise ValidationError(
            {
                "value": _("%(test)s: at most %(digits)s digits before the decimal point.")
                % {"test": label, "digits": whole_digits}
            }
        )
    return number


def too_early(batch: Batch, sample: QcSample, test: QcTest, tested_at: datetime) -> tuple[str, AlertFinding] | None:
    """A result before its method's minimum duration after sampling (process definition): why, and the exception."""
    minimum = rl.limits_of(batch).qc_minimum_minutes.get(test.value, 0)
    if tested_at >= sample.taken_at + timedelta(minutes=minimum):
        return None
    at = f"{timezone.localtime(tested_at):%Y-%m-%d %H:%M}"
    taken = f"{timezone.localtime(sample.taken_at):%Y-%m-%d %H:%M}"
    span = duration_text(minimum)  # the stored exception's words stay English; the refusal is the reader's
    message = _(
        "The %(test)s result (%(at)s) cannot precede the end of its method's minimum duration, "
        "%(span)s after sample %(sample)s was taken (%(taken)s), as %(definition)s requires"
    ) % {
        "test": _(TEST_LABELS[test]),
        "at": at,
        "span": duration_text(minimum, translated=True),
        "sample": sample.sample_code,
        "taken": taken,
        "definition": batch.process_definition,
    }
    finding = AlertFinding(
        key=f"qc.{test.value}",
        subject=f"{TEST_LABELS[test]} result",
        value=f"reported {at}",
        limit=f"method minimum {span} after sampling ({taken})",
    )
    return message, finding


def check_repeat(batch: Batch, test: QcTest, investigation_id: int | None) -> Deviation | None:
    """A test is repeated only under an open investigation of this batch (no testing into compliance).

    After an OOS result, only under that result's own OOS investigation, once QA has approved the retest
    plan, the resample or the invalidation with a signature.
    """
    label = _(TEST_LABELS[test])
    earlier = QcResult.objects.filter(batch=batch, test=test)
    if investigation_id is None:
        if earlier.exists():
            any_oos = earlier.filter(verdict=Verdict.OOS).exists()
            why = _("after an out-of-specification result") if any_oos else _("of a test that already has a result")
            raise ValidationError(
                {
                    "investigation": _("%(test)s: a repeat %(why)s is allowed only under an open investigation.")
                    % {"test": label, "why": why}
                }
            )
        return None
    investigation = Deviation.objects.filter(pk=investigation_id, batch=batch).first()
    if investigation is None or investigation.status != DeviationStatus.OPEN:
        raise ValidationError({"investigation": _("The investigation must be an open deviation of this batch.")})
    failed = earlier.filter(verdict=Verdict.OOS).order_by("recorded_at", "pk").last()
    if failed is None:
        return investigation
    oos = OosInvestigation.objects.filter(result=failed).select_related("deviation").first()
    own = oos.deviation.number if oos else _("none recorded")
    if oos is None or oos.deviation_id != investigation.pk:
        raise ValidationError(
            {
                "investigation": _(
                    "%(test)s: a repeat after the out-of-specification result %(value)s is allowed only under "
                    "that result's OOS investigation (%(own)s), not under %(other)s."
                )
                % {"test": label, "value": failed.display_value, "own": own, "other": investigation.number}
            }
        )
    if not oos.is_open:
        raise ValidationError(
            {"investigation": _("%(test)s: the OOS investigation %(own)s is closed.") % {"test": label, "own": own}}
        )
    if not oos.approvals.exists():
        raise ValidationError(
            {
                "investigation": _(
                    "%(test)s: QA has not approved a retest plan, a resample or an invalidation under %(own)s; "
                    "nothing is retested before that signature."
                )
                % {"test": label, "own": own}
            }
        )
    return investigation
