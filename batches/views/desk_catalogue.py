"""The delivery desk: one page per batch with the custody, delivery and follow-up forms its state allows.

Each form parses the arguments of one service and calls it; the service decides (role, separation of
duties, state, scans, shelf life). The page only offers a form to the roles its service accepts, and a
refusal shows on the form, with what was typed, and changes nothing. Custody services are entry
points that record a refused scan in their own transaction, so nothing here opens a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from batches import formatting
from batches.admin import desk_forms as f
from batches.models import Batch, BedsideCheck, CustodyEvent
from batches.models.custody import HandOff
from batches.release import adverse_events, bedside, closure, delivery
from batches.roles import Role
from batches.services import custody, followup, receipt
from batches.states import BatchStatus
from batches.views import desk_labels
from batches.views.desk_form import Call, DeskForm, on_batch
from qc.selectors import reconcile

S = BatchStatus
DESK_STATES = (
    S.COLLECTION,
    S.PROCESSING,
    S.QUARANTINE,
    S.AWAITING_CERTIFICATION,
    S.RELEASED,
    S.CONDITIONALLY_RELEASED,
    S.DISPATCHED,
    S.INFUSED,
    S.REJECTED,
    S.CLOSED,
)
RELEASED = (S.RELEASED, S.CONDITIONALLY_RELEASED)

# --- the service calls -------------------------------------------------------------------------------


dispatch = on_batch(delivery.batch_dispatch)
authorise_expired_use = on_batch(custody.expired_use_authorize)


def with_override(service: Callable[..., Any]) -> Call:
    """A desk call for a service that takes a scan: the override fields become its ``override``."""

    def call(user: User, batch: Batch, data: dict[str, Any]) -> Any:
        override = f.keyed_override(data)
        return service(actor=user, batch_id=batch.pk, override=override, **data)

    return call


bedside_scan = with_override(bedside.bedside_check_scan)
bedside_confirm = with_override(bedside.bedside_check_confirm)
bedside_sign = on_batch(bedside.bedside_check_sign)
adverse_event = on_batch(adverse_events.adverse_event_record)
close = on_batch(delivery.batch_close)
close_rejected = on_batch(closure.batch_close_rejected)
follow_up = on_batch(followup.follow_up_visit_record)
embryo_transfer = on_batch(followup.embryo_transfer_record)


def hand_over(kind: HandOff) -> Call:
    def call(user: User, batch: Batch, data: dict[str, Any]) -> Any:
        return custody.custody_hand_over(actor=user, batch_id=batch.pk, kind=kind, **data)

    return call


def first_scan(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    event_id = data.pop("custody_event")
    override = f.keyed_override(data)
    return receipt.custody_receipt_scan(actor=user, custody_event_id=event_id, override=override, **data)


def receive(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    event_id = data.pop("custody_event")
    override = f.keyed_override(data)
    model, upload = data.pop("logger_model", ""), data.pop("logger_file", None)
    logger = receipt.LoggerFile(upload.name, upload.read(), model) if upload is not None else None
    return receipt.custody_receive(
        actor=user,
        custody_event_id=event_id,
        received_at=timezone.now(),
        override=override,
        logger_file=logger,
        **data,
    )


def infuse(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    password, otp_token = data.pop("password"), data.pop("otp_token", "")
    data["notes"] = data.get("notes") or ""
    data["late_entry_reason"] = data.get("late_entry_reason") or ""
    data["alert_reason"] = data.get("alert_reason") or ""
    return delivery.infusion_record(actor=user, batch_id=batch.pk, password=password, otp_token=otp_token, **data)


def outcome(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    transfer_id = data.pop("transfer")
    return followup.embryo_transfer_record_outcome(actor=user, transfer_id=transfer_id, **data)


def infusion_help(batch: Batch) -> str:
    """What the product still holds and the dose range: the limits the infusion is checked against."""
    balance = reconcile(batch)
    definition = batch.process_definition
    dose = _("dose range %(low)s–%(high)s (outside it only with a reason)") % {
        "low": formatting.cells(definition.target_dose_min_cells),
        "high": formatting.cells(definition.target_dose_max_cells),
    }
    if balance is None:
        return dose.capitalize() + "."
    return _(
        "Left and right together: at most %(cells)s cells in %(volume)s mL (what remains after QC samples); %(dose)s."
    ) % {"cells": formatting.cells(balance.remaining_cells), "volume": balance.remaining_volume_ml, "dose": dose}


# --- which forms the batch's state allows --------------------------------------------------------------


def receive_form(event: CustodyEvent) -> type[forms.Form]:
    """The receipt form the hand-off needs: a QC sample, two people, or the bag and its document."""
    if event.kind not in receipt.TWO_SCAN_KINDS:
        return f.SampleReceiveForm
    return f.ReceiveForm if receipt.needs_first_scan(event) else f.ReceiveWithDocumentForm


def _receipts(batch: Batch) -> list[DeskForm]:
    pending = CustodyEvent.objects.filter(batch=batch, received_at__isnull=True).select_related(
        "handed_over_by", "batch__process_definition"
    )
    forms_ = []
    for event in pending.order_by("handed_over_at", "pk"):
        receivers = custody.HAND_OFF_RULES[event.kind][1]
        sample = _(" (sample %(reference)s)") % {"reference": event.sample_reference} if event.sample_reference else ""
        first = receipt.first_scan_of(event)
        if receipt.needs_first_scan(event) and first is None:
            forms_.append(
                DeskForm(
                    "receipt_scan",
                    _("Receipt, first scan: %(kind)s") % {"kind": event.get_kind_display()},
                    f.ReceiptScanForm,
                    receivers,
                    first_scan,
                    target=event.pk,
                    intro=_(
                        "Two independent scans: a first person scans the bag here; a second person then "
                        "receives it with the logger file."
                    ),
                    initial={"custody_event": event.pk},
                    scan_point="receipt",
                )
            )
            continue
        forms_.append(
            DeskForm(
                "receive",
                _("Receive: %(kind)s%(sample)s") % {"kind": event.get_kind_display(), "sample": sample},
                receive_form(event),
                receivers,
                receive,
                target=event.pk,
                intro=_(
                    "Handed over by %(who)s from %(origin)s to %(destination)s; the receiver scans the bag "
                    "(someone other than the person who handed it over)"
                )
                % {"who": event.handed_over_by, "origin": event.from_location, "destination": event.to_location}
                + (_("; first scan by %(who)s.") % {"who": first.scanned_by} if first else "."),
                initial={"custody_event": event.pk},
                help={"temperature_c": custody.temperature_help(batch, event.kind)},
                scan_point="receipt",
            )
        )
    return forms_


def _manufacturing(batch: Batch) -> list[DeskForm]:
    forms_ = desk_labels.label_forms(batch)
    if batch.status in (S.COLLECTION, S.PROCESSING):
        forms_.append(
            DeskForm(
                "handover_lab",
                _("Hand over: collection → laboratory"),
                f.HandOverForm,
                (Role.OPERATOR,),
                hand_over(HandOff.COLLECTION_TO_LAB),
                help={"temperature_c": custody.temperature_help(batch, HandOff.COLLECTION_TO_LAB)},
                initial={
                    "from_location": _("Apheresis unit"),
                    "to_location": _("Cell processing laboratory"),
                    "handed_over_at": f.now_local(),
                },
            )
        )
    if batch.status in (S.PROCESSING, S.QUARANTINE):
        forms_.append(
            DeskForm(
                "handover_qc",
                _("Hand over: laboratory → QC sample"),
                f.QcHandOverForm,
                (Role.OPERATOR,),
                hand_over(HandOff.LAB_TO_QC),
                help={"temperature_c": custody.temperature_help(batch, HandOff.LAB_TO_QC)},
                initial={
                    "from_location": _("Cell processing laboratory"),
                    "to_location": _("QC laboratory"),
                    "handed_over_at": f.now_local(),
                },
            )
        )
    return forms_


def _release_and_delivery(batch: Batch) -> list[DeskForm]:
    forms_ = []
    if batch.status in (S.RELEASED, S.CONDITIONALLY_RELEASED):
        forms_.append(
            DeskForm(
                "dispatch",
                _("Dispatch to interventional radiology"),
                f.DispatchForm,
                (Role.OPERATOR,),
                dispatch,
                help={"temperature_c": custody.temperature_help(batch, HandOff.LAB_TO_RADIOLOGY)},
                initial={
                    "to_location": _("Interventional radiology"),
                    "from_location": _("Cell processing laboratory"),
                },
            )
        )
    if batch.status in (S.RELEASED, S.CONDITIONALLY_RELEASED, S.DISPATCHED):
        forms_.append(
            DeskForm(
                "expired_use",
                _("Authorise use past expiry (QA)"),
                f.ExpiredUseForm,
                (Role.QA_REVIEWER,),
                authorise_expired_use,
                intro=_("Only under a documented deviation, at the treating physician's request."),
                occasional=True,
            )
        )
    if batch.status == S.DISPATCHED and not batch.custody_events.filter(
        kind=HandOff.LAB_TO_RADIOLOGY, received_at__isnull=True
    ):
        check = BedsideCheck.objects.select_related("checked_by").filter(batch=batch).first()
        if check is None:
            forms_.append(
                DeskForm(
                    "bedside_scan",
                    _("Bedside identity check"),
                    f.BedsideScanForm,
                    (Role.CLINICIAN,),
                    bedside_scan,
                    scan_point="bedside",
                )
            )
        elif not check.is_confirmed:
            forms_.append(
                DeskForm(
                    "bedside_confirm",
                    _("Bedside identity check: confirmation by a second clinician"),
                    f.BedsideConfirmForm,
                    (Role.CLINICIAN,),
                    bedside_confirm,
                    intro=_("First scan by %(who)s at %(time)s; scan the bag and the wristband yourself.")
                    % {"who": check.checked_by, "time": f"{timezone.localtime(check.checked_at):%H:%M %Z}"},
                    scan_point="bedside_confirmation",
                )
            )
        if check is not None:
            forms_ += _infusion_forms(batch, check)
    if batch.status == S.INFUSED:
        forms_.append(DeskForm("close", _("Close the batch (QA)"), f.CloseForm, (Role.QA_REVIEWER,), close))
    if batch.status == S.REJECTED:
        forms_.append(
            DeskForm(
                "close_rejected",
                _("Close the rejected batch (QA)"),
                f.CloseForm,
                (Role.QA_REVIEWER,),
                close_rejected,
                intro=_(
                    "Once the product is destroyed or returned: closing signs the record as reviewed and "
                    "issues the final executed batch record."
                ),
            )
        )
    return forms_


def _infusion_forms(batch: Batch, check: BedsideCheck) -> list[DeskForm]:
    """The infusion, shown from the first bedside scan on so that the first clinician records it without
    reloading (the service refuses it until the second clinician has confirmed); while that scan is unsigned,
    the infusion's signature signs it too, and its clinician may also sign it on its own."""
    intro = [] if check.is_confirmed else [_("Recorded only once the second clinician has confirmed the check.")]
    forms_ = []
    if not bedside.first_scan_signed(check):
        who = {"who": check.checked_by}
        intro.append(
            _("The first bedside scan, by %(who)s, is not signed yet: %(who)s records the infusion, signing both.")
            % who
        )
        forms_.append(
            DeskForm(
                "bedside_sign",
                _("Sign the first bedside scan on its own"),
                f.BedsideSignForm,
                (Role.CLINICIAN,),
                bedside_sign,
                intro=_("Only %(who)s, when another clinician records the infusion.") % who,
                occasional=True,
            )
        )
    infusion = DeskForm(
        "infusion",
        _("Record infusion"),
        f.InfusionForm,
        (Role.CLINICIAN,),
        infuse,
        intro=" ".join(intro),
        help={"left_cells": infusion_help(batch)},
    )
    return [infusion, *forms_]


def _follow_up(batch: Batch) -> list[DeskForm]:
    forms_: list[DeskForm] = []
    if batch.status == S.CLOSED and not batch.was_infused:
        return forms_  # closed after rejection: never infused, nothing to follow
    if batch.status in (S.DISPATCHED, S.INFUSED, S.CLOSED):
        forms_.append(
            DeskForm(
                "adverse_event",
                _("Adverse event"),
                f.AdverseEventForm,
                (Role.CLINICIAN,),
                adverse_event,
                occasional=True,
                initial={"phase": "infusion" if batch.status == S.DISPATCHED else "follow_up"},
            )
        )
    if batch.status in (S.INFUSED, S.CLOSED):
        forms_ += [
            DeskForm("follow_up", _("Follow-up visit"), f.FollowUpForm, (Role.CLINICIAN,), follow_up, occasional=True),
            DeskForm(
                "embryo_transfer",
                _("Embryo transfer"),
                f.EmbryoTransferForm,
                (Role.CLINICIAN,),
                embryo_transfer,
                occasional=True,
            ),
        ]
        for transfer in batch.embryo_transfers.order_by("transfer_date", "pk"):
            forms_.append(
                DeskForm(
                    "outcome",
                    _("Outcome of the embryo transfer of %(day)s") % {"day": formatting.day(transfer.transfer_date)},
                    f.OutcomeForm,
                    (Role.CLINICIAN,),
                    outcome,
                    target=transfer.pk,
                    occasional=True,
                    initial={
                        "transfer": transfer.pk,
                        "implantation": f.outcome_initial(transfer.implantation),
                        "clinical_pregnancy": f.outcome_initial(transfer.clinical_pregnancy),
                        "live_birth": f.outcome_initial(transfer.live_birth),
                    },
                )
            )
    return forms_


def desk_forms(batch: Batch) -> list[DeskForm]:
    """Every form the batch's state allows, in the order the work is done."""
    return [*_manufacturing(batch), *_receipts(batch), *_release_and_delivery(batch), *_follow_up(batch)]
