"""Delivery: dispatch to radiology, infusion, closure (the two-person bedside check: batches.release.bedside;
adverse events: batches.release.adverse_events)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from batches.audit import audit_context
from batches.exceptions import StateConflict
from batches.models import Batch, BedsideCheck, CustodyEvent, Infusion
from batches.models.custody import HandOff
from batches.models.signatures import SignatureMeaning
from batches.release.bedside import bedside_check_sign, bedside_preconditions, first_scan_signed
from batches.release.closure import close_reviewed
from batches.release.disposition import release_outstanding
from batches.roles import Role
from batches.services import record_limits as rl
from batches.services import validation as v
from batches.services.actions import StateAction
from batches.services.common import (
    confirm_password,
    event_time_errors,
    transition,
)
from batches.services.custody import check_temperature, require_within_shelf_life, shipper_from_register
from batches.services.signatures import manifest_open, manifest_seal, signature_sign
from batches.states import BatchStatus
from qc.selectors import infusion_balance_errors

DISPATCH = StateAction(
    slug="dispatch",
    label=gettext_noop("Dispatch to interventional radiology"),
    roles=(Role.OPERATOR,),
    source=(BatchStatus.RELEASED, BatchStatus.CONDITIONALLY_RELEASED),
    needs_password=True,
    procedure="delivery",
)
INFUSE = StateAction(
    slug="infuse",
    label=gettext_noop("Record the infusion"),
    roles=(Role.CLINICIAN,),
    source=(BatchStatus.DISPATCHED,),
    needs_password=True,
    procedure="infusion",
)
CLOSE = StateAction(
    slug="close",
    label=gettext_noop("Close the batch record"),
    roles=(Role.QA_REVIEWER,),
    source=(BatchStatus.INFUSED,),
    needs_password=True,
    procedure="disposition",
)


@DISPATCH.implemented_by
@transaction.atomic
def batch_dispatch(
    *,
    actor: User,
    batch_id: int,
    to_location: str,
    temperature_c: Decimal,
    password: str,
    from_location: str = "",
    otp_token: str = "",
    alert_reason: str = "",
    shipper_code: str = "",
) -> CustodyEvent:
    """Hand a released product to interventional radiology (released → dispatched), within its shelf life."""
    DISPATCH.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = DISPATCH.lock(batch_id)
    DISPATCH.require_training(actor, batch)
    outstanding = release_outstanding(batch)
    if outstanding:
        raise StateConflict(
            gettext("Batch %(batch_number)s cannot be dispatched before %(value)s.")
            % {"batch_number": batch.batch_number, "value": " and ".join(outstanding)}
        )
    if not batch.din:
        raise StateConflict(
            gettext("Batch %(batch_number)s has no DIN; it cannot leave the laboratory unlabelled.")
            % {"batch_number": batch.batch_number}
        )
    now = timezone.now()
    require_within_shelf_life(batch, now, action="Dispatch")
    if not to_location.strip():
        raise ValidationError({"to_location": gettext("Name the receiving unit (interventional radiology).")})
    temperature, alerts = check_temperature(
        batch, temperature_c, kind=HandOff.LAB_TO_RADIOLOGY, field="temperature_c", alert_reason=alert_reason
    )
    shipper = shipper_from_register(shipper_code)
    with audit_context(actor, reason="dispatch to interventional radiology"):
        rl.exceptions_record(batch=batch, actor=actor, source="Dispatch", findings=alerts, reason=alert_reason)
        transition(batch, BatchStatus.DISPATCHED, actor=actor, reason=f"dispatched to {to_location.strip()}")
        event = CustodyEvent.objects.create(
            batch=batch,
            kind=HandOff.LAB_TO_RADIOLOGY,
            from_location=from_location.strip() or "Cell processing laboratory",
            to_location=to_location.strip(),
            handed_over_by=actor,
            handed_over_at=now,
            temperature_at_handover_c=temperature,
            shipper=shipper,
        )
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.PERFORMED,
        target=event,
        batch=batch,
    )
    return event


@INFUSE.implemented_by
@transaction.atomic
def infusion_record(
    *,
    actor: User,
    batch_id: int,
    password: str,
    started_at: datetime,
    ended_at: datetime,
    left_cells: int,
    left_volume_ml: Decimal,
    right_cells: int,
    right_volume_ml: Decimal,
    notes: str = "",
    late_entry_reason: str = "",
    otp_token: str = "",
    alert_reason: str = "",
) -> Infusion:
    """Record the uterine-artery infusion (dispatched → infused): identity confirmed, product in date."""
    INFUSE.require_role(actor)
    confirm_password(actor, password, otp_token=otp_token)
    batch = INFUSE.lock(batch_id)
    INFUSE.require_training(actor, batch)
    bedside_preconditions(batch, action="Recording the infusion")
    check = BedsideCheck.objects.select_related("checked_by").filter(batch=batch).first()
    if check is None or not check.is_confirmed:
        raise StateConflict(
            gettext("The bedside identity check by two clinicians must be complete before the infusion.")
        )
    scan_to_sign = None if first_scan_signed(check) else check
    if scan_to_sign is not None and check.checked_by_id != actor.pk:
        raise StateConflict(
            gettext(
                "%(who)s made the first bedside scan and has not signed it: %(who)s records the infusion, "
                "which signs both, or signs the scan first."
            )
            % {"who": check.checked_by}
        )
    started, ended = started_at, ended_at
    late = late_entry_reason or ""
    negative = v.non_negative(
        left_cells=left_cells,
        left_volume_ml=left_volume_ml,
        right_cells=right_cells,
        right_volume_ml=right_volume_ml,
    )
    v.collect(
        event_time_errors(ended, field="ended_at", late_entry_reason=late),
        v.end_after_start(started_at=started, ended_at=ended),
        negative,
        rl.order_errors(
            batch,
            {"infusion_started": started, "infusion_ended": ended},
            fields={"infusion_started": "started_at", "infusion_ended": "ended_at"},
        ),
    )
    if left_cells + right_cells <= 0:
        raise ValidationError({"left_cells": gettext("No cells infused on either side: record the cells given.")})
    balance, alerts = infusion_balance_errors(
        batch, cells=left_cells + right_cells, volume_ml=Decimal(left_volume_ml) + Decimal(right_volume_ml)
    )
    v.collect(balance, rl.alert_reason_errors(alerts, alert_reason))
    authorization = require_within_shelf_life(batch, started, action="Infusion")
    if batch.end_of_processing_at is None:  # require_within_shelf_life refuses such a batch already
        raise StateConflict(
            gettext("Batch %(batch_number)s has no end of processing; it cannot be infused.")
            % {"batch_number": batch.batch_number}
        )
    minutes = int((started - batch.end_of_processing_at).total_seconds() // 60)
    with audit_context(actor, reason="uterine-artery infusion recorded"):
        infusion = Infusion(
            batch=batch,
            operator=actor,
            minutes_from_end_of_processing=max(minutes, 0),
            expired_use_authorization=authorization,
            started_at=started_at,
            ended_at=ended_at,
            left_cells=left_cells,
            left_volume_ml=left_volume_ml,
            right_cells=right_cells,
            right_volume_ml=right_volume_ml,
            notes=notes or "",
            late_entry_reason=late,
        )
        infusion.full_clean(exclude=["batch", "operator", "expired_use_authorization"])
        infusion.save()
        rl.exceptions_record(batch=batch, actor=actor, source="Infusion", findings=alerts, reason=alert_reason)
        transition(batch, BatchStatus.INFUSED, actor=actor, reason="infused")
    _sign_infusion(actor=actor, batch=batch, infusion=infusion, password=password, scan=scan_to_sign)
    return infusion


def _sign_infusion(*, actor: User, batch: Batch, infusion: Infusion, password: str, scan: BedsideCheck | None) -> None:
    """The infusion's signature. With the first bedside scan still unsigned (its clinician records the
    infusion), one act signs both: each record its own signature, listed with its hash in a signed manifest."""
    manifest = None
    if scan is not None:
        manifest = manifest_open(
            signer=actor,
            meaning=SignatureMeaning.PERFORMED,
            batch=batch,
            statement=f"Scanned the bag and the wristband at the bedside and infused batch {batch.batch_number}",
        )
        bedside_check_sign(actor=actor, batch_id=batch.pk, password=password, password_checked=True, manifest=manifest)
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.PERFORMED,
        target=infusion,
        batch=batch,
        manifest=manifest,
    )
    if manifest is not None:
        manifest_seal(manifest=manifest, signer=actor, password=password)


@CLOSE.implemented_by
@transaction.atomic
def batch_close(*, actor: User, batch_id: int, password: str, reason: str = "", otp_token: str = "") -> Batch:
    """Close an infused batch's record (infused → closed) after the post-infusion observation period of its
    process definition, signed by QA as reviewed; issues the final record."""
    CLOSE.require_role(actor)
    batch = Batch.objects.select_related("process_definition").get(pk=batch_id)
    early = rl.order_errors(batch, {"closed": timezone.now()}, fields={"closed": "__all__"}, skew=timedelta(0))
    if early:
        raise StateConflict(next(iter(early.values())))
    return close_reviewed(
        actor=actor,
        batch_id=batch_id,
        password=password,
        otp_token=otp_token,
        closing=CLOSE,
        why=reason.strip() or "closed after infusion",
    )
