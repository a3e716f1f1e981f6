"""The one check of entered values and times against the process definition's limits (batches.master_limits).

Services call it, forms and serializers read its help texts; each rule is written once, in the data.

- :func:`parameter_errors` checks values against their hard range and collects alert-range findings;
  :func:`alert_reason_errors` refuses them without a reason, :func:`exceptions_record` writes them,
  with the reason, as exceptions of the record.
- :func:`order_errors` checks the time of an event against every order rule that names it, with the
  times of the other events of the batch (:func:`event_times`).
- :func:`missing_hand_offs` / :func:`require_hand_offs`: the hand-overs a state waits for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Max
from django.utils import timezone

from batches.exceptions import StateConflict
from batches.master_limits import EVENTS, AlertFinding, MasterLimits, ParameterLimit, check_value, duration_text
from batches.models import Batch, BatchDisposition, BedsideCheck, Decision, ExceptionKind, RecordException
from batches.models.custody import HandOff
from batches.services.common import CLOCK_SKEW

ALERT_REASON_FIELD = "alert_reason"


def limits_of(batch: Batch) -> MasterLimits:
    return batch.process_definition.parsed_limits


def parameter_errors(
    batch: Batch, values: Mapping[str, object], *, prefix: str, fields: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[AlertFinding]]:
    """Check ``values`` (field → value) against the parameters ``<prefix>.<field>`` of the batch's definition.

    ``fields`` maps a parameter name to the form field that reports it, when they differ.
    """
    limits = limits_of(batch)
    errors: dict[str, str] = {}
    alerts: list[AlertFinding] = []
    for name, value in values.items():
        limit = limits.parameter(f"{prefix}.{name}")
        if limit is None or not isinstance(value, Decimal | int) or isinstance(value, bool):
            continue
        error, alert = check_value(
            limit, value, field=(fields or {}).get(name, name), owner=str(batch.process_definition)
        )
        errors.update(error)
        if alert is not None:
            alerts.append(alert)
    return errors, alerts


def not_yet_accepted(batch: Batch, source: str, alerts: Iterable[AlertFinding]) -> list[AlertFinding]:
    """The findings not already accepted with a reason for ``source``: a correction that leaves an accepted
    alert value as it was asks for no second reason and writes no second exception."""
    accepted = set(
        RecordException.objects.filter(batch=batch, source=source, kind=ExceptionKind.ALERT_RANGE).values_list(
            "parameter", "value"
        )
    )
    return [a for a in alerts if (a.subject, a.value) not in accepted]


def alert_reason_errors(alerts: Iterable[AlertFinding], reason: str) -> dict[str, str]:
    """An alert-range value is accepted only with a reason: name every value that needs it."""
    alerts = list(alerts)
    if not alerts or (reason or "").strip():
        return {}
    listed = "; ".join(f"{a.subject} {a.value} is outside its {a.limit}" for a in alerts)
    return {ALERT_REASON_FIELD: f"{listed}. Give a reason to accept it (it is shown to QA as an exception)."}


def exceptions_record(
    *,
    batch: Batch,
    actor: User,
    source: str,
    findings: Iterable[AlertFinding],
    reason: str,
    kind: ExceptionKind = ExceptionKind.ALERT_RANGE,
) -> list[RecordException]:
    """Write accepted exceptions with their reason; call inside the service's audit context."""
    return [
        RecordException.objects.create(
            batch=batch,
            kind=kind,
            source=source,
            parameter=finding.subject,
            value=finding.value,
            limit=finding.limit,
            reason=reason.strip(),
            recorded_by=actor,
        )
        for finding in findings
    ]


def help_text(limit: ParameterLimit | None) -> str:
    return limit.help_text() if limit is not None else ""


def parameter_help(batch: Batch, prefix: str, names: Iterable[str]) -> dict[str, str]:
    """Field → the range it accepts, for forms and serializers."""
    limits = limits_of(batch)
    return {n: help_text(limits.parameter(f"{prefix}.{n}")) for n in names if limits.parameter(f"{prefix}.{n}")}


# --- Required custody steps ------------------------------------------------------------------------


def missing_hand_offs(batch: Batch, entering: str) -> list[str]:
    """The hand-overs the definition requires before the batch enters ``entering`` that are not yet received."""
    required = [kind for kind, state in limits_of(batch).required_hand_offs.items() if state == entering]
    received = set(
        batch.custody_events.filter(kind__in=required, received_at__isnull=False).values_list("kind", flat=True)
    )
    return [HandOff(kind).label for kind in required if kind not in received]


def require_hand_offs(batch: Batch, entering: str) -> None:
    missing = missing_hand_offs(batch, entering)
    if missing:
        raise StateConflict(
            f"Batch {batch.batch_number} cannot enter {entering}: {batch.process_definition} requires the hand-over "
            f"{' and '.join(missing)} (handed over and received by scan) first."
        )


# --- Time that makes sense --------------------------------------------------------------------------


def _disposition_time(batch: Batch, *decisions: Decision) -> datetime | None:
    found = BatchDisposition.objects.filter(batch=batch, decision__in=decisions).aggregate(at=Max("decided_at"))
    at: datetime | None = found["at"]
    return at


def event_times(batch: Batch) -> dict[str, datetime]:
    """The recorded time of every event of the batch that the order rules may name."""
    times: dict[str, datetime | None] = {
        "gcsf_last_dose": batch.gcsf_administrations.aggregate(at=Max("administered_at"))["at"],
        "qa_released": _disposition_time(batch, Decision.RELEASED, Decision.CONDITIONALLY_RELEASED),
        "qp_certified": _disposition_time(batch, Decision.CERTIFIED),
        "dispatched": batch.custody_events.filter(kind=HandOff.LAB_TO_RADIOLOGY).aggregate(at=Max("handed_over_at"))[
            "at"
        ],
    }
    apheresis = getattr(batch, "apheresis", None)
    if apheresis is not None:
        times.update(apheresis_started=apheresis.started_at, apheresis_ended=apheresis.ended_at)
    selection = getattr(batch, "selection", None)
    if selection is not None:
        times.update(selection_started=selection.started_at, selection_ended=selection.ended_at)
    check = BedsideCheck.objects.filter(batch=batch).first()
    if check is not None:
        times["bedside_confirmed"] = check.confirmed_at
    infusion = getattr(batch, "infusion", None)
    if infusion is not None:
        times.update(infusion_started=infusion.started_at, infusion_ended=infusion.ended_at)
    return {k: v for k, v in times.items() if v is not None}


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _at(value: datetime) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"


def order_errors(
    batch: Batch, times: Mapping[str, datetime], *, fields: Mapping[str, str], skew: timedelta = CLOCK_SKEW
) -> dict[str, str]:
    """Check the events in ``times`` (being recorded now) against every order rule that names them.

    ``fields`` maps each event to the field that reports it. Times already recorded for the batch
    are read from the database; a time being recorded overrides the stored one. ``skew`` tolerates
    the drift of a bedside device's clock against the server.
    """
    limits = limits_of(batch)
    known = {**event_times(batch), **times}
    errors: dict[str, list[str]] = {}
    # Each rule once, even when both of its events are being recorded (a step's start and end).
    for rule in dict.fromkeys(r for event in times for r in limits.rules_for(event)):
        first, then = known.get(rule.before), known.get(rule.after)
        if first is None or then is None:
            continue
        if rule.before in times and rule.after in times and then <= first:
            continue  # an end before its start: the step's own end-after-start check reports it
        field = fields.get(rule.after) if rule.after in times else fields.get(rule.before, rule.before)
        label = f" ({rule.label})" if rule.label else ""
        # The skew covers clocks that disagree on one instant, not a duration both ends of which were typed.
        tolerance = skew if rule.min_minutes == 0 else timedelta(0)
        if then < first + timedelta(minutes=rule.min_minutes) - tolerance:
            gap = f" by at least {duration_text(rule.min_minutes)}{label}" if rule.min_minutes else ""
            errors.setdefault(field or rule.after, []).append(
                f"{_upper(EVENTS[rule.after])} ({_at(then)}) must follow {EVENTS[rule.before]} "
                f"({_at(first)}){gap}, as {batch.process_definition} requires.",
            )
        elif rule.max_minutes is not None and then > first + timedelta(minutes=rule.max_minutes) + skew:
            errors.setdefault(field or rule.after, []).append(
                f"{_upper(EVENTS[rule.after])} ({_at(then)}) is more than {duration_text(rule.max_minutes)} "
                f"after {EVENTS[rule.before]} ({_at(first)}){label}; {batch.process_definition} allows "
                f"at most {duration_text(rule.max_minutes)}.",
            )
    return {field: " ".join(messages) for field, messages in errors.items()}
